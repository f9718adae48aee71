"""The whole documentation build: sources and sidebar → executed notebooks (cached) → pages → Sphinx → the site.

    python -m docsite [OUT] [--only GLOBS] [--force] [--workers N] [--timeout S]     (tools/docs.sh runs it)

Fails (exit 1) if a notebook failed to execute or Sphinx failed; the site is still written, the failing notebook's
page flagged. With RTD_DOCS_EXPECT_CACHED set (tools/test.sh sets it after its executor ran every notebook), a notebook
that would have to run again is a failure: the test run executes each notebook exactly once."""
from __future__ import annotations
import argparse, os, time
from pathlib import Path
from . import ROOT, SRC, log
from . import execute, fixups, pages, sphinx_site, sources

def build(out:Path, workers:int=2, timeout:float=1800, only:str='', force:bool=False, sphinx_jobs:str='1',
          expect_cached:bool=False)->int:
    t_start = time.time()
    os.chdir(ROOT)
    from nbdev.quarto import refresh_quarto_yml
    refresh_quarto_yml()                        # nbs/nbdev.yml from settings.ini, as nbdev_docs does
    srcs = sources.notebooks()
    sidebar = sources.write_sidebar(srcs)

    results = execute.execute_all(srcs, workers=workers, timeout=timeout, force=force, only=only,
                                  expect_cached=expect_cached)
    t_exec = time.time() - t_start

    t1 = time.time()
    SRC.mkdir(parents=True, exist_ok=True)
    wanted = {sources.page_name(p) + '.ipynb' for p in srcs}
    for f in SRC.rglob('*.ipynb'):             # pages whose notebook is gone
        if f.relative_to(SRC).as_posix() not in wanted: f.unlink()
    for p in srcs:
        r = results.get(p, {})
        nb, _ = execute.paths(p)
        dst = SRC/(sources.page_name(p) + '.ipynb')
        if not nb.exists(): dst.unlink(missing_ok=True); continue
        failed = execute.last_error(r.get('error', '')) if r.get('status') != 'ok' else None
        pages.render_page(p, nb, dst, failed)
    sphinx_site.copy_assets(SRC)            # after execution: the paper's page writes papers/figures and papers/tables
    fixups.drop_dead_anchors([sources.page_name(p) for p in srcs])
    sphinx_site.write_source(srcs, sidebar)
    t_pages = time.time() - t1

    t2 = time.time()
    rc = sphinx_site.sphinx_build(out, sphinx_jobs)
    t_sphinx = time.time() - t2
    ran = [r for r in results.values() if not r.get('cached')]
    log(f'{len(srcs)} pages: {len(ran)} notebook(s) executed in {t_exec:.0f} s '
        f'(CPU {sum(r.get("cpu", 0) for r in ran):.0f} s, '
        f'{workers} at a time), {len(srcs) - len(ran)} from the cache; pages {t_pages:.0f} s; Sphinx {t_sphinx:.0f} s; '
        f'total {time.time() - t_start:.0f} s -> {out}')
    failed = [p.name for p, r in results.items() if r.get('status') != 'ok']
    if rc != 0: log(f'FAILED: sphinx-build exited {rc}'); return rc
    if failed: log(f'FAILED: these notebooks did not execute (their pages have no outputs): '
                   f'{", ".join(failed)}'); return 1
    return 0

def main(argv=None)->int:
    env = os.environ.get
    ap = argparse.ArgumentParser(description='Build the rtd_nb documentation site (no Quarto needed).')
    ap.add_argument('out', nargs='?', default=env('RTD_DOCS_OUT', str(ROOT/'_site')),
                    help='output folder (default _site/)')
    ap.add_argument('--workers', type=int, default=int(env('RTD_DOCS_WORKERS', 2)), help='notebooks executed at once')
    ap.add_argument('--timeout', type=float, default=float(env('RTD_DOCS_TIMEOUT', 1800)), help='seconds per notebook')
    ap.add_argument('--only', default=env('RTD_DOCS_ONLY', ''),
                    help='comma-separated globs of notebooks to execute (others get only their API tables); '
                         'default all')
    ap.add_argument('--force', action='store_true', default=bool(env('RTD_DOCS_FORCE')), help='ignore the cache')
    ap.add_argument('--sphinx-jobs', default=env('RTD_DOCS_SPHINX_JOBS', '1'))
    a = ap.parse_args(argv)
    return build(Path(a.out).resolve(), a.workers, a.timeout, a.only, a.force, a.sphinx_jobs,
                 expect_cached=bool(env('RTD_DOCS_EXPECT_CACHED')))
