#!/usr/bin/env bash
# Build the documentation site into _site/ (or the folder given) without Quarto: every notebook in nbs/ (and the paper
# in papers/) is executed once into the cache build/docs/executed/ (nothing runs again while it is current: after
# tools/test.sh, nothing runs at all), processed by nbdev's docs processors and rendered by Sphinx + MyST-NB.
# See docs/README.md and tools/docsite/. Options: python -m docsite --help (RTD_DOCS_ONLY, RTD_DOCS_TIMEOUT,
# RTD_DOCS_WORKERS, RTD_DOCS_FORCE). Where Quarto is installed, `nbdev_docs` (then `quarto render` at the top level for
# the paper) builds the Quarto site.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -f .venv/bin/activate ]; then . .venv/bin/activate; fi
export PYTHONHASHSEED=0 MPLBACKEND=Agg PYTHONPATH="$PWD/tools${PYTHONPATH:+:$PYTHONPATH}"
exec python -m docsite "$@"
