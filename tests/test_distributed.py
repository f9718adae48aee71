"""Two CPU processes over gloo (torchrun) train exactly like one process with the same global batch."""
import json, os, subprocess, sys
import numpy as np, pytest
from rtd_nb.distributed import shard_indices, train_ddp

ARGS = dict(method="rtd", hparams=dict(lam_kd=0.5, lam_ar=0.1), n_train=24, n_valid=16, global_bs=8, epochs=2, lr=1e-4,
            seed=0)


def test_shards_partition_each_global_batch():
    perm = list(np.random.default_rng(1).permutation(40))
    s = [shard_indices(perm, 4, r, 2) for r in range(2)]
    for k in range(5):  # global batch k = both slices of step k, and nothing else
        assert sorted(s[0][4*k:4*k+4] + s[1][4*k:4*k+4]) == sorted(perm[8*k:8*k+8])


def test_two_processes_match_one(tmp_path):
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONWARNINGS": "ignore"}
    out, js = tmp_path/"run", tmp_path/"ddp.json"
    a = ARGS
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
           "-m", "rtd_nb.distributed", "--method", a["method"],
           *[w for k, v in a["hparams"].items() for w in (f"--{k.replace('_', '-')}", str(v))],
           "--n-train", str(a["n_train"]), "--n-valid", str(a["n_valid"]), "--bs", str(a["global_bs"]),
           "--epochs", str(a["epochs"]), "--lr", str(a["lr"]), "--seed", str(a["seed"]), "--out", str(out),
           "--json", str(js)]
    r = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-3000:]
    ddp = json.loads(js.read_text())
    one = train_ddp(**a)
    assert ddp["world"] == 2 and one["world"] == 1
    assert len(one["losses"]) == 6 == len(ddp["losses"])            # 3 global batches × 2 epochs
    np.testing.assert_allclose(ddp["losses"], one["losses"], rtol=1e-4, atol=1e-5)
    assert ddp["metrics"]["n"] == one["metrics"]["n"] == a["n_valid"]  # every evaluation item gathered once
    assert ddp["metrics"]["acc"] == pytest.approx(one["metrics"]["acc"], abs=1e-6)
    assert ddp["metrics"]["nll"] == pytest.approx(one["metrics"]["nll"], rel=1e-4)
    assert len(set(np.round(one["losses"], 4))) > 1                   # the weights did move
    rows = [json.loads(l) for l in (out/"metrics.jsonl").read_text().splitlines()]
    assert len(rows) == 1 and rows[0]["world"] == 2 and (out/"config.json").exists()
