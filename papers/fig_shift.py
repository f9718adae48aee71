"""Figure: accuracy on each OOD test set (95% intervals) for the start, FT and RTD, the sets ordered by their measured
shift distance (printed under each name); corruption types coloured by family, unseen types marked.

Reads R/main/<benchmark>/shift.csv and R/main/<benchmark>/*/{metrics.jsonl,preds.npz}. Writes figures/shift.png."""
import sys
from pathlib import Path
sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common
from rtd_nb import report as rp

def make(results, df): return rp.shift_plot(results, df=df)

OUTPUTS = {"figures/shift.png": make}
def main(argv=None): return _common.main(__doc__, OUTPUTS, argv, "fig_shift")
if __name__ == "__main__": sys.exit(main())
