"""Table: main results per benchmark — methods × ID / OOD per split / OOD mean / Δ_rob / worst group / ECE, mean ± sd over seeds.

Reads R/main/<benchmark>/<method>-<hash>/{config.json,metrics.jsonl} (the `zeroshot` and `final` lines) and
R/main/<benchmark>/shift.csv (to order the OOD splits). Writes tables/main.md."""
import sys
from pathlib import Path
sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common
from rtd_nb import report as rp

def make(results, df):
    bs = [b for b in rp.BENCHMARKS if b in set(df[df.experiment == "main"].benchmark)]
    if not bs: raise rp.MissingResultsError(f"no main runs under {results}: run {rp.PRODUCERS['main']}")
    parts = []
    for b in bs:
        model = df[(df.benchmark == b) & (df.experiment == "main")]["cfg.model"].dropna().unique() if "cfg.model" in df else []
        cap = (f"{rp.bench_name(b)}" + (f" ({', '.join(map(str, model))})" if len(model) else "") +
               ": accuracy, Δ_rob = ID − OOD mean, worst-group accuracy and ECE in %, mean ± sd over seeds; best mean in bold.")
        parts.append(rp.to_markdown(rp.main_table(results, b, df), caption=cap))
    return "\n".join(parts)

OUTPUTS = {"tables/main.md": make}
def main(argv=None): return _common.main(__doc__, OUTPUTS, argv, "table_main")
if __name__ == "__main__": sys.exit(main())
