"""Figure: t-SNE maps of ID and OOD test embeddings for zero-shot, FT and RTD (first seed).

Reads R/main/<benchmark>/{ft,rtd}-*/tsne.csv. Writes figures/tsne.png."""
import sys
from pathlib import Path
sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common
from rtd_nb import report as rp

def make(results, df): return rp.tsne_plot(results, df=df)

OUTPUTS = {"figures/tsne.png": make}
def main(argv=None): return _common.main(__doc__, OUTPUTS, argv, "fig_tsne")
if __name__ == "__main__": sys.exit(main())
