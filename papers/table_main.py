"""Table: main results per benchmark — methods × ID / OOD per split (or seen / unseen corruption types) / OOD mean /
worst group / ECE as mean ± sd over seeds, and each method's paired difference to FT with its 95% interval.

Reads R/main/<benchmark>/<method>-<hash>/{config.json,metrics.jsonl,preds.npz} (the start's and the final model's
lines and predictions) and R/main/<benchmark>/shift.csv (to order the OOD splits). Writes tables/main.md."""
import sys
from pathlib import Path
sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common
from rtd_nb import report as rp

def make(results, df):
    bs = _common.main_benchmarks(results, df)
    parts = []
    for b in bs:
        d = df[(df.benchmark == b) & (df.experiment == "main")]
        model = d["cfg.model"].dropna().unique() if "cfg.model" in d else []
        start = rp.method_name(rp.start_label(df, b) or "zeroshot")
        cap = (f"{rp.bench_name(b)}" + (f" ({', '.join(map(str, model))}; start: {start})" if len(model) else "") +
               ": accuracy and ECE in %, mean ± sd over seeds; Δ vs FT in points [95% paired interval]")
        parts.append(rp.to_markdown(rp.main_table(results, b, df), caption=cap, notes=rp.main_notes(results, b, df)))
    return "\n".join(parts)

OUTPUTS = {"tables/main.md": make}
def main(argv=None): return _common.main(__doc__, OUTPUTS, argv, "table_main")
if __name__ == "__main__": sys.exit(main())
