"""The notebook executor of tools/test.sh (tools/docsite/execute.py): each notebook in its own process, forked from a
server that imported the heavy modules once; a failing cell fails the notebook with its traceback, a notebook past its
time limit is killed, and a notebook's own worker processes start as in a fresh interpreter."""
import sys
from pathlib import Path
import nbformat, pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT/'tools'))
from docsite import execute as E


def _nb(path, *sources):
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(s) for s in sources])
    nbformat.write(nb, path)
    return path


@pytest.fixture(scope="module")
def forked():
    "The fork server, preloading one module (the real list only makes it slower to start)."
    pre = E._ctx, E.PRELOAD
    E._ctx, E.PRELOAD = None, ["json"]
    ctx = E._context("1")
    assert ctx is not None and ctx.get_start_method() == "forkserver"
    yield ctx
    E._ctx, E.PRELOAD = pre


def test_ok_failing_and_timed_out_notebooks(forked, tmp_path):
    ok = _nb(tmp_path/"ok.ipynb", "import multiprocessing as mp, os\nx = 6 * 7",
             "print(x, mp.get_start_method(), os.getpgrp() == os.getpid())")
    rc, out, wall, cpu = E.run_child(ok, tmp_path/"ok_out.ipynb", "all", 120)
    assert rc == 0, out
    cells = [c for c in nbformat.read(tmp_path/"ok_out.ipynb", as_version=4).cells if c.cell_type == "code"]
    # the cell's output is kept; the notebook's own processes fork as in a fresh interpreter; its own session
    assert cells[1].outputs[0]["text"].strip() == "42 fork True"
    assert wall > 0 and cpu > 0
    bad = _nb(tmp_path/"bad.ipynb", "y = 1", "raise ValueError('no such column: review')", "print('not reached')")
    rc, out, _, _ = E.run_child(bad, tmp_path/"bad_out.ipynb", "all", 120)
    assert rc == 1 and "ValueError" in out and "no such column: review" in out
    assert E.last_error(out).startswith("ValueError")
    slow = _nb(tmp_path/"slow.ipynb", "import time; time.sleep(60)")
    rc, out, wall, _ = E.run_child(slow, tmp_path/"slow_out.ipynb", "all", 3)
    assert rc == "timeout" and "did not finish within 3 s" in out and wall < 30
