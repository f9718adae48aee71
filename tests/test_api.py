("fine_tune on real data (Fashion-MNIST PNGs in an ImageFolder, a CSV of VADER sentences), Result save/load, resume, "
 "bad input.")
import json, shutil, warnings
from pathlib import Path
import numpy as np, pandas as pd, pytest, torch
from PIL import Image
from rtd_nb.data import fashion_mnist, vader_frame, FMNIST_CLASSES
from rtd_nb.models import load_model, zeroshot_head, Classifier
from rtd_nb.api import fine_tune, load_data, Result, BadInputError, WEIGHTS

CLASSES = ["t-shirt", "trouser", "sneaker"]


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    "An ImageFolder of 36 real Fashion-MNIST test images (3 classes), its inverted copy, and a CSV of VADER sentences."
    d = tmp_path_factory.mktemp("api")
    xs, ys = fashion_mnist("test")
    for folder, f in (("fmnist", lambda a: a), ("inverted", lambda a: 255 - a)):
        for c in CLASSES:
            (d/folder/c).mkdir(parents=True)
            for i in np.flatnonzero(ys == FMNIST_CLASSES.index(c))[:12]:
                Image.fromarray(f(xs[i])).save(d/folder/c/f"{i}.png")
    vf = vader_frame()
    vf = pd.concat([vf[vf.domain == "movie"].head(40), vf[vf.domain != "movie"].groupby("domain").head(12)])
    vf.assign(label=vf.label.map({0: "negative", 1: "positive"}))[["text", "label", "domain"]].to_csv(
        d/"vader.csv", index=False)
    return d


def _check_run(res, method, ood):
    t = res.table
    assert list(t.index) == ["ID: id_test", *[f"OOD: {o}" for o in ood], "OOD: mean"]
    init = res.config["initial"]
    assert list(t.columns) == [f"{init} accuracy", f"{init} macro-F1", f"{method} accuracy", f"{method} macro-F1", "n"]
    vals = t.drop(columns="n").to_numpy(dtype=float)
    assert np.isfinite(vals).all() and ((0 <= vals) & (vals <= 1)).all()
    for f in ("config.json", "metrics.jsonl", WEIGHTS): assert (res.run_dir/f).exists()
    lines = [json.loads(l) for l in (res.run_dir/"metrics.jsonl").read_text().splitlines()]
    assert {(l["model"], l["split"]) for l in lines} == ({(m, s) for m in (init, "final")
                                                           for s in ["id_test", *ood, "summary"]}
                                                          | {("train", "summary"), ("train", "epoch")})
    train = next(l for l in lines if l["model"] == "train" and l["split"] == "summary")
    assert train["steps"] >= 1 and train["step_s"] > 0 and train["train_s"] >= train["step_s"]
    assert "accuracy" in repr(res) and "macro-F1" in repr(res)


@pytest.mark.parametrize("method", ["ft", "rtd"])
def test_fine_tune_image_folder(files, tmp_path, method):
    res = fine_tune("tiny-clip", files/"fmnist", method, ood=files/"inverted", epochs=1, lr=1e-3, bs=8,
                    out_dir=tmp_path, progress=False)
    _check_run(res, method, ["inverted"])
    assert res.config["classnames"] == sorted(CLASSES) and res.config["initial"] == "zeroshot"
    if method == "rtd": assert res.config["hparams"]["lam_ar"] > 0       # the default RTD: KD and AR on
    # training changed the weights; the zero-shot line is the starting point
    assert res.metrics["zeroshot"] != res.metrics["final"]


@pytest.mark.parametrize("method", ["ft", "rtd"])
def test_fine_tune_vader_csv(files, tmp_path, method):
    res = fine_tune("minilm", files/"vader.csv", method, domain_col="domain", epochs=1, lr=1e-4, bs=8, max_len=32,
                    max_items=16, out_dir=tmp_path, progress=False, **({"lam_kd": 0.5} if method == "rtd" else {}))
    _check_run(res, method, ["tweets", "amazon", "nyt"])
    assert res.config["classnames"] == ["negative", "positive"]
    assert res.metrics["final"]["id_test/n"] == 8    # 20% of the 40 movie sentences


def test_load_gives_identical_predictions_and_resume(files, tmp_path):
    kw = dict(ood={"inverted": files/"inverted"}, epochs=1, lr=1e-3, bs=8, out_dir=tmp_path, progress=False)
    res = fine_tune("tiny-clip", files/"fmnist", "ft", **kw)
    back = Result.load(res.run_dir)
    xb = res.data.tests["inverted"].one_batch()[0]
    res.model.eval()
    with torch.no_grad(): assert torch.equal(back.model(xb), res.model(xb))
    assert back.metrics == res.metrics and back.config["classnames"] == res.config["classnames"]
    # saved elsewhere and loaded from there: same predictions, same metrics
    back.save(tmp_path/"copy")
    again = Result.load(tmp_path/"copy")
    with torch.no_grad(): assert torch.equal(again.model(xb), res.model(xb))
    assert again.metrics == res.metrics
    # the same configuration is not retrained: loaded, nothing appended
    n = len((res.run_dir/"metrics.jsonl").read_text().splitlines())
    same = fine_tune("tiny-clip", files/"fmnist", "ft", **kw)
    assert same.learn is None and same.run_dir == res.run_dir
    assert len((res.run_dir/"metrics.jsonl").read_text().splitlines()) == n
    # same seed in a fresh folder: the same metrics; another seed: another run
    fresh = fine_tune("tiny-clip", files/"fmnist", "ft", **dict(kw, out_dir=tmp_path/"fresh"))
    assert fresh.learn is not None and fresh.metrics == res.metrics
    other = fine_tune("tiny-clip", files/"fmnist", "ft", **dict(kw, seed=1))
    assert other.run_dir != res.run_dir


def test_bad_inputs(files, tmp_path):
    ft = lambda model, data, **kw: fine_tune(model, data, "ft", out_dir=tmp_path, progress=False, **kw)
    (tmp_path/"empty").mkdir()
    with pytest.raises(BadInputError, match="no images found.*ImageFolder layout"): ft("tiny-clip", tmp_path/"empty")
    df = pd.read_csv(files/"vader.csv")
    df.assign(label="positive").to_csv(tmp_path/"one.csv", index=False)
    with pytest.raises(BadInputError, match="holds one class only.*--label-col"): ft("minilm", tmp_path/"one.csv")
    with pytest.raises(BadInputError, match="no column 'review'.*--text-col"):
        ft("minilm", files/"vader.csv", text_col="review")
    with pytest.raises(BadInputError, match="no column 'stars'.*--label-col"):
        ft("minilm", files/"vader.csv", label_col="stars")
    # an undecodable image: named with its path; skipped only when asked
    bad = tmp_path/"imgs"; shutil.copytree(files/"fmnist", bad)
    (bad/"trouser"/"broken.png").write_bytes(b"\x89PNG not really")
    with pytest.raises(BadInputError, match=r"1 image file\(s\) cannot be decoded: .*broken\.png.*--skip-bad"):
        ft("tiny-clip", bad)
    with pytest.warns(UserWarning, match="broken.png"):
        res = ft("tiny-clip", bad, epochs=0, skip_bad=True)
    assert sum(v for k, v in res.metrics["zeroshot"].items() if k.endswith("/n")) > 0
    # a head whose class count disagrees with the data
    enc = load_model("tiny-clip")
    two = Classifier(enc, zeroshot_head(enc, ["top", "shoe"]), ["top", "shoe"])
    with pytest.raises(BadInputError, match="head gives 2 logits but the data has 3 classes.*model.encoder"):
        ft(two, files/"fmnist")
    # text data for an image model, unknown method / hyper-parameter, unknown name
    with pytest.raises(BadInputError, match="use a text model"): ft("tiny-clip", files/"vader.csv")
    with pytest.raises(KeyError, match="registered methods"):
        fine_tune("minilm", files/"vader.csv", "nope", out_dir=tmp_path)
    with pytest.raises(TypeError, match="lam_kd"):
        fine_tune("minilm", files/"vader.csv", "rtd", lam=1, out_dir=tmp_path)
    with pytest.raises(BadInputError, match="neither a folder, a table file nor a known dataset"):
        ft("minilm", "reviews")
    assert [p.parent for p in tmp_path.glob("*/config.json")] == [res.run_dir]   # failed calls leave no run folder




def test_start_evaluated_once_across_folders(files, tmp_path, monkeypatch):
    "Runs in different folders that share `starts_dir` evaluate their common starting model once; the second loads it."
    import rtd_nb.api as api
    calls = []
    real = api.evaluate
    monkeypatch.setattr(api, "evaluate", lambda *a, **k: calls.append(1) or real(*a, **k))
    kw = dict(epochs=0, bs=8, out_dir=tmp_path/"a", starts_dir=tmp_path/"starts", progress=False)
    r1 = fine_tune("tiny-clip", files/"fmnist", "ft", **kw)
    assert len(calls) == 1 and len(list((tmp_path/"starts").iterdir())) == 1 and not (tmp_path/"a"/".starts").exists()
    r2 = fine_tune("tiny-clip", files/"fmnist", "lp", **{**kw, "out_dir": tmp_path/"b"})
    assert len(calls) == 1 and r2.metrics["zeroshot"] == r1.metrics["zeroshot"]


def test_probe_start_fitted_once_across_methods(files, tmp_path, monkeypatch):
    ("The linear-probe start is fitted once per (model, data, seed) and kept with the start's evaluation: the next "
     "method loads the same weights; a cut-off probe file is fitted again.")
    import rtd_nb.api as api
    calls = []
    real = api.fit_probe
    monkeypatch.setattr(api, "fit_probe", lambda *a, **k: calls.append(1) or real(*a, **k))
    kw = dict(epochs=0, bs=8, out_dir=tmp_path, init="lp", progress=False)
    r1 = fine_tune("tiny-clip", files/"fmnist", "ft", **kw)
    probe = api.start_dir(r1.config, tmp_path/".starts")/api.PROBE_FILE
    assert len(calls) == 1 and probe.exists()
    r2 = fine_tune("tiny-clip", files/"fmnist", "lp", **kw)
    assert len(calls) == 1 and torch.equal(r2.model.head.weight, r1.model.head.weight)
    probe.write_bytes(probe.read_bytes()[:100])
    r3 = fine_tune("tiny-clip", files/"fmnist", "lpft", **kw)
    assert len(calls) == 2 and torch.equal(r3.model.head.weight, r1.model.head.weight)


def test_eval_precision_is_recorded_and_kept_apart(files, tmp_path):
    "A bf16 evaluation is its own run with its own cached start, and decides (almost) as fp32 does on the same model."
    from rtd_nb.api import start_dir
    kw = dict(domain_col="domain", epochs=0, bs=8, max_len=32, max_items=16, out_dir=tmp_path, progress=False)
    a = fine_tune("minilm", files/"vader.csv", "ft", **kw)
    b = fine_tune("minilm", files/"vader.csv", "ft", eval_precision="bf16", **kw)
    assert "eval_precision" not in a.config and b.config["eval_precision"] == "bf16"
    assert a.run_dir != b.run_dir
    assert start_dir(a.config, tmp_path/".starts") != start_dir(b.config, tmp_path/".starts")
    pa, pb = a.preds["zeroshot"], b.preds["zeroshot"]
    assert set(pa) == set(pb) == {"id_test", "tweets", "amazon", "nyt"}
    same = np.mean([(pa[k].out.argmax(1) == pb[k].out.argmax(1)).float().mean().item() for k in pa])
    assert same >= 0.9, same                                       # bf16 rounding flips only near-ties
    assert not all(torch.equal(pa[k].out, pb[k].out) for k in pa)  # and it did run at another precision
    with pytest.raises(ValueError, match="one of fp32, bf16, auto"):
        fine_tune("minilm", files/"vader.csv", "ft", eval_precision="fp16", **kw)


def test_auto_precision_asks_the_device_of_a_built_model(files, tmp_path, monkeypatch):
    "With a built model and no `device`, 'auto' is resolved for the model's device, not for the default one."
    import rtd_nb.api as api
    asked = []
    def spy(precision, device): asked.append(torch.device(device)); raise KeyboardInterrupt  # stop before running
    monkeypatch.setattr(api, "eval_precision_of", spy)
    monkeypatch.setattr(api, "get_device", lambda d=None: torch.device(d or "cuda"))  # the default would be CUDA
    enc = load_model("minilm")                                          # built, on the CPU
    kw = dict(domain_col="domain", epochs=0, out_dir=tmp_path, progress=False, eval_precision="auto")
    for model, device, want in ((enc, None, "cpu"), (enc, "cpu", "cpu"), ("minilm", None, "cuda")):
        with pytest.raises(KeyboardInterrupt): fine_tune(model, files/"vader.csv", "ft", device=device, **kw)
        assert asked[-1].type == want, (device, asked[-1])
