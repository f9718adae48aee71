"""Your own data, safely: one test per problem a new user met with `fine_tune` and the `rtd_nb` command (items 1–10 and
what was also expected), each on real data (Fashion-MNIST PNG/BMP files, VADER sentences) and through the command line
where the user met it there: the real console script where the process matters (its environment, path, locks, a
terminal's absence), the console script's `main` in this process otherwise."""
import configparser, json, os, shlex, shutil, subprocess, sys, time, warnings
from pathlib import Path
import numpy as np, pandas as pd, pytest, torch
from PIL import Image
from rtd_nb.data import fashion_mnist, vader_frame, FMNIST_CLASSES
from rtd_nb.api import fine_tune, Result, BadInputError, WEIGHTS, WEIGHTS_REF, finished
from rtd_nb.user_data import load_data, data_fingerprint
from fixtures.cli import rtd_nb_here                  # tests/fixtures/cli.py: the CLI's main, here

ROOT = Path(__file__).resolve().parents[1]
RTD_NB = str(Path(sys.executable).parent/"rtd_nb")          # the console script pip installs next to this interpreter
CLASSES = ["t-shirt", "trouser", "sneaker"]
FAST = dict(epochs=1, lr=1e-3, bs=8, progress=False)       # tiny-clip, one epoch: a few seconds


def rtd_nb(*args, cwd=None, env=None, timeout=600):
    "Run the real `rtd_nb` console script (a new process: for what depends on the process, its environment or path)."
    return subprocess.run([RTD_NB, *map(str, args)], capture_output=True, text=True, cwd=cwd, timeout=timeout,
                          env={**os.environ, **(env or {})})


def one_error_line(r, code=1):
    "The process failed with `code`, no traceback, and stderr's `rtd_nb` line is one line, the last: returned."
    assert r.returncode == code, (r.returncode, r.stdout[-1000:], r.stderr[-2000:])
    assert "Traceback" not in r.stderr, r.stderr[-2000:]
    mine = [l for l in r.stderr.splitlines() if l.startswith("rtd_nb") and ": error:" in l]
    assert len(mine) == 1 and r.stderr.strip().splitlines()[-1] == mine[0], r.stderr
    return mine[0]


def images(d:Path, ext=".png", per_class=16, classes=CLASSES)->Path:
    "An ImageFolder of real Fashion-MNIST test images."
    xs, ys = fashion_mnist("test")
    for c in classes:
        (d/c).mkdir(parents=True, exist_ok=True)
        for i in np.flatnonzero(ys == FMNIST_CLASSES.index(c))[:per_class]: Image.fromarray(xs[i]).save(d/c/f"{i}{ext}")
    return d


def runs(out:Path)->list:
    return sorted(p.name for p in Path(out).glob("*") if p.is_dir() and not p.name.startswith("."))


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    d = tmp_path_factory.mktemp("userdata")
    images(d/"imgs_ok")
    vf = vader_frame()
    vf = vf.assign(label=vf.label.map({0: "negative", 1: "positive"}))
    vf[vf.domain == "movie"].head(60)[["text", "label"]].to_csv(d/"reviews.csv", index=False)
    vf[vf.domain == "tweets"].head(24)[["text", "label"]].to_csv(d/"tweets.csv", index=False)
    vf[vf.domain == "nyt"].head(24)[["text", "label"]].to_csv(d/"nyt.csv", index=False)
    return d


# 1 ------------------------------------------------------------------------------------------------------------------
def test_01_relative_image_folder_path(data, tmp_path):
    ("A relative image folder (`imgs_ok`, `./imgs_ok/`) trains from the command line (its `main`, in the folder: the "
     "console script itself is run by the tests below), and is the same run as its absolute path.")
    shutil.copytree(data/"imgs_ok", tmp_path/"imgs_ok")
    for spelling in ("imgs_ok", "./imgs_ok/", tmp_path/"imgs_ok"):
        r = rtd_nb_here("train", "--model", "tiny-clip", "--data", spelling, "--method", "ft", "--epochs", "0",
                        "--bs", "8", "--out-dir", "runs", "--quiet", cwd=tmp_path)
        assert r.returncode == 0, r.stderr[-2000:]
        assert "cannot be decoded" not in r.stderr and "zeroshot accuracy" in r.stdout
    assert len(runs(tmp_path/"runs")) == 1


# 2 ------------------------------------------------------------------------------------------------------------------
def test_02_weights_promised_are_written(data, tmp_path):
    ("A run is finished only with the weights it promised: a stopped save is redone, "
     "save_weights=True after False trains.")
    kw = dict(out_dir=tmp_path, **FAST)
    first = fine_tune("tiny-clip", data/"imgs_ok", "ft", save_weights=False, **kw)
    d = first.run_dir
    assert finished(d) and not (d/WEIGHTS).exists()
    # `rtd_nb eval` on it: not finished for evaluation, and says why and what to do
    msg = one_error_line(rtd_nb_here("eval", d, "--data", data/"imgs_ok"))
    assert "holds no weights" in msg and "save_weights=False" in msg and "again" in msg
    n = len((d/"metrics.jsonl").read_text().splitlines())
    again = fine_tune("tiny-clip", data/"imgs_ok", "ft", save_weights=True, **kw)
    assert again.run_dir == d and again.learn is not None and again.model is not None      # trained, not model=None
    assert (d/WEIGHTS).exists() and len((d/"metrics.jsonl").read_text().splitlines()) == n   # nothing logged twice
    # a kill after the final metrics, before the weights: a hidden temp file and no weights
    (d/WEIGHTS).rename(d/f".{WEIGHTS}.4242.tmp")
    with open(d/f".{WEIGHTS}.4242.tmp", "r+b") as f: f.truncate(1000)
    redo = fine_tune("tiny-clip", data/"imgs_ok", "ft", **kw)
    assert redo.learn is not None and (d/WEIGHTS).exists() and not list(d.glob(".*.tmp"))
    assert finished(d, weights=True)
    loaded = fine_tune("tiny-clip", data/"imgs_ok", "ft", **kw)
    assert loaded.learn is None and loaded.model is not None                                 # now finished: loaded


# 3 ------------------------------------------------------------------------------------------------------------------
def test_03_changed_image_content_is_a_new_run(tmp_path):
    "Images changed at equal size (BMP: same size, other pixels) are new data: a new run, not the old one returned."
    d = images(tmp_path/"bmps", ext=".bmp", per_class=6)
    kw = dict(out_dir=tmp_path/"runs", epochs=0, bs=8, progress=False)
    old = fine_tune("tiny-clip", d, "ft", **kw)
    f = sorted(d.rglob("*.bmp"))[0]; size = f.stat().st_size
    Image.fromarray(255 - np.asarray(Image.open(f))).save(f)
    assert f.stat().st_size == size
    new = fine_tune("tiny-clip", d, "ft", **kw)
    assert new.config["data_hash"] != old.config["data_hash"] and new.run_dir != old.run_dir


# 4 ------------------------------------------------------------------------------------------------------------------
def test_04_eval_name_used_twice(data, tmp_path):
    "`rtd_nb eval --name X` on other data refuses the used name; the default name is numbered; the output says which."
    res = fine_tune("minilm", data/"reviews.csv", "ft", epochs=0, max_len=32, out_dir=tmp_path, progress=False)
    d = res.run_dir
    r = rtd_nb_here("eval", d, "--data", data/"tweets.csv", "--name", "X")
    assert r.returncode == 0 and "as final@X" in r.stdout, r.stderr[-2000:]
    before = (d/"metrics.jsonl").read_text()
    msg = one_error_line(rtd_nb_here("eval", d, "--data", data/"nyt.csv", "--name", "X"))
    assert "already holds an evaluation named 'X'" in msg and "--name" in msg
    # nothing claimed, nothing written
    assert (d/"metrics.jsonl").read_text() == before
    r = rtd_nb_here("eval", d, "--data", data/"tweets.csv")
    r2 = rtd_nb_here("eval", d, "--data", data/"tweets.csv")
    assert "as final@tweets)" in r.stdout and "as final@tweets-2; final@tweets was taken" in r2.stdout, r2.stdout
    models = {json.loads(l)["model"] for l in (d/"metrics.jsonl").read_text().splitlines()}
    assert {"final@X", "final@tweets", "final@tweets-2"} <= models


# 5 ------------------------------------------------------------------------------------------------------------------
FIRST = """
import sys, time
from pathlib import Path
import rtd_nb.api as api
real = api._run
def held(*a, **kw):                               # holds the run's lock until the test says go
    Path(sys.argv[1]).write_text("locked")
    for _ in range(3000):
        if Path(sys.argv[1] + ".go").exists(): break
        time.sleep(0.1)
    return real(*a, **kw)
api._run = held
from rtd_nb.cli import main
sys.exit(main(sys.argv[2:]))
"""

def test_05_second_process_waits_for_the_first(data, tmp_path):
    "Two processes on one configuration: the second waits for the first's lock, then loads its result; one training."
    (tmp_path/"first.py").write_text(FIRST)
    args = ["train", "--model", "tiny-clip", "--data", data/"imgs_ok", "--method", "ft", "--lr", "1e-3", "--bs", "8",
            "--out-dir", tmp_path/"runs"]
    marker, err_b = tmp_path/"marker", tmp_path/"b.err"
    a = subprocess.Popen([sys.executable, tmp_path/"first.py", marker, *map(str, args), "--quiet"],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    def until(cond, proc):
        for _ in range(3000):
            if cond() or proc.poll() is not None: return cond()
            time.sleep(0.1)
    assert until(marker.exists, a), a.communicate()[1][-2000:]          # the first process holds the lock
    with open(err_b, "w") as fe:
        b = subprocess.Popen([RTD_NB, *map(str, args)], stdout=subprocess.PIPE, stderr=fe, text=True)
        waited = until(lambda: "waiting" in err_b.read_text(), b)
        Path(str(marker) + ".go").write_text("go")
        out_b, _ = b.communicate(timeout=600)
    out_a, err_a = a.communicate(timeout=600)
    assert a.returncode == 0 and b.returncode == 0, (err_a[-2000:], err_b.read_text()[-2000:])
    assert waited and "is running this configuration; waiting for it to finish" in err_b.read_text()
    assert "has run already" in out_b
    d = tmp_path/"runs"/runs(tmp_path/"runs")[0]
    keys = [(l["model"], l["split"]) for l in map(json.loads, (d/"metrics.jsonl").read_text().splitlines())]
    assert len(keys) == len(set(keys)) and keys.count(("train", "summary")) == 1                # trained once
    assert out_a.strip().splitlines()[-2:] == out_b.strip().splitlines()[-2:]                    # the same table


# 6 ------------------------------------------------------------------------------------------------------------------
def test_06_same_run_however_spelled(data, tmp_path, monkeypatch):
    "`lam_kd=1` and `1.0`, `imgs`, `./imgs/` and the absolute path are one run; a string hyper-parameter is refused."
    monkeypatch.chdir(tmp_path)
    shutil.copytree(data/"imgs_ok", "imgs")
    kw = dict(out_dir="runs", epochs=0, bs=8, progress=False)
    dirs = {fine_tune("tiny-clip", d, "rtd", lam_kd=v, **kw).run_dir.resolve()
            for d, v in (("imgs", 1), ("./imgs/", 1.0), (tmp_path/"imgs", 1.0), (Path("imgs"), np.float64(1)))}
    assert len(dirs) == 1
    cfg = json.loads((dirs.pop()/"config.json").read_text())
    assert cfg["hparams"]["lam_kd"] == 1.0 and isinstance(cfg["hparams"]["lam_kd"], float)
    with pytest.raises(TypeError, match="lam_kd must be a number, got '0.5'"):
        fine_tune("tiny-clip", "imgs", "rtd", lam_kd="0.5", **kw)
    with pytest.raises(TypeError, match="kd_every must be an integer"):
        fine_tune("tiny-clip", "imgs", "rtd", kd_every=1.5, **kw)
    assert len(runs("runs")) == 1


# 7 ------------------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("hp, needle", [
    (dict(lam_kd=-1.0), "lam_kd must be a finite number >= 0"), (dict(T=0.0), "T must be a finite number > 0"),
    (dict(lam_ar=float("nan")), "lam_ar must be a finite number"), (dict(kd_on="clean"), "kd_on must be one of"),
    (dict(layers=["encoder.visual.nope"]), "are not modules of the model"),
])
def test_07_bad_hyper_parameters_leave_nothing(data, tmp_path, hp, needle):
    "Bad hyper-parameters stop the run before anything is written: no run folder, no config.json with NaN in it."
    with pytest.raises((BadInputError, ValueError, TypeError), match=needle):
        fine_tune("tiny-clip", data/"imgs_ok", "rtd", out_dir=tmp_path, **FAST, **hp)
    assert runs(tmp_path) == [] and not list(tmp_path.rglob("config.json"))


def test_07_cli_typos_leave_nothing(data, tmp_path):
    for words, needle in ((["--lam-kd", "nan"], "finite"), (["--kd-on", "clean"], "kd_on must be one of"),
                          (["--layers", "nope"], "not modules of the model")):
        r = rtd_nb_here("train", "--model", "tiny-clip", "--data", data/"imgs_ok", "--out-dir", tmp_path, *words)
        assert needle in one_error_line(r)
    assert runs(tmp_path) == []


# 8 ------------------------------------------------------------------------------------------------------------------
def test_08_parquet_dependency_and_no_tracebacks(data, tmp_path):
    "pyarrow is a dependency; without it, and with a cut-off weights file or metrics line, the CLI says one line."
    cfg = configparser.ConfigParser(delimiters=["="]); cfg.read(ROOT/"settings.ini")
    assert "pyarrow" in {shlex.split(r)[0].split("<")[0].split(">")[0].split("=")[0]
                         for r in shlex.split(cfg["DEFAULT"]["requirements"])}
    # no pyarrow (a stand-in package that fails to import, first on the path): one line saying how to get it
    (tmp_path/"nopyarrow"/"pyarrow").mkdir(parents=True)
    (tmp_path/"nopyarrow"/"pyarrow"/"__init__.py").write_text("raise ImportError('pyarrow is missing (test stand-in)')")
    (tmp_path/"reviews.parquet").write_bytes(b"PAR1 not really")
    env = {"PYTHONPATH": os.pathsep.join([str(tmp_path/"nopyarrow"), os.environ.get("PYTHONPATH", "")])}
    msg = one_error_line(rtd_nb("train", "--model", "minilm", "--data", tmp_path/"reviews.parquet", "--out-dir",
                                tmp_path, env=env))
    assert "needs pyarrow" in msg and "pip install pyarrow" in msg
    # a run with weights, then its weights cut off, then a metrics line cut off
    res = fine_tune("tiny-clip", data/"imgs_ok", "ft", out_dir=tmp_path/"runs", **FAST)
    w = res.run_dir/WEIGHTS
    w.write_bytes(w.read_bytes()[:5000])
    msg = one_error_line(rtd_nb_here("eval", res.run_dir, "--data", data/"imgs_ok"))
    assert str(w) in msg and "incomplete" in msg and "again" in msg
    m = res.run_dir/"metrics.jsonl"
    m.write_text(m.read_text() + '{"model": "final@x", "split": "x", "ac')
    msg = one_error_line(rtd_nb_here("eval", res.run_dir, "--data", data/"imgs_ok"))
    assert str(m) in msg and "is not valid JSON" in msg and "delete that line" in msg


def test_08_parquet_round_trip(data, tmp_path):
    "With pyarrow (a dependency now), a .parquet table trains from the command line."
    pytest.importorskip("pyarrow")
    pd.read_csv(data/"reviews.csv").to_parquet(tmp_path/"reviews.parquet")
    r = rtd_nb_here("train", "--model", "minilm", "--data", tmp_path/"reviews.parquet", "--method", "ft",
                    "--epochs", "0", "--max-len", "32", "--out-dir", tmp_path, "--quiet")
    assert r.returncode == 0 and "zeroshot accuracy" in r.stdout, r.stderr[-2000:]


# 9 ------------------------------------------------------------------------------------------------------------------
def test_09_clear_errors(data, tmp_path):
    "None, a list, a folder for a text model, a zero test fraction, and the offline CLIP advice in the CLI's words."
    ft = lambda model, d, **kw: fine_tune(model, d, "ft", out_dir=tmp_path, progress=False, **kw)
    with pytest.raises(BadInputError, match="data is None: pass an image folder"): ft("minilm", None)
    with pytest.raises(BadInputError, match="data must be one source, got a list: put extra evaluation sets in ood="):
        ft("minilm", [data/"reviews.csv", data/"tweets.csv"])
    with pytest.raises(BadInputError, match="model is None: pass a model name"): ft(None, data/"reviews.csv")
    with pytest.raises(BadInputError, match="is a folder of images but the model takes text") as e:
        ft("minilm", data/"imgs_ok")
    assert "image_col" not in str(e.value)
    with pytest.raises(BadInputError, match=r"fracs=\(0.9, 0.1, 0.0\) leaves the id_test split\(s\) without examples"):
        ft("minilm", data/"reviews.csv", fracs=(0.9, 0.1, 0.0))
    assert runs(tmp_path) == []
    r = rtd_nb("train", "--model", "ViT-B-32", "--pretrained", "openai", "--data", data/"imgs_ok", "--out-dir",
               tmp_path, env={"HF_HUB_OFFLINE": "1"})
    msg = one_error_line(r)
    assert "--pretrained PATH" in msg and "load_model(" not in msg and "pretrained=" not in msg


# 10 -----------------------------------------------------------------------------------------------------------------
class CharTok:
    "One id per character: text data without loading a text model."
    pad_id, special_ids = 0, set()
    def __call__(self, texts):
        L = max(map(len, texts))
        return torch.tensor([[ord(c) % 500 + 1 for c in t] + [0] * (L - len(t)) for t in texts])

TXT = dict(kind="text", tokenizer=CharTok(), bs=8)

def test_10_silent_data_problems_are_said(data, tmp_path):
    "Each problem that used to pass silently now warns (or refuses) in a sentence naming it."
    df = pd.read_csv(data/"reviews.csv")
    # a class present only in the test split
    lone = pd.concat([df, pd.DataFrame(dict(text=["so-so, neither good nor bad"], label=["neutral"]))],
                     ignore_index=True)
    with pytest.warns(UserWarning, match=r"class\(es\) \['neutral'\] have no training example"):
        for seed in range(20):                          # a seed whose split puts the one neutral row outside train
            sd = load_data(lone, seed=seed, **TXT)
            if "neutral" not in {sd.classnames[int(i)] for i in sd.dls.train.dataset.y}: break
    # NaN and empty text cells: refused, or skipped with skip_bad
    holes = df.assign(text=df.text.where(df.index % 7 != 3)); holes.loc[5, "text"] = "   "
    with pytest.raises(BadInputError, match=r"row\(s\) have no text in column 'text'.*--skip-bad"):
        load_data(holes, **TXT)
    with pytest.warns(UserWarning, match=r"skipped \d+ row\(s\) with no text"): load_data(holes, skip_bad=True, **TXT)
    # classnames as one comma-separated string: two classes, not 17 letters
    assert load_data(df, classnames="negative,positive", **TXT).classnames == ["negative", "positive"]
    # more class names than labels
    with pytest.warns(UserWarning, match=r"\['neutral'\] have no example"):
        load_data(df, classnames=["negative", "positive", "neutral"], **TXT)
    # float labels 0.0 / 1.0: the classes 0 and 1 (said), fractional ones refused
    fl = df.assign(label=(df.label == "positive").astype(float))
    with pytest.warns(UserWarning, match="the labels are numbers"): assert load_data(fl, **TXT).classnames == ["0", "1"]
    with pytest.raises(BadInputError, match="fractional numbers"):
        load_data(fl.assign(label=fl.label * 0.5 + 0.25), **TXT)
    # an empty class folder
    imgs = images(tmp_path/"imgs"); (tmp_path/"imgs"/"sandal").mkdir()
    with pytest.warns(UserWarning, match=r"class folder\(s\) \['sandal'\] hold no images"):
        load_data(imgs, kind="image", size=32)
    # max_items=1: one test example would give an accuracy of 0 or 1
    with pytest.raises(BadInputError, match="max_items=1 keeps fewer examples per split than the 2 classes"):
        load_data(df, max_items=1, **TXT)
    with pytest.warns(UserWarning, match=r"have fewer than 10 examples"): load_data(df, max_items=5, **TXT)
    # a CLIP name without pretrained weights: random weights only on purpose
    with pytest.raises(BadInputError, match="randomly initialised CLIP.*--pretrained random"):
        fine_tune("ViT-B-32", imgs, "ft", out_dir=tmp_path/"runs", progress=False)
    assert runs(tmp_path/"runs") == []


# also expected ------------------------------------------------------------------------------------------------------
def test_epochs0_keeps_a_reference_not_a_copy(data, tmp_path):
    "epochs=0 writes no weights (the pretrained model's own): a reference that Result.load follows to the same model."
    res = fine_tune("tiny-clip", data/"imgs_ok", "ft", epochs=0, bs=8, out_dir=tmp_path, progress=False)
    d = res.run_dir
    assert (d/WEIGHTS_REF).exists() and not (d/WEIGHTS).exists() and finished(d, None, weights=True)
    back = Result.load(d)
    xb = res.data.tests["id_test"].one_batch()[0]
    with torch.no_grad(): assert torch.equal(back.model(xb), res.model.eval()(xb))
    assert back.metrics == res.metrics


def test_max_steps_caps_a_run(data, tmp_path):
    res = fine_tune("tiny-clip", data/"imgs_ok", "ft", out_dir=tmp_path, max_steps=2, **dict(FAST, epochs=5))
    train = [json.loads(l) for l in (res.run_dir/"metrics.jsonl").read_text().splitlines() if '"train"' in l]
    assert next(l for l in train if l["split"] == "summary")["steps"] == 2 and res.config["max_steps"] == 2
    # the schedule spans the two steps: warm-up from 0, then at 50% of the run the cosine of its remaining 90%
    np.testing.assert_allclose(res.learn.recorder.lrs, [0., 1e-3 * (1 - (1 + np.cos(np.pi * (1 - 0.4 / 0.9))) / 2)],
                               rtol=1e-4)


def test_cli_exposes_every_fine_tune_option():
    "`rtd_nb train --help` lists every option of fine_tune (its own and load_data's), with the help of its docments."
    import inspect
    from fastcore.docments import docments
    r = rtd_nb_here("train", "--help")
    assert r.returncode == 0
    params = [n for n, p in inspect.signature(fine_tune).parameters.items() if p.kind != p.VAR_KEYWORD]
    assert {"warmup", "save_weights", "init", "stochastic", "max_steps", "text_col", "fracs", "skip_bad"} <= set(params)
    help_text = " ".join(r.stdout.split())
    for n in params: assert "--" + n.replace("_", "-") in r.stdout, n
    for n in ("save_weights", "stochastic", "progress", "skip_bad"): assert f"--no-{n.replace('_', '-')}" in r.stdout
    for n in ("warmup", "init", "text_col"): assert " ".join(docments(fine_tune)[n].split())[:30] in help_text


def test_progress_in_a_file_is_plain_lines(data, tmp_path):
    r = rtd_nb("train", "--model", "tiny-clip", "--data", data/"imgs_ok", "--method", "ft", "--epochs", "2",
               "--lr", "1e-3", "--bs", "8", "--out-dir", tmp_path)
    assert r.returncode == 0, r.stderr[-2000:]
    assert "\r" not in r.stdout + r.stderr and "█" not in r.stdout + r.stderr and "\x1b" not in r.stdout
    lines = r.stdout.splitlines()
    assert (lines[0].split()[:3] == ["epoch", "train_loss", "valid_loss"] and
            [l.split()[0] for l in lines[1:3]] == ["0", "1"])
