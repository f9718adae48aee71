"""Table: RTD's cost–robustness frontier — one row per RTD variant: step time and peak memory relative to FT, ID and
OOD mean accuracy, the OOD gain over FT (95% paired interval) and the share of full RTD's gain it keeps.

Reads R/frontier/<benchmark>/rtd-<hash>/ (tags.variant), the FT run of the same seed in R/main/<benchmark>/, and
R/bench/overhead.json (step and memory ratios of the same RTD configuration; else the runs' own step times).
Writes tables/frontier.md."""
import sys
from pathlib import Path
sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common
from rtd_nb import report as rp

def make(results, df):
    bs = [b for b in rp.BENCH_LABELS if b in set(df[df.experiment == "frontier"].benchmark)]
    if not bs: raise rp.MissingResultsError(f"no RTD cost variants under {results}: run {rp.PRODUCERS['frontier']}")
    parts = []
    for b in bs:
        fs = rp.frontier_stats(results, b, df)
        cap = (f"{rp.bench_name(b)}: RTD's cost variants (seed {', '.join(map(str, sorted(set(fs.seed))))}); "
               "accuracy in %, gain in points [95% paired interval over test examples]; bold: excludes 0")
        notes = [rp.frontier_sentence(b, fs)]
        if (fs.step_source == "runs").any():
            notes.append("Step time from the runs' own median step against FT's run: the isolated benchmark did not "
                         "time this variant on this model, and runs share the machine with whatever else ran (no "
                         "memory ratio).")
        parts.append(rp.to_markdown(rp.frontier_table(results, b, df), caption=cap, index_name="Variant", notes=notes))
    return "\n".join(parts)

OUTPUTS = {"tables/frontier.md": make}
def main(argv=None): return _common.main(__doc__, OUTPUTS, argv, "table_frontier")
if __name__ == "__main__": sys.exit(main())
