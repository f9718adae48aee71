#!/usr/bin/env bash
# One-time (idempotent) setup: virtualenv, torch, rtd_nb with its dev tools, and the offline assets
# (Fashion-MNIST and WordNet from Debian, the VADER sentences from PyPI, Chromium for the docs test).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
DATA=${RTD_NB_DATA:-$HOME/.cache/rtd_nb}

say() { printf '[setup] %s\n' "$*"; }

# --- Debian packages (data, browser, pandoc for the paper) ------------------------------------
apt_pkgs=(dataset-fashion-mnist wordnet-base wordnet-sense-index chromium chromium-driver pandoc)
missing=()
for p in "${apt_pkgs[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
if [ ${#missing[@]} -gt 0 ]; then
  SUDO=""; [ "$(id -u)" -ne 0 ] && command -v sudo >/dev/null && SUDO="sudo"
  if [ "$(id -u)" -eq 0 ] || [ -n "$SUDO" ]; then
    say "apt-get install ${missing[*]}"
    $SUDO apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
  else
    say "WARNING: cannot install ${missing[*]} (not root, no sudo); install them with apt-get."
  fi
fi

# --- Python environment -----------------------------------------------------------------------
if [ ! -x .venv/bin/python ]; then say "creating .venv"; $PY -m venv .venv; fi
. .venv/bin/activate
# uv (from PyPI) with pip's own settings (tools/uv_args.py) installs the same packages as pip, several times faster
# (torch's 5 GB, the dev extras' resolution); like pip, it compiles the bytecode at install (this machine may forbid
# writing it at import: every new process would compile torch again); pip does it when uv cannot (RTD_NB_PIP=1: pip)
install() {
  if [ "${RTD_NB_PIP:-0}" != 1 ] && { [ -x .venv/bin/uv ] || pip install -q uv >/dev/null 2>&1; }; then
    # shellcheck disable=SC2046
    .venv/bin/uv pip install -q --compile-bytecode --python .venv/bin/python $(python tools/uv_args.py) "$@" && return 0
    say "uv could not install $*: pip installs it"
  fi
  pip install -q "$@"
}
python -c "import torch, torchvision; assert torch.__version__.startswith('2.14.1')" 2>/dev/null || {
  say "install torch==2.14.1 torchvision==0.29.1"
  install torch==2.14.1 torchvision==0.29.1
}
say "install -e .[dev]"
install -e ".[dev]"
python -m ipykernel install --sys-prefix --name python3 >/dev/null 2>&1 || true

# --- offline assets ---------------------------------------------------------------------------
mkdir -p "$DATA"
if ! ls "$DATA"/vader/vaderSentiment-3.3.2.tar.gz >/dev/null 2>&1; then
  say "pip download vaderSentiment==3.3.2 (sdist: the VADER human-rated sentences)"
  pip download -q --no-deps --no-binary :all: vaderSentiment==3.3.2 -d "$DATA/vader"
fi
python -c "from rtd_nb.core import install_wordnet; install_wordnet()" || say "WARNING: WordNet not installed (text synonym perturbation will say how)"
say "done (assets in $DATA)"
