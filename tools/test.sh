#!/usr/bin/env bash
# The full test suite: rtd_nb/ equals what nbs/ export, notebooks are clean, every notebook runs, pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
. .venv/bin/activate
export PYTHONHASHSEED=0 MPLBACKEND=Agg
fail=0
snap() { find "$1" -type f \( -name '*.py' -o -name '*.ipynb' \) -not -path '*/.ipynb_checkpoints/*' -not -path '*/runs/*' -print0 | sort -z | xargs -0 sha1sum; }

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

# settings.ini's needs_data notebooks (WILDS + CLIP) cannot run with their defaults here: tests/test_experiments.py runs
# them through papermill on fixture roots in the real WILDS format, and checks their clear error without data.
# nbs/runs/ holds run outputs (the executed copies papermill writes), not sources.
needs=$(python -c "from nbdev.config import get_config; import re; print('|'.join(re.escape(n) for n in get_config().get('needs_data', '').split()))")
echo "== nbdev_test (every notebook except the needs_data ones: ${needs:-none})"
# notebooks run side by side: each gets its share of the cores (torch's default, every core per process, oversubscribes
# them; on 2 cores that made 05_callbacks 7x slower than alone)
w=${NBDEV_WORKERS:-2}; t=$(( $(nproc) / w )); [ "$t" -ge 1 ] || t=1
time OMP_NUM_THREADS=${OMP_NUM_THREADS:-$t} MKL_NUM_THREADS=${MKL_NUM_THREADS:-$t} nbdev_test --n_workers "$w" --timing --skip_file_re "^([_.]${needs:+|$needs})" --skip_folder_re '^([_.].*|runs)$' || fail=1

echo "== pytest tests/"
python -m pytest tests/ -q -p no:cacheprovider || fail=1
exit $fail
