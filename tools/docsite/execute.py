"""Run every notebook once, as `nbdev_test` runs it, and keep the executed notebooks for the docs.

    python -m docsite.execute [--force] [--only GLOBS] [--workers 2] [--timeout 1800]

This is the test of the notebooks (tools/test.sh runs it with --force) and the first step of the docs build, so that
no notebook runs twice: the docs build renders from what this wrote. Each notebook runs in its own process (own
process group, killed after the time limit), `workers` at a time, each with its share of the cores (OMP/MKL threads =
cores / workers: torch's default of every core per process oversubscribes them). The processes are forks of one
server that imported torch, fastai, transformers and rtd_nb once (`PRELOAD`): a fresh interpreter spends ≈ 5 s of CPU
importing them, which was half of the notebooks' total on 2 cores (243 s → 121 s for the 32 notebooks);
RTD_DOCS_PRELOAD=0 starts a fresh interpreter per notebook instead. Inside, the rules are nbdev_test's:
execnb's CaptureShell, working directory = the notebook's folder, the repository root on sys.path, IN_TEST=1, cells with
`#| eval: false` or a `tst_flags` directive skipped, `skip_exec` notebooks not run, the first error stops the notebook
and fails the run. Before running, nbdev's first docs processors (front matter, cell language, the automatic `show_doc`
cells of exported definitions, the generated-file warning) are applied, so the executed notebook holds every output its
page shows. settings.ini's `needs_data` notebooks (and those --only leaves out) get nbdev's own docs execution
instead: imports, exported cells and `show_doc`, as `nbdev_proc_nbs` runs them for Quarto.

Cache: build/docs/executed/<page>.ipynb and <page>.json (status, times, error), keyed on the notebook's bytes, the
mode, rtd_nb/, settings.ini, tests/fixtures/, papers/*.py and bench/*.py. A failed notebook's record keeps its error
(its page is rendered from nbdev's docs execution, flagged), so the docs build reports it without running it again.
The longest notebooks start first: by the last execution's time, else by durations.json (committed; `--save-durations`
rewrites it from a full run), which orders a fresh clone's run."""
from __future__ import annotations
import argparse, datetime, fnmatch, hashlib, json, os, re, signal, subprocess, sys, tempfile, time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from . import ROOT, EXECUTED, cfg, log
from .sources import notebooks, page_name, needs_data

EXEC_VERSION = 1   # bump when what an execution writes changes (part of the cache key)
DURATIONS = Path(__file__).with_name('durations.json')   # seconds per notebook of a full run: who starts first

class CellError(Exception):
    "A cell raised: the message is the notebook's traceback, as nbdev_test prints it."
MODES = {'all': 'executed', 'api': "nbdev's docs execution only (imports, exports, show_doc)", 'none': 'not executed'}

# ---------------------------------------------------------------------------------------------------------------------
# One notebook, in the child process

def execute_nb(src:Path, dst:Path, mode:str):
    ("Execute `src` (.ipynb or .qmd) in this process as nbdev_test does (`mode` 'all'), nbdev's docs way ('api') "
     "or not ('none').")
    from execnb.nbio import read_nb, write_nb
    from execnb.shell import CaptureShell
    from fastcore.basics import str2bool
    from fastcore.xtras import working_directory
    from nbdev.frontmatter import FrontmatterProc
    from nbdev.process import NBProcessor, nb_lang
    from nbdev.processors import Processor, populate_language, add_show_docs, insert_warning, exec_show_docs
    from .qmd import qmd_to_nb
    os.environ['IN_TEST'] = '1'                              # as nbdev_test and nbdev_proc_nbs
    flags = set(cfg().get('tst_flags', '').split())

    class run_cells(Processor):
        "Every code cell once, in order, with nbdev_test's rules; the outputs stay in the cells."
        def begin(self):
            fm = getattr(self.nb, 'frontmatter_', {}) or {}
            self.off = str2bool(fm.get('skip_exec', False)) or nb_lang(self.nb) != 'python'
            if self.off: return
            sys.path.insert(0, str(cfg().config_path))      # nbdev_test's basepath
            self.k = CaptureShell(self.nb.path_)
            self.dir = Path(self.nb.path_).parent
        def __call__(self, cell):
            if self.off or cell.cell_type != 'code' or 'nbdev_export'+'(' in cell.source: return
            d = getattr(cell, 'directives_', {}) or {}
            if d.get('eval:', [''])[0].lower() == 'false' or flags & d.keys(): return
            if cell.get('has_sd') and 'show_doc' not in self.k.user_ns:   # a show_doc cell nbdev added
                self.k.run_cell('from nbdev.showdoc import show_doc')
            with working_directory(self.dir): self.k.cell(cell)
            if self.k.exc: raise CellError(self.k.prettytb(fname=self.nb.path_)) from None

    nb = qmd_to_nb(src) if src.suffix == '.qmd' else read_nb(src)
    procs = [FrontmatterProc, populate_language, add_show_docs, insert_warning] + \
            {'all': [run_cells], 'api': [exec_show_docs], 'none': []}[mode]
    # directives stay in the sources: the page processing reads them again (`#| hide`, `#| export`, ...)
    NBProcessor(nb=nb, procs=procs, rm_directives=False).process()
    tmp = dst.with_suffix('.tmp')
    dst.parent.mkdir(parents=True, exist_ok=True)
    write_nb(nb, tmp); tmp.replace(dst)

# ---------------------------------------------------------------------------------------------------------------------
# The cache

def _hash(*parts)->str:
    h = hashlib.sha1()
    for p in parts: h.update(p if isinstance(p, bytes) else str(p).encode())
    return h.hexdigest()

_DEP_SUFFIXES = ('.py', '.json', '.jsonl', '.csv', '.md', '.yml', '.yaml', '.txt', '.ini')

def deps_hash()->str:
    ("What every notebook may read besides itself: the library, settings.ini, the test fixtures, papers/ and bench/ "
     "scripts.")
    c = cfg()
    files = sorted(Path(c.lib_path).rglob('*.py')) + [Path(c.config_file)]
    files += sorted(f for f in (ROOT/'tests'/'fixtures').rglob('*') if f.is_file() and f.suffix in _DEP_SUFFIXES
                    and '__pycache__' not in f.parts)
    files += sorted((ROOT/'papers').glob('*.py')) + sorted((ROOT/'bench').glob('*.py'))
    return _hash(EXEC_VERSION, *[f.relative_to(ROOT).as_posix().encode() + f.read_bytes() for f in files])

def key(src:Path, mode:str, deps:str)->str: return _hash(Path(src).read_bytes(), mode, deps)

def paths(src:Path)->tuple[Path, Path]:
    "The executed notebook and its record in the cache."
    n = page_name(src)
    return EXECUTED/f'{n}.ipynb', EXECUTED/f'{n}.json'

def record(src:Path)->dict:
    "The cache's record of `src` ({} if none): key, mode, status ('ok' or 'failed'), wall and CPU seconds, error."
    nb, rec = paths(src)
    if not rec.exists() or not nb.exists(): return {}
    try: return json.loads(rec.read_text())
    except ValueError: return {}

def cached(src:Path, mode:str, deps:str)->dict:
    "The record of an execution of `src` that serves `mode` now (a full one serves an 'api' request too), else {}."
    r = record(src)
    ok = {key(src, mode, deps)} | ({key(src, 'all', deps)} if mode == 'api' else set())
    return r if r.get('key') in ok else {}

# ---------------------------------------------------------------------------------------------------------------------
# Many notebooks, each in a child process

def _threads(workers:int)->str:
    from rtd_nb.core import threads_per_job     # the library's rule (imported here: only executing needs it)
    return str(threads_per_job(workers))

def _child_env(env:dict, threads:str)->dict:
    "A child's environment (changed in place): tools/ first on PYTHONPATH (once), OMP/MKL threads unless set."
    env['PYTHONPATH'] = os.pathsep.join([str(ROOT/'tools')] + [
        p for p in env.get('PYTHONPATH', '').split(os.pathsep) if p and p != str(ROOT/'tools')])
    for k in ('OMP_NUM_THREADS', 'MKL_NUM_THREADS'): env.setdefault(k, threads)
    return env

def _child(src:Path, dst:Path, mode:str)->int:
    "What a child process runs, spawned or forked: the notebook from the repository root; 1 if a cell failed."
    os.chdir(ROOT)
    try: execute_nb(src, dst, mode)
    except CellError as e: print(e, file=sys.stderr); return 1
    return 0

# What every notebook imports, imported once in a fork server: each notebook's process is a fork of it, so the ~5 s of
# importing torch, fastai, transformers and rtd_nb is paid once per run instead of once per notebook. The notebooks
# still run each in its own process (own session, nothing shared once forked); RTD_DOCS_PRELOAD=0 spawns fresh ones.
PRELOAD = ['numpy', 'pandas', 'matplotlib.pyplot', 'seaborn', 'torch', 'torchvision', 'transformers', 'timm', 'open_clip',
           'torchmetrics', 'fastai.learner', 'fastai.callback.progress', 'IPython', 'execnb.shell', 'nbdev.processors',
           'nbdev.showdoc', 'fastcore.test', 'docsite.execute'] + [
           f'rtd_nb.{m}' for m in ('experiments', 'report', 'bench', 'cli', 'analysis', 'stats', 'distributed',
                                   'text_perturb', 'wilds_data', 'user_data')]
_ctx = None

def _context(threads:str):
    "The fork server (started once, with the children's thread counts in its environment), or None to spawn."
    global _ctx
    if _ctx is None:
        import multiprocessing as mp
        if os.environ.get('RTD_DOCS_PRELOAD', '1') == '0' or 'forkserver' not in mp.get_all_start_methods():
            _ctx = False
        else:
            _child_env(os.environ, threads)     # the server's environment is every child's
            _ctx = mp.get_context('forkserver')
            _ctx.set_forkserver_preload(PRELOAD)
    return _ctx or None

def _forked(src:str, dst:str, mode:str, out:str, threads:int):
    "The child: its own session and output file, the parent's thread share, then the notebook; exit code 1 on error."
    import multiprocessing, resource
    os.setsid()
    # as in a fresh interpreter: the platform's default start method (not the fork server's) for the notebook's own
    # processes (DataLoader workers, side-by-side runs)
    multiprocessing.set_start_method(None, force=True)
    fd = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
    os.dup2(fd, 1); os.dup2(fd, 2)
    sys.stdout = open(1, 'w', buffering=1, closefd=False); sys.stderr = open(2, 'w', buffering=1, closefd=False)
    if 'torch' in sys.modules: sys.modules['torch'].set_num_threads(threads)
    try: rc = _child(Path(src), Path(dst), mode)
    except BaseException:                               # what a fresh interpreter would print before exiting with 1
        import traceback; traceback.print_exc(); rc = 1
    sys.stdout.flush(); sys.stderr.flush()
    ru = [resource.getrusage(w) for w in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)]
    Path(out + '.cpu').write_text(str(sum(r.ru_utime + r.ru_stime for r in ru)))
    os._exit(rc)

def _run_forked(ctx, src:Path, dst:Path, mode:str, timeout:float, workers:int)->tuple:
    t0 = time.time()
    with tempfile.TemporaryDirectory() as d:
        out = os.path.join(d, 'out')
        from docsite.execute import _forked           # by its module's name (this one may be __main__)
        p = ctx.Process(target=_forked, args=(str(src), str(dst), mode, out, int(_threads(workers))))
        p.start(); p.join(timeout)
        rc = 'timeout' if p.exitcode is None else p.exitcode
        try: os.killpg(p.pid, signal.SIGKILL)           # on timeout, or anything the notebook left running
        except (ProcessLookupError, PermissionError): pass
        p.join()
        text = Path(out).read_text(errors='replace') if os.path.exists(out) else ''
        cpu = float(Path(out + '.cpu').read_text()) if os.path.exists(out + '.cpu') else 0.0
    return rc, text, time.time() - t0, cpu

def run_child(src:Path, dst:Path, mode:str, timeout:float, workers:int=1)->tuple:
    "Execute one notebook in a child process (own process group), killed after `timeout` s: rc, output, wall s, CPU s."
    if timeout > 0 and (ctx := _context(_threads(workers))) is not None:
        rc, out, wall, cpu = _run_forked(ctx, src, dst, mode, timeout, workers)
    else: rc, out, wall, cpu = _run_spawned(src, dst, mode, timeout, workers)
    if rc == 'timeout': out += (f'\nTimeoutError: {src.name} did not finish within {timeout:.0f} s '
                                f'(--timeout, RTD_DOCS_TIMEOUT)')
    return rc, out, wall, cpu

def _run_spawned(src:Path, dst:Path, mode:str, timeout:float, workers:int=1)->tuple:
    "A fresh interpreter for the notebook (RTD_DOCS_PRELOAD=0, or no fork server on this platform)."
    cmd = [sys.executable, '-m', 'docsite.execute', '--child', str(src), str(dst), mode]
    env = _child_env(dict(os.environ), _threads(workers))
    t0 = time.time()
    with tempfile.TemporaryFile('w+') as f:
        p = subprocess.Popen(cmd, cwd=ROOT, stdout=f, stderr=subprocess.STDOUT, text=True, start_new_session=True,
                             env=env)
        rc, ru = None, None
        while rc is None:
            pid, status, ru_ = os.wait4(p.pid, os.WNOHANG)
            if pid: rc, ru = os.waitstatus_to_exitcode(status), ru_; p.returncode = rc; break
            if time.time() - t0 > timeout:
                os.killpg(p.pid, signal.SIGKILL); _, _, ru = os.wait4(p.pid, 0); p.returncode = rc = 'timeout'; break
            time.sleep(0.2)
        try: os.killpg(p.pid, signal.SIGKILL)           # anything the notebook left running in its group
        except ProcessLookupError: pass
        f.seek(0); out = f.read()
    return rc, out, time.time() - t0, (ru.ru_utime + ru.ru_stime) if ru else 0.0

def last_error(out:str)->str:
    ls = [l for l in (out or '').strip().splitlines() if re.match(r'^\w*(Error|Exception|Interrupt)\b', l)]
    return ls[-1] if ls else ((out or '').strip().splitlines() or ['unknown error'])[-1]

def _job(src:Path, mode:str, deps:str, timeout:float, workers:int)->dict:
    nb, rec_f = paths(src)
    k = key(src, mode, deps)                  # of the bytes that run (an edit meanwhile makes the record stale)
    rc, out, wall, cpu = run_child(src, nb, mode, timeout, workers)
    rec = dict(src=src.relative_to(ROOT).as_posix(), key=k, mode=mode, status='ok' if rc == 0 else 'failed',
               wall=round(wall, 1), cpu=round(cpu, 1), when=datetime.datetime.now().isoformat(timespec='seconds'))
    if rc != 0:
        rec['error'] = out[-6000:]
        # the page still gets what nbdev's processing gives, flagged
        for fb in [m for m in ('api', 'none') if m != mode]:
            rc2, out2, w2, c2 = run_child(src, nb, fb, timeout, workers)
            rec['page_mode'] = fb
            if rc2 == 0: break
        else: nb.unlink(missing_ok=True)
    rec_f.parent.mkdir(parents=True, exist_ok=True)
    rec_f.write_text(json.dumps(rec, indent=1))
    what = MODES[mode] if mode != 'all' else 'executed'
    log(f"{rec['src']}: {what} in {wall:.1f} s (CPU {cpu:.1f} s)" +
        ('' if rc == 0 else f'  FAILED ({rc}): {last_error(out)}'))
    return rec

def mode_of(src:Path, pats:list[str])->str:
    "'all' (every cell), or 'api' for a needs_data notebook or one --only leaves out."
    if src.name in needs_data(): return 'api'
    if pats and not any(fnmatch.fnmatch(src.name, g) or fnmatch.fnmatch(src.stem, g) for g in pats): return 'api'
    return 'all'

def execute_all(sources:list[Path]|None=None, workers:int=2, timeout:float=1800, force:bool=False, only:str='',
                expect_cached:bool=False)->dict:
    "Execute every source that has no valid cached execution; {source: record}. Prints one line per notebook."
    sources = notebooks() if sources is None else sources
    pats = [s.strip() for s in only.split(',') if s.strip()]
    deps = deps_hash()
    results, jobs = {}, []
    for p in sources:
        mode = mode_of(p, pats)
        r = {} if force else cached(p, mode, deps)
        if r: results[p] = dict(r, cached=True); continue
        jobs.append((p, mode))
    n_cached = len(results)
    if n_cached: log(f'{n_cached} notebook(s) unchanged since their last execution (build/docs/executed/): '
                     f'not run again')
    if expect_cached and jobs:
        log('FAILED: these notebooks would run a second time (RTD_DOCS_EXPECT_CACHED is set, e.g. by tools/test.sh, '
            'whose executor already ran them): ' + ', '.join(p.name for p, _ in jobs))
        for p, m in jobs:
            results[p] = dict(src=p.name, mode=m, status='failed', error='not executed: expected in the cache')
        return results
    # longest first, so that the workers finish together: the last execution's time, else durations.json's (a fresh
    # clone), else first (a new notebook)
    hint = json.loads(DURATIONS.read_text()) if DURATIONS.exists() else {}
    jobs.sort(key=lambda j: -(record(j[0]).get('wall') or hint.get(j[0].relative_to(ROOT).as_posix()) or 1e9))
    if jobs: log(f'executing {len(jobs)} notebook(s), {workers} at a time, {_threads(workers)} thread(s) each')
    t0 = time.time()
    with ThreadPoolExecutor(max(1, workers)) as ex:
        for (p, _), r in zip(jobs, ex.map(lambda j: _job(j[0], j[1], deps, timeout, workers), jobs)): results[p] = r
    if jobs: log(f'executed {len(jobs)} notebook(s) in {time.time() - t0:.0f} s')
    return results

def report(results:dict)->int:
    "nbdev_test's --timing table (slowest first) and its verdict; 1 if any notebook failed."
    ran = {p: r for p, r in results.items() if not r.get('cached')}
    if ran:
        print('\nper-notebook times (wall, CPU; slowest first):')
        for p, r in sorted(ran.items(), key=lambda x: -(x[1].get('wall') or 0)):
            print(f"  {p.name:<28} {r.get('wall', 0):7.1f} s  CPU {r.get('cpu', 0):7.1f} s  "
                  f"{r['mode']:<4} {r['status']}")
    failed = [p for p, r in results.items() if r.get('status') != 'ok']
    for p in failed:
        err = results[p].get('error', '')
        if not results[p].get('cached'): print(f'\n===== {p.relative_to(ROOT)} =====\n{err[-6000:]}', file=sys.stderr)
    if failed:
        print('\nNotebooks failed:\n\t' + '\n\t'.join(str(p.relative_to(ROOT)) for p in failed), file=sys.stderr,
              flush=True)
        return 1
    print('Success.', flush=True)
    return 0

def save_durations(results:dict):
    "durations.json from this run's times (commit it: it only orders the notebooks of the next fresh clone)."
    d = {p.relative_to(ROOT).as_posix(): r['wall'] for p, r in sorted(results.items())
         if not r.get('cached') and r.get('wall')}
    DURATIONS.write_text(json.dumps(d, indent=1) + '\n')
    log(f'wrote {DURATIONS.relative_to(ROOT)} ({len(d)} notebooks)')

def main(argv=None)->int:
    ap = argparse.ArgumentParser(description='Run every notebook once, as nbdev_test does, into the docs cache.')
    ap.add_argument('--workers', type=int, default=int(os.environ.get('RTD_DOCS_WORKERS', 2)),
                    help='notebooks run at once')
    ap.add_argument('--timeout', type=float, default=float(os.environ.get('RTD_DOCS_TIMEOUT', 1800)),
                    help='seconds per notebook')
    ap.add_argument('--only', default=os.environ.get('RTD_DOCS_ONLY', ''),
                    help='comma-separated globs of notebooks to execute (the others: nbdev docs execution only); '
                         'default all')
    ap.add_argument('--force', action='store_true', default=bool(os.environ.get('RTD_DOCS_FORCE')),
                    help='run every notebook even if its cached execution is current')
    ap.add_argument('--save-durations', action='store_true',
                    help='then write durations.json (the order of the next fresh run)')
    ap.add_argument('--child', nargs=3, metavar=('SRC', 'DST', 'MODE'), help=argparse.SUPPRESS)
    a = ap.parse_args(argv)
    if a.child:
        src, dst, mode = a.child
        return _child(Path(src).resolve(), Path(dst).resolve(), mode)
    os.chdir(ROOT)
    res = execute_all(workers=a.workers, timeout=a.timeout, force=a.force, only=a.only)
    if a.save_durations: save_durations(res)
    return report(res)

if __name__ == '__main__':
    sys.exit(main())
