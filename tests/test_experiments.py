("The experiment notebooks through papermill: the WILDS ones fail clearly without data and run end to end "
 "on fixture roots.")
import json, os, subprocess, sys, time
from pathlib import Path
import pytest
import papermill as pm
from rtd_nb.wilds_data import make_camelyon_fixture, make_iwildcam_fixture

ROOT = Path(__file__).resolve().parents[1]
NBS = ROOT/"nbs"
TINY = dict(model="tiny-clip", pretrained=None, size=32, max_items=8, bs=4, extras="reliability")


@pytest.fixture(scope="module")
def wroot(tmp_path_factory):
    root = tmp_path_factory.mktemp("wilds")
    make_camelyon_fixture(root, per_slide=6); make_iwildcam_fixture(root, per_class=5)
    return root


def _runs(out):
    return sorted(p for p in Path(out).iterdir() if (p/"config.json").exists())


def _stopped_in_check_cell(executed_nb:Path, runs_dir:Path):
    "The missing data stopped the notebook in its first cells, before anything was written."
    executed = json.loads(executed_nb.read_text())
    failed = [i for i, c in enumerate(executed["cells"])
              if c["cell_type"] == "code" and any(o.get("output_type") == "error" for o in c.get("outputs", []))]
    code = [i for i, c in enumerate(executed["cells"]) if c["cell_type"] == "code"]
    assert failed and code.index(failed[0]) <= 4, "the missing data must stop the notebook in its first cells"
    assert not runs_dir.exists(), "nothing may be written before the data check"


def _ft_and_rtd_runs(out:Path, bench:str):
    "An FT and an RTD (λ_KD = 0.5) run of `bench`, each evaluated on every split, with its reliability file."
    runs = _runs(out)
    assert [r.name.split("-")[0] for r in runs] == ["ft", "rtd"]
    for r in runs:
        cfg = json.loads((r/"config.json").read_text())
        assert cfg["tags"]["benchmark"] == bench and cfg["data"] == bench
        lines = [json.loads(l) for l in (r/"metrics.jsonl").read_text().splitlines()]
        splits = {(d["model"], d["split"]) for d in lines}
        assert {("zeroshot", "id_test"), ("final", "id_test"), ("final", "summary"), ("train", "summary")} <= splits
        assert {s for m, s in splits if m == "final"} >= {"ood_val", "ood_test"}
        assert (r/"reliability.csv").exists()
    rtd = json.loads((runs[1]/"config.json").read_text())
    assert rtd["hparams"]["lam_kd"] == 0.5 and "Perturb(" in rtd["hparams"]["perturb"]


# iWildCam through papermill's Python API here; Camelyon17 through the design card's command line below, which also
# checks that a missing dataset stops the notebook in its check cell (the same `check_data` call in both notebooks;
# iWildCam's own message is tested in test_data.py)
def test_iwildcam_notebook_runs_on_fixture_root(wroot, tmp_path):
    pm.execute_notebook(str(NBS/"21_iwildcam.ipynb"), str(tmp_path/"out.ipynb"), cwd=str(NBS), progress_bar=False,
                        kernel_name="python3", parameters=dict(TINY, data_root=str(wroot), out_dir=str(tmp_path/"runs"),
                                                               method="ft,rtd", lam_kd=0.5, seed=0))
    _ft_and_rtd_runs(tmp_path/"runs", "iwildcam")


def test_card_command_runs_on_fixture_and_fails_without_data(wroot, tmp_path):
    ("The design card's command line on Camelyon17, from the repository root: a clear failure in the check cell "
     "without data, a full run with a fixture root.")
    env = dict(os.environ, RTD_NB_WILDS=str(tmp_path/"nothing-here"))
    exe = Path(sys.executable).with_name("papermill")
    r = subprocess.run([str(exe), "nbs/20_camelyon.ipynb", str(tmp_path/"out.ipynb"), "-p", "lam_kd", "0.5",
                        "-p", "out_dir", str(tmp_path/"a")], cwd=ROOT, env=env, capture_output=True, text=True)
    msg = r.stderr + r.stdout
    assert r.returncode != 0 and "Camelyon17-WILDS not found" in msg and "AssetMissingError" in msg, msg[-800:]
    assert "get_dataset" in msg, msg[-800:]
    _stopped_in_check_cell(tmp_path/"out.ipynb", tmp_path/"a")
    args = [str(exe), "nbs/20_camelyon.ipynb", str(tmp_path/"out2.ipynb"), "-p", "lam_kd", "0.5",
            "-p", "out_dir", str(tmp_path/"b"), "-p", "method", "ft,rtd", "-p", "seed", "0"]
    for k, v in TINY.items(): args += ["-p", k, "None" if v is None else str(v)]
    env["RTD_NB_WILDS"] = str(wroot)       # the root through the environment, as documented
    r = subprocess.run(args, cwd=ROOT, env=env, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr[-2000:]
    _ft_and_rtd_runs(tmp_path/"b", "camelyon17")


def test_plan_side_by_side_equals_one_at_a_time(tmp_path):
    ("`run_plan(jobs=2)`: two worker processes, WiSE-FT after its FT run, the shifts FT that is main's FT seed 0 "
     "(movie, prompt head) filed from it once it exists; the same rows as one at a time (each spec seeds itself); "
     "rerun: everything loaded.")
    import torch
    from rtd_nb.experiments import run_plan, _twin
    pick = lambda s: s["method"] in ("ft", "wise") and (s["part"] == "main" or _twin(s) is not None)
    kw = dict(seeds=(0, 1), benchmarks=("vader",), select=pick, max_items=12, extras=(), log=lambda *a: None)
    threads = torch.get_num_threads(); torch.set_num_threads(1)        # the workers' thread count: 2 cores // 2 jobs
    try: one = run_plan("shifts,main", tmp_path/"one", jobs=1, **kw)
    finally: torch.set_num_threads(threads)
    lines = []
    two = run_plan("shifts,main", tmp_path/"two", jobs=2, **dict(kw, log=lines.append))
    assert "2 at a time" in lines[0] and len(lines) == 6
    assert list(two.method) == list(one.method) == ["ft", "ft", "wise", "ft", "wise"]
    assert list(two.part) == ["shifts"] + ["main"] * 4 and list(two.seed) == [0, 0, 0, 1, 1]
    cols = ["id_acc", "ood_acc", "worst_group"]
    assert two[cols].to_numpy().tolist() == one[cols].to_numpy().tolist()
    assert two[cols].iloc[0].tolist() == two[cols].iloc[1].tolist()               # the shifts FT is main's FT seed 0
    sh = json.loads(next((tmp_path/"two"/"shifts"/"vader-movie-zeroshot").glob("ft-*/config.json")).read_text())
    assert sh["tags"]["experiment"] == "shifts" and sh["derived_from"].startswith("vader/ft-")
    again = run_plan("shifts,main", tmp_path/"two", jobs=1, **kw)                          # loading needs no workers
    assert (again.run_seconds < 15).all()                                                  # loaded, not trained


def test_frontier_default_is_mains_rtd_filed_again(tmp_path):
    "The frontier's default RTD variant is the main part's RTD run (seed 0) filed under frontier: nothing retrained."
    from rtd_nb.experiments import run_plan, _twin
    pick = lambda s: s["method"] == "rtd" and s["seed"] == 0 and (s["part"] == "main" or _twin(s) is not None)
    t = run_plan("main,frontier", tmp_path, seeds=(0,), benchmarks=("vader",), select=pick, max_items=12, extras=(),
                 log=lambda *a: None)
    assert list(t.part) == ["main", "frontier"] and t.run_seconds.iloc[1] < 15
    cols = ["id_acc", "ood_acc", "worst_group"]
    assert t[cols].iloc[0].tolist() == t[cols].iloc[1].tolist()
    cfg = json.loads(next((tmp_path/"frontier"/"vader").glob("rtd-*/config.json")).read_text())
    assert cfg["tags"]["experiment"] == "frontier" and cfg["tags"]["variant"] == "rtd"
    assert cfg["derived_from"].startswith("vader/rtd-")
