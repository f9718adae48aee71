"""Tests of rtd_nb.callbacks on a tiny real learner (tiny open_clip ViT, 32 Fashion-MNIST images): loss terms, frozen
teacher, hook hygiene, event order, λ=0 ≡ fine-tuning, seeded reproducibility, mixed precision, the method registry."""
import copy, numpy as np, pandas as pd, pytest, torch, torch.nn as nn
from fastai.learner import Learner
import fastai.callback.progress, fastai.callback.schedule
from fastai.optimizer import Adam
from fastai.losses import CrossEntropyLossFlat
from fastai.callback.core import Callback, CancelFitException
from fastai.callback.fp16 import MixedPrecision
from rtd_nb.core import seed_everything
from rtd_nb.models import zeroshot_classifier
from rtd_nb.data import fashion_mnist, to_rgb, ItemsDataset, make_shift_data, FMNIST_CLASSES
from rtd_nb.hooks import count_hooks
from rtd_nb.callbacks import *
from rtd_nb.methods import method_cbs, get_method, register_method, Method, METHODS


@pytest.fixture(scope="module")
def data():
    "16 training and 8 validation images of real Fashion-MNIST (batches of 8), and a tiny-clip zero-shot model."
    x, y = fashion_mnist("test")
    seed_everything(0)
    return to_rgb(x[:24], 32).float() / 255, y[:24], zeroshot_classifier("tiny-clip", FMNIST_CLASSES)


def dls(data, seed=0):
    x, y, _ = data
    return make_shift_data(ItemsDataset(x[:16], y[:16], "id"), ItemsDataset(x[16:], y[16:], "id"), {},
                           FMNIST_CLASSES, "image", bs=8, seed=seed, device="cpu").dls


def learner(data, methods=(("ft", {}),), seed=0, cbs=()):
    "A seeded tiny-clip learner with the callbacks of every (method, hparams) in `methods`."
    seed_everything(seed)
    model = copy.deepcopy(data[2])
    mcbs = [cb for m, hp in methods for cb in method_cbs(m, model, stochastic=True, **hp)]
    return Learner(dls(data, seed), model, CrossEntropyLossFlat(), opt_func=Adam, lr=1e-3,
                   cbs=mcbs + [EvalModeStudent()] + list(cbs))


def quiet_fit(learn, n=1, **kw):
    with learn.no_bar(), learn.no_logging(): learn.fit(n, **kw)
    return learn


def hooks_left(learn):
    n = count_hooks(learn.model)
    for cb in learn.cbs:
        for t in (getattr(cb, "teacher", None), getattr(cb, "zeroshot", None)):
            if t is not None: n += count_hooks(t.module)
    return n


BOTH = (("rtd", dict(lam_ar=1.0)), ("lipsum", {}))


def test_terms_recorded_per_batch_and_epoch(data):
    learn = quiet_fit(learner(data, BOTH), 2)
    df = loss_terms(learn)
    assert len(df) == 4 and set(df.epoch) == {0, 1}   # 2 batches × 2 epochs
    np.testing.assert_allclose(df.loss, df.ce + 0.5 * df.kd + 1.0 * df.ar + 1.0 * df.lipsum, rtol=1e-5)
    names = learn.recorder.metric_names
    assert names[-5:] == ["ce", "kd", "ar", "lipsum", "time"]
    for e in (0, 1):                                  # epoch values are the means of that epoch's batches
        rec = dict(zip(names[1:-1], learn.recorder.values[e]))
        for k in ("ce", "kd", "ar", "lipsum"): assert rec[k] == pytest.approx(df[df.epoch == e][k].mean())
    assert len(learn.metrics) == 0                    # the learner is left as it was
    assert {c for c in df.columns if c.startswith("ar_layer/")} == {
        "ar_layer/encoder.visual.transformer.resblocks.0", "ar_layer/encoder.visual.transformer.resblocks.1"}


def test_ar_and_kd_zero_at_init_then_positive(data):
    """Student = teacher, both in eval mode: KD and AR are 0 on the first batch (up to float rounding), and clearly
    positive once the weights have moved."""
    df = loss_terms(quiet_fit(learner(data, [("rtd", dict(lam_ar=1.0))]), 1))
    assert df.kd[0] < 1e-5 and df.ar[0] < 1e-8
    assert df.kd[1] > 100 * df.kd[0] and df.ar[1] > 100 * df.ar[0] + 1e-6


def test_teacher_frozen_bit_identical_not_a_submodule(data):
    learn = learner(data, BOTH)
    rtd, lip = (learn.cbs.filter(lambda c: isinstance(c, RTDCallback))[0],
                learn.cbs.filter(lambda c: isinstance(c, LipsumCallback))[0])
    t0 = copy.deepcopy(rtd.teacher.module.state_dict()); z0 = copy.deepcopy(lip.zeroshot.module.state_dict())
    s0 = copy.deepcopy(learn.model.state_dict())
    n_params = len(list(learn.model.parameters()))
    quiet_fit(learn, 1)
    for sd, ref in ((rtd.teacher.module.state_dict(), t0), (lip.zeroshot.module.state_dict(), z0)):
        assert all(torch.equal(v, ref[k]) for k, v in sd.items())
    assert any(not torch.equal(v, s0[k]) for k, v in learn.model.state_dict().items())
    assert not rtd.teacher.module.training and not any(p.requires_grad for p in rtd.teacher.module.parameters())
    opt_ids = {id(p) for g in learn.opt.param_lists for p in g}
    assert not opt_ids & {id(p) for p in rtd.teacher.module.parameters()}
    assert len(list(learn.model.parameters())) == n_params


class Boom(Callback):
    order = 7
    def __init__(self, exc, at): self.exc, self.at, self.n = exc, at, 0
    def __call__(self, event):
        if event == self.at and getattr(self.learn, "training", False):
            self.n += 1
            if self.n == 2: raise self.exc
        return super().__call__(event)


class BadForward(Callback):
    "Make the student's forward raise inside the encoder (before the head) on the second batch."
    def __init__(self): self.n = 0
    def before_fit(self):
        def hook(m, i):
            self.n += 1
            if self.n == 2: raise RuntimeError("forward failed")
        self.h = self.learn.model.encoder.visual.register_forward_pre_hook(hook)
    def after_fit(self): self.h.remove()


def test_no_hooks_after_exception_or_cancel(data):
    learn = learner(data, BOTH)
    for exc in (RuntimeError("boom"), CancelFitException()):
        for at in ("before_batch", "after_pred", "after_loss", "after_backward"):
            try: quiet_fit(learn, 1, cbs=Boom(exc, at))
            except RuntimeError: pass
            assert hooks_left(learn) == 0, (exc, at)
    quiet_fit(learn, 1)                                # crashed fits leave no trace in the next one
    assert hooks_left(learn) == 0 and len(learn.metrics) == 0
    assert learn.recorder.metric_names.count("kd") == 1


def test_no_hooks_after_exception_inside_the_forward(data):
    "Callbacks passed to `fit(cbs=...)` are cleaned up by fastai's removal even when the model's forward raises."
    learn = learner(data, methods=())                  # no callbacks of its own: fastai runs no `after_fit` on a crash
    model = learn.model
    bad = BadForward()
    with pytest.raises(RuntimeError, match="forward failed"):
        quiet_fit(learn, 1, cbs=method_cbs("rtd", model, lam_ar=1., stochastic=True) +
                                method_cbs("lipsum", model, stochastic=True) + [bad])
    bad.h.remove()
    assert count_hooks(model) == 0 and len(learn.metrics) == 0
    # and the next fit logs each term once
    quiet_fit(learn, 1, cbs=method_cbs("rtd", model, lam_ar=1., stochastic=True))
    assert count_hooks(model) == 0 and len(learn.metrics) == 0
    assert [learn.recorder.metric_names.count(n) for n in ("ce", "kd", "ar")] == [1, 1, 1]


def test_spy_event_order_and_loss_seen(data):
    class Spy(Callback):
        order = 7
        def __init__(self): self.events, self.seen = [], []
        def __call__(self, event):
            self.events.append(event); return super().__call__(event)
        def after_loss(self):
            if self.training: self.seen.append((self.learn.loss_grad.item(),
                                                dict(self.learn.recorder.loss_terms[self.learn.train_iter])))
    spy = Spy()
    quiet_fit(learner(data, BOTH, cbs=[spy]), 1)
    ev = spy.events[spy.events.index("before_fit"):]
    assert spy.events[0] == "after_create"
    assert ev[:11] == ["before_fit", "before_epoch", "before_train", "before_batch", "after_pred", "after_loss",
                       "before_backward", "after_backward", "before_step", "after_step", "after_batch"]
    assert spy.events[-1] == "after_fit" and "before_validate" in spy.events
    for lg, row in spy.seen:
        assert lg == pytest.approx(row["ce"] + 0.5 * row["kd"] + 1.0 * row["ar"] + row["lipsum"], rel=1e-5)


@pytest.mark.parametrize("method,hp", [("rtd", dict(lam_kd=0., lam_ar=0.)),
                                       ("rtd", dict(lam_kd=0., lam_ar=0., kd_on="both")),
                                       ("lipsum", dict(lam=0.))])
def test_lambda_zero_is_exactly_fine_tuning(data, method, hp):
    ft = quiet_fit(learner(data), 1)
    other = quiet_fit(learner(data, [(method, hp)]), 1)
    assert torch.equal(torch.stack(ft.recorder.losses), torch.stack(other.recorder.losses))
    assert all(torch.equal(v, ft.model.state_dict()[k]) for k, v in other.model.state_dict().items())


def test_seeded_two_epoch_fit_twice_equal(data):
    hp = (("rtd", dict(lam_ar=0.5, kd_on="both")), ("lipsum", dict(variant="kld", T=2.)))
    a, b = (quiet_fit(learner(data, hp), 2) for _ in range(2))
    assert a.recorder.values == b.recorder.values
    pd.testing.assert_frame_equal(loss_terms(a), loss_terms(b))


@pytest.mark.parametrize("amp", ["bf16", "fp16"])
def test_mixed_precision(data, amp):
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")                # GradScaler/autocast('cuda') warn on CPU-only machines
        learn = quiet_fit(learner(data, BOTH, cbs=[MixedPrecision(amp_mode=amp)]), 1)
    assert np.isfinite(loss_terms(learn)[["ce", "kd", "ar", "lipsum"]].values).all()


def test_rtd_with_the_perturbation_library(data):
    from rtd_nb.perturb import Perturb
    learn = quiet_fit(learner(data, [("rtd", dict(perturb=Perturb(["noise", "fgsm"], severity=(1, 3)), lam_ar=0.))]), 1)
    df = loss_terms(learn)
    assert "ar" not in df and np.isfinite(df.kd).all()
    assert count_hooks(learn.model) == 0


def test_input_noise_text():
    from rtd_nb.models import load_model
    tok = load_model("minilm").tokenizer
    ids = tok(["a truly wonderful and moving film", "bad"])
    torch.manual_seed(0)
    out = InputNoise(p=1.0, tokenizer=tok)(ids)
    special = torch.isin(ids, torch.tensor(sorted(tok.special_ids | {tok.pad_id})))
    assert torch.equal(out[special], ids[special]) and (out[~special] != ids[~special]).float().mean() > 0.9
    assert torch.equal(InputNoise(p=0., tokenizer=tok)(ids), ids)


def test_validation_errors():
    m = nn.Linear(2, 2)
    with pytest.raises(ValueError, match="lam_kd must be"): RTDCallback(m, lam_kd=-1)
    with pytest.raises(ValueError, match="T must be"): RTDCallback(m, T=0)
    with pytest.raises(ValueError, match="kd_on"): RTDCallback(m, kd_on="clean")
    with pytest.raises(ValueError, match="kd_frac"): RTDCallback(m, kd_frac=0.)
    with pytest.raises(ValueError, match="ar_on"): RTDCallback(m, ar_on="clean")
    with pytest.raises(TypeError, match="encode_text"): LipsumCallback(m)
    with pytest.raises(TypeError, match="unknown hyper-parameters"): method_cbs("rtd", m, lam=1.)
    with pytest.raises(KeyError, match="registered methods"): get_method("rtd2")


class _K(Callback):
    def __init__(self, teacher, k:int=1): self.k = k


def test_registry_roundtrip():
    mm = Method("dummy-test", _K, needs_teacher=True)
    register_method(mm)
    try:
        assert get_method("dummy-test") is mm and mm.defaults == dict(k=1)
        assert [c.k for c in method_cbs("dummy-test", nn.Linear(1, 1), k=3) if isinstance(c, _K)] == [3]
        with pytest.raises(ValueError, match="already registered"): register_method(Method("dummy-test"))
    finally: METHODS.pop("dummy-test")


def test_frozen_teacher_eval_locked_and_invisible():
    s = nn.Sequential(nn.Linear(3, 3), nn.Dropout(0.9))
    t = frozen_teacher(s)
    s.t = t; s.train(); t.train()
    assert len(list(s.parameters())) == 2 and not t.module.training
    x = torch.randn(4, 3)
    assert torch.equal(t(x), t(x)) and not t(x).requires_grad
    assert frozen_teacher(t) is t


# --- the cheap paths: fused RTD forward, one-pass floor, Lipsum text bank ---------------------------------------

from fastai.data.core import DataLoaders
from fastai.callback.core import CancelValidException


class _Grab(Callback):
    "Copy every gradient at `before_step`; skip validation."
    order = 100
    def before_step(self): self.g = {n: p.grad.clone() for n, p in self.learn.model.named_parameters()
                                     if p.grad is not None}
    def before_validate(self): raise CancelValidException()


def _moved(model, scale=0.02, seed=1):
    "A copy of `model` whose weights moved away from it (so KD, AR and Lipsum are not trivially 0 at step 1)."
    m = copy.deepcopy(model)
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in m.parameters(): p.add_(scale * torch.randn(p.shape, generator=g))
    return m


def _one_step(data, cbs_fn, seed=0):
    "Recorded terms, gradients and learner after one training step of a moved tiny-clip student on 8 real images."
    x, y, zs = data
    student = _moved(zs)
    ds = list(zip(x[:8], y[:8]))
    grab = _Grab()
    learn = Learner(DataLoaders.from_dsets(ds, ds, bs=8, shuffle=False, device="cpu"), student, CrossEntropyLossFlat(),
                    opt_func=Adam, lr=1e-3, cbs=cbs_fn(zs) + [grab, EvalModeStudent()])
    torch.manual_seed(seed)
    quiet_fit(learn, 1)
    return learn.recorder.loss_terms[0], grab.g, learn


@pytest.mark.parametrize("kd_on", ["perturbed", "both"])
def test_fused_equals_two_forwards(data, kd_on):
    "Same perturbed batch, no BatchNorm: one fused student forward gives the loss terms and gradients of two forwards."
    hp = dict(perturb=InputNoise(0.2), lam_kd=1., T=2., lam_ar=1., kd_on=kd_on,
              layers=["encoder.visual.transformer.resblocks.0", "encoder.visual.transformer.resblocks.1"])
    (r1, g1, l1), (r2, g2, l2) = (_one_step(data, lambda t, f=f: [RTDCallback(t, fused=f, **hp)])
                                  for f in (True, False))
    assert [l.cbs.filter(lambda c: isinstance(c, RTDCallback))[0].last_mode for l in (l1, l2)] == ["fused", "two"]
    assert r1["kd"] > 1e-4 and r1["ar"] > 1e-6
    for k in ("ce", "kd", "ar", "loss"): assert r1[k] == pytest.approx(r2[k], rel=1e-5, abs=1e-7), k
    assert set(g1) == set(g2) and len(g1) > 10
    for n in g1: torch.testing.assert_close(g1[n], g2[n], rtol=1e-4, atol=1e-6)
    assert hooks_left(l1) == 0


def test_fused_rtd_with_lipsum_uses_the_clean_half(data):
    "Lipsum-FT's head hook sees [x; x'] under a fused RTD forward and keeps the clean half: same terms as two forwards."
    hp = dict(perturb=InputNoise(0.2), lam_kd=1., lam_ar=0.)
    rows = [_one_step(data, lambda t, f=f: [RTDCallback(t, fused=f, **hp), LipsumCallback(t, bank=64)])[0]
            for f in (True, False)]
    for k in ("ce", "kd", "lipsum", "loss"): assert rows[0][k] == pytest.approx(rows[1][k], rel=1e-5, abs=1e-7), k
    assert rows[0]["lipsum"] > 0


def test_default_is_fused_and_batchnorm_falls_back(data):
    learn = quiet_fit(learner(data, [("rtd", dict(lam_ar=1.))]), 1)
    assert learn.cbs.filter(lambda c: isinstance(c, RTDCallback))[0].last_mode == "fused"
    net = nn.Sequential(nn.Conv2d(3, 2, 3), nn.BatchNorm2d(2), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(2, 10))
    x, y, _ = data
    ds = list(zip(x[:8], y[:8]))
    rtd = RTDCallback(net, perturb=InputNoise(0.1), lam_ar=0.)
    bn = Learner(DataLoaders.from_dsets(ds, ds, bs=4, device="cpu"), net, CrossEntropyLossFlat(), cbs=[rtd])
    quiet_fit(bn, 1)
    assert rtd.last_mode == "two" and np.isfinite(loss_terms(bn).kd).all()   # BatchNorm in train mode: two forwards
    quiet_fit(bn, 1, cbs=EvalModeStudent())
    assert rtd.last_mode == "fused"                                           # the student in eval mode: fused
    net.eval(); rtd._bns = [net[1]]
    assert rtd.step_mode() == "fused"


def test_one_pass_floor_trains_on_perturbed(data):
    "ce_on='perturbed': the batch is x', one student forward serves CE and KD (AR hooks capture during it)."
    class SeeX(Callback):
        order, run_valid = 6, False
        def after_pred(self): self.seen = self.learn.xb[0].clone()
    see = SeeX()
    learn = quiet_fit(learner(data, [("rtd", dict(ce_on="perturbed", lam_ar=1.))], cbs=[see]), 1)
    df = loss_terms(learn)
    assert np.isfinite(df[["ce", "kd", "ar"]].values).all() and hooks_left(learn) == 0
    assert learn.cbs.filter(lambda c: isinstance(c, RTDCallback))[0].last_mode == "1pass"
    rows = data[0][:16].flatten(1)                                  # fastai's forward saw x', no clean image
    assert see.seen.shape[0] == 8 and not (see.seen.flatten(1)[:, None] == rows[None]).all(-1).any()
    with pytest.raises(ValueError, match="kd_on='perturbed'"):
        RTDCallback(nn.Linear(2, 2), ce_on="perturbed", kd_on="both")
    with pytest.raises(ValueError, match="kd_frac=1"): RTDCallback(nn.Linear(2, 2), ce_on="perturbed", kd_frac=0.5)


def test_kd_every_and_kd_frac_combine(data):
    ("kd_every=2 with kd_frac=0.5: the terms run on every 2nd step only, there on half the batch "
     "(4 of 8 rows, clean + x').")
    learn = learner(data, [("rtd", dict(kd_every=2, kd_frac=0.5, lam_ar=1.))])
    rtd, seen = learn.cbs.filter(lambda c: isinstance(c, RTDCallback))[0], []
    real = rtd._teacher
    rtd._teacher = lambda x, ar: seen.append(len(x)) or real(x, ar)
    df = loss_terms(quiet_fit(learn, 2))
    assert len(df) == 4 and df.kd.iloc[[0, 2]].notna().all() and df.kd.iloc[[1, 3]].isna().all()
    assert seen == [8, 8] and hooks_left(learn) == 0      # the teacher ran twice, on 4 clean + 4 perturbed rows


def test_lipsum_bank_equals_fresh_given_the_same_texts(data):
    "A bank of N ≤ M texts drawn by the same seeded generator is used whole: the same texts as fresh mode's first step."
    (rf, _, lf), (rb, _, lb) = (_one_step(data, lambda t, b=b: [LipsumCallback(t, M=16, bank=b)]) for b in (0, 16))
    cf, cb = (l.cbs.filter(lambda c: isinstance(c, LipsumCallback))[0] for l in (lf, lb))
    assert torch.equal(cf.text_ids, cb.text_ids)
    assert rb["lipsum"] == pytest.approx(rf["lipsum"], rel=1e-6) and rb["loss"] == pytest.approx(rf["loss"], rel=1e-6)
    enc = data[2].encoder
    torch.testing.assert_close(cb._bank, enc.encode_text(cb._bank_ids).detach(), rtol=1e-5, atol=1e-5)


def test_lipsum_bank_sampling_and_reuse(data):
    learn = learner(data, [("lipsum", dict(bank=100, M=20))])
    quiet_fit(learn, 1)
    cb = learn.cbs.filter(lambda c: isinstance(c, LipsumCallback))[0]
    bank = cb._bank
    assert bank.shape[0] == 100 and cb.text_ids.shape[0] == 20 and not bank.requires_grad
    quiet_fit(learn, 1)
    assert cb._bank is bank                                          # built once: the text tower is frozen
    with pytest.raises(ValueError, match="bank must be"): LipsumCallback(data[2], bank=-1)


def test_encode_texts_trims_open_clip_padding(data):
    from rtd_nb.losses import random_texts
    enc = data[2].encoder
    ids = random_texts(enc.tokenizer, 8, 5, torch.Generator().manual_seed(0))
    assert ids.shape[1] > 10                                         # padded to the context length
    torch.testing.assert_close(encode_texts(enc, ids, chunk=2), enc.encode_text(ids).detach(), rtol=1e-5, atol=1e-5)


def test_fused_flag_validation():
    m = nn.Linear(2, 2)
    assert RTDCallback(m, fused="false").fused is False and RTDCallback(m, fused="auto").fused == "auto"
    with pytest.raises(ValueError, match="fused must be"): RTDCallback(m, fused="sometimes")
    with pytest.raises(ValueError, match="ce_on must be"): RTDCallback(m, ce_on="both")


# --- the one step timer --------------------------------------------------------------------------------------------

def test_step_timer_counts_steps_stops_and_skips_validation():
    "`StepTimer` times every training step, cancels the fit after `n_steps`, and with `valid=False` runs no validation."
    ds = [(torch.randn(4), torch.tensor(i % 2)) for i in range(16)]

    class ValidBatches(Callback):
        def before_fit(self): self.n = 0
        def after_batch(self): self.n += not self.training

    def fit(timer, epochs=2):
        seen = ValidBatches()
        learn = Learner(DataLoaders.from_dsets(ds, ds, bs=8, device="cpu"), nn.Linear(4, 2), nn.CrossEntropyLoss(),
                        cbs=[timer, seen])
        with learn.no_bar(), learn.no_logging(): learn.fit(epochs)
        return seen.n

    t = StepTimer(); assert fit(t) == 4 and len(t.times) == 4 and all(s > 0 for s in t.times)
    t = StepTimer(valid=False); assert fit(t) == 0 and len(t.times) == 4
    t = StepTimer(n_steps=3, valid=False); fit(t, epochs=5); assert len(t.times) == 3
