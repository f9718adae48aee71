"Property tests of rtd_nb.perturb (vision) and rtd_nb.text_perturb (text) on real images, sentences and weights."
import random
import pytest, torch, torch.nn as nn, torch.nn.functional as F
import skimage.data

from rtd_nb.perturb import (PERTURBATIONS, ADVERSARIAL, ATTACK_EPS, EVAL_ONLY, IMAGENET_C_NAMES, Perturb, fgsm, pgd,
                            imagenet_c, seen_corruptions, eval_shifts, gaussian_blur, check_images)
from rtd_nb import text_perturb as tp


def chelsea(size=64):
    x = torch.tensor(skimage.data.chelsea()).permute(2, 0, 1)[None].float() / 255
    return F.interpolate(x[..., :, 40:340], size=size, mode="bilinear", antialias=True).clamp(0, 1)


@pytest.fixture(scope="module")
def cat(): return chelsea(64)


# ---------------------------------------------------------------- vision perturbations
@pytest.mark.parametrize("name", list(PERTURBATIONS))
def test_vision_properties(name, cat):
    fn = PERTURBATIONS[name]
    assert torch.equal(fn(cat, 0, 0), cat)                            # severity 0 = identity
    dist = []
    for s in range(1, 6):
        y = fn(cat, s, 7)
        assert y.shape == cat.shape and y.dtype == cat.dtype and y.device == cat.device
        assert 0 <= y.min() and y.max() <= 1
        assert torch.equal(fn(cat, s, 7), y)                          # same seed → same output
        dist.append((y - cat).abs().mean().item())
    assert all(a < b for a, b in zip(dist, dist[1:])), dist           # monotone in severity on a real image


@pytest.mark.parametrize("name", ["jitter", "noise", "motion", "stain"])
def test_random_members_depend_on_seed(name, cat):
    fn = PERTURBATIONS[name]
    assert not torch.equal(fn(cat, 3, 0), fn(cat, 3, 1))


def test_batch_is_per_example(cat):
    b = torch.cat([cat, cat])
    y = PERTURBATIONS["noise"](b, 2, 0)
    assert not torch.equal(y[0], y[1])                                # each image its own draw
    assert torch.equal(gaussian_blur(b, 2)[1], gaussian_blur(cat, 2)[0])


def test_grayscale_and_dtype():
    x = torch.rand(2, 1, 40, 40, dtype=torch.float64)
    for name, fn in PERTURBATIONS.items():
        if name == "stain": continue
        y = fn(x, 3, 0)
        assert y.shape == x.shape and y.dtype == torch.float64
    with pytest.raises(ValueError, match="RGB"): PERTURBATIONS["stain"](x, 1, 0)


def test_bad_input_names_the_fix(cat):
    with pytest.raises(ValueError, match="0..5"): PERTURBATIONS["blur"](cat, 6)
    with pytest.raises(ValueError, match=r"\(B,C,H,W\)"): check_images(cat[0])
    with pytest.raises(ValueError, match=r"\[0,1\]"): Perturb(["blur"])(cat * 2)
    with pytest.raises(TypeError, match="255"): Perturb(["blur"])((cat * 255).to(torch.uint8))
    with pytest.raises(ValueError, match="accepted: vision"): Perturb(["gaussian"])
    with pytest.raises(ValueError, match="lo <= hi"): Perturb(["blur"], severity=(3, 1))
    with pytest.raises(ValueError, match="one per name"): Perturb(["blur", "jpeg"], weights=[1])
    with pytest.raises(TypeError, match="generator must be"): PERTURBATIONS["noise"](cat, 1, -1)


# ---------------------------------------------------------------- attacks on a real model
@pytest.fixture(scope="module")
def effnet():
    from rtd_nb.models import load_effnet_lite0
    m = load_effnet_lite0(pretrained=True)
    mean, std = (torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1),
                 torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1))
    class Net(nn.Module):
        def __init__(self):
            super().__init__(); self.m = m
        def forward(self, x): return self.m((x - mean) / std)
    return Net()


@pytest.mark.parametrize("attack", ["fgsm", "pgd"])
def test_attack_raises_loss_and_respects_eps(attack, effnet):
    x = chelsea(128)
    with torch.no_grad(): y = effnet.eval()(x).argmax(-1)
    effnet.train()
    effnet.m.classifier.weight.requires_grad_(False)                 # a mix of frozen and trainable parameters
    flags = [p.requires_grad for p in effnet.parameters()]
    eps = 2 / 255
    xa = fgsm(effnet, x, y, eps) if attack == "fgsm" else pgd(effnet, x, y, eps, eps / 2, 3, generator=0)
    assert effnet.training and all(m.training for m in effnet.modules())
    assert [p.requires_grad for p in effnet.parameters()] == flags
    assert all(p.grad is None for p in effnet.parameters())
    assert (xa - x).abs().max() <= eps + 1e-6 and 0 <= xa.min() and xa.max() <= 1
    ce = lambda z: F.cross_entropy(effnet.eval()(z), y).item()
    with torch.no_grad(): assert ce(xa) > ce(x) + 0.1
    effnet.m.classifier.weight.requires_grad_(True)


def test_fgsm_step_is_exactly_eps():
    lin = nn.Sequential(nn.Flatten(), nn.Linear(12, 3))
    x, y = torch.full((4, 3, 2, 2), .5), torch.tensor([0, 1, 2, 0])
    d = (fgsm(lin, x, y, 0.03) - x).abs()
    assert torch.allclose(d, torch.full_like(d, 0.03), atol=1e-6)


def test_mode_restored_after_exception():
    class Boom(nn.Module):
        def __init__(self): super().__init__(); self.l = nn.Linear(12, 2)
        def forward(self, x): raise RuntimeError("boom")
    m = Boom().train()
    with pytest.raises(RuntimeError): fgsm(m, torch.rand(1, 3, 2, 2), torch.tensor([0]), 0.1)
    assert m.training and m.l.weight.requires_grad


def test_perturb_pgd_member(effnet):
    x = torch.cat([chelsea(96)] * 2)
    p = Perturb(["pgd", "fgsm"], severity=3, model=effnet, pgd_steps=1)
    xa = p(x)
    assert (xa - x).abs().max() <= ATTACK_EPS[2] + 1e-6
    assert not torch.equal(xa, x)


# ---------------------------------------------------------------- composition
def test_perturb_reproducible_and_sampled(cat):
    b = torch.cat([cat] * 6)
    names = list(PERTURBATIONS)
    p = Perturb(names, severity=(1, 3), k=2, seed=3)
    a = p(b)
    assert torch.equal(Perturb(names, severity=(1, 3), k=2, seed=3)(b), a)
    assert not torch.equal(p(b), a)                                   # the sequence moves on
    assert torch.equal(p.reset()(b), a)
    assert torch.equal(Perturb(names, severity=0, k=3)(b), b)
    idx, sev = Perturb(names, k=3, weights=[0, 0, 1, 1, 1, 0, 0]).draw(200)
    assert set(idx.flatten().tolist()) == {2, 3, 4}
    assert (idx[:, 0] != idx[:, 1]).all() and sev.min() >= 1 and sev.max() <= 3


# ---------------------------------------------------------------- ImageNet-C evaluation shifts
def test_eval_shifts_are_apart():
    assert len(IMAGENET_C_NAMES) == 15
    seen = set(seen_corruptions(list(PERTURBATIONS) + list(ADVERSARIAL)))
    assert not seen & set(EVAL_ONLY) and "contrast" in seen and "motion_blur" in seen
    assert set(eval_shifts([])) == set(IMAGENET_C_NAMES)


def test_imagenet_c_wrapper(cat):
    a = imagenet_c(cat, "gaussian_noise", 3, seed=5)
    assert torch.equal(a, imagenet_c(cat, "gaussian_noise", 3, seed=5)) and a.shape == cat.shape
    assert torch.equal(imagenet_c(cat, "fog", 0), cat)
    small = torch.rand(2, 1, 28, 28)
    assert imagenet_c(small, "frost", 2).shape == small.shape
    with pytest.raises(ValueError, match="accepted"): imagenet_c(cat, "hail", 1)


# ---------------------------------------------------------------- text
SENT = "The movie was a wonderful surprise, and the acting felt honest."


@pytest.mark.parametrize("fn", [tp.synonym_replace, tp.word_dropout, tp.word_swap, tp.char_typos, tp.insert_oov])
def test_string_perturbations(fn):
    assert fn(SENT, 0.) == SENT                                       # rate 0 = identity
    assert fn(SENT, .3, 4) == fn(SENT, .3, 4)                         # same seed → same output
    assert fn(SENT, 1., 0) != SENT
    with pytest.raises(ValueError, match=r"\[0, 1\]"): fn(SENT, 1.5)
    with pytest.raises(TypeError, match="str"): fn([SENT], .1)


def test_wordnet_synonyms():
    assert {"film", "picture"} <= set(tp.synonyms("movie"))
    out = tp.synonym_replace("wonderful movie", 1., 0).split()
    assert out[0] in tp.synonyms("wonderful") and out[1] in tp.synonyms("movie")


def test_english_wordnet_reader_gives_nltks_synonyms():
    "The reader without nltk's multilingual sense map finds the same synsets and lemmas as nltk's own corpus loader."
    import nltk
    from nltk.corpus import wordnet as standard
    wn = tp.wordnet()
    assert wn is tp.wordnet() and wn.map30 is None                      # built once, without the sense map
    words = "good movies ran terrible happily films better amazing bad loved plot boring acting".split()
    lemmas = lambda r, w: sorted(l.name() for s in r.synsets(w) for l in s.lemmas())
    assert all(lemmas(wn, w) == lemmas(standard, w) for w in words)
    assert str(tp.nltk_data_dir()) in nltk.data.path


def test_token_ops():
    ids = torch.tensor([[101, 5, 6, 7, 8, 102, 0, 0]] * 3)
    d = tp.token_dropout(ids, .5, 0, 0, {101, 102})
    assert d.shape == ids.shape and (d[:, 0] == 101).all() and ((d == 102).sum(1) == 1).all()
    assert torch.equal(d, tp.token_dropout(ids, .5, 0, 0, {101, 102}))
    s = tp.token_swap(ids, 1., 0, 0, {101, 102})
    assert torch.equal(s.sort(1).values, ids.sort(1).values) and (s[:, 5] == 102).all()


def test_hotflip_first_order_exact_on_linear_loss():
    torch.manual_seed(0)
    bag = nn.Sequential(nn.Embedding(30, 5), nn.Flatten(), nn.Linear(20, 3))
    lin = lambda z, y: -z.gather(1, y[:, None]).sum()
    ids, y = torch.tensor([[1, 4, 9, 2]]), torch.tensor([2])
    g = tp.hotflip_gains(bag, ids, y, loss_func=lin)
    for pos, v in [(0, 3), (2, 17)]:
        alt = ids.clone(); alt[0, pos] = v
        assert abs(g[0, pos, v].item() - (lin(bag(alt), y) - lin(bag(ids), y)).item()) < 1e-4
    out = tp.hotflip(bag, ids, y, n_flips=2, k=4, special_ids={1}, pad_id=0)
    assert out[0, 0] == 1 and (out != ids).sum() == 2
    with torch.no_grad(): assert F.cross_entropy(bag(out), y) > F.cross_entropy(bag(ids), y)


def test_backtranslation_tiny_model(tmp_path):
    sents = [SENT, "I did not like it at all.", "A fine film."]
    bt = tp.BackTranslator(tp.tiny_seq2seq(tmp_path / "f", sents), tp.tiny_seq2seq(tmp_path / "b", sents, 1),
                           max_new_tokens=8)
    out = bt(sents)
    assert len(out) == 3 and all(isinstance(o, str) for o in out) and bt(sents) == out
    assert isinstance(bt(SENT), str)
    with pytest.raises(Exception, match="huggingface-cli download"): tp.load_seq2seq("Helsinki-NLP/opus-mt-en-de")


def test_text_perturb_on_ids():
    from transformers import AutoTokenizer
    from rtd_nb.models import Tokenizer, minilm_path
    tok = Tokenizer(AutoTokenizer.from_pretrained(str(minilm_path())))
    ids = tok([SENT, "awful, simply awful", "I loved every minute of it"], max_len=32)
    names = ["synonym", "dropout", "swap", "typo", "oov"]
    a = Perturb(names, severity=(2, 5), k=2, seed=1, tokenizer=tok)(ids)
    assert a.shape == ids.shape and a.dtype == ids.dtype and not torch.equal(a, ids)
    assert torch.equal(Perturb(names, severity=(2, 5), k=2, seed=1, tokenizer=tok)(ids), a)
    assert torch.equal(Perturb(names, severity=0, tokenizer=tok)(ids), ids)
    assert (a[:, 0] == ids[:, 0]).all()
    with pytest.raises(ValueError, match="mix vision and text"): Perturb(["typo", "jpeg"])
    with pytest.raises(ValueError, match="need a tokenizer"): Perturb(["typo"])(ids)
    strs = Perturb(["typo", "oov"], severity=2, seed=0)([SENT, SENT])
    assert len(strs) == 2 and all(isinstance(s, str) for s in strs)
