"""Tests of rtd_nb.losses: KD, AR, Lipsum-FT and Gram losses as pure functions (properties, gradients, errors)."""
import pytest, torch, torch.nn.functional as F
from rtd_nb.losses import *


def gen(seed=0): return torch.Generator().manual_seed(seed)


@pytest.mark.parametrize("T", [0.5, 1.0, 4.0])
def test_kd_nonneg_zero_and_matches_kl_div(T):
    g = gen()
    zs, zt = torch.randn(32, 7, generator=g), 5 * torch.randn(32, 7, generator=g)
    assert kd_loss(zs, zt, T) > 0
    assert kd_loss(zt, zt, T) == 0
    ref = T**2 * F.kl_div(F.log_softmax(zs / T, -1), F.log_softmax(zt / T, -1), log_target=True, reduction="batchmean")
    torch.testing.assert_close(kd_loss(zs, zt, T), ref)


def test_kd_gradient_finite_differences():
    g = gen(1)
    zs = torch.randn(5, 4, dtype=torch.float64, generator=g, requires_grad=True)
    zt = 40 * torch.randn(5, 4, dtype=torch.float64, generator=g)   # near one-hot teacher: stability
    assert torch.autograd.gradcheck(lambda z: kd_loss(z, zt, T=3.0), (zs,))
    assert torch.autograd.gradgradcheck(lambda z: kd_loss(z, zt, T=3.0), (zs,))


def test_kd_no_gradient_to_teacher_and_low_precision():
    zs = torch.randn(4, 3, requires_grad=True); zt = torch.randn(4, 3, requires_grad=True)
    kd_loss(zs, zt, 2.).backward()
    assert zt.grad is None and zs.grad is not None
    out = kd_loss(zs.detach().half(), zt.detach().bfloat16(), 2.)
    assert out.dtype == torch.float32 and torch.isfinite(out)


def test_kd_errors():
    z = torch.randn(4, 3)
    for T in (0, -1, float("nan")):
        with pytest.raises(ValueError, match="T must be"): kd_loss(z, z, T)
    with pytest.raises(ValueError, match="3 classes and the teacher 5"): kd_loss(z, torch.randn(4, 5))
    with pytest.raises(ValueError, match="shapes"): kd_loss(z, torch.randn(5, 3))


def test_ar_zero_at_init_and_gradient_after_a_step():
    "AR between a model and its copy is 0 at init; after one optimizer step it is > 0 with a non-zero gradient."
    torch.manual_seed(0)
    student = torch.nn.Sequential(torch.nn.Linear(6, 8), torch.nn.Tanh(), torch.nn.Linear(8, 3))
    teacher = __import__("copy").deepcopy(student).requires_grad_(False)
    x = torch.randn(10, 6)
    acts = lambda m: {"0": m[0](x), "2": m(x)}
    assert ar_loss(acts(student), acts(teacher)) == 0
    opt = torch.optim.SGD(student.parameters(), lr=0.1)
    F.cross_entropy(student(x), torch.randint(0, 3, (10,))).backward(); opt.step(); opt.zero_grad()
    loss = ar_loss(acts(student), acts(teacher))
    assert loss > 0
    loss.backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in student.parameters())


def test_ar_per_layer_and_reduction():
    a = {"x": torch.zeros(2, 3), "y": torch.zeros(2, 5, 5)}
    b = {"x": torch.full((2, 3), 2.), "y": torch.ones(2, 5, 5)}
    per = ar_loss_per_layer(a, b)
    assert per["x"].item() == 4 and per["y"].item() == 1
    assert ar_loss(a, b).item() == 5 and ar_loss(a, b, reduction="mean").item() == 2.5
    assert ar_loss(a, b, layers=["y"]).item() == 1
    with pytest.raises(ValueError, match="reduction"): ar_loss(a, b, reduction="max")
    with pytest.raises(KeyError, match="missing"): ar_loss(a, b, layers=["z"])
    with pytest.raises(ValueError, match="no layers"): ar_loss({}, {})


def test_lipsum_mse_matches_authors_formula_and_kld():
    g = gen(2)
    f, f0, t = torch.randn(6, 12, generator=g), torch.randn(6, 12, generator=g), torch.randn(80, 12, generator=g)
    s = 100.
    v = s * F.normalize(f, dim=-1) @ F.normalize(t, dim=-1).T
    v0 = s * F.normalize(f0, dim=-1) @ F.normalize(t, dim=-1).T
    torch.testing.assert_close(lipsum_loss(f, f0, t, scale=s), ((v - v0) ** 2).sum(-1).mean() / (2 * 80))
    torch.testing.assert_close(lipsum_loss(f, f0, t, "kld", T=2., scale=s), kd_loss(v, v0, 2.))
    assert lipsum_loss(f0, f0, t) == 0 and lipsum_loss(f0, f0, t, "kld") == 0


def test_lipsum_gradient_only_to_student():
    f = torch.randn(3, 8, requires_grad=True); f0 = torch.randn(3, 8, requires_grad=True)
    t = torch.randn(5, 8, requires_grad=True)
    lipsum_loss(f, f0, t).backward()
    assert f.grad.abs().sum() > 0 and f0.grad is None and t.grad is None


def test_random_texts_vocab_and_seed():
    ids = random_texts(50, L=8, M=80, generator=gen(3))
    assert ids.shape == (80, 8) and ids.min() >= 0 and ids.max() < 50
    assert torch.equal(ids, random_texts(50, L=8, M=80, generator=gen(3)))
    assert len(ids.unique()) > 40                                    # draws cover the vocabulary
    with pytest.raises(ValueError, match="L and M"): random_texts(50, L=0)


def test_random_texts_real_tokenizers():
    from rtd_nb.models import load_model
    tok = load_model("minilm").tokenizer
    ids = random_texts(tok, L=8, M=80)
    assert ids.shape == (80, 10)
    assert (ids[:, 0] == tok.tok.cls_token_id).all() and (ids[:, -1] == tok.tok.sep_token_id).all()
    assert not (set(ids[:, 1:-1].flatten().tolist()) & tok.special_ids)
    ctok = load_model("tiny-clip").tokenizer
    ids = random_texts(ctok, L=4, M=5)
    assert ids.shape == (5, 16) and (ids.argmax(-1) == 5).all()


def test_gram_volume():
    g = gen(4)
    fa, fb = torch.randn(8, 6, generator=g), torch.randn(8, 6, generator=g)
    Q, _ = torch.linalg.qr(torch.randn(6, 6, generator=g))
    assert gram_volume(fa, 3 * fa, fa) == 0                          # collinear views span nothing
    assert gram_volume(fa, fb) == pytest.approx(float(gram_volume(fa @ Q, 2 * fb @ Q)), rel=1e-5)
    assert 0 < gram_volume(fa, fb) <= 1
    with pytest.raises(ValueError, match="same batch"): gram_volume(fa, fa[:4])
    with pytest.raises(ValueError, match="at least 2"): gram_volume(fa)


def test_ar_ignores_padding():
    "Appending pad positions (whatever their activations) leaves AR unchanged; without a mask they would dilute it."
    g = gen(5)
    s, t = torch.randn(3, 4, 8, generator=g), torch.randn(3, 4, 8, generator=g)
    m = torch.tensor([[1, 1, 1, 0], [1, 1, 0, 0], [1, 1, 1, 1]]).bool()
    pad = lambda a: torch.cat([a, torch.randn(3, 5, 8, generator=g)], 1)
    mp = torch.cat([m, torch.zeros(3, 5, dtype=torch.bool)], 1)
    assert ar_loss({"l": pad(s)}, {"l": pad(t)}, mask=mp) == pytest.approx(float(ar_loss({"l": s}, {"l": t}, mask=m)),
                                                                           rel=1e-6)
    assert ar_loss({"l": s}, {"l": t}, mask=m) == pytest.approx(float(((s - t)[m] ** 2).mean()), rel=1e-6)
