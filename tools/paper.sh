#!/usr/bin/env bash
# The main job: run the experiment notebooks with papermill on the embedded real data (the offline models and shifts),
# writing results under $OUT (config.json + metrics.jsonl per run; appended, never overwritten; finished runs are
# loaded, so a stopped job resumes), then build every figure and table of the paper from those files.
#   OUT=results bash tools/paper.sh   (every knob below can be set in the environment)
set -euo pipefail
cd "$(dirname "$0")/.."
. .venv/bin/activate
export MPLBACKEND=Agg PYTHONHASHSEED=0
OUT=$(realpath -m "${OUT:-results}")
# The plan, sized for 2 CPU cores (well under an hour on a quiet machine): every main-table method on VADER for seeds
# 0, 1 and 2; Fashion-MNIST-C (≈10× dearer per run on CPU) for seed 0; RTD's T × λ_KD grid at λ_AR = 0.1 and the
# KD-/AR-only ablations. The seed's full grid: LAM_ARS=0.01,0.1 WHICH=ft,grid,kd-only,ar-only,perturbations.
VADER_SEEDS=${VADER_SEEDS:-0 1 2} FMNIST_SEEDS=${FMNIST_SEEDS:-0}
VADER_METHODS=${VADER_METHODS:-all}                  # seed 0 (all = the main-table methods)
VADER_METHODS_MORE=${VADER_METHODS_MORE:-all}       # the other seeds (e.g. ft,lp,wise,lipsum,rtd for a quicker job)
VADER_ITEMS=${VADER_ITEMS:-200}      # sentences per split (train / valid / each test domain)
FMNIST_ITEMS=${FMNIST_ITEMS:-40}     # images per split (test: per corruption × severity)
FMNIST_METHODS=${FMNIST_METHODS:-ft,lp,wise,rtd}
TS=${TS:-2,4,8} LAM_KDS=${LAM_KDS:-0.1,0.5,1.0} LAM_ARS=${LAM_ARS:-0.1}
WHICH=${WHICH:-ft,grid,kd-only,ar-only}
NB="$OUT/notebooks"
mkdir -p "$NB"
start=$(date +%s)
step() { echo "[$(( $(date +%s) - start )) s] $*"; }
run() { # notebook, output name, then -p pairs
  local nb=$1 out=$2; shift 2
  step "papermill nbs/$nb $*"
  papermill "nbs/$nb" "$NB/$out" --cwd nbs --log-level WARNING --no-progress-bar "$@"
}

[ -f "$OUT/zeroshot/table.md" ] && step "zero-shot table exists: kept" || run 24_zeroshot.ipynb 24_zeroshot.ipynb -p out_dir "$OUT/zeroshot" -p seed 0
i=0
for s in $VADER_SEEDS; do
  m=$VADER_METHODS; [ $i -gt 0 ] && m=$VADER_METHODS_MORE; i=$((i+1))
  run 22_vader.ipynb "22_vader-seed$s.ipynb" -p method "$m" -p seed "$s" -p max_items "$VADER_ITEMS" -p bs 32 -p epochs 2 -p out_dir "$OUT/main/vader"
done
for s in $FMNIST_SEEDS; do
  run 23_fmnist_c.ipynb "23_fmnist_c-seed$s.ipynb" -p method "$FMNIST_METHODS" -p seed "$s" -p max_items "$FMNIST_ITEMS" -p bs 32 -p epochs 2 -p lr 1e-3 -p out_dir "$OUT/main/fmnist-c"
done
run 30_ablations.ipynb 30_ablations.ipynb -p bench vader -p Ts "$TS" -p lam_kds "$LAM_KDS" -p lam_ars "$LAM_ARS" -p which "$WHICH" -p max_items "$VADER_ITEMS" -p bs 32 -p epochs 2 -p out_dir "$OUT/ablations/vader"
run 31_wiseft_sweep.ipynb 31_wiseft_sweep-vader.ipynb -p bench vader -p results "$OUT" -p max_items "$VADER_ITEMS" -p bs 32 -p epochs 2
run 31_wiseft_sweep.ipynb 31_wiseft_sweep-fmnist-c.ipynb -p bench fmnist-c -p results "$OUT" -p max_items "$FMNIST_ITEMS" -p bs 32 -p epochs 2 -p lr 1e-3

step "python papers/build.py --results $OUT --render"
python papers/build.py --results "$OUT" --render
echo
cat "$OUT/zeroshot/table.md"
echo
cat papers/tables/main.md 2>/dev/null || true
echo "(main job took $(( $(date +%s) - start )) s; results in $OUT/, figures and tables in papers/)"
