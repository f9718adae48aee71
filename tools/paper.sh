#!/usr/bin/env bash
# The main job: papermill runs nbs/25_paper.ipynb, which runs the paper's plan (rtd_nb.experiments.plan) on the embedded
# real data (the offline models and shifts) at full scale — where fine-tuning loses robustness, the main tables, the
# WiSE-FT sweeps — writing config.json + metrics.jsonl (+ per-example predictions) per run under $OUT (appended, never
# overwritten; finished runs are loaded, so a stopped job resumes and can run in parts); then every figure and table of
# the paper from those files. With PARTS=frontier,... (`make ablations`) it also runs the step-time benchmark of RTD's
# variants and the methods (bench/run.py); without it, the paper's compute table uses the runs' own step times.
# A GPU is used when present. Knobs for a quicker look (the default is the full plan):
#   PARTS=main SEEDS=0 MAX_ITEMS=400 BENCHMARKS=vader OUT=results JOBS=1 bash tools/paper.sh
# `make ablations` runs RTD's cost frontier and the seeds' ablation grid (PARTS=frontier,ablations) into the same root.
set -euo pipefail
cd "$(dirname "$0")/.."
. .venv/bin/activate
export MPLBACKEND=Agg PYTHONHASHSEED=0
OUT=$(realpath -m "${OUT:-results}")
# unset: None, the plan's own parts, seeds and benchmarks (rtd_nb.experiments: PAPER_PARTS, SEEDS, PAPER_BENCHMARKS)
PARTS=${PARTS:-None} SEEDS=${SEEDS:-None} BENCHMARKS=${BENCHMARKS:-None} MAX_ITEMS=${MAX_ITEMS:-None}
BENCH=${BENCH:-1}        # 0: skip the step-time benchmark of a frontier run (the paper then uses the runs' step times)
JOBS=${JOBS:-2}          # runs side by side on a CPU, each with its share of the cores
mkdir -p "$OUT/notebooks"
start=$(date +%s)
step() { echo "[$(( $(date +%s) - start )) s] $*"; }

step "papermill nbs/25_paper.ipynb (parts $PARTS, seeds $SEEDS, benchmarks $BENCHMARKS, max_items $MAX_ITEMS," \
     "jobs $JOBS; None: the plan's)"
tag=${PARTS/None/paper}; nb="$OUT/notebooks/25_paper-${tag//,/-}.ipynb"
set +e
papermill nbs/25_paper.ipynb "$nb" --cwd nbs --log-output --log-level INFO --no-progress-bar -p parts "$PARTS" \
  -p out_dir "$OUT" -p seeds "$SEEDS" -p benchmarks "$BENCHMARKS" -p max_items "$MAX_ITEMS" -p only "" \
  -p jobs "$JOBS" 2>&1 \
  | grep --line-buffered -E '\[(plan|[0-9]+/[0-9]+ )|Error|error:' 
rc=${PIPESTATUS[0]}
set -e
[ "$rc" = 0 ] || { echo "the plan stopped with an error (exit $rc): see $nb"; exit 1; }

if [ "$BENCH" = 1 ] && [[ "$PARTS" == *frontier* ]]; then
  if [ -f "$OUT/bench/overhead.json" ]; then step "benchmark exists: kept ($OUT/bench/overhead.json)"
  else step "python bench/run.py (RTD's variants and the methods, MiniLM and EfficientNet at the paper's batch)"
       python bench/run.py --out "$OUT/bench" | tail -n +1; fi
fi

# RTD's cost variants, the seeds' ablations and the step-time benchmark are `make ablations`' (hours more): a part this
# results root lacks is read from the committed full-scale measurements, copied to $OUT/measured/ (the paper says so);
# once the root has the part's own results, the copy goes (it is in git). With copied runs comes the committed FT run
# they were measured against (reference/): a comparison pairs runs evaluated at the same precision
for part in frontier ablations bench; do
  if [ -e "$OUT/$part" ]; then rm -rf "$OUT/measured/$part"
  elif [ -e "papers/measured/results/$part" ] && [ ! -e "$OUT/measured/$part" ]; then
    step "no $part in $OUT: the paper reads the committed measurements (copied to $OUT/measured/$part)"
    mkdir -p "$OUT/measured"; cp -r "papers/measured/results/$part" "$OUT/measured/$part"
  fi
done
if [ -e "$OUT/measured/frontier" ] || [ -e "$OUT/measured/ablations" ]; then
  [ -e "$OUT/measured/reference" ] || [ ! -e papers/measured/results/reference ] \
    || cp -r papers/measured/results/reference "$OUT/measured/reference"
else rm -rf "$OUT/measured/reference"; fi

step "python papers/build.py --results $OUT --render"
python papers/build.py --results "$OUT" --render
echo
cat papers/tables/shifts.md 2>/dev/null || true
cat papers/tables/main.md 2>/dev/null || true
cat papers/tables/frontier.md 2>/dev/null || true
echo "(main job took $(( $(date +%s) - start )) s; results in $OUT/, figures and tables in papers/)"
