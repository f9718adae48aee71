"""The paper's build: every table/figure script runs on a results tree in the runner's layout (shifts, main, frontier,
sweeps, ablations, bench), tables show mean ± sd with the seed count and paired 95% intervals against FT, the quoted
values and sentences equal the tables, every var/include/figure of paper.qmd is produced, the HTML renders, and a
snapshot of the results rebuilds the same tables."""
import contextlib, io, json, re, subprocess, sys, warnings
from pathlib import Path
import numpy as np, pandas as pd, pytest, yaml

ROOT = Path(__file__).resolve().parents[1]
PAPERS = ROOT/"papers"
sys.path.insert(0, str(PAPERS))
import matplotlib; matplotlib.use("Agg")
import matplotlib.pyplot as plt
from rtd_nb import report as rp
from rtd_nb.stats import paired_bootstrap, run_cells
from shortcodes import expand_shortcodes, shortcode_includes, shortcode_vars     # papers/shortcodes.py
from fixtures.synthetic import synthetic_results, RTD_VARIANTS                   # tests/fixtures/synthetic.py
import importlib.util
_spec = importlib.util.spec_from_file_location("papers_build", PAPERS/"build.py")
build = importlib.util.module_from_spec(_spec); _spec.loader.exec_module(build)     # papers/build.py, not build/

TABLES = ["tables/main.md", "tables/leaders.md", "tables/shifts.md", "tables/frontier.md", "tables/ablation.md",
          "tables/wise.md", "tables/diagnostics.md", "tables/compute.md"]
FIGURES = ["figures/frontier.png", "figures/shift.png", "figures/rtd_frontier.png", "figures/reliability.png",
           "figures/cka.png", "figures/tsne.png"]
OUTPUTS = TABLES + FIGURES
CELL_CI = r"(\*\*)?([+-]\d+\.\d|0\.0) \[([+-]\d+\.\d|0\.0), ([+-]\d+\.\d|0\.0)\](\*\*)?"

def run(*args):
    return subprocess.run([sys.executable, *map(str, args)], capture_output=True, text=True, cwd=ROOT)

def quiet(f, *a, **k):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return f(*a, **k)

@pytest.fixture(scope="module")
def built(tmp_path_factory):
    "A synthetic results tree in the runner's layout, and papers/build.py run on it (into a temporary folder)."
    tmp = tmp_path_factory.mktemp("report")
    R = quiet(synthetic_results, tmp/"results", bench=True)
    out = tmp/"papers"
    log = io.StringIO()
    with contextlib.redirect_stdout(log), contextlib.redirect_stderr(log):            # papers/build.py's main, here
        code = quiet(build.main, ["--results", str(R), "--out", str(out), "--strict"])
    assert code == 0, log.getvalue()
    return R, out, log.getvalue()

@pytest.fixture(scope="module")
def df(built):
    return quiet(rp.collect, built[0])

def _table(md:str, caption_start:str)->dict:
    "{row name: {column: cell}} of the pipe table after the caption line starting with `caption_start`."
    block = md[md.index(f"**{caption_start}"):].split("\n\n")[1]
    lines = [l for l in block.splitlines() if l.startswith("|")]
    cells = lambda l: [c.strip() for c in l.strip("|").split("|")]
    head = cells(lines[0])
    return {cells(l)[0]: dict(zip(head[1:], cells(l)[1:])) for l in lines[2:]}

def test_every_script_writes_its_file(built):
    R, out, log = built
    for o in OUTPUTS: assert (out/o).exists() and (out/o).stat().st_size > 0, o
    assert "0 missing, 0 errors" in log
    assert (out/"_variables.yml").exists()

def _by_hand(R, bench, method, key):
    "Mean and sd over seeds of a summary metric of `method`'s final model, read straight from metrics.jsonl."
    vals = []
    for cfg in (R/"main"/bench).glob("*/config.json"):
        c = json.loads(cfg.read_text())
        if c["method"] != method: continue
        for l in (cfg.parent/"metrics.jsonl").read_text().splitlines():
            d = json.loads(l)
            if d["model"] == "final" and d["split"] == "summary": vals.append(d[key])
    return np.mean(vals), np.std(vals, ddof=1), len(vals)

def test_main_table_has_mean_sd_seeds_and_paired_intervals(built):
    R, out, _ = built
    t = _table((out/"tables/main.md").read_text(), "VADER")
    assert list(t) == ["Zero-shot", "FT", "LP-FT", "WiSE-FT", "Lipsum-FT", "DiGraP", "RTD"]
    assert [r["seeds"] for r in t.values()] == ["3", "3", "3", "3", "3", "1†", "3"]       # DiGraP: one seed, marked
    for name, row in t.items():
        for c, v in row.items():
            if c == "seeds": continue
            if c.startswith("Δ"): assert v == "–" if name == "FT" else re.fullmatch(CELL_CI, v), (name, c, v)
            elif row["seeds"] == "3": assert re.fullmatch(r"\d+\.\d ± \d+\.\d", v), (c, v)
    m, s, n = _by_hand(R, "vader", "rtd", "ood/acc_mean")
    assert n == 3 and t["RTD"]["OOD mean"] == f"{100*m:.1f} ± {100*s:.1f}"
    assert "**" not in "".join(r["OOD mean"] for r in t.values())                       # no "best" without intervals

def test_deltas_are_the_paired_bootstrap_of_the_predictions(built):
    "The table's Δ OOD of RTD is `paired_bootstrap` over the RTD and FT runs' preds.npz; bold iff not a tie."
    R, out, _ = built
    t = _table((out/"tables/main.md").read_text(), "VADER")
    ood = lambda c: {k: v for k, v in c.items() if k[0] != "id_test"}    # a statistic resamples the cells it reads
    a = [ood(run_cells(R/"main"/"vader"/f"rtd-s{s}")) for s in (0, 1, 2)]
    b = [ood(run_cells(R/"main"/"vader"/f"ft-s{s}")) for s in (0, 1, 2)]
    r = paired_bootstrap(a, b, "ood")
    assert t["RTD"]["Δ OOD mean vs FT"].strip("*") == rp.fmt_ci(r)
    assert t["RTD"]["Δ OOD mean vs FT"].startswith("**") == (not r["tie"])
    idc = lambda c: {k: v for k, v in c.items() if k[0] == "id_test"}
    z = paired_bootstrap([idc(run_cells(R/"main"/"vader"/f"ft-s{s}", "zeroshot")) for s in (0, 1, 2)],
                         [idc(run_cells(R/"main"/"vader"/f"ft-s{s}")) for s in (0, 1, 2)], "id")
    assert t["Zero-shot"]["Δ ID vs FT"].strip("*") == rp.fmt_ci(z)                       # the start against FT

def test_fmnist_table_seen_unseen_and_absent_methods(built, df):
    R, out, _ = built
    md = (out/"tables/main.md").read_text()
    t = _table(md, "Fashion-MNIST-C")
    assert list(t) == ["LP probe (start)", "FT", "WiSE-FT", "DiGraP", "RTD"]
    row = t["RTD"]
    assert {"ID (clean)", "OOD seen", "OOD unseen", "Δ OOD unseen vs FT"} <= set(row)
    assert not any(c.startswith("OOD: ") for c in row)                                    # 15 types: seen/unseen means
    seen, unseen = rp.corruption_sets(df, "fmnist-c")
    assert unseen == ["snow", "frost", "fog", "elastic_transform"] and len(seen) == 11
    assert "Lipsum-FT needs a text tower" in md and "LP-FT from a linear-probe start is FT" in md
    assert "(snow, frost, fog, elastic_transform)" in md

def test_shifts_table_and_sentence(built, df):
    R, out, _ = built
    st = rp.shifts_stats(R, df)
    assert len(st) == 10 and set(zip(st.benchmark, st.start)) == {("vader", "zeroshot"), ("vader", "lp"),
                                                                   ("fmnist-c", "zeroshot"), ("fmnist-c", "lp")}
    for _, r in st.iterrows():
        assert abs(r.d_ood["delta"] - (r.ft_ood - r.start_ood)) < 1e-6 and r.d_ood["n_seeds"] == 1
    md = (out/"tables/shifts.md").read_text()
    assert rp.shifts_sentence(st) in md and md.count("| VADER") == 8
    one = st.assign(d_ood=[dict(r, lo=abs(r["lo"]) + 1e-3, hi=abs(r["hi"]) + 1e-2, tie=False) for r in st.d_ood])
    assert rp.shifts_sentence(one).startswith("No offline setting shows a clear OOD loss")

def test_bench_match_and_frontier(built, df):
    R, out, _ = built
    ov = json.loads((R/"bench"/"overhead.json").read_text())
    assert rp.bench_match(ov, "minilm", {"kd_frac": .5})["spec"] == "rtd --kd-frac 0.5"
    assert rp.bench_match(ov, "minilm", {"kd_frac": 1.})["spec"] == "rtd"
    # KD only: no AR hooks
    assert rp.bench_match(ov, "minilm", {"kd_frac": 1., "lam_ar": 0.})["spec"] == "rtd --lam-ar 0"
    assert rp.bench_match(ov, "effnet-minilm", {}) is None
    fv = rp.frontier_stats(R, "vader", df).set_index("variant")
    assert set(fv.index) == set(RTD_VARIANTS) and set(fv.step_source) == {"benchmark"}
    spec = {m["spec"]: m for m in ov["results"][0]["methods"]}
    assert fv.loc["kd_every=4", "step_rel"] == spec["rtd --kd-every 4"]["step_rel"]
    assert fv.loc["rtd", "share"] == 1.
    ff = rp.frontier_stats(R, "fmnist-c", df).set_index("variant")
    assert set(ff.step_source) == {"runs"}                                                # no benchmark of its model
    step = lambda d: next(json.loads(l)["step_s"] for l in (d/"metrics.jsonl").read_text().splitlines()
                          if json.loads(l)["model"] == "train" and json.loads(l)["split"] == "summary")
    ratio = step(R/"frontier"/"fmnist-c"/"rtd-rtd")/step(R/"main"/"fmnist-c"/"ft-s0")
    assert abs(ff.loc["rtd", "step_rel"] - ratio) < 1e-9
    c = rp.frontier_choice(fv.reset_index())
    ok = fv[(fv.share >= .8) & fv.gain.map(lambda r: r["lo"] > 0)]
    assert (c is None and ok.empty) or c.step_rel == ok.step_rel.min()
    md = (out/"tables/frontier.md").read_text()
    assert "RTD (full)" in md and rp.frontier_sentence("vader", fv.reset_index()) in md
    t = _table(md, "VADER")
    assert re.fullmatch(CELL_CI, t["kd_frac=0.5"]["OOD gain vs FT"])
    assert t["RTD (full)"]["share of RTD's gain"] == "100%"
    lost = fv.reset_index().assign(gain=lambda d: [dict(g, delta=-abs(g["delta"]) - 1, lo=-abs(g["hi"]) - 2, hi=-1.,
                                                        tie=False)
                                                   for g in d.gain])
    assert ("a loss" in rp.frontier_sentence("vader", lost) and
            "not distinguishable" not in rp.frontier_sentence("vader", lost))
    only = fv.reset_index().assign(gain=lambda d: [dict(g, delta=.005, lo=.001, hi=.009, tie=False) if v == "rtd" else
                                                   dict(g, delta=0., lo=-.005, hi=.005, tie=True)
                                                   for v, g in zip(d.variant, d.gain)])
    # only full RTD gains: each cheaper variant's verdict is named
    s = rp.frontier_sentence("vader", only)
    assert "keeps none of its gain" in s and s.count("a tie with FT") == len(only) - 1 and "kd_frac=0.5 at" in s

def test_ablation_tables(built, df):
    R, out, _ = built
    md = (out/"tables/ablation.md").read_text()
    rt, lt = _table(md, "VADER: RTD ablations"), _table(md, "VADER: Lipsum-FT ablations")
    assert list(rt)[0] == "FT (reference)"
    assert {"grid", "kd-only", "ar-only", "perturb=synonym", "layers=early"} <= set(rt)
    assert rt["ar-only"]["λ_KD"] == "0.0" and rt["layers=middle"]["AR layers"] == "layer.3"
    assert {"lipsum L=1", "lipsum kld", "lipsum bank=4096"} <= set(lt) and lt["lipsum kld"]["energy loss"] == "kld"
    for row in list(rt.values())[1:] + list(lt.values())[1:]:
        assert re.fullmatch(CELL_CI, row["OOD − FT"]) and row["seeds"] == "1†"
    st = rp.ablation_stats(R, "vader", df)
    kd = st[st.cell == "ar-only"].gain.iloc[0]
    ft = run_cells(R/"main"/"vader"/"ft-s0")
    cell = lambda d: json.loads((d/"config.json").read_text())["tags"]["ablation"]
    ar = next(d for d in (R/"ablations"/"vader").iterdir() if cell(d) == "ar-only")
    ood = lambda c: {k: v for k, v in c.items() if k[0] != "id_test"}
    assert rp.fmt_ci(kd) == rp.fmt_ci(paired_bootstrap([ood(run_cells(ar))], [ood(ft)], "ood"))   # vs main FT, seed 0

def test_wise_curves_of_every_swept_method(built, df):
    R, out, _ = built
    wc = rp.wise_curves(R, "vader", df)
    assert set(wc.method) == {"ft", "lpft", "lipsum", "rtd"} and set(wc.alpha) == {0, .25, .5, .75, 1}
    ps = rp.per_seed(df, "vader")
    for m in ("ft", "rtd"):                            # α = 1 is the method's own run, α = 0 its start (seed 0)
        c = wc[wc.method == m].set_index("alpha")
        assert abs(c.loc[1., "OOD mean"] - ps.loc[(m, 0), "OOD mean"]) < 1e-12
        assert abs(c.loc[0., "ID"] - ps.loc[("zeroshot", 0), "ID"]) < 1e-12
    t = _table((out/"tables/wise.md").read_text(), "VADER")
    assert set(t) == {"FT", "LP-FT", "Lipsum-FT", "RTD"} and re.fullmatch(r"\d+\.\d / \d+\.\d", t["RTD"]["α = 0.5"])

def test_diagnostics(built, df):
    R, out, _ = built
    ds = rp.diagnostics_stats(R, "fmnist-c", df)
    assert ds.loc["digrap", "differ_ood"] < .01 and ds.loc["rtd", "differ_ood"] > .05
    assert np.isnan(ds.loc["wise", "drift_rel"]) and np.isnan(ds.loc["ft", "differ_id"])     # derived; the reference
    assert ds.loc["rtd", "kd"] > 0 and np.isnan(ds.loc["ft", "kd"])
    md = (out/"tables/diagnostics.md").read_text()
    t = _table(md, "Fashion-MNIST-C")
    assert t["WiSE-FT"]["‖θ−θ₀‖/‖θ₀‖"] == "–" and t["RTD"]["kd (last epoch)"] != "–"
    assert "DiGraP changes fewer than 1% of FT's test predictions" in md
    a = (R/"main"/"fmnist-c"/"digrap-s0", "final"); b = (R/"main"/"fmnist-c"/"ft-s0", "final")
    pa, pb = [np.load(p/"preds.npz") for p, _ in (a, b)]
    assert abs(rp.pred_change(a, b)["id"] - (pa["final|id_test|pred"] != pb["final|id_test|pred"]).mean()) < 1e-12

def test_figures_one_legend_naming_every_method(built, df):
    R, out, _ = built
    fig = rp.frontier_plot(R, df=df)
    assert len(fig.legends) == 1 and not any(a.get_legend() for a in fig.axes)
    names = {t.get_text() for t in fig.legends[0].get_texts()}
    main = df[(df.experiment == "main") & (df.label != "train")]
    assert {rp.method_name(m) for m in set(main.label)} <= names, names
    assert {"α = 0.25", "α = 0.5", "α = 0.75"} <= names
    plt.close(fig)
    fig = rp.shift_plot(R, df=df)
    assert len(fig.legends) == 1
    for ax, b in zip(fig.axes, ("vader", "fmnist-c")):
        sh = rp._ood_rows(rp.shift_frame(R, b))
        labels = [t.get_text().split("\n") for t in ax.get_xticklabels()]
        assert [l[0].rstrip("*") for l in labels] == list(sh.split)                     # names in distance order...
        assert [l[1] for l in labels] == [f"{d:.2f}" for d in sh.distance]               # ...each with its own distance
    plt.close(fig)
    fig = rp.rtd_frontier_plot(R, df=df)
    names = {t.get_text() for t in fig.legends[0].get_texts()}
    assert {v for v in RTD_VARIANTS if v != "rtd"} | {"RTD (full)", "FT (reference)"} <= names
    plt.close(fig)

def test_variables_equal_the_tables(built):
    R, out, _ = built
    v = yaml.safe_load((out/"_variables.yml").read_text())
    md = (out/"tables/main.md").read_text()
    for b, cap in (("vader", "VADER"), ("fmnist_c", "Fashion-MNIST-C")):
        t = _table(md, cap)
        start = v[f"start_{b}"]
        for m, name in (("rtd", "RTD"), ("ft", "FT"), ("start", start)):
            assert v[f"ood_{m}_{b}"] == t[name]["OOD mean"]
            assert v[f"ece_ood_{m}_{b}"] == t[name]["ECE OOD"]
        assert v[f"d_ood_rtd_{b}"] == t["RTD"]["Δ OOD mean vs FT"].strip("*")
        assert v[f"d_worst_rtd_{b}"] == t["RTD"]["Δ Worst group vs FT"].strip("*")
        assert v[f"verdict_ood_rtd_{b}"] == ("tie" if not t["RTD"]["Δ OOD mean vs FT"].startswith("**") else
                                             "gain" if t["RTD"]["Δ OOD mean vs FT"].startswith("**+") else "loss")
        assert v[f"d_ood_rtd_{b}"] in v[f"rtd_ood_sentence_{b}"] and v[f"d_ood_rtd_{b}"] in v[f"sentence_ood_{b}"]
    assert v["d_unseen_rtd_fmnist_c"] == _table(md, "Fashion-MNIST-C")["RTD"]["Δ OOD unseen vs FT"].strip("*")
    assert v["n_seeds"] == "1" and v["n_seeds_max"] == "3" and v["ood_lora_vader"] == "n/a"   # a method not run: n/a
    assert v["unseen_types_fmnist_c"] == "snow, frost, fog, elastic_transform" and v["n_seen_fmnist_c"] == "11"

@pytest.mark.parametrize("verdicts,expect", [
    ({"rtd": (.02, .01, .03), "lipsum": (-.02, -.03, -.01), "wise": (.01, -.01, .02)},
     "On VADER, RTD has an OOD mean above FT's (RTD +2.0 [+1.0, +3.0] points) and Lipsum-FT has an OOD mean below FT's "
     "(Lipsum-FT -2.0 [-3.0, -1.0] points), with 95% intervals that exclude 0; WiSE-FT ties with FT (WiSE-FT +1.0 "
     "[-1.0, +2.0] points)."),
    ({"rtd": (.01, -.01, .02)}, "On VADER, no OOD mean differs from FT's distinguishably; RTD ties with FT (RTD +1.0 "
                                "[-1.0, +2.0] points).")])
def test_generated_sentences_follow_the_intervals(verdicts, expect):
    ci = {m: dict(delta=d, lo=lo, hi=hi, tie=lo <= 0 <= hi, n_seeds=3) for m, (d, lo, hi) in verdicts.items()}
    assert rp.ci_sentence("vader", ci) == expect
    r = ci["rtd"]
    assert ("distinguishable" in rp.rtd_sentence("vader", r)) == (not r["tie"])
    assert rp.rtd_sentence("vader", None) == "n/a"

def test_every_quoted_value_is_computed_on_the_full_fixture(built):
    "On a tree with every part, no value the paper quotes is n/a, and every value is a string."
    R, out, _ = built
    v = yaml.safe_load((out/"_variables.yml").read_text())
    keys = shortcode_vars((PAPERS/"paper.qmd").read_text())
    assert all(isinstance(x, str) for x in v.values())
    assert not [k for k in keys if v[k] in ("n/a", "")], [k for k in keys if v[k] in ("n/a", "")]

def test_paper_uses_only_defined_values_and_built_files(built):
    R, out, _ = built
    qmd = (PAPERS/"paper.qmd").read_text()
    v = yaml.safe_load((out/"_variables.yml").read_text())
    keys = shortcode_vars(qmd)
    assert len(keys) > 30 and not [k for k in keys if k not in v]
    incs = shortcode_includes(qmd); figs = re.findall(r"\]\((figures/[^)]+)\)", qmd)
    assert set(incs) == set(TABLES) and set(figs) == set(FIGURES)
    body = re.sub(r"\{\{<.*?>\}\}", "", qmd.split("## Results", 1)[1].split("## Limitations")[0])
    assert not re.search(r"\d+\.\d", body.replace("tables/", ""))          # no typed numbers in the results text

@pytest.mark.parametrize("engine", ["auto", "markdown-it"])
def test_render_expands_every_shortcode(built, engine):
    R, out, _ = built
    html = out/f"paper-{engine}.html"
    r = run(PAPERS/"render.py", "--dir", out, "--out", html, "--engine", engine)
    assert r.returncode == 0, r.stderr
    text = html.read_text()
    assert "{{<" not in text and "<table" in text
    assert "figures/frontier.png" in text and "figures/rtd_frontier.png" in text
    v = yaml.safe_load((out/"_variables.yml").read_text())
    assert v["d_ood_rtd_vader"] in text

def test_snapshot_rebuilds_identical_tables(built, tmp_path):
    "tools/snapshot.py copies configs, metrics, predictions, CSVs (no weights, no .starts/); the copy builds the same."
    R, out, _ = built
    (R/"main"/"vader"/"ft-s1"/"model.safetensors").write_bytes(b"weights")
    (R/"main"/"vader"/".starts"/"abc").mkdir(parents=True, exist_ok=True)
    (R/"main"/"vader"/".starts"/"abc"/"preds.pt").write_bytes(b"x")
    snap = importlib.util.spec_from_file_location("snapshot_tool", ROOT/"tools"/"snapshot.py")
    tool = importlib.util.module_from_spec(snap); snap.loader.exec_module(tool)
    assert tool.main(["--results", str(R), "--out", str(tmp_path/"measured")]) == 0
    files = {p.relative_to(tmp_path/"measured").as_posix() for p in (tmp_path/"measured").rglob("*") if p.is_file()}
    assert "main/vader/ft-s1/preds.npz" in files and "bench/overhead.json" in files and "main/vader/shift.csv" in files
    assert not [f for f in files if f.endswith((".safetensors", ".pt")) or "/." in f]
    assert tool.main(["--results", str(R), "--out", str(tmp_path/"measured")]) == 1    # never over a snapshot silently
    assert build.main(["--results", str(tmp_path/"measured"), "--out", str(tmp_path/"out"), "--strict",
                       "--only", "tables"]) == 0                                           # what it compares
    for t in TABLES + ["_variables.yml"]: assert (tmp_path/"out"/t).read_text() == (out/t).read_text(), t

def test_expand_shortcodes(tmp_path):
    (tmp_path/"t.md").write_text("| a |\n|---|\n| {{< var x >}} |\n")
    assert expand_shortcodes("Best: {{< var x >}}.\n{{< include t.md >}}", tmp_path, {"x": "81.2 ± 1.0"}) == \
           "Best: 81.2 ± 1.0.\n| a |\n|---|\n| 81.2 ± 1.0 |\n"
    with pytest.raises(KeyError, match="paper_values"): expand_shortcodes("{{< var nope >}}", tmp_path, {})
    with pytest.raises(FileNotFoundError, match="papers/build.py"):
        expand_shortcodes("{{< include no.md >}}", tmp_path, {})
    assert (expand_shortcodes("{{< var nope >}} {{< include no.md >}}", tmp_path, {}, strict=False) ==
            "**?nope?** **Missing: `no.md`**")
    assert shortcode_vars("a {{< var b_1 >}} c {{<var d>}}") == ["b_1", "d"]
    assert shortcode_includes("{{< include tables/main.md >}} {{< var x >}}") == ["tables/main.md"]

def test_synthetic_results_are_the_librarys_own_files(tmp_path):
    "The fixture's metrics.jsonl and preds.npz are what rtd_nb.evaluate writes: every split's metrics, the summary."
    R = quiet(synthetic_results, tmp_path/"results", benchmarks={"vader": ["tweets", "nyt"]}, methods=("rtd",),
              seeds=(0,), ablations=False, sweep=False, shifts=False, frontier=False, extras=True)
    lines = [json.loads(l) for l in (R/"main"/"vader"/"rtd-s0"/"metrics.jsonl").read_text().splitlines()]
    final = {d["split"]: d for d in lines if d["model"] == "final"}
    assert set(final) == {"id_test", "tweets", "nyt", "summary"}
    assert {"acc", "f1_macro", "ece", "nll", "n"} <= set(final["tweets"]) and final["tweets"]["n"] == 100
    s = final["summary"]
    assert abs(s["ood/acc_mean"] - (final["tweets"]["acc"] + final["nyt"]["acc"])/2) < 1e-9
    assert abs(s["delta_rob"] - (final["id_test"]["acc"] - s["ood/acc_mean"])) < 1e-9
    train = {(d["model"], d["split"]) for d in lines if d["model"] == "train"}
    assert train == {("train", "epoch"), ("train", "summary")}
    c = run_cells(R/"main"/"vader"/"rtd-s0")
    assert abs(np.mean(c[("tweets", "tweets")][0]) - final["tweets"]["acc"]) < 1e-6       # predictions = the metrics
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always"); rp.collect(R)
    assert any("synthetic" in str(x.message) for x in w)

def test_fixture_follows_the_runner():
    "The fixture's RTD variants, text-tower methods and ablation cells are the runner's (rtd_nb.experiments)."
    from rtd_nb import experiments as ex
    from fixtures import synthetic as fx
    assert fx.RTD_VARIANTS == ex.RTD_VARIANTS
    for b, B in fx.BENCH.items():                       # the fixture's methods per benchmark are the plan's
        assert B["kind"] == ex.input_kind(ex.benchmark(b)) and B["init"] == ex.benchmark(b)["init"]
        assert ([m for m in ex.MAIN_METHODS if m in fx.methods_run(b, ex.MAIN_METHODS)] ==
                ex._methods_for(b, ex.MAIN_METHODS))
    assert set(fx.SEEDED) == set(ex.SEEDED)
    names = {c["ablation"] for c in ex.ablation_cells("vader")}
    assert {"grid", "kd-only", "ar-only", "perturb=synonym", "perturb=swap", "layers=early", "layers=middle",
            "layers=late", "lipsum L=1", "lipsum L=32", "lipsum M=20", "lipsum kld", "lipsum bank=4096"} <= names

def test_missing_inputs_give_placeholders_and_strict_fails(tmp_path):
    R = quiet(synthetic_results, tmp_path/"results", benchmarks={"vader": ["tweets", "nyt"]}, methods=("ft", "rtd"),
              seeds=(0, 1), ablations=False, sweep=False, extras=False, shifts=False, frontier=False)
    r = run(PAPERS/"table_ablation.py", "--results", R, "--out", tmp_path/"p", "--strict")
    assert r.returncode == 1 and "rtd_nb reproduce ablations" in r.stderr
    assert "Not generated yet" in (tmp_path/"p"/"tables/ablation.md").read_text()
    assert build.main(["--results", str(R), "--out", str(tmp_path/"q")]) == 0      # not strict: placeholders, exit 0
    for o in OUTPUTS: assert (tmp_path/"q"/o).exists(), o
    assert "seeds" in (tmp_path/"q"/"tables/main.md").read_text()                        # what exists is built
    for o in ("tables/shifts.md", "tables/frontier.md", "tables/wise.md"):
        assert "Not generated yet" in (tmp_path/"q"/o).read_text(), o
    v = yaml.safe_load((tmp_path/"q"/"_variables.yml").read_text())
    assert v["ablation_sentence"] == "n/a" and v["wise_best_alpha_vader"] == "n/a" and v["ood_rtd_fmnist_c"] == "n/a"
    assert v["shifts_sentence"] == "n/a" and v["frontier_sentence_vader"] == "n/a"
    assert build.main(["--results", str(R), "--out", str(tmp_path/"q"), "--strict"]) == 1

def test_real_runner_output(tmp_path):
    """A tiny results root written by an earlier rtd_nb.experiments (tests/fixtures/report/real_vader): no preds.npz,
    the old sweep/ folder; what it has builds, the intervals read n/a."""
    R = ROOT/"tests"/"fixtures"/"report"/"real_vader"
    assert build.main(["--results", str(R), "--out", str(tmp_path)]) == 0
    v = yaml.safe_load((tmp_path/"_variables.yml").read_text())
    t = _table((tmp_path/"tables/main.md").read_text(), "VADER")
    assert set(t) == {"Zero-shot", "FT", "RTD"} and {r["seeds"] for r in t.values()} == {"2"}
    assert v["ood_rtd_vader"] == t["RTD"]["OOD mean"] and v["n_seeds_vader"] == "2"
    assert t["RTD"]["Δ OOD mean vs FT"] == "n/a" and v["rtd_ood_sentence_vader"] == "n/a"
    assert v["wise_best_alpha_vader"] in {"0", "0.5", "1"}
    assert v["farthest_split_vader"] in {"tweets", "amazon", "nyt"}

def test_compute_table_marks_missing_step_times_na(tmp_path):
    "A method one benchmark did not time (its runs have no `train` line) reads 'n/a' there, never 'nan×'."
    R = quiet(synthetic_results, tmp_path/"results", ablations=False, sweep=False, shifts=False, frontier=False,
              extras=False)
    method = lambda c: json.loads(c.read_text())["method"]
    runs = [c.parent for c in (R/"main"/"fmnist-c").glob("*/config.json") if method(c) == "rtd"]
    assert runs
    for d in runs:                          # RTD loses its step times on Fashion-MNIST-C only
        m = d/"metrics.jsonl"
        m.write_text("".join(l + "\n" for l in m.read_text().splitlines() if json.loads(l)["model"] != "train"))
    t = quiet(rp.compute_table, R)
    assert not any("nan" in str(c) for c in t.to_numpy().ravel()), t
    fm, va = "Fashion-MNIST-C: step / FT", "VADER: step / FT"
    assert t.loc["RTD", fm] == "n/a" and t.loc["RTD", va].endswith("×"), t


MEASURED = ROOT/"papers"/"measured"

def test_measured_snapshot_rebuilds_the_committed_tables(tmp_path):
    "The committed full-scale snapshot (papers/measured/results) rebuilds exactly the committed tables and values."
    runs = list((MEASURED/"results").glob("**/config.json"))
    assert runs, "papers/measured/results holds no runs"
    assert not list((MEASURED/"results").glob("**/*.safetensors"))                      # no weights in the repository
    assert build.main(["--results", str(MEASURED/"results"), "--out", str(tmp_path/"out"), "--only", "tables"]) == 0
    assert not (tmp_path/"out"/"figures").exists()                                        # --only: tables alone
    committed = sorted((MEASURED/"tables").glob("*.md")) + [MEASURED/"_variables.yml"]
    assert len(committed) > 1
    for t in committed:
        rel = t.relative_to(MEASURED)
        assert (tmp_path/"out"/rel).read_text() == t.read_text(), rel


def test_parts_copied_from_the_measurements_are_read_and_said(built, tmp_path):
    ("A part `make paper` did not run (the ablations, the benchmark) is read from its copy of the committed "
     "measurements under R/measured/, and the paper says which parts those are.")
    import shutil
    R = tmp_path/"r"; shutil.copytree(built[0], R)
    (R/"measured"/"bench").mkdir(parents=True)
    shutil.move(R/"ablations", R/"measured"/"ablations")
    shutil.move(R/"bench"/"overhead.json", R/"measured"/"bench"/"overhead.json")
    assert rp.overhead_path(R) == R/"measured"/"bench"/"overhead.json"
    v = quiet(rp.paper_values, R)
    assert v["measured_copy_sentence"].startswith("This build did not run the seeds' ablations and the step-time "
                                                  "benchmark"), v["measured_copy_sentence"]
    assert "evaluated in fp32" in v["measured_copy_sentence"]                       # the copied runs' own precision
    v0 = quiet(rp.paper_values, built[0])
    assert v["ablation_sentence"] == v0["ablation_sentence"]                                     # the same runs
    assert v0["measured_copy_sentence"] == "Every run the paper reads is in this build's results root."
