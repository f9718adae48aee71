"Properties of the evaluation protocol (rtd_nb.evaluate) and the representation analysis (rtd_nb.analysis)."
import json, warnings
import numpy as np, pandas as pd, pytest, torch, torch.nn as nn
from torch.utils.data import DataLoader, TensorDataset
from fastai.learner import Learner
from fastai.data.core import DataLoaders
from fastai.optimizer import SGD
from rtd_nb.core import write_config
from rtd_nb.evaluate import (split_metrics, group_accuracy, evaluate, evaluate_preds, predict, eval_mode, log_eval,
                             results_table, mahalanobis, ClassGaussians, shift_distances, near_far, calibration_bins,
                             measure_cost, cost_table, adversarial_accuracy, count_params, flops_per_example)
from rtd_nb.analysis import linear_cka, cka_per_layer, pool_activation, tsne


class GroupDS(TensorDataset):
    def __init__(self, x, y, groups): super().__init__(x, y); self.groups = np.asarray(groups)


def calibrated(conf, n=1000, seed=0):
    "Binary predictions whose confidence in each bin equals the accuracy in it (exactly, per confidence value)."
    rng = np.random.default_rng(seed)
    logits, ys = [], []
    for c in conf:
        k = int(round(c * n))
        y = np.r_[np.zeros(k, int), np.ones(n - k, int)]; rng.shuffle(y)
        logits.append(np.log(np.tile([c, 1 - c], (n, 1)))); ys.append(y)
    return torch.tensor(np.concatenate(logits), dtype=torch.float), torch.tensor(np.concatenate(ys))


def test_ece_calibrated_vs_overconfident():
    lg, y = calibrated([0.55, 0.7, 0.85, 0.97])
    assert split_metrics(lg, y)["ece"] == pytest.approx(0, abs=1e-5)
    over = torch.stack([torch.full((len(y),), 0.999), torch.full((len(y),), 0.001)], 1).log()
    r = split_metrics(over, y)
    assert r["ece"] == pytest.approx(0.999 - r["acc"], abs=1e-4) and r["ece"] > 0.1


def test_metrics_hand_computed():
    p = torch.tensor([[.9, .1], [.9, .1], [.6, .4], [.3, .7]]); t = torch.tensor([0, 1, 0, 1])
    r = split_metrics(p.log(), t)
    assert r["acc"] == pytest.approx(0.75) and r["f1_macro"] == pytest.approx(11/15)
    assert r["ece"] == pytest.approx(0.375) and r["nll"] == pytest.approx(-np.log([.9, .1, .6, .7]).mean(), abs=1e-5)
    cb = calibration_bins(p.log(), t)
    assert cb.n.sum() == 4 and cb.n.iloc[13] == 2 and cb.acc.iloc[13] == 0.5        # 0.9 lies in (13/15, 14/15]


def test_worst_group_is_min_of_group_accuracies():
    g = torch.Generator().manual_seed(0)
    pred, y = torch.randint(0, 3, (200,), generator=g), torch.randint(0, 3, (200,), generator=g)
    groups = np.array(list("abcde"))[torch.randint(0, 5, (200,), generator=g).numpy()]
    ga = group_accuracy(pred, y, groups)
    manual = {k: float((pred[groups == k] == y[groups == k]).float().mean()) for k in "abcde"}
    assert ga == pytest.approx(manual)
    logits = nn.functional.one_hot(pred, 3).float() * 5
    from rtd_nb.evaluate import Preds
    r = evaluate_preds({"id_test": Preds(logits[:100], y[:100], groups[:100]),
                        "shifted": Preds(logits[100:], y[100:], groups[100:])})
    per = [group_accuracy(pred[s], y[s], groups[s]) for s in (slice(0, 100), slice(100, 200))]
    assert r["worst_group/acc"] == pytest.approx(min(min(d.values()) for d in per))
    assert r["shifted/worst_group_acc"] == pytest.approx(min(per[1].values()))
    assert (r["delta_rob"] == pytest.approx(r["id_test/acc"] - r["shifted/acc"]) ==
            pytest.approx(r["id_test/acc"] - r["ood/acc_mean"]))
    p_all = Preds(logits, y)
    with pytest.raises(ValueError, match="reserved"): evaluate_preds({"id_test": p_all, "ood": p_all})


def _toy_loaders():
    g = torch.Generator().manual_seed(1)
    x = torch.randn(96, 6, generator=g); y = (x[:, 0] > 0).long()
    mk = lambda s, grp: DataLoader(GroupDS(x[s], y[s], [grp] * len(x[s])), batch_size=16)
    return {"id_test": mk(slice(0, 48), "id"),
            "shifted": DataLoader(GroupDS(x[48:] + 1, y[48:], ["s1"] * 24 + ["s2"] * 24), batch_size=16)}


def test_evaluate_deterministic_and_restores_mode():
    torch.manual_seed(0)
    m = nn.Sequential(nn.Linear(6, 16), nn.Dropout(0.5), nn.ReLU(), nn.Linear(16, 2)).train()
    m[1].eval()                                          # a submodule with its own mode must keep it
    loaders = _toy_loaders()
    r1, r2 = evaluate(m, loaders), evaluate(m, loaders)
    assert r1 == r2
    assert [x.training for x in m.modules()] == [True, True, False, True, True]
    assert {"id_test/acc", "shifted/ece", "shifted/f1_macro", "id_test/nll", "ood/acc_mean", "delta_rob",
            "worst_group/acc", "shifted/worst_group_acc"} <= set(r1)
    with pytest.raises(KeyError, match="pass id_key="): evaluate(m, {"valid": loaders["id_test"]})


def test_predict_refuses_shuffled_groups():
    x, y = torch.randn(8, 2), torch.zeros(8, dtype=torch.long)
    with pytest.raises(ValueError, match="shuffle=False"):
        predict(nn.Linear(2, 2), DataLoader(GroupDS(x, y, ["a"] * 8), shuffle=True))


def test_adversarial_accuracy_drops_and_is_deterministic():
    torch.manual_seed(0)
    x = torch.rand(32, 3, 4, 4); w = torch.randn(48)
    y = ((x.flatten(1) - 0.5) @ w > 0).long()
    m = nn.Sequential(nn.Flatten(), nn.Linear(48, 2))
    with torch.no_grad():
        m[1].weight.copy_(torch.stack([-w, w]) / 2); m[1].bias.copy_(torch.stack([w.sum(), -w.sum()]) / 4)
    dl = DataLoader(TensorDataset(x, y), batch_size=16)
    r = evaluate(m, {"id_test": dl}, adv_eps=0.1, adv_steps=5)
    assert r["id_test/acc"] == 1.0 and r["id_test/adv_acc"] < 0.5 and r["adv_eps"] == 0.1
    assert adversarial_accuracy(m, dl, 0.1, 5) == r["id_test/adv_acc"]
    with pytest.raises(TypeError, match="token ids"):
        adversarial_accuracy(m, DataLoader(TensorDataset(torch.zeros(4, 5, dtype=torch.long),
                                                         torch.zeros(4, dtype=torch.long))), 0.1)


def test_log_eval_appends_and_never_overwrites(tmp_path):
    m = nn.Linear(6, 2); r = evaluate(m, _toy_loaders())
    write_config(tmp_path, dict(method="toy", seed=0))
    recs = log_eval(tmp_path, r, model="zeroshot", epoch=0)
    assert [x["split"] for x in recs] == ["id_test", "shifted", "summary"]
    before = (tmp_path/"metrics.jsonl").read_text()
    with pytest.warns(UserWarning, match="never overwritten"): assert log_eval(tmp_path, r, model="zeroshot") == []
    assert (tmp_path/"metrics.jsonl").read_text() == before
    log_eval(tmp_path, r, model="final")
    df = results_table(tmp_path)
    assert len(df) == 6 and set(df.model) == {"zeroshot", "final"} and (df["cfg.method"] == "toy").all()
    assert df.query("model == 'final' and split == 'shifted'").acc.item() == pytest.approx(r["shifted/acc"])
    assert json.loads(before.splitlines()[0])["epoch"] == 0
    lg = results_table(tmp_path, long=True)
    assert {"run", "model", "split", "metric", "value"} <= set(lg.columns)


def test_mahalanobis_zero_at_mean_and_larger_when_shifted():
    g = torch.Generator().manual_seed(0)
    X = torch.randn(300, 10, generator=g) * torch.linspace(0.5, 2, 10); y = torch.arange(300) % 3
    X = X + y[:, None].float() * 4
    cg = ClassGaussians.fit(X, y)
    assert torch.allclose(cg.distance(cg.means.float()), torch.zeros(3), atol=1e-4)
    one = ClassGaussians.fit(X)                                          # one Gaussian: 0 at the training mean
    assert one.distance(X.mean(0, keepdim=True)).item() == pytest.approx(0, abs=1e-4)
    fresh = torch.randn(100, 10, generator=g) * torch.linspace(0.5, 2, 10)
    assert cg.distance(fresh - 5).mean() > cg.distance(fresh).mean() + 1
    # identity precision: Euclidean
    assert mahalanobis(torch.tensor([[3., 4.]]), torch.zeros(1, 2), torch.eye(2)).item() == pytest.approx(5)


def test_shift_distances_orders_sets():
    class Feat(nn.Module):
        def features(self, x): return x
        def forward(self, x): return x
    g = torch.Generator().manual_seed(0)
    mk = lambda shift: DataLoader(TensorDataset(torch.randn(200, 8, generator=g) + shift,
                                                torch.zeros(200, dtype=torch.long)), batch_size=50)
    d = shift_distances(Feat(), mk(0), {"id_test": mk(0), "near": mk(0.3), "far": mk(3.)}, normalize=False)
    assert list(d.split) == ["id_test", "near", "far"] and list(d["shift"]) == ["ID", "near", "far"]
    assert near_far(pd.Series(dict(a=1., b=1.1, c=9.))).to_dict() == dict(a="near", b="near", c="far")


def test_cka_properties():
    g = torch.Generator().manual_seed(0)
    X = torch.randn(60, 12, generator=g)
    Q, _ = torch.linalg.qr(torch.randn(12, 12, generator=g))
    assert linear_cka(X, X) == pytest.approx(1)
    assert linear_cka(X, X @ Q) == pytest.approx(1)
    assert linear_cka(X, 0.01 * X) == pytest.approx(1)
    assert linear_cka(X[:8], 7 * X[:8] @ Q) == pytest.approx(1)          # Gram form
    Y = torch.randn(60, 5, generator=g)
    assert linear_cka(X, Y) == pytest.approx(linear_cka(Y, X)) and linear_cka(X, Y) < 0.6


def test_cka_per_layer_and_hooks_removed():
    from rtd_nb.hooks import count_hooks
    torch.manual_seed(0)
    t = nn.Sequential(nn.Sequential(nn.Linear(4, 8), nn.ReLU()), nn.Sequential(nn.Linear(8, 8), nn.ReLU()),
                      nn.Linear(8, 2))
    dl = DataLoader(TensorDataset(torch.randn(48, 4), torch.zeros(48, dtype=torch.long)), batch_size=16)
    c = cka_per_layer(t, t, dl)
    assert list(c.layer) == ["0", "1"] and np.allclose(c.cka, 1)
    assert count_hooks(t) == 0
    assert pool_activation(torch.ones(2, 5, 3), torch.tensor([[1, 1, 0, 0, 0], [1] * 5])).shape == (2, 3)


def test_tsne_seeded():
    X = torch.randn(40, 6)
    assert np.allclose(tsne(X, seed=1, perplexity=5), tsne(X, seed=1, perplexity=5))


def test_cost_restores_weights_and_counts_flops():
    dl = DataLoader(TensorDataset(torch.randn(64, 4), torch.randint(0, 3, (64,))), batch_size=8, shuffle=True)
    learn = Learner(DataLoaders(dl, dl), nn.Linear(4, 3), loss_func=nn.CrossEntropyLoss(), opt_func=SGD, lr=0.5)
    w = learn.model.weight.detach().clone()
    c = measure_cost(learn, n_steps=2)
    assert torch.equal(learn.model.weight, w) and learn.model.training
    assert c["infer_flops_per_example"] == 2*4*3 == flops_per_example(learn.model, torch.randn(5, 4))
    assert c["train_flops_per_example"] > c["infer_flops_per_example"] and c["step_time_s"] > 0
    assert count_params(learn.model) == dict(trainable_params=15, total_params=15)
    probe = nn.Sequential(nn.Linear(4, 4), nn.Linear(4, 3)); probe[0].requires_grad_(False)
    ct = cost_table(dict(ft=learn, probe=Learner(DataLoaders(dl, dl), probe, loss_func=nn.CrossEntropyLoss(),
                                                 opt_func=SGD)), n_steps=2)
    assert (ct.loc["ft", "step_time_s_rel"] == 1 and ct.loc["probe", "trainable_params"] == 15 and
            ct.loc["probe", "total_params_rel"] == 35/15)
