("Shared test settings: under pytest-xdist each worker gets its share of the cores "
 "(torch's all-cores default oversubscribes them).")
import os

def pytest_configure(config):
    n = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
    if n > 1:
        import torch
        from rtd_nb.core import threads_per_job
        threads = threads_per_job(n)
        torch.set_num_threads(threads)
        # subprocesses the tests start (papermill, isolated bench)
        os.environ.setdefault("OMP_NUM_THREADS", str(threads))


# The longest test files first (by their seconds on 2 cores under `--durations=0`): with --dist loadfile and
# --no-loadscope-reorder (tools/test.sh), pytest-xdist hands each worker the next file in this order as it finishes
# one, so the two workers finish together (by most tests first, xdist's default, one worker idled 40-50 s at the end).
LONGEST_FIRST = ["test_experiments.py", "test_user_data.py", "test_report.py", "test_bench.py", "test_methods.py",
                 "test_docs.py", "test_baselines.py", "test_callbacks.py", "test_distributed.py", "test_cli.py"]

def pytest_collection_modifyitems(session, config, items):
    rank = {f: i for i, f in enumerate(LONGEST_FIRST)}
    items.sort(key=lambda it: rank.get(it.path.name, len(rank)))      # stable: the order inside each file is kept
