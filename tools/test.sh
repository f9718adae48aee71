#!/usr/bin/env bash
# The full test suite: rtd_nb/ equals what nbs/ export, notebooks are clean, the sidebar lists every notebook, every
# notebook runs exactly once, pytest (whose docs test renders the site from those runs), and the suite leaves every
# tracked file as it found it.
set -euo pipefail
cd "$(dirname "$0")/.."
. .venv/bin/activate
export PYTHONHASHSEED=0 MPLBACKEND=Agg
fail=0; start=$(date +%s)
docsite() { PYTHONPATH="$PWD/tools${PYTHONPATH:+:$PYTHONPATH}" python -m "$@"; }
snap() { find "$1" -type f \( -name '*.py' -o -name '*.ipynb' \) -not -path '*/.ipynb_checkpoints/*' -not -path '*/runs/*' -print0 | sort -z | xargs -0 sha1sum; }
# tracked files as they are now: which differ from HEAD, and how
tracked() { git status --porcelain --untracked-files=no && git diff HEAD --binary | sha1sum; }
in_git=0; git rev-parse --is-inside-work-tree >/dev/null 2>&1 && in_git=1
[ $in_git = 1 ] && tracked_before=$(tracked)

before=$(snap rtd_nb); nbdev_export; after=$(snap rtd_nb)
if [ "$before" != "$after" ]; then
  echo "FAIL: rtd_nb/ differed from what nbs/ export (nbdev_export has now rewritten it; commit the result):"
  diff <(echo "$before") <(echo "$after") || true; fail=1
else echo "ok: rtd_nb/ equals the export of nbs/"; fi

before=$(snap nbs); nbdev_clean; after=$(snap nbs)
if [ "$before" != "$after" ]; then
  echo "FAIL: notebooks were not clean (nbdev_clean has now cleaned them; commit the result):"
  diff <(echo "$before") <(echo "$after") || true; fail=1
else echo "ok: notebooks are clean"; fi

docsite docsite.sources --check || fail=1

# Every notebook once (tools/docsite/execute.py): nbdev_test's rules (eval: false and tst_flags cells skipped, the first
# error fails), two at a time, each with its share of the cores (torch's all-cores default oversubscribes them: on 2
# cores that made 05_callbacks 7x slower). The executed notebooks go into the docs cache (build/docs/executed/), from
# which tests/test_docs.py renders the site: RTD_DOCS_EXPECT_CACHED makes that build fail rather than run one again.
# settings.ini's needs_data notebooks (WILDS + CLIP) get nbdev's docs execution only (imports, show_doc):
# tests/test_experiments.py runs them through papermill on fixture roots in the real WILDS format, and checks their
# clear error without data. nbs/runs/ holds run outputs (the executed copies papermill writes), not sources.
echo "== notebooks: each executed once (${RTD_DOCS_WORKERS:-${NBDEV_WORKERS:-2}} at a time)"
t=$(date +%s)
docsite docsite.execute --force --only '' --workers "${RTD_DOCS_WORKERS:-${NBDEV_WORKERS:-2}}" || fail=1
echo "(notebooks: $(( $(date +%s) - t )) s)"

echo "== pytest tests/"
t=$(date +%s)
# two pytest-xdist workers, a test file per worker at a time (module fixtures stay in one process), each worker with its
# share of the cores, the longest files first (tests/conftest.py; --no-loadscope-reorder keeps that order instead of
# xdist's most-tests-first)
RTD_DOCS_EXPECT_CACHED=1 python -m pytest tests/ -q -p no:cacheprovider --durations=30 -n "${RTD_TEST_WORKERS:-2}" \
  --dist loadfile --no-loadscope-reorder || fail=1
echo "(pytest: $(( $(date +%s) - t )) s)"

if [ $in_git = 1 ]; then
  if [ "$tracked_before" != "$(tracked)" ]; then
    echo "FAIL: the suite changed tracked files (tests must write elsewhere; refresh committed outputs deliberately, e.g. make screenshots):"
    git status --porcelain --untracked-files=no; fail=1
  else echo "ok: the suite left every tracked file as it found it"; fi
else echo "(not a git work tree: tracked files not checked)"; fi
echo "(suite: $(( $(date +%s) - start )) s)"
exit $fail
