"""Table: WiSE-FT post hoc — for FT and every method that keeps its weights, ID / OOD mean accuracy along the weight
interpolation from the start (α = 0) to the method (α = 1), and the α of the highest OOD mean.

Reads R/sweeps/<benchmark>/wise-sweep-<hash>/metrics.jsonl (models alpha=<a>; tags.method) and the α = 0 and α = 1
lines of the swept method's own run in R/main/<benchmark>/. Writes tables/wise.md."""
import sys
from pathlib import Path
sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common
from rtd_nb import report as rp

def make(results, df):
    bs = [b for b in rp.BENCH_LABELS if b in set(df[df.experiment == "wise-sweep"].benchmark)]
    if not bs: raise rp.MissingResultsError(f"no WiSE-FT α sweeps under {results}: run {rp.PRODUCERS['sweep']}")
    cap = lambda b: (f"{rp.bench_name(b)}: ID / OOD mean accuracy (%) along each method's WiSE-FT path (mean over "
                     "the sweep's seeds; no intervals: sweeps keep no predictions)")
    return "\n".join(rp.to_markdown(rp.wise_table(results, b, df), caption=cap(b)) for b in bs)

OUTPUTS = {"tables/wise.md": make}
def main(argv=None): return _common.main(__doc__, OUTPUTS, argv, "table_wise")
if __name__ == "__main__": sys.exit(main())
