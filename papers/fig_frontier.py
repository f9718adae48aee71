"""Figure: the ID–OOD frontier — every method's (ID accuracy, OOD mean accuracy), mean ± sd over seeds, and WiSE-FT's α curve.

Reads R/main/<benchmark>/*/metrics.jsonl and R/sweep/<benchmark>/wise-sweep-*/metrics.jsonl (model alpha=<a>). Writes figures/frontier.png."""
import sys
from pathlib import Path
sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common
from rtd_nb import report as rp

def make(results, df): return rp.frontier_plot(results, df=df)

OUTPUTS = {"figures/frontier.png": make}
def main(argv=None): return _common.main(__doc__, OUTPUTS, argv, "fig_frontier")
if __name__ == "__main__": sys.exit(main())
