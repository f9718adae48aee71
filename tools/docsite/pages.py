"""An executed notebook (from the executor's cache) → the page Quarto would render, as a notebook for MyST-NB.

Nothing runs here. nbdev's own docs processors (those `nbdev_proc_nbs` applies before Quarto, `FilterDefaults`) do what
they do for Quarto: `#| hide` / `#| export` / `#| default_exp` cells go, `#| exports` cells show their source,
`#| hide_line` and `#| filter_stream` apply, backticked names link to their entries, show_doc cells get
`output: asis`. Then the Quarto options nbdev leaves (`echo`, `output`, `include`, `fig-cap`, ...) become MyST-NB
tags, links to notebooks become links to their pages as Quarto makes them, and the front matter becomes a heading."""
from __future__ import annotations
import re
from pathlib import Path
from . import ROOT, cfg
from .sources import page_name

def _procs():
    ("nbdev's docs processors after the ones the executor applied "
     "(front matter again: it is read back from its raw cell).")
    from nbdev.frontmatter import FrontmatterProc
    from nbdev.processors import FilterDefaults, insert_warning, exec_show_docs
    ps = list(FilterDefaults().procs())
    rest = ps[ps.index(insert_warning) + 1:]
    return [FrontmatterProc] + [p for p in rest if p is not exec_show_docs]

_re_qopt = re.compile(r'^\s*#\|\s*([\w-]+)\s*:\s*(.*?)\s*$')

def quarto_opts(cell):
    "Quarto cell options left by nbdev (`#| echo: false`, ...) -> MyST-NB tags/metadata; the option lines go."
    if cell.cell_type != 'code' or not cell.source: return
    lines, opts = cell.source.splitlines(), {}
    while lines and (m := _re_qopt.match(lines[0])):
        opts[m.group(1)] = m.group(2).strip('"\''); lines.pop(0)
    if not opts: return
    cell.source = '\n'.join(lines)
    tags = cell.metadata.setdefault('tags', [])
    f = lambda k: opts.get(k, '').lower() == 'false'
    if f('include'): tags.append('remove-cell')
    if f('echo'): tags.append('remove-input')
    if f('output'): tags.append('remove-output')
    if opts.get('fig-cap'):
        fig = {'caption': opts['fig-cap']}
        if opts.get('label'): fig['name'] = opts['label']
        cell.metadata['mystnb'] = {'figure': fig}

_re_nblink = re.compile(r'(\]\()((?![a-z]+:)[^)\s#]*?)([^/)\s#]+)\.(?:ipynb|qmd)([#)\s])')

def relink(s:str, prefix:str, up:str)->str:
    ("nbdev's doc links point at the published site: make them relative; `[x](01_models.ipynb)` -> `models.html`, "
     "as Quarto does.")
    from nbdev.doclinks import _nbpath2html
    if prefix: s = s.replace(prefix, up)
    return _re_nblink.sub(
        lambda m: m.group(1) + m.group(2) + _nbpath2html(Path(m.group(3) + '.ipynb')).name + m.group(4), s)

_re_showdoc_src = re.compile(r'^\s*show_doc\(', re.M)

def frontmatter_to_title(nb):
    "nbdev puts the title/description in a YAML raw cell for Quarto; Sphinx wants a heading."
    from execnb.nbio import mk_cell
    fm = getattr(nb, 'frontmatter_', None) or {}
    if nb.cells and nb.cells[0].cell_type == 'raw' and nb.cells[0].source.lstrip().startswith('---'): nb.cells.pop(0)
    md = []
    if fm.get('title'): md.append(f"# {fm['title']}")
    for k in ('subtitle', 'description'):
        if fm.get(k): md.append('{.lead}\n' + str(fm[k]))
    if fm.get('author'):
        a = fm['author']
        a = ', '.join(x if isinstance(x, str) else x.get('name', '') for x in a) if isinstance(a, list) else a
        md.append(f'*{a}*' + (f" · {fm['date']}" if fm.get('date') else ''))
    if md: nb.cells.insert(0, mk_cell('\n\n'.join(md), 'markdown'))

def failure_note(nb, err:str):
    from execnb.nbio import mk_cell
    nb.cells.insert(1, mk_cell(':::{warning}\nThis page was rendered **without its outputs**: running the notebook '
                                f'failed (`{err[:300]}`).\n:::', 'markdown'))

def render_page(src:Path, executed:Path, dst:Path, failed:str|None=None):
    "The page of `src` from its executed notebook, written to `dst` (a notebook MyST-NB renders without executing)."
    from execnb.nbio import read_nb, write_nb
    from nbdev.process import NBProcessor
    nb = read_nb(executed)
    nb['path_'] = str(src)                      # the source's place: nbdev names the page and resolves links from it
    NBProcessor(nb=nb, procs=_procs()).process()
    c = cfg()
    prefix = (c.get('doc_host', '') + c.get('doc_baseurl', '')).rstrip('/') + '/'
    up = '../' * (len(Path(page_name(src)).parts) - 1) or './'
    for cell in nb.cells:
        quarto_opts(cell)
        if cell.cell_type == 'markdown': cell.source = relink(cell.source, prefix, up)
        sd = cell.cell_type == 'code' and _re_showdoc_src.search(cell.source or '')
        if sd: cell.metadata.setdefault('tags', []).append('showdoc')     # styled by styles.css
        for o in cell.get('outputs', []):
            d = o.get('data', {})
            if 'text/markdown' in d:
                v = d['text/markdown']; v = v if isinstance(v, str) else ''.join(v)
                if sd: v = re.sub(r'^---\s*\n', '', v.lstrip())   # show_doc's leading rule: a CSS border instead
                d['text/markdown'] = relink(v, prefix, up)
    frontmatter_to_title(nb)
    if failed: failure_note(nb, failed)
    dst.parent.mkdir(parents=True, exist_ok=True)
    write_nb(nb, dst)
