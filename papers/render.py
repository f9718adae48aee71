"""Render papers/paper.qmd to papers/paper.html without Quarto (which cannot be installed here).

    python papers/render.py [--dir papers] [--engine auto|pandoc|markdown-it] [--embed]

Expands Quarto's `{{< include file >}}` and `{{< var key >}}` shortcodes with papers/shortcodes.py (values from
_variables.yml, written by papers/build.py), then converts the Markdown with pandoc (`apt-get install pandoc`; math as
MathML, no network) or, without pandoc, with markdown-it-py (tables, no math typesetting). Fails on an undefined var or
a missing include."""
from __future__ import annotations
import argparse, re, shutil, subprocess, sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from shortcodes import expand_shortcodes, read_variables

STYLE = "<style>body{max-width:72em}table{font-size:80%}figure img{max-width:100%}figcaption{font-size:90%}</style>"

def expanded(d:Path, qmd:Path=HERE/"paper.qmd")->str:
    "`qmd` with every include (relative to `d`) and var shortcode (values from `d/_variables.yml`) expanded."
    vp = d/"_variables.yml"
    if not vp.exists(): sys.exit(f"{vp} not found: run `python papers/build.py --results <R>` first")
    return expand_shortcodes(Path(qmd).read_text(), d, read_variables(d))

def _front(md:str)->tuple:
    m = re.match(r"^---\n(.*?)\n---\n", md, re.S)
    if not m: return {}, md
    import yaml
    return yaml.safe_load(m.group(1)) or {}, md[m.end():]

def to_html_markdown_it(md:str)->str:
    "Fallback converter (markdown-it-py): front matter → title/abstract, attributes `{#id ...}` dropped."
    from markdown_it import MarkdownIt
    import html
    meta, body = _front(md)
    body = re.sub(r"(\)|^#+ .*?)\{[#.][^}]*\}", r"\1", body, flags=re.M)
    head = f"<h1>{html.escape(str(meta.get('title', '')))}</h1>\n"
    if meta.get("abstract"):
        head += f"<div class='abstract'><p><b>Abstract.</b> {MarkdownIt().render(str(meta['abstract']))}</p></div>\n"
    css = ("body{max-width:60em;margin:auto;font-family:sans-serif;line-height:1.5}table{border-collapse:collapse}"
           "td,th{border:1px solid #ccc;padding:2px 6px}img{max-width:100%}")
    return (f"<!DOCTYPE html><html><head><meta charset='utf-8'>"
            f"<title>{html.escape(str(meta.get('title', 'paper')))}</title>"
            f"<style>{css}</style></head><body>{head}"
            f"{MarkdownIt('commonmark').enable('table').render(body)}</body></html>")

def main(argv=None)->int:
    ap = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
    ap.add_argument("--dir", default=str(HERE), help="folder holding paper.qmd, _variables.yml, tables/, figures/")
    ap.add_argument("--qmd", default=str(HERE/"paper.qmd"), help="the Quarto source (default: papers/paper.qmd)")
    ap.add_argument("--out", default=None, help="output HTML (default: <dir>/paper.html)")
    ap.add_argument("--engine", choices=["auto", "pandoc", "markdown-it"], default="auto")
    ap.add_argument("--embed", action="store_true",
                    help="pandoc: embed the figures in the HTML (one self-contained file)")
    a = ap.parse_args(argv)
    d = Path(a.dir).resolve(); out = Path(a.out).resolve() if a.out else d/"paper.html"
    md = expanded(d, Path(a.qmd))
    (d/"_paper.md").write_text(md)          # the expanded source (git-ignored), for inspection
    engine = a.engine if a.engine != "auto" else ("pandoc" if shutil.which("pandoc") else "markdown-it")
    if engine == "pandoc":
        cmd = ["pandoc", "-f", "markdown", "-t", "html5", "--standalone", "--mathml", "--toc", "--number-sections",
               "--shift-heading-level-by=-1", "-V", f"header-includes={STYLE}",
               "--resource-path", str(d), "-o", str(out)] + (["--self-contained"] if a.embed else [])
        subprocess.run(cmd, input=md, text=True, check=True, cwd=d)
    else: out.write_text(to_html_markdown_it(md))
    left = re.findall(r"\{\{<.*?>\}\}", out.read_text())
    if left: sys.exit(f"unexpanded shortcodes in {out}: {left[:3]}")
    print(f"[render] wrote {out} with {engine}")
    return 0

if __name__ == "__main__": sys.exit(main())
