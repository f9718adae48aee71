("""Tests of rtd_nb.baselines: every rival method runs one epoch on a tiny real subset and changes the weights """
 """as it claims.""")
import copy
import numpy as np, pytest, torch, torch.nn as nn
from fastai.learner import Learner
from fastai.data.core import DataLoaders
from fastai.optimizer import Adam
import fastai.callback.progress  # noqa: F401  (Learner.no_bar)
from rtd_nb.core import seed_everything
from rtd_nb.models import zeroshot_classifier, load_model
from rtd_nb.data import fashion_mnist, to_rgb, FMNIST_CLASSES, vader_frame, tokenize_texts
from rtd_nb.callbacks import EvalModeStudent, loss_terms
from rtd_nb.methods import method_cbs, prepare_model, get_method, METHODS, method_learner
from rtd_nb.baselines import *
from rtd_nb.evaluate import count_params

BASELINES = ["lp", "lpft", "wise", "lora", "sdft", "carft", "flyp", "grace", "digrap"]


@pytest.fixture(scope="module")
def fmnist():
    x, y = fashion_mnist("test")
    return to_rgb(x[:24], 32).float() / 255, torch.as_tensor(y[:24])


@pytest.fixture(scope="module")
def tiny():
    seed_everything(0)
    return zeroshot_classifier("tiny-clip", FMNIST_CLASSES)


def learner(model, data, cbs=(), lr=1e-3, wd=0.):
    X, Y = data
    dls = DataLoaders.from_dsets(list(zip(X, Y)), list(zip(X[:8], Y[:8])), bs=8, shuffle=False, device="cpu")
    return Learner(dls, model, nn.CrossEntropyLoss(), opt_func=Adam, lr=lr, wd=wd, cbs=list(cbs) + [EvalModeStudent()])


def fit(learn, n=1):
    with learn.no_bar(), learn.no_logging(): learn.fit(n)
    return learn


def state(m): return {k: v.detach().clone() for k, v in m.state_dict().items()}
def changed(a, b): return sorted(k for k in a if not torch.equal(a[k], b[k]))


def run(name, tiny, data, seed=0, **hp):
    seed_everything(seed)
    X, Y = data
    dls = DataLoaders.from_dsets(list(zip(X, Y)), list(zip(X[:8], Y[:8])), bs=8, shuffle=False, device="cpu")
    learn = fit(method_learner(copy.deepcopy(tiny), dls, name, lr=1e-3, wd=0., **hp))
    return learn, list(learn.cbs)


def test_all_registered():
    for n in BASELINES: assert get_method(n).name == n
    assert {"ft", "rtd", "lipsum"} <= set(METHODS)


@pytest.mark.parametrize("name", BASELINES)
def test_factory_shared_behaviour(name, tiny, fmnist):
    "Every method by name: weights move, teacher frozen & unchanged, no hook left, same seed → same weights."
    before = torch.cat([p.detach().flatten() for p in tiny.parameters()])
    learn, cbs = run(name, tiny, fmnist)
    assert not any(m._forward_pre_hooks or m._forward_hooks for m in learn.model.modules()), "hook left on the model"
    for cb in cbs:
        if hasattr(cb, "teacher"):
            t = cb.teacher.module
            assert not t.training and not any(p.requires_grad for p in t.parameters())
            if getattr(cb, "refresh", "never") == "never":
                assert torch.equal(torch.cat([p.flatten() for p in t.parameters()]), before)
    w1 = torch.cat([p.detach().flatten() for p in learn.model.parameters()])
    w2 = torch.cat([p.detach().flatten() for p in run(name, tiny, fmnist)[0].model.parameters()])
    assert torch.equal(w1, w2), "not reproducible with the same seed"
    if name != "lora": assert not torch.equal(w1, before), "the weights did not move"


def test_lp_changes_only_head(tiny, fmnist):
    m = copy.deepcopy(tiny); before = state(m)
    fit(learner(m, fmnist, method_cbs("lp", m)))
    assert changed(before, state(m)) == ["head.weight"]
    assert all(p.requires_grad for p in m.parameters())


def test_lpft_starts_from_probe_then_trains_all(tiny, fmnist):
    m = copy.deepcopy(tiny); before = state(m)
    fit(learner(m, fmnist, method_cbs("lpft", m)))
    ch = changed(before, state(m))
    assert "head.weight" in ch and any(k.startswith("encoder.visual") for k in ch)


def test_wise_endpoints_exact(tiny, fmnist):
    th0 = state(tiny)
    m = copy.deepcopy(tiny); l = fit(learner(m, fmnist, [WiSE(1.)]))
    th1 = l.wi_se.theta_1
    assert changed(th0, th1)
    assert all(torch.equal(wise_merge(th0, th1, 0.)[k], th0[k]) for k in th0)
    assert all(torch.equal(wise_merge(th0, th1, 1.)[k], th1[k]) for k in th0)
    assert all(torch.equal(state(m)[k], th1[k]) for k in th0)  # α=1 after fit = fine-tuned
    mid = wise_merge(th0, th1, 0.5)["head.weight"]
    assert torch.allclose(mid, (th0["head.weight"] + th1["head.weight"]) / 2, atol=1e-6)
    df = wise_sweep(m, th0, lambda mod: {"w": float(mod.head.weight.sum())})
    assert len(df) == 11 and df.alpha.iloc[0] == 0 and df.alpha.iloc[-1] == 1
    with pytest.raises(ValueError, match=r"\[0, 1\]"): wise_merge(th0, th1, -0.1)


def test_lora_vision_base_frozen_and_merge(tiny, fmnist):
    ("ViT attention split into q/k/v linears: base weights bit-identical after an epoch; "
     "merged = base + s·B·A in q rows.")
    m = copy.deepcopy(tiny); base = state(m)
    pm = prepare_model("lora", m, r=4)
    pc = count_params(pm); assert 0 < pc["trainable_params"] / pc["total_params"] < 0.2
    fit(learner(pm, fmnist))
    blk = pm.base_model.model.encoder.visual.transformer.resblocks[1].attn
    k = "encoder.visual.transformer.resblocks.1.attn.in_proj_weight"
    d = blk.q_proj.base_layer.weight.shape[0]
    for i, p in enumerate((blk.q_proj.base_layer, blk.k_proj, blk.v_proj.base_layer)):
        assert torch.equal(p.weight, base[k][i*d:(i+1)*d])
    text_before = {n: v for n, v in base.items() if n.startswith("encoder.transformer.")}
    sd = pm.base_model.model.state_dict()
    assert all(torch.equal(sd[n], v) for n, v in text_before.items())
    A, B, s = (blk.q_proj.lora_A["default"].weight.detach(), blk.q_proj.lora_B["default"].weight.detach(),
               blk.q_proj.scaling["default"])
    assert B.abs().sum() > 0  # trained away from its zero init
    merged = lora_merge(pm)
    assert set(merged.state_dict()) == set(base)
    torch.testing.assert_close(merged.state_dict()[k][:d], base[k][:d] + s * B @ A)
    assert torch.equal(merged.state_dict()[k][d:2*d], base[k][d:2*d])


def test_split_attention_equivalent():
    mha = nn.MultiheadAttention(16, 2, batch_first=False).eval()
    x = torch.randn(5, 3, 16); kpm = torch.zeros(3, 5, dtype=torch.bool); kpm[1, 3:] = True
    sa = SplitQKVAttention(mha).eval()
    torch.testing.assert_close(sa(x, x, x, key_padding_mask=kpm)[0],
                               mha(x, x, x, need_weights=False, key_padding_mask=kpm)[0])
    assert torch.equal(sa.fuse().in_proj_weight, mha.in_proj_weight)


def test_lora_on_the_probe_backbone():
    ("LoRA finds EfficientNet's point-wise convolutions under a linear probe (the Fashion-MNIST-C start) "
     "as in the bridged model.")
    from rtd_nb.models import backbone_encoder, Classifier, ClassificationHead
    enc = load_model("effnet-minilm")
    bb = backbone_encoder(enc)
    m = Classifier(bb, ClassificationHead(torch.zeros(3, bb.embed_dim)), ["a", "b", "c"])
    zs = zeroshot_classifier(enc, ["a", "b", "c"])          # the bridge: its image tower, not its (unused) text tower
    assert lora_target_modules(m) == lora_target_modules(zs) == r".*(visual|net)\.blocks\.\d+\.\d+\.conv_pwl?"
    pm = apply_lora(m, r=4)
    adapted = {n.split(".lora_")[0] for n, p in pm.named_parameters() if "lora_" in n}
    assert adapted and all(n.split(".")[-1] in ("conv_pw", "conv_pwl") for n in adapted)
    assert pm(torch.rand(2, 3, 64, 64)).shape == (2, 3)


def test_lora_text_minilm():
    "LoRA on MiniLM's query/value: base bit-identical after an epoch on real VADER sentences, merged = base + s·B·A."
    enc = load_model("minilm")
    df = vader_frame().groupby("label").head(12)
    X, Y = tokenize_texts(enc.tokenizer, df.text.tolist(), 32), torch.as_tensor(df.label.values)
    m = zeroshot_classifier(enc, ["negative", "positive"]); base = state(m)
    pm = apply_lora(m, r=4)
    assert lora_target_modules(m) == r".*attention\.self\.(query|value)"
    fit(learner(pm, (X, Y), lr=1e-2))
    lin = pm.base_model.model.encoder.model.encoder.layer[0].attention.self.query
    assert torch.equal(lin.base_layer.weight, base["encoder.model.encoder.layer.0.attention.self.query.weight"])
    A, B, s = lin.lora_A["default"].weight.detach(), lin.lora_B["default"].weight.detach(), lin.scaling["default"]
    assert B.abs().sum() > 0
    merged = lora_merge(pm)
    k = "encoder.model.encoder.layer.0.attention.self.query.weight"
    torch.testing.assert_close(merged.state_dict()[k], base[k] + s * B @ A)


def test_digrap_max_strength_nearer_than_ft(tiny, fmnist):
    def dist(m): return float(torch.sqrt(sum(((p.detach() - tiny.state_dict()[n]) ** 2).sum()
                                             for n, p in m.named_parameters())))
    seed_everything(0); ft = copy.deepcopy(tiny); fit(learner(ft, fmnist), 2)
    seed_everything(0); dg = copy.deepcopy(tiny); fit(learner(dg, fmnist, method_cbs("digrap", dg, strength=1.)), 2)
    assert dist(dg) < dist(ft)
    with pytest.raises(ValueError, match="strength"): DiGraP(strength=2.)


def test_digrap_restores_wd(tiny, fmnist):
    m = copy.deepcopy(tiny); l = learner(m, fmnist, [DiGraP()], wd=0.01); fit(l)
    assert all(h["wd"] == 0.01 for h in l.opt.hypers)


def test_grace_perturbation_undone_and_of_norm_rho(tiny, fmnist):
    m = copy.deepcopy(tiny); before = state(m)
    l = fit(learner(m, fmnist, [GRACE(rho=0.1)], lr=0.))  # lr 0: the optimiser does nothing
    assert not changed(before, state(m))
    assert l.grace.restore_err == [0.] * 3 and len(l.grace.curv) > 0
    assert l.grace.eps_norm == pytest.approx([0.1] * 3, rel=1e-5)     # the whole perturbation has norm ρ, as SAM's
    df = loss_terms(l)
    assert (df.gram > 0).all() and (df.sam_loss > 0).all()


def test_grace_radius_total_norm():
    for n in (2, 102):
        curv = torch.rand(n) ** 6
        r = curvature_radii(curv, 0.05)
        assert float(r.norm()) == pytest.approx(0.05, rel=1e-6) and (r > 0).all()
        assert float(r.max() / r.min()) <= 100 + 1e-3


def test_flyp_head_is_rebuilt_zero_shot(tiny, fmnist):
    from rtd_nb.models import zeroshot_head
    m = copy.deepcopy(tiny); l = fit(learner(m, fmnist, method_cbs("flyp", m, stochastic=True)))
    torch.testing.assert_close(m.head.weight, zeroshot_head(m.encoder, FMNIST_CLASSES).weight)
    assert not torch.equal(m.head.weight, tiny.head.weight)  # the text tower was trained
    df = loss_terms(l)
    assert np.isfinite(df.flyp).all() and np.allclose(df.loss, df.flyp)   # the contrastive loss replaced the task loss


def test_sdft_and_carft_terms(tiny, fmnist):
    m = copy.deepcopy(tiny)
    cbs = method_cbs("sdft", m, lam=0.5, stochastic=True) + method_cbs("carft", m, stochastic=True)
    df = loss_terms(fit(learner(m, fmnist, cbs)))
    assert len(df) == 3 and df.sdft[0] == pytest.approx(0, abs=1e-6) and (df.carft[1:] > 0).all()
    with pytest.raises(ValueError, match="refresh"): SelfDistill(tiny, refresh="always")
    with pytest.raises(ValueError, match=r"\[0, 1\]"): SelfDistill(tiny, lam=1.5)


def test_sdft_loss_matches_soft_cross_entropy():
    "The logged decomposition gives the gradient of (1-λ)·CE + λ·CE(distilled targets)."
    g = torch.Generator().manual_seed(0)
    z, zt, y = (torch.randn(16, 3, generator=g, requires_grad=True), torch.randn(16, 3, generator=g),
                torch.randint(0, 3, (16,), generator=g))
    for lam in (0., 0.4, 1.):
        task, term = sdft_loss(z, zt, y, lam)
        g1, = torch.autograd.grad(task + lam * term, z)
        g2, = torch.autograd.grad((1 - lam) * torch.nn.functional.cross_entropy(z, y)
                                  + lam * soft_cross_entropy(z, sdft_targets(zt, y)), z)
        torch.testing.assert_close(g1, g2)
