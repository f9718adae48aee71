"""Table: where fine-tuning loses robustness — for each benchmark, start (prompt head, linear probe) and ID domain:
the start's and FT's ID and OOD mean accuracy, FT − start on the OOD mean and on its worst OOD split (95% intervals).

Reads R/shifts/<benchmark>-<ID domain>-<start>/ft-<hash>/{config.json,metrics.jsonl,preds.npz}.
Writes tables/shifts.md."""
import sys
from pathlib import Path
sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common
from rtd_nb import report as rp

def make(results, df):
    t = rp.shifts_table(results, df)
    st = rp.shifts_stats(results, df)
    seeds = sorted(set(st.seed))
    cap = ("Where fine-tuning loses robustness: plain FT from each start (seed " + ", ".join(map(str, seeds)) +
           "); accuracies in %, FT − start in points [95% paired interval over test examples]; bold: excludes 0")
    return rp.to_markdown(t, caption=cap, index_name=None, notes=[rp.shifts_sentence(st)])

OUTPUTS = {"tables/shifts.md": make}
def main(argv=None): return _common.main(__doc__, OUTPUTS, argv, "table_shifts")
if __name__ == "__main__": sys.exit(main())
