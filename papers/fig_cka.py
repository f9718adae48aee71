"""Figure: linear CKA between the zero-shot and the fine-tuned model per layer depth, one line per method.

Reads R/main/<benchmark>/*/cka.csv. Writes figures/cka.png."""
import sys
from pathlib import Path
sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common
from rtd_nb import report as rp

def make(results, df): return rp.cka_plot(results, df=df)

OUTPUTS = {"figures/cka.png": make}
def main(argv=None): return _common.main(__doc__, OUTPUTS, argv, "fig_cka")
if __name__ == "__main__": sys.exit(main())
