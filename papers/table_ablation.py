"""Table: RTD ablations — the (T, λ_KD, λ_AR) grid, KD only, AR only and each perturbation alone, next to FT.

Reads R/ablations/<benchmark>/<method>-<hash>/{config.json,metrics.jsonl} (tags.ablation names the cell). Writes tables/ablation.md."""
import sys
from pathlib import Path
sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common
from rtd_nb import report as rp

def make(results, df):
    bs = [b for b in rp.BENCHMARKS if b in set(df[df.experiment == "ablation"].benchmark)]
    if not bs: raise rp.MissingResultsError(f"no ablation runs under {results}: run {rp.PRODUCERS['ablation'].replace('<R>', str(results))}")
    return "\n".join(rp.to_markdown(rp.ablation_table(results, b, df), index_name="Cell",
                                    caption=f"{rp.bench_name(b)}: RTD ablations (ID, OOD mean, Δ_rob, ECE in %, mean ± sd over seeds; "
                                            "OOD mean − FT in points)") for b in bs)

OUTPUTS = {"tables/ablation.md": make}
def main(argv=None): return _common.main(__doc__, OUTPUTS, argv, "table_ablation")
if __name__ == "__main__": sys.exit(main())
