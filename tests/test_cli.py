"The `rtd_nb` command line: end to end through subprocess (train, eval, methods), --help everywhere, one-line errors."
import json, subprocess, sys
from pathlib import Path
import pandas as pd, pytest
from fixtures.cli import rtd_nb_here                  # tests/fixtures/cli.py: the CLI's main, here
from rtd_nb.data import vader_frame


def cli(*args, cwd=None):
    "Run `python -m rtd_nb.cli ARGS` (what the `rtd_nb` console script runs)."
    return subprocess.run([sys.executable, "-m", "rtd_nb.cli", *map(str, args)], capture_output=True, text=True,
                          cwd=cwd, timeout=600)


def run(*argv, cwd=None):
    "`rtd_nb ARGV` through its `main` in this process: (exit code, stdout, stderr)."
    r = rtd_nb_here(*argv, cwd=cwd)
    return r.returncode, r.stdout, r.stderr


@pytest.fixture(scope="module")
def csvs(tmp_path_factory):
    d = tmp_path_factory.mktemp("cli")
    vf = vader_frame()
    vf = vf.assign(label=vf.label.map({0: "negative", 1: "positive"}))
    vf[vf.domain == "movie"].head(40)[["text", "label"]].to_csv(d/"reviews.csv", index=False)
    vf[vf.domain == "tweets"].head(16)[["text", "label"]].to_csv(d/"tweets.csv", index=False)
    return d


def test_train_eval_end_to_end(csvs):
    code, out, err = run("train", "--model", "minilm", "--data", "reviews.csv", "--text-col", "text", "--label-col",
                         "label", "--method", "rtd", "--lam-kd", "0.5", "--lam-ar", "0", "--lr", "1e-4", "--bs", "8",
                         "--max-len", "32", "--max-items", "16", "--out-dir", "runs", "--quiet", cwd=csvs)
    assert code == 0, err[-2000:]
    assert "zeroshot accuracy" in out and "rtd macro-F1" in out and "ID: id_test" in out
    run_dir = next((csvs/"runs").glob("rtd-*"))
    cfg = json.loads((run_dir/"config.json").read_text())
    assert cfg["hparams"]["lam_kd"] == 0.5 and cfg["hparams"]["lam_ar"] == 0 and cfg["text_col"] == "text"
    code, out, err = run("eval", run_dir, "--data", "tweets.csv", cwd=csvs)                      # `main`, here
    assert code == 0, err[-2000:]
    assert "ID: tweets" in out and "rtd accuracy" in out
    lines = [json.loads(l) for l in (run_dir/"metrics.jsonl").read_text().splitlines()]
    assert {"final@tweets"} <= {l["model"] for l in lines}
    # then through the real process (`python -m rtd_nb.cli`, what the console script runs): bad input gives exit
    # code 1, one line, no traceback
    r = cli("eval", run_dir, "--data", "tweets.csv", "--text-col", "review", cwd=csvs)
    assert r.returncode == 1 and "Traceback" not in r.stderr
    last = r.stderr.strip().splitlines()[-1]
    assert [l for l in r.stderr.splitlines() if l.startswith("rtd_nb")] == [last]        # one line, and it is the last
    assert "no column 'review'" in last and "--text-col" in last


def test_methods_lists_registry():
    from rtd_nb.methods import METHODS
    code, out, _ = run("methods")
    assert code == 0
    for line in ("rtd ", "--lam-kd 0.5", "ft ", "lipsum ", "--lam 1.0"): assert line in out
    assert all(f"\n{m} " in "\n" + out for m in METHODS)          # every registered method, baselines included
    code, out, _ = run("methods", "--json")
    assert {r["method"] for r in json.loads(out)} == set(METHODS)


def test_help_everywhere():
    for cmd in ([], ["train"], ["eval"], ["methods"], ["reproduce"]):
        code, out, _ = run(*cmd, "--help")
        assert code == 0 and out.startswith("usage: rtd_nb")
    code, out, _ = run("train", "--help")
    assert "--skip-bad" in out and "rtd_nb methods" in out


@pytest.mark.parametrize("argv, code, needle", [
    (["train", "--data", "x.csv"], 2, "--model"),                                    # missing option
    (["fly"], 2, "invalid choice"),                                                   # unknown command
    (["train", "--model", "minilm", "--data", "x.csv", "--lam", "1"], 1, "--lam-kd"),  # not a hyper-parameter of rtd
    (["train", "--model", "minilm", "--data", "x.csv", "--method", "nope"], 1, "registered methods"),
    (["train", "--model", "minilm", "--data", "missing.csv", "--method", "ft"], 1, "missing.csv does not exist"),
    (["eval", "no-such-run", "--data", "x.csv"], 1, "holds no run (no config.json)"),
    (["reproduce", "table-9"], 1, "choose from"),
])
def test_bad_input_one_line(argv, code, needle):
    c, out, err = run(*argv)
    assert c == code and needle in err and len(err.strip().splitlines()) == 1, err


def test_single_class_and_empty_folder(tmp_path):
    pd.DataFrame(dict(text=["good", "fine"], label=["pos", "pos"])).to_csv(tmp_path/"one.csv", index=False)
    c, _, err = run("train", "--model", "minilm", "--data", tmp_path/"one.csv", "--method", "ft", "--out-dir", tmp_path)
    assert c == 1 and "holds one class only" in err
    (tmp_path/"imgs").mkdir()
    c, _, err = run("train", "--model", "tiny-clip", "--data", tmp_path/"imgs", "--method", "ft", "--out-dir", tmp_path)
    assert c == 1 and "no images found" in err and "ImageFolder" in err


def test_reproduce_lists_and_dry_runs(tmp_path):
    c, out, _ = run("reproduce", "--list")
    assert c == 0 and all(f"{p}:" in out for p in ("shifts", "main", "frontier", "sweeps", "ablations"))
    c, out, _ = run("reproduce", "frontier", "--benchmarks", "vader", "--dry-run", "--out-dir", tmp_path)
    from rtd_nb.experiments import plan
    assert c == 0 and out.count(str(tmp_path/"frontier"/"vader")) == len(plan("frontier", benchmarks=("vader",)))
