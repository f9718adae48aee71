"""The paper's build: every table/figure script runs on a results tree, tables show mean ± sd with the seed count,
the quoted values equal the tables, every var/include/figure of paper.qmd is produced, and the HTML renders."""
import json, re, subprocess, sys, warnings
from pathlib import Path
import numpy as np, pytest, yaml

ROOT = Path(__file__).resolve().parents[1]
PAPERS = ROOT/"papers"
sys.path.insert(0, str(PAPERS))
from rtd_nb import report as rp
from shortcodes import expand_shortcodes, shortcode_includes, shortcode_vars     # papers/shortcodes.py
from fixtures.synthetic import synthetic_results                                 # tests/fixtures/synthetic.py
import importlib.util
_spec = importlib.util.spec_from_file_location("papers_build", PAPERS/"build.py")
build = importlib.util.module_from_spec(_spec); _spec.loader.exec_module(build)     # papers/build.py (not the build/ folder)

OUTPUTS = ["tables/main.md", "tables/ablation.md", "tables/compute.md", "figures/frontier.png", "figures/shift.png",
           "figures/reliability.png", "figures/cka.png", "figures/tsne.png"]

def run(*args):
    return subprocess.run([sys.executable, *map(str, args)], capture_output=True, text=True, cwd=ROOT)

@pytest.fixture(scope="module")
def built(tmp_path_factory):
    "A synthetic results tree in the runner's layout, and papers/build.py run on it (into a temporary folder)."
    tmp = tmp_path_factory.mktemp("report")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        R = synthetic_results(tmp/"results", bench=True)
    out = tmp/"papers"
    r = run(PAPERS/"build.py", "--results", R, "--out", out, "--strict")
    assert r.returncode == 0, r.stdout + r.stderr
    return R, out, r.stdout

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

def test_main_table_has_mean_sd_and_seed_count(built):
    R, out, _ = built
    t = _table((out/"tables/main.md").read_text(), "VADER")
    assert list(t) == ["Zero-shot", "FT", "LP-FT", "WiSE-FT", "Lipsum-FT", "RTD"]
    for row in t.values():
        assert row["seeds"] == "3"
        for c, v in row.items():
            if c != "seeds": assert re.fullmatch(r"(\*\*)?-?\d+\.\d ± \d+\.\d(\*\*)?", v), (c, v)
    m, s, n = _by_hand(R, "vader", "rtd", "ood/acc_mean")
    assert n == 3 and t["RTD"]["OOD mean"].strip("*") == f"{100*m:.1f} ± {100*s:.1f}"
    assert sum(v["OOD mean"].startswith("**") for v in t.values()) == 1          # one best per column
    assert "Fashion-MNIST-C" in (out/"tables/main.md").read_text()

def test_variables_equal_the_tables(built):
    R, out, _ = built
    v = yaml.safe_load((out/"_variables.yml").read_text())
    md = (out/"tables/main.md").read_text()
    for b, cap in (("vader", "VADER"), ("fmnist_c", "Fashion-MNIST-C")):
        t = _table(md, cap)
        for m, name in (("rtd", "RTD"), ("ft", "FT"), ("zeroshot", "Zero-shot")):
            assert v[f"ood_{m}_{b}"] == t[name]["OOD mean"].strip("*")
            assert v[f"id_{m}_{b}"] == t[name]["ID"].strip("*")
            assert v[f"ece_ood_{m}_{b}"] == t[name]["ECE OOD"].strip("*")
        best = next(k for k, r in t.items() if r["OOD mean"].startswith("**"))
        assert v[f"best_ood_method_{b}"] == best and v[f"best_ood_value_{b}"] == t[best]["OOD mean"].strip("*")
        ranks = sorted(t, key=lambda k: -float(t[k]["OOD mean"].strip("*").split()[0]))
        assert v[f"rtd_rank_ood_{b}"].split(" of ") == [str(ranks.index("RTD") + 1), str(len(t))] or \
               t[ranks[ranks.index("RTD") - 1]]["OOD mean"].split()[0].strip("*") == t["RTD"]["OOD mean"].split()[0].strip("*")
    assert v["n_seeds"] == "3" and v["ood_lora_vader"] == "n/a"                  # a method not run is defined, n/a

def test_paper_uses_only_defined_values_and_built_files(built):
    R, out, _ = built
    qmd = (PAPERS/"paper.qmd").read_text()
    v = yaml.safe_load((out/"_variables.yml").read_text())
    keys = shortcode_vars(qmd)
    assert len(keys) > 30 and not [k for k in keys if k not in v]
    incs = shortcode_includes(qmd); figs = re.findall(r"\]\((figures/[^)]+)\)", qmd)
    assert set(incs) == {o for o in OUTPUTS if o.startswith("tables/")} and set(figs) == {o for o in OUTPUTS if o.startswith("figures/")}
    body = re.sub(r"\{\{<.*?>\}\}", "", qmd.split("## Results", 1)[1].split("## Limitations")[0])
    assert not re.search(r"\d+\.\d", body.replace("tables/", ""))                  # no typed numbers in the results text

@pytest.mark.parametrize("engine", ["auto", "markdown-it"])
def test_render_expands_every_shortcode(built, engine):
    R, out, _ = built
    html = out/f"paper-{engine}.html"
    r = run(PAPERS/"render.py", "--dir", out, "--out", html, "--engine", engine)
    assert r.returncode == 0, r.stderr
    text = html.read_text()
    assert "{{<" not in text and "<table" in text and "figures/frontier.png" in text
    v = yaml.safe_load((out/"_variables.yml").read_text())
    assert v["best_ood_value_vader"] in text

def test_expand_shortcodes(tmp_path):
    (tmp_path/"t.md").write_text("| a |\n|---|\n| {{< var x >}} |\n")
    assert expand_shortcodes("Best: {{< var x >}}.\n{{< include t.md >}}", tmp_path, {"x": "81.2 ± 1.0"}) == \
           "Best: 81.2 ± 1.0.\n| a |\n|---|\n| 81.2 ± 1.0 |\n"
    with pytest.raises(KeyError, match="paper_values"): expand_shortcodes("{{< var nope >}}", tmp_path, {})
    with pytest.raises(FileNotFoundError, match="papers/build.py"): expand_shortcodes("{{< include no.md >}}", tmp_path, {})
    assert expand_shortcodes("{{< var nope >}} {{< include no.md >}}", tmp_path, {}, strict=False) == "**?nope?** **Missing: `no.md`**"
    assert shortcode_vars("a {{< var b_1 >}} c {{<var d>}}") == ["b_1", "d"]
    assert shortcode_includes("{{< include tables/main.md >}} {{< var x >}}") == ["tables/main.md"]

def test_synthetic_results_are_the_librarys_own_metrics(tmp_path):
    "The fixture's metrics.jsonl lines are what rtd_nb.evaluate writes: every split's metrics and the summary keys."
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        R = synthetic_results(tmp_path/"results", benchmarks={"vader": ["tweets", "nyt"]}, methods=("rtd",), seeds=(0,),
                              ablations=False, sweep=False, extras=True)
    lines = [json.loads(l) for l in (R/"main"/"vader"/"rtd-s0"/"metrics.jsonl").read_text().splitlines()]
    final = {d["split"]: d for d in lines if d["model"] == "final"}
    assert set(final) == {"id_test", "tweets", "nyt", "summary"}
    assert {"acc", "f1_macro", "ece", "nll", "n"} <= set(final["tweets"]) and final["tweets"]["n"] == 120
    s = final["summary"]
    assert abs(s["ood/acc_mean"] - (final["tweets"]["acc"] + final["nyt"]["acc"])/2) < 1e-9
    assert abs(s["delta_rob"] - (final["id_test"]["acc"] - s["ood/acc_mean"])) < 1e-9
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always"); rp.collect(R)
    assert any("synthetic" in str(x.message) for x in w)

def test_missing_inputs_give_placeholders_and_strict_fails(tmp_path):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        R = synthetic_results(tmp_path/"results", benchmarks={"vader": ["tweets", "nyt"]}, methods=("ft", "rtd"), seeds=(0, 1),
                                 ablations=False, sweep=False, extras=False)
    r = run(PAPERS/"table_ablation.py", "--results", R, "--out", tmp_path/"p", "--strict")
    assert r.returncode == 1 and "nbs/30_ablations.ipynb" in r.stderr
    assert "Not generated yet" in (tmp_path/"p"/"tables/ablation.md").read_text()
    assert build.main(["--results", str(R), "--out", str(tmp_path/"q")]) == 0          # not strict: placeholders, exit 0
    for o in OUTPUTS: assert (tmp_path/"q"/o).exists(), o
    assert "seeds" in (tmp_path/"q"/"tables/main.md").read_text()                        # what exists is built
    v = yaml.safe_load((tmp_path/"q"/"_variables.yml").read_text())
    assert v["ablation_best_cell"] == "n/a" and v["wise_best_alpha_vader"] == "n/a" and v["ood_rtd_fmnist_c"] == "n/a"
    assert build.main(["--results", str(R), "--out", str(tmp_path/"q"), "--strict"]) == 1

def test_real_runner_output(tmp_path):
    "A tiny results root written by rtd_nb.experiments itself (tests/fixtures/report/real_vader) builds completely."
    R = ROOT/"tests"/"fixtures"/"report"/"real_vader"
    assert build.main(["--results", str(R), "--out", str(tmp_path), "--strict"]) == 0
    v = yaml.safe_load((tmp_path/"_variables.yml").read_text())
    t = _table((tmp_path/"tables/main.md").read_text(), "VADER")
    assert set(t) == {"Zero-shot", "FT", "RTD"} and {r["seeds"] for r in t.values()} == {"2"}
    assert v["ood_rtd_vader"] == t["RTD"]["OOD mean"].strip("*") and v["n_seeds_vader"] == "2"
    assert v["wise_best_alpha_vader"] in {"0", "0.5", "1"} and v["ablation_best_cell"] == "kd-only"
    assert v["farthest_split_vader"] in {"tweets", "amazon", "nyt"}

def test_compute_table_marks_missing_step_times_na(tmp_path):
    "A method one benchmark did not time (its runs have no `train` line) reads 'n/a' there, never 'nan×'."
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        R = synthetic_results(tmp_path/"results")
    runs = [c.parent for c in (R/"main"/"fmnist-c").glob("*/config.json") if json.loads(c.read_text())["method"] == "lpft"]
    assert runs
    for d in runs:                          # LP-FT loses its step times on Fashion-MNIST-C only
        m = d/"metrics.jsonl"
        m.write_text("".join(l + "\n" for l in m.read_text().splitlines() if json.loads(l)["model"] != "train"))
    t = rp.compute_table(R)
    assert not any("nan" in str(c) for c in t.to_numpy().ravel()), t
    fm, va = "Fashion-MNIST-C: step / FT", "VADER: step / FT"
    assert t.loc["LP-FT", fm] == "n/a" and t.loc["LP-FT", va].endswith("×"), t
