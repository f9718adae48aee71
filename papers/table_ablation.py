"""Table: ablations — RTD's T × λ_KD × λ_AR grid (λ_AR = 0: KD only), the activation term alone, each
perturbation family alone, the AR layers; Lipsum-FT's L, M, MSE vs KLD and text bank. Each cell: ID, OOD mean,
OOD − FT [95% CI].

Reads R/ablations/<benchmark>/<method>-<hash>/{config.json,metrics.jsonl,preds.npz} (tags.ablation names the cell)
and the FT run of the same seed in R/main/<benchmark>/. Writes tables/ablation.md."""
import sys
from pathlib import Path
sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common
from rtd_nb import report as rp

def make(results, df):
    bs = [b for b in rp.BENCH_LABELS if b in set(df[df.experiment == "ablation"].benchmark)]
    if not bs:
        how = rp.PRODUCERS["ablation"].replace("<R>", str(results))
        raise rp.MissingResultsError(f"no ablation runs under {results}: run {how}")
    parts = []
    for b in bs:
        st = rp.ablation_stats(results, b, df)
        for m in [m for m in ("rtd", "lipsum") if m in set(st.method)] + sorted(set(st.method) - {"rtd", "lipsum"}):
            cap = (f"{rp.bench_name(b)}: {rp.method_name(m)} ablations (ID and OOD mean in %, mean ± sd over seeds; "
                   "OOD − FT in points [95% paired interval]; bold: excludes 0)")
            one = (st[st.method == m].seeds == 1).any()
            notes = ["† one seed: the interval resamples test examples only."] if one else []
            parts.append(rp.to_markdown(rp.ablation_table(results, b, df, method=m), index_name="Cell", caption=cap,
                                        notes=notes))
    return "\n".join(parts)

OUTPUTS = {"tables/ablation.md": make}
def main(argv=None): return _common.main(__doc__, OUTPUTS, argv, "table_ablation")
if __name__ == "__main__": sys.exit(main())
