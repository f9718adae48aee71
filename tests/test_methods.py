("""The method registry and the invariant every regulariser obeys: at θ = θ₀, with identity perturbations, every """
 """term that
compares the student with the frozen model (or with itself) is 0 — on MiniLM (dropout) and EfficientNet (BatchNorm).
Also: every method's terms reach metrics.jsonl, the registry needs no import tricks, and no two modules """
 """import each other.""")
import ast, copy, json, re
from pathlib import Path
import numpy as np, pandas as pd, pytest, torch
import fastai.callback.progress  # noqa: F401  (Learner.no_bar)
from fastai.data.core import DataLoaders
from rtd_nb.core import seed_everything
from rtd_nb.models import zeroshot_classifier
from rtd_nb.data import (vader_frame, tokenize_texts, fashion_mnist, to_rgb, FMNIST_CLASSES, ItemsDataset,
                         make_shift_data)
from rtd_nb.callbacks import loss_terms, identity, InputNoise, RTDCallback, EvalModeStudent
from rtd_nb.baselines import identity_view
from rtd_nb.methods import METHODS, method_learner, method_hparams, get_method

PKG = Path(__file__).resolve().parents[1]/"rtd_nb"
# every term that compares the student with the frozen model (or with itself under an identity view)
TERMS = dict(rtd=["kd", "ar"], lipsum=["lipsum"], sdft=["sdft"], carft=["carft"], grace=["gram"], digrap=["pull"])
IDENTITY = dict(rtd=dict(perturb=identity), grace=dict(views={"same": identity_view}))


@pytest.fixture(scope="module")
def minilm():
    "MiniLM's zero-shot sentiment classifier (19 dropout modules) and 8 real VADER sentences."
    seed_everything(0)
    clf = zeroshot_classifier("minilm", ["negative", "positive"], templates=["this is a {} review."])
    df = vader_frame().groupby("label").head(4)
    return clf, tokenize_texts(clf.encoder.tokenizer, df.text.tolist(), 32), torch.as_tensor(df.label.values)


@pytest.fixture(scope="module")
def effnet():
    ("The bridged EfficientNet-Lite0 → MiniLM zero-shot classifier (49 BatchNorm layers) "
     "and 8 real Fashion-MNIST images.")
    seed_everything(0)
    clf = zeroshot_classifier("effnet-minilm", FMNIST_CLASSES)
    x, y = fashion_mnist("test")
    return clf, to_rgb(x[:8], 32).float() / 255, torch.as_tensor(y[:8])


def first_step(model, x, y, method, stochastic=False, **hp):
    "The loss terms of the first training step (lr = 0: the student stays at θ₀)."
    seed_everything(0)
    ds = list(zip(x, y))
    learn = method_learner(copy.deepcopy(model),
                           DataLoaders.from_dsets(ds, ds[:2], bs=len(ds), shuffle=False, device="cpu"),
                           method, lr=0., stochastic=stochastic, **hp)
    with learn.no_bar(), learn.no_logging(): learn.fit(1)
    return loss_terms(learn).iloc[0]


def all_terms_first_step(model, x, y, variant="mse"):
    "Every regularising method's callbacks in one learner (each with its own frozen copy): the terms of its first step."
    from rtd_nb.methods import method_cbs
    from rtd_nb.baselines import TEXT_CONTEXTS
    from fastai.learner import Learner
    from fastai.losses import CrossEntropyLossFlat
    seed_everything(0)
    student = copy.deepcopy(model)
    hp = dict(IDENTITY, lipsum=dict(variant=variant, M=16), carft=dict(templates=TEXT_CONTEXTS[:4]))
    cbs = [cb for m in TERMS for cb in method_cbs(m, student, stochastic=True, **hp.get(m, {}))]
    ds = list(zip(x, y))
    learn = Learner(DataLoaders.from_dsets(ds, ds[:2], bs=len(ds), shuffle=False, device="cpu"), student,
                    CrossEntropyLossFlat(), lr=0., cbs=cbs + [EvalModeStudent()])
    with learn.no_bar(), learn.no_logging(): learn.fit(1)
    return loss_terms(learn).iloc[0]


@pytest.mark.parametrize("which,variant", [("minilm", "mse"), ("minilm", "kld"), ("effnet", "mse")])
def test_every_regulariser_is_zero_at_theta0(which, variant, request):
    "RTD (KD, AR), Lipsum-FT, SDFT, CAR-FT, GRACE's Gram term, DiGraP's pull: all 0 at the first step."
    model, x, y = request.getfixturevalue(which)
    row = all_terms_first_step(model, x, y, variant)
    terms = [t for ts in TERMS.values() for t in ts]
    assert set(terms) <= set(row.index)
    for t in terms: assert abs(row[t]) < 1e-5, (which, t, row[t])


@pytest.mark.parametrize("which,method,term", [("minilm", "rtd", "ar"), ("minilm", "lipsum", "lipsum"),
                                               ("effnet", "rtd", "kd")])
def test_stochastic_training_breaks_the_invariant(which, method, term, request):
    ("With dropout (MiniLM) or BatchNorm batch statistics (EfficientNet) on, the same terms are not 0 at θ₀ — "
     "why the default is eval mode.")
    model, x, y = request.getfixturevalue(which)
    assert first_step(model, x, y, method, stochastic=True, **IDENTITY.get(method, {}))[term] > 1e-4


def test_rtd_ar_ignores_padding(minilm):
    "RTD's AR on a batch and on the same batch with 6 more pad columns: the same value (pads are not tokens)."
    model, x, y = minilm
    moved = copy.deepcopy(model)
    g = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for p in moved.parameters(): p.add_(0.01 * torch.randn(p.shape, generator=g))
    pad = moved.encoder.tokenizer.pad_id
    xp = torch.cat([x, torch.full((len(x), 6), pad)], 1)
    rows = [first_step(moved, xi, y, "rtd", perturb=identity, teacher=model) for xi in (x, xp)]
    assert rows[0]["ar"] > 1e-6
    assert rows[1]["ar"] == pytest.approx(rows[0]["ar"], rel=1e-4)
    assert rows[1]["kd"] == pytest.approx(rows[0]["kd"], rel=1e-4, abs=1e-8)


def test_grace_total_radius_is_rho(minilm):
    model, x, y = minilm
    seed_everything(0)
    ds = list(zip(x, y))
    learn = method_learner(copy.deepcopy(model), DataLoaders.from_dsets(ds, ds[:2], bs=4, shuffle=False, device="cpu"),
                           "grace", lr=1e-5)
    with learn.no_bar(), learn.no_logging(): learn.fit(1)
    g = learn.cbs.filter(lambda c: type(c).__name__ == "GRACE")[0]
    assert g.eps_norm == pytest.approx([method_hparams("grace")["rho"]] * 2, rel=1e-4)


EXPECTED = dict(ft=["ce"], lp=["ce"], lpft=["ce"], wise=["ce"], lora=["ce"], sdft=["ce", "sdft"],
                lipsum=["ce", "lipsum"], carft=["ce", "carft"], flyp=["ce", "flyp"], grace=["ce", "gram", "sam_loss"],
                digrap=["ce", "pull", "w_g", "w_r"], rtd=["ce", "kd", "ar"])


def test_every_method_has_its_expected_terms():
    assert set(EXPECTED) == set(METHODS)


@pytest.mark.parametrize("method", list(EXPECTED))
def test_every_methods_terms_reach_metrics_jsonl(method, tmp_path):
    "A 2-step run through `fine_tune`: one `train` line per epoch with every term, and the summary line."
    from rtd_nb.api import fine_tune
    x, y = fashion_mnist("test")
    X, Y = to_rgb(x[:40], 32), y[:40]
    ds = lambda a, b: ItemsDataset(X[a:b], Y[a:b], "fm", tfm=lambda t: t.float() / 255)
    sd = make_shift_data(ds(0, 16), ds(16, 24), {"id_test": ds(24, 32), "shifted": ds(32, 40)}, FMNIST_CLASSES, "image",
                         bs=8, device="cpu")
    fine_tune("tiny-clip", sd, method=method, epochs=1, lr=1e-3, bs=8, out_dir=tmp_path, progress=False,
              save_weights=False)
    lines = [json.loads(l) for p in tmp_path.rglob("metrics.jsonl") for l in p.read_text().splitlines()]
    ep = [l for l in lines if l["model"] == "train" and l["split"] == "epoch"]
    summ = [l for l in lines if l["model"] == "train" and l["split"] == "summary"]
    assert len(summ) == 1 and summ[0]["steps"] == 2 and "drift" in summ[0]
    want = EXPECTED[method]
    assert len(ep) == 1 and set(want) <= set(ep[0]), (method, sorted(ep[0]))
    assert all(np.isfinite(ep[0][t]) for t in want)


def _imports(path:Path)->set:
    "Modules of rtd_nb that `path` imports, anywhere in the file (top level or inside functions)."
    out = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            mod = node.module or ""
            if node.level == 1: out.add(mod.split(".")[0])
            elif mod.startswith("rtd_nb."): out.add(mod.split(".")[1])
            elif mod == "rtd_nb": out.update(a.name for a in node.names)
        elif isinstance(node, ast.Import):
            out.update(a.name.split(".")[1] for a in node.names if a.name.startswith("rtd_nb."))
    return out - {"_modidx"}


def test_no_module_imports_another_that_imports_it_back():
    "The import graph of the library modules (every import, also inside functions) has no cycle."
    mods = {p.stem: p for p in PKG.glob("*.py") if p.stem not in ("__init__", "_modidx")}
    graph = {m: _imports(p) & set(mods) for m, p in mods.items()}
    state, path = {}, []
    def visit(m):
        state[m] = "open"; path.append(m)
        for n in sorted(graph[m]):
            if state.get(n) == "open": raise AssertionError(f"import cycle: {' -> '.join(path[path.index(n):] + [n])}")
            if n not in state: visit(n)
        state[m] = "done"; path.pop()
    for m in sorted(graph):
        if m not in state: visit(m)


def test_registry_needs_no_import_tricks():
    for mod in ("methods", "callbacks", "baselines", "cli", "perturb", "text_perturb"):
        src = (PKG/f"{mod}.py").read_text()
        assert not re.search(r"\bimportlib\.import_module\b|__import__\(", src), mod
    assert set(METHODS) >= {"ft", "lp", "lpft", "wise", "lora", "sdft", "lipsum", "carft", "flyp", "grace", "digrap",
                            "rtd"}


def test_one_set_of_defaults():
    "RTD's defaults are the callback's signature defaults, seen identically by the registry and the experiments."
    import inspect
    from rtd_nb.experiments import method_kwargs
    sig = {k: v.default for k, v in inspect.signature(RTDCallback.__init__).parameters.items()
           if v.default is not inspect._empty}
    hp = method_hparams("rtd")
    assert all(hp[k] == v for k, v in sig.items()) and (hp["lam_kd"], hp["T"], hp["lam_ar"]) == (0.5, 4.0, 0.1)
    assert method_kwargs("rtd") == {}                     # the experiments add nothing of their own
