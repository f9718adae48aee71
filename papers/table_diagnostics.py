"""Table: diagnostics — per method: relative weight drift ‖θ−θ₀‖/‖θ₀‖, the last epoch's mean of each loss term,
and the share of test predictions that differ from FT's (same seed) on ID and OOD: does a method change the
trajectory?

Reads the `train` lines (split epoch and summary) and preds.npz of R/main/<benchmark>/*/.
Writes tables/diagnostics.md."""
import sys
from pathlib import Path
sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common
from rtd_nb import report as rp

def make(results, df):
    bs = _common.main_benchmarks(results, df)
    parts = []
    for b in bs:
        cap = (f"{rp.bench_name(b)}: drift, last-epoch loss terms and predictions that differ from FT's (mean over "
               "seeds; – where a method has no such term)")
        note = rp.diagnostics_sentence(b, rp.diagnostics_stats(results, b, df))
        parts.append(rp.to_markdown(rp.diagnostics_table(results, b, df), caption=cap, notes=[note]))
    return "\n".join(parts)

OUTPUTS = {"tables/diagnostics.md": make}
def main(argv=None): return _common.main(__doc__, OUTPUTS, argv, "table_diagnostics")
if __name__ == "__main__": sys.exit(main())
