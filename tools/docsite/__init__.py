"""The rtd_nb documentation site without Quarto, and the one executor every notebook goes through.

The Quarto path (`nbdev_docs`, configured by nbs/_quarto.yml, nbs/sidebar.yml and the top-level _quarto.yml) stays the
reference; this package produces the same pages with tools that install from PyPI. One job per module:

- `sources`  which notebooks (and papers/*.qmd) the site holds, the page each becomes, and the sidebar grouping them
             by their number prefix (nbs/sidebar.yml, the file Quarto's sidebar reads too);
- `qmd`      Quarto Markdown (the paper) → a notebook, its shortcodes expanded by papers/shortcodes.py;
- `execute`  runs every notebook once, with nbdev_test's rules, in its own process, and keeps the executed notebooks in
             a cache keyed on their content (`build/docs/executed/`); `tools/test.sh` runs it as the test of the
             notebooks, and the docs build then finds every notebook there;
- `pages`    an executed notebook → the page Quarto would render: nbdev's docs processors, Quarto cell options as
             MyST-NB tags, links as Quarto writes them (no execution);
- `fixups`   what the site needs across pages: Pandoc's heading ids, doc links to entries a page does not show;
- `sphinx_site` Sphinx + MyST-NB + sphinx-book-theme: conf.py, the navigation from nbs/sidebar.yml, offline MathJax;
- `build`    the whole build (`python -m docsite`, run by tools/docs.sh).
"""
from __future__ import annotations
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
BUILD = ROOT/'build'/'docs'        # ignored by git (build/)
EXECUTED = BUILD/'executed'        # the executor's cache: executed notebooks and their records
SRC = BUILD/'src'                  # the Sphinx source: pages, conf.py, static files

def cfg():
    "settings.ini, as nbdev reads it."
    from nbdev.config import get_config
    return get_config(path=ROOT)

def log(*a):
    print('[docs]', *a, flush=True)
