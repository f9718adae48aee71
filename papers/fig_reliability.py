"""Figure: reliability diagrams of the start, FT and RTD on ID test and the farthest OOD split, pooled over seeds.

Reads R/main/<benchmark>/{ft,rtd}-*/reliability.csv (the start's rows from FT's runs) and shift.csv.
Writes figures/reliability.png."""
import sys
from pathlib import Path
sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common
from rtd_nb import report as rp

def make(results, df): return rp.reliability_plot(results, df=df)

OUTPUTS = {"figures/reliability.png": make}
def main(argv=None): return _common.main(__doc__, OUTPUTS, argv, "fig_reliability")
if __name__ == "__main__": sys.exit(main())
