("Data loaders: real VADER and Fashion-MNIST-C, fixtures for WILDS / MedNLI / Bias in Bios, "
 "clear errors for missing roots.")
import json
import numpy as np, pandas as pd, pytest, torch
from transformers import AutoTokenizer
from rtd_nb.core import AssetMissingError
from rtd_nb.models import Tokenizer, minilm_path
from rtd_nb.data import (vader_frame, vader_data, fmnist_c_data, seeded_split, cap, tokenize_texts, VADER_FILES,
                         IMAGENET_C, FMNIST_CLASSES, ShiftData)


@pytest.fixture(scope="module")
def tok(): return Tokenizer(AutoTokenizer.from_pretrained(str(minilm_path())))


@pytest.fixture
def tmp_data(tmp_path, monkeypatch):
    "A fresh `data_dir()` (for cache tests); VADER is not needed there."
    monkeypatch.setenv("RTD_NB_DATA", str(tmp_path))
    return tmp_path


# ---------------------------------------------------------------- VADER (real data)
def test_vader_frame_domains_and_labels():
    df = vader_frame()
    n = df.groupby("domain").size()
    assert set(n.index) == set(VADER_FILES) and (n > 0).all()
    assert set(df.label) == {0, 1}
    assert (df.rating[df.label == 1] > 0.5).all() and (df.rating[df.label == 0] < -0.5).all()
    assert df.groupby("domain").label.nunique().eq(2).all()      # both classes in every domain
    assert not df.text.str.contains("&amp;").any()               # HTML entities unescaped


def test_vader_splits_disjoint_and_deterministic(tok):
    a = vader_data(tok, seed=0, verbose=False)
    ids = {k: set(a.splits()[k].meta.id) for k in ("train", "valid", "id_test")}
    assert (not (ids["train"] & ids["valid"]) and not (ids["train"] & ids["id_test"]) and
            not (ids["valid"] & ids["id_test"]))
    df = vader_frame()
    assert sum(map(len, ids.values())) == (df.domain == "movie").sum()
    assert list(a.tests) == ["id_test", "tweets", "amazon", "nyt"]
    for k in ("tweets", "amazon", "nyt"):
        assert len(a.tests[k].dataset) == (df.domain == k).sum() and set(a.tests[k].dataset.groups) == {k}
    b = vader_data(tok, seed=0, verbose=False)   # token ids memoised per tokenizer: cheap
    c = vader_data(tok, seed=1, verbose=False)
    assert a.dls.train.dataset.meta.id.tolist() == b.dls.train.dataset.meta.id.tolist()
    assert a.dls.train.dataset.meta.id.tolist() != c.dls.train.dataset.meta.id.tolist()
    torch.testing.assert_close(a.dls.train.one_batch()[1], b.dls.train.one_batch()[1])   # seeded shuffling


def test_vader_batches_and_caps(tok):
    d = vader_data(tok, id_domain="tweets", max_items=40, bs=8, max_len=16, verbose=False)
    assert list(d.tests) == ["id_test", "movie", "amazon", "nyt"] and d.kind == "text"
    assert set(d.sizes().values()) == {40} and d.classnames == ["negative", "positive"]
    x, y = d.dls.one_batch()
    assert x.dtype == torch.long and x.shape[0] == 8 and x.shape[1] <= 16 and set(y.tolist()) <= {0, 1}
    s = d.summary()
    assert {"split", "group", "n", "negative", "positive"} <= set(s.columns)
    assert (s.n == s.negative + s.positive).all()
    with pytest.raises(ValueError, match="id_domain must be one of"): vader_data(tok, id_domain="reddit")


def test_tokenize_keeps_last_token(tok):
    ids = tokenize_texts(tok, ["fine", "word " * 100], max_len=10)
    assert ids.shape == (2, 10) and ids[1, -1].item() == tok.tok.sep_token_id and ids[0, 3:].eq(tok.pad_id).all()


def test_vader_missing_sdist(tmp_data, tok):
    with pytest.raises(AssetMissingError, match="pip download --no-deps --no-binary :all: vaderSentiment==3.3.2"):
        vader_data(tok, verbose=False)


# ---------------------------------------------------------------- Fashion-MNIST-C (real data)
def test_fmnist_c_shapes_range_and_groups(tmp_data):
    d = fmnist_c_data(max_items=24, corruptions=["fog", "gaussian_noise"], severities=(1, 3, 5), bs=8, group_by="shift",
                      verbose=False)
    assert list(d.tests) == ["id_test", "near", "mid", "far"] and d.classnames == FMNIST_CLASSES and d.kind == "image"
    assert d.sizes() == dict(train=24, valid=24, id_test=24, near=48, mid=48, far=48)
    for dl in [d.dls.train, d.dls.valid, *d.tests.values()]:
        x, y = dl.one_batch()
        assert x.dtype == torch.float32 and x.shape[1:] == (3, 32, 32) and 0 <= x.min() and x.max() <= 1
        assert y.dtype == torch.long and y.max() < 10
    assert set(d.tests["far"].dataset.groups) == {"fog-5", "gaussian_noise-5"}
    m = d.tests["near"].dataset.meta
    assert set(m.severity) == {1} and set(m.family) == {"weather", "noise"}
    # paired: the corrupted sets are made from the id_test images
    assert m["index"].tolist()[:24] == d.tests["id_test"].dataset.meta["index"].tolist()


def test_fmnist_c_cache_hit_identical(tmp_data):
    kw = dict(max_items=16, corruptions=["glass_blur", "frost"], severities=(2,), group_by="each", verbose=False)
    a = fmnist_c_data(**kw)
    folder = tmp_data/"fmnist_c"/"size32_n16_seed0"
    assert json.loads((folder/"meta.json").read_text())["seed"] == 0
    mtimes = {p.name: p.stat().st_mtime_ns for p in folder.glob("*.npy")}
    assert set(mtimes) == {"glass_blur-2.npy", "frost-2.npy"}
    b = fmnist_c_data(**kw)
    assert mtimes == {p.name: p.stat().st_mtime_ns for p in folder.glob("*.npy")}   # read, not regenerated
    for k in ("glass_blur-2", "frost-2"): assert torch.equal(a.tests[k].dataset.x, b.tests[k].dataset.x)


def test_fmnist_c_severity_increases_difference(tmp_data):
    d = fmnist_c_data(max_items=32, corruptions=["gaussian_noise", "contrast", "defocus_blur"], severities=(1, 5),
                      group_by="each", verbose=False)
    clean = d.tests["id_test"].dataset.x.float()
    for c in ("gaussian_noise", "contrast", "defocus_blur"):
        d1 = (d.tests[f"{c}-1"].dataset.x.float() - clean).abs().mean()
        d5 = (d.tests[f"{c}-5"].dataset.x.float() - clean).abs().mean()
        assert d1 < d5, (c, d1, d5)


def test_fmnist_c_seed_and_size(tmp_data):
    a = fmnist_c_data(max_items=8, size=48, corruptions=["pixelate"], severities=(4,), verbose=False)
    b = fmnist_c_data(max_items=8, size=48, seed=1, corruptions=["pixelate"], severities=(4,), verbose=False)
    c = fmnist_c_data(max_items=8, size=48, test_seed=1, corruptions=["pixelate"], severities=(4,), verbose=False)
    assert a.tests["pixelate"].dataset.x.shape == (8, 3, 48, 48)
    idx = lambda d, k: (d.tests[k].dataset.meta["index"].tolist() if k != "train"
                        else d.dls.train.dataset.meta["index"].tolist())
    assert idx(a, "id_test") == idx(b, "id_test") != idx(c, "id_test")      # the test set depends on test_seed only
    assert idx(a, "train") != idx(b, "train")                                # the training subset on seed


def test_fmnist_c_bad_args_and_missing(tmp_data, monkeypatch):
    with pytest.raises(ValueError, match="unknown corruptions"): fmnist_c_data(corruptions=["smoke"], verbose=False)
    with pytest.raises(ValueError, match="severities must be in 1..5"): fmnist_c_data(severities=(0,), verbose=False)
    with pytest.raises(ValueError, match="size must be ≥ 32"): fmnist_c_data(size=28, verbose=False)
    monkeypatch.setenv("RTD_NB_FMNIST", str(tmp_data/"nowhere"))
    with pytest.raises(AssetMissingError, match="apt-get install dataset-fashion-mnist"): fmnist_c_data(verbose=False)


def test_split_helpers():
    parts = seeded_split(1000, (0.7, 0.1, 0.2), seed=5)
    assert [len(p) for p in parts] == [700, 100, 200] and len(np.unique(np.concatenate(parts))) == 1000
    assert all((p == q).all() for p, q in zip(parts, seeded_split(1000, (0.7, 0.1, 0.2), seed=5)))
    assert len(cap(parts[0], 10, seed=1)) == 10 and set(cap(parts[0], 10, seed=1)) <= set(parts[0])


# ---------------------------------------------------------------- WILDS (fixtures in the real on-disk format)
from rtd_nb.wilds_data import (wilds_data, make_camelyon_fixture, make_iwildcam_fixture, check_wilds_root,
                               dataset_metrics, avg_over_groups, CAMELYON_CLASSES)


@pytest.fixture(scope="module")
def wroot(tmp_path_factory):
    root = tmp_path_factory.mktemp("wilds")
    make_camelyon_fixture(root, per_slide=6); make_iwildcam_fixture(root, per_class=5)
    return root


def test_wilds_missing_root(tmp_path, monkeypatch):
    monkeypatch.delenv("RTD_NB_WILDS", raising=False)
    with pytest.raises(AssetMissingError,
                       match=r"Camelyon17-WILDS not found: looked in .*camelyon17_v1.0.*download=True"):
        wilds_data("camelyon17", tmp_path, verbose=False)
    monkeypatch.setenv("RTD_NB_WILDS", str(tmp_path/"w"))
    with pytest.raises(AssetMissingError, match="iWildCam2020-WILDS not found.*RTD_NB_WILDS"):
        wilds_data("iwildcam", verbose=False)
    (tmp_path/"w"/"iwildcam_v2.0").mkdir(parents=True)   # a folder without the release marker is not a dataset
    with pytest.raises(AssetMissingError, match="RELEASE_v2.0.txt"): check_wilds_root("iwildcam")


def test_camelyon_fixture_official_splits(wroot):
    d = wilds_data("camelyon17", wroot, size=32, bs=4, verbose=False)
    assert d.classnames == CAMELYON_CLASSES and list(d.tests) == ["id_test", "ood_val", "ood_test"]
    assert d.sizes() == dict(train=3*2*4, valid=3*2*2, id_test=3*2*2, ood_val=12, ood_test=12)
    assert (set(d.tests["ood_val"].dataset.groups) == {"hospital_1"} and
            set(d.tests["ood_test"].dataset.groups) == {"hospital_2"})
    x, y = d.dls.one_batch()
    assert x.shape == (4, 3, 32, 32) and 0 <= x.min() and x.max() <= 1 and set(y.tolist()) <= {0, 1}
    ds = d.tests["ood_test"].dataset
    pred = ds.y.clone(); pred[:3] = 1 - pred[:3]
    res, _ = ds.wilds_eval(pred)
    ours = dataset_metrics(pred, ds)
    assert abs(res["acc_avg"] - ours["acc"]) < 1e-6 and abs(ours["acc"] - 9/12) < 1e-6
    assert abs(res["acc_wg"] - min(res[f"acc_slide:{s}"] for s in (20, 21))) < 1e-6   # WILDS' worst slide


def test_iwildcam_fixture_and_macro_f1(wroot):
    d = wilds_data("iwildcam", wroot, size=24, bs=4, verbose=False)
    assert d.classnames == ["empty", "odocoileus virginianus", "procyon lotor", "vulpes vulpes"]
    assert list(d.tests) == ["id_test", "ood_val", "ood_test"] and d.tests["ood_val"].dataset.groups[0] == "location_3"
    ds = d.tests["ood_test"].dataset
    pred = torch.where(ds.y == 3, torch.tensor(2), ds.y)
    res, _ = ds.wilds_eval(pred)
    assert (abs(res["F1-macro_all"] - dataset_metrics(pred, ds, n_classes=4)["f1_macro"]) < 1e-6 and
            res["F1-macro_all"] < 1)
    a = wilds_data("iwildcam", wroot, size=24, max_items=3, seed=2, verbose=False)
    b = wilds_data("iwildcam", wroot, size=24, max_items=3, seed=2, verbose=False)
    assert set(a.sizes().values()) == {3}
    assert list(a.tests["ood_test"].dataset.subset.indices) == list(b.tests["ood_test"].dataset.subset.indices)


def test_avg_over_groups_shim():
    m, c = avg_over_groups(torch.tensor([1., 0., 1.]), torch.tensor([1, 1, 3]), 4)
    assert m.tolist() == [0., 0.5, 0., 1.] and c.tolist() == [0., 2., 0., 1.]


# -------------------------------------------------------------- MedNLI and Bias in Bios (fixtures in published formats)
from rtd_nb.text_data import (mednli_data, bios_data, read_bios, read_mednli, make_mednli_fixture, make_bios_fixture,
                              MEDNLI_CLASSES, BIOS_CLASSES)


def test_mednli_fixture_and_missing(tmp_path, tok, monkeypatch):
    make_mednli_fixture(tmp_path/"m", n=9)
    d = mednli_data(tok, tmp_path/"m", bs=3, verbose=False)
    assert list(d.tests) == ["id_test", "other_hospital"] and d.classnames == MEDNLI_CLASSES
    assert sorted(d.dls.train.dataset.y.tolist()) == [0, 0, 0, 1, 1, 1, 2, 2, 2]
    assert (d.tests["id_test"].dataset.meta.gold_label.map(MEDNLI_CLASSES.index) ==
            d.tests["id_test"].dataset.meta.label).all()
    d2 = mednli_data(tok, tmp_path/"m", ood={}, max_items=4, verbose=False)
    assert list(d2.tests) == ["id_test"] and set(d2.sizes().values()) == {4}
    (tmp_path/"m"/"mli_test_v1.jsonl").unlink()
    with pytest.raises(AssetMissingError, match="mli_test_v1.jsonl.*credentialed PhysioNet"):
        mednli_data(tok, tmp_path/"m", verbose=False)
    monkeypatch.setenv("RTD_NB_MEDNLI", str(tmp_path/"none"))
    with pytest.raises(AssetMissingError, match="RTD_NB_MEDNLI"): mednli_data(tok, verbose=False)
    (tmp_path/"bad.jsonl").write_text(json.dumps(dict(sentence1="a", sentence2="b", gold_label="maybe")) + "\n")
    with pytest.raises(ValueError, match="unknown gold_label"): read_mednli(tmp_path/"bad.jsonl")


@pytest.mark.parametrize("fmt", ["pkl", "jsonl"])
def test_bios_fixture_formats(tmp_path, tok, fmt):
    make_bios_fixture(tmp_path, fmt, n=24)
    d = bios_data(tok, tmp_path, bs=4, verbose=False)
    assert list(d.tests) == ["id_test", "female", "male"] and d.classnames == BIOS_CLASSES
    te = d.tests["id_test"].dataset
    assert len(d.tests["female"].dataset) == (te.groups == "female").sum() > 0
    assert set(d.tests["male"].dataset.groups) == {"male"}
    assert (np.asarray(BIOS_CLASSES)[te.y.numpy()] == te.meta.profession.values).all()
    df = read_bios(tmp_path)
    assert set(df.split) == {"train", "valid", "test"} and df.label.between(0, 27).all()


def test_bios_missing(tmp_path, tok):
    with pytest.raises(AssetMissingError, match="Bias in Bios not found.*biosbias.*LabHC/bias_in_bios"):
        bios_data(tok, tmp_path, verbose=False)
