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
