"""Table: the methods above FT, ranked against each other — for every benchmark where at least two methods have an
OOD mean above FT's (paired interval excluding 0), each pair's paired difference a − b (OOD mean, ID, worst group)
with its 95% interval over the test examples and the seeds both methods have.

Reads what tables/main.md reads: R/main/<benchmark>/<method>-<hash>/{config.json,metrics.jsonl,preds.npz}.
Writes tables/leaders.md."""
import sys
from pathlib import Path
sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common
from rtd_nb import report as rp

def make(results, df):
    bs = _common.main_benchmarks(results, df)
    parts = []
    for b in bs:
        ms = rp.leaders(results, b, df)
        if len(ms) < 2: parts.append(rp.leader_sentence(b, rp.leader_pairs(results, b, df), ms) + "\n"); continue
        cap = (f"{rp.bench_name(b)}: the methods above FT on the OOD mean, each pair's difference a − b in points "
               "[95% paired interval]")
        notes = ["**bold**: the interval excludes 0, so the first method of the row is distinguishably above (or "
                 "below) the second; any other difference is a tie. † one seed paired: test examples only."]
        parts.append(rp.to_markdown(rp.leader_table(results, b, df), caption=cap, index_name="a − b", notes=notes))
    return "\n".join(parts)

OUTPUTS = {"tables/leaders.md": make}
def main(argv=None): return _common.main(__doc__, OUTPUTS, argv, "table_leaders")
if __name__ == "__main__": sys.exit(main())
