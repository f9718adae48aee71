"""Shared command line of the papers/ scripts: each writes its tables/figures from a results root, or a placeholder
saying which results are missing and which command writes them (exit status 1 then only with --strict)."""
from __future__ import annotations
import argparse, sys, textwrap, warnings
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

def main_benchmarks(results, df)->list:
    "The benchmarks with main runs, in the paper's order; none: `MissingResultsError` naming the command that runs them."
    from rtd_nb import report as rp
    bs = [b for b in rp.BENCH_LABELS if b in set(df[df.experiment == "main"].benchmark)]
    if not bs: raise rp.MissingResultsError(f"no main runs under {results}: run {rp.PRODUCERS['main']}")
    return bs

def _placeholder(path:Path, msg:str):
    if path.suffix == ".md": path.write_text(f"*Not generated yet.* {msg}\n"); return
    import matplotlib; matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(6, 1.6)); ax.axis("off")
    ax.text(.5, .5, "Not generated yet:\n" + "\n".join(textwrap.wrap(msg, 90)), ha="center", va="center", fontsize=8,
            color="0.3")
    fig.savefig(path, dpi=100); plt.close(fig)

def make_outputs(results:str|Path, # results root
                 out:str|Path, # papers/ folder (tables/ and figures/ are created below it)
                 outputs:dict, # relative path → make(results, df) returning Markdown text or a matplotlib figure
                 df=None, # `rtd_nb.report.collect(results)`, if already read
                 name:str="", # script name for messages
                )->dict:
    "Write every output (or its placeholder); returns {'written': [...], 'missing': [(path, message)]}."
    import matplotlib; matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from rtd_nb.report import collect, MissingResultsError
    out, status = Path(out), dict(written=[], missing=[])
    if df is None:
        try:
            with warnings.catch_warnings():
                warnings.filterwarnings("ignore", message=".*synthetic.*")
                df = collect(results)
        except MissingResultsError as e: df = e
    for rel, make in outputs.items():
        p = out/rel; p.parent.mkdir(parents=True, exist_ok=True)
        try:
            if isinstance(df, Exception): raise df
            res = make(results, df)
            if isinstance(res, str): p.write_text(res)
            else: res.savefig(p, dpi=150, bbox_inches="tight"); plt.close(res)
            status["written"].append(str(p)); print(f"[{name}] wrote {p}")
        except MissingResultsError as e:
            _placeholder(p, str(e)); status["missing"].append((str(p), str(e)))
            print(f"[{name}] MISSING for {rel}: {e} (wrote a placeholder)", file=sys.stderr)
    return status

def main(doc:str, outputs:dict, argv=None, name:str="")->int:
    "Command line: `python papers/<script>.py --results R [--out papers] [--strict]`."
    ap = argparse.ArgumentParser(description=doc.strip().splitlines()[0])
    ap.add_argument("--results", default="results", help="results root (default: results)")
    ap.add_argument("--out", default=str(HERE), help="where tables/ and figures/ go (default: papers/)")
    ap.add_argument("--strict", action="store_true", help="exit 1 when inputs are missing")
    a = ap.parse_args(argv)
    st = make_outputs(a.results, a.out, outputs, name=name)
    return 1 if (a.strict and st["missing"]) else 0
