"""Figure: RTD's cost–robustness frontier — each RTD variant's OOD gain over FT (95% paired interval) against its
step time relative to FT, with the 80%-of-full-RTD line and the 10%-extra-compute line.

Reads R/frontier/<benchmark>/rtd-*/, the FT runs of R/main/<benchmark>/ and R/bench/overhead.json.
Writes figures/rtd_frontier.png."""
import sys
from pathlib import Path
sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common
from rtd_nb import report as rp

def make(results, df): return rp.rtd_frontier_plot(results, df=df)

OUTPUTS = {"figures/rtd_frontier.png": make}
def main(argv=None): return _common.main(__doc__, OUTPUTS, argv, "fig_rtd_frontier")
if __name__ == "__main__": sys.exit(main())
