"""Quarto Markdown (papers/*.qmd) → a notebook that goes through the executor and the page processing like the others.

Front matter → a raw cell, ```{python} chunks → code cells (keeping their `#|` options), `{{< var >}}` and
`{{< include >}}` expanded by papers/shortcodes.py (the paper renderer's own expander), `::: {.callout-*}` → MyST
admonitions, other Pandoc divs unwrapped."""
from __future__ import annotations
import re, subprocess, sys
from pathlib import Path
from . import ROOT

_re_chunk = re.compile(r'^```\{(python|py)[^}]*\}[ \t]*\n(.*?)^```[ \t]*$', re.M | re.S)
_re_div_open = re.compile(r'^(:{3,})\s*\{([^}]*)\}\s*$')
_re_div_close = re.compile(r'^(:{3,})\s*$')
_callouts = {'note': 'note', 'tip': 'tip', 'warning': 'warning', 'caution': 'caution', 'important': 'important'}

def shortcodes():
    "papers/shortcodes.py (a script folder, not a package)."
    p = str(ROOT/'papers')
    if p not in sys.path: sys.path.insert(0, p)
    import shortcodes
    return shortcodes

def _divs(md:str)->str:
    "Pandoc fenced divs -> MyST: `::: {.callout-note}` becomes a `note` admonition; other divs keep their content."
    out, stack = [], []
    for line in md.splitlines():
        m = _re_div_open.match(line)
        if m:
            cls = re.search(r'\.callout-(\w+)', m.group(2))
            kind = _callouts.get(cls.group(1), 'note') if cls else None
            stack.append(kind)
            if kind: out.append(':::{' + kind + '}')
            continue
        if _re_div_close.match(line) and stack:
            if stack.pop(): out.append(':::')
            continue
        out.append(line)
    return '\n'.join(out)

def results_root()->Path:
    ("results/ when a run has finished there, else the committed snapshot papers/measured/results (if any): "
     "the site shows the paper as measured.")
    own, snap = ROOT/'results', ROOT/'papers'/'measured'/'results'
    return own if any(own.glob('**/config.json')) or not snap.exists() else snap

def expanded(path:Path)->str:
    "The .qmd's text with its shortcodes expanded; the paper's values and tables are built first (papers/build.py)."
    text = Path(path).read_text()
    sc = shortcodes()
    # the paper: from results/ when it holds runs, else from the committed measured snapshot
    if sc.shortcode_vars(text):
        subprocess.run([sys.executable, str(path.parent/'build.py'), '--results', str(results_root())], cwd=ROOT,
                       check=True)
    return sc.expand_shortcodes(text, path.parent, sc.read_variables(path.parent), strict=False)

def qmd_to_nb(path:Path):
    "A notebook with the same cells as the .qmd: front matter -> raw cell, ```{python} chunks -> code cells."
    from execnb.nbio import dict2nb, mk_cell
    path = Path(path)
    text = expanded(path)
    cells = []
    m = re.match(r'^---[ \t]*\n(.*?\n)---[ \t]*\n', text, re.S)
    if m:
        cells.append(mk_cell(f'---\n{m.group(1)}---', 'raw')); text = text[m.end():]
    pos = 0
    for c in _re_chunk.finditer(text):
        md = text[pos:c.start()].strip()
        if md: cells.append(mk_cell(_divs(md), 'markdown'))
        cells.append(mk_cell(c.group(2).rstrip('\n'), 'code'))
        pos = c.end()
    md = text[pos:].strip()
    if md: cells.append(mk_cell(_divs(md), 'markdown'))
    nb = dict2nb({'cells': cells, 'nbformat': 4, 'nbformat_minor': 5,
                  'metadata': {'kernelspec': {'display_name': 'python3', 'language': 'python', 'name': 'python3'}}})
    nb['path_'] = str(path)
    return nb
