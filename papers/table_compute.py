("""Table: compute overhead — training-step time relative to FT per method and benchmark (main runs), and the """
 """isolated benchmark.

Reads the `train` summary line (step_s) of R/main/<benchmark>/*/metrics.jsonl, and R/bench/overhead.json when present
(`python bench/run.py --out R/bench`). Writes tables/compute.md.""")
import sys
from pathlib import Path
sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common
from rtd_nb import report as rp

def make(results, df):
    parts, missing = [], []
    try: parts.append(rp.to_markdown(rp.compute_table(results, df), caption="Training-step time relative to FT "
                                     "(median step per run; ratio within each benchmark and seed; "
                                     "mean ± sd over seeds)"))
    except rp.MissingResultsError as e: missing.append(str(e))
    try: parts.append(rp.to_markdown(rp.bench_table(results), index_name=None,
                                     caption="Isolated benchmark (one fresh process per method, bench/run.py)"))
    except rp.MissingResultsError as e:
        if parts: parts.append(f"*Isolated benchmark not run:* {e}\n")
        else: missing.append(str(e))
    if not parts: raise rp.MissingResultsError("; ".join(missing))
    return "\n".join(parts)

OUTPUTS = {"tables/compute.md": make}
def main(argv=None): return _common.main(__doc__, OUTPUTS, argv, "table_compute")
if __name__ == "__main__": sys.exit(main())
