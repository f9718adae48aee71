"""Figure: the ID–OOD frontier — every method's (ID accuracy, OOD mean accuracy) with 95% bootstrap intervals, and
the WiSE-FT α path (start → method) of every swept method, one legend naming every plotted method.

Reads R/main/<benchmark>/*/{metrics.jsonl,preds.npz} and R/sweeps/<benchmark>/wise-sweep-*/metrics.jsonl.
Writes figures/frontier.png."""
import sys
from pathlib import Path
sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common
from rtd_nb import report as rp

def make(results, df): return rp.frontier_plot(results, df=df)

OUTPUTS = {"figures/frontier.png": make}
def main(argv=None): return _common.main(__doc__, OUTPUTS, argv, "fig_frontier")
if __name__ == "__main__": sys.exit(main())
