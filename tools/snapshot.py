"""Copy the results files the paper's build reads into a snapshot folder that can be committed.

    python tools/snapshot.py --results results --out papers/measured/results [--overwrite]

Copies every run's config.json, metrics.jsonl and preds.npz, the analysis CSVs (shift.csv, reliability.csv, cka.csv,
tsne.csv), bench/overhead.json and the Markdown summaries; leaves out model weights, the cached start evaluations
(.starts/) and executed notebooks (`rtd_nb.report.snapshot_results`). Then
`python papers/build.py --results papers/measured/results` rebuilds the paper from the snapshot."""
from __future__ import annotations
import argparse, sys
from pathlib import Path

def main(argv=None)->int:
    ap = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
    ap.add_argument("--results", default="results", help="the results root to copy from (default: results)")
    ap.add_argument("--out", default="papers/measured/results", help="the snapshot folder (default: %(default)s)")
    ap.add_argument("--overwrite", action="store_true", help="replace a non-empty --out")
    a = ap.parse_args(argv)
    from rtd_nb.report import snapshot_results
    try: files = snapshot_results(a.results, a.out, overwrite=a.overwrite)
    except (FileNotFoundError, FileExistsError) as e: print(f"[snapshot] {e}", file=sys.stderr); return 1
    size = sum(p.stat().st_size for p in files)
    runs = sum(p.name == "config.json" for p in files)
    print(f"[snapshot] {len(files)} files of {runs} runs, {size/2**20:.1f} MB: {a.results} → {a.out}")
    return 0

if __name__ == "__main__": sys.exit(main())
