"""The compute-overhead benchmark runs at a tiny size and produces well-formed ratios — no timed asserts."""
import json, math
import numpy as np, pytest, torch
from rtd_nb.bench import parse_spec, PeakMemory, run_bench, overhead_table, bench_model, main as bench_main


def test_parse_spec():
    "A method spec is a method and its hyper-parameters in the command-line syntax, typed by the method's signatures."
    assert parse_spec("rtd --lam-ar 0 --T 2") == ("rtd", {"lam_ar": 0.0, "T": 2.0})
    with pytest.raises(ValueError, match="'rtd --lam-ar 0'"): parse_spec("rtd:lam_ar=0.0")
    with pytest.raises(ValueError, match="--lam-kd"): parse_spec("rtd --lam 1")


def test_peak_memory_sees_a_freed_allocation():
    import mmap
    # 100 MB of fresh pages (an anonymous map: never pages the heap kept resident from earlier tests), touched, then
    # unmapped inside the block
    with PeakMemory() as pm:
        m = mmap.mmap(-1, 100_000_000)
        for i in range(0, len(m), 4096): m[i] = 1
        m.close()
    assert 80e6 < pm.growth < 200e6


def test_tiny_run_writes_wellformed_table(tmp_path):
    methods = {"FT": "ft", "RTD KD-only": "rtd --lam-ar 0", "RTD kd_frac=0.25": "rtd --kd-frac 0.25 --lam-ar 0",
               "Lipsum-FT": "lipsum", "Nope": "no-such-method"}
    out = run_bench(("tiny-clip",), methods, tmp_path, warmup=0, reps=2, isolate=False)
    js = json.loads((tmp_path/"overhead.json").read_text())
    assert js["meta"]["torch"] == torch.__version__ and len(js["results"]) == 1
    md = (tmp_path/"overhead.md").read_text()
    assert "RTD KD-only" in md and "teacher forward" in md
    r = out["results"][0]
    t = overhead_table(r)
    assert isinstance(t.loc["Nope", "error"], str) and "no-such-method" in t.loc["Nope", "error"]
    ok = t.drop(index="Nope")
    assert ok.loc["FT", "step_rel"] == pytest.approx(1) and ok.loc["FT", "mem_rel"] == pytest.approx(1)
    for c in ("step_rel", "mem_rel", "items_per_s", "peak_mb"):
        assert np.isfinite(ok[c].astype(float)).all() and (ok[c] > 0).all()
    assert (r["floor"]["rtd_floor_rel"] == pytest.approx(1 + r["floor"]["teacher_fwd_rel"]) and
            r["floor"]["teacher_fwd_rel"] > 0)
    assert (ok.step_rel_q25 <= ok.step_rel + 1e-9).all() and (ok.step_rel <= ok.step_rel_q75 + 1e-9).all()
    assert r["pipeline"]["input_rel"] > 0 and r["bs"] == 8
    rows = {m["method"]: m for m in r["methods"]}                 # in one process, each round pairs a method with FT
    assert rows["RTD KD-only"]["step_rel_from"] == "pairs" and len(rows["RTD KD-only"]["ratios"]) == 2
    assert rows["RTD KD-only"]["ratios"][0] == pytest.approx(rows["RTD KD-only"]["times"][0] / rows["FT"]["times"][0])


def test_isolated_processes(monkeypatch):
    ("One real isolated measurement (a fresh process: JSON arguments in, its own peak RSS and timings out); then the "
     "orchestration around it: FT alone first and again last (drift), the other methods `jobs` at a time, each with "
     "its share of the cores, each ratio from the pairs timed in its process.")
    from rtd_nb import bench
    from rtd_nb.core import threads_per_job
    child = bench._isolated("tiny-clip", "rtd --lam-ar 0", 8, 0, "cpu", 0, 1, (), threads=1)
    assert "VmHWM" in child["memory_measure"] and child["step_s"] > 0 and len(child["ratios"]) == 1
    inp, calls = bench.bench_inputs("tiny-clip", 8, 0, "cpu"), []
    def here(key, spec, bs, seed, device, warmup, reps, patches, threads=None):     # the child's work, in this process
        calls.append((spec, threads))
        return bench.measure_method(inp, spec, warmup, reps)
    monkeypatch.setattr(bench, "_isolated", here)
    r = bench_model("tiny-clip", {"FT": "ft", "RTD": "rtd --lam-ar 0", "KD T2": "rtd --lam-ar 0 --T 2"}, warmup=0,
                    reps=1, isolate=True, jobs=2)
    ft, *rest = r["methods"]
    assert [c[0] for c in calls[:1] + calls[-1:]] == ["ft", "ft"] and len(calls) == 4          # FT first and last
    assert {c[0] for c in calls[1:3]} == {"rtd --lam-ar 0", "rtd --lam-ar 0 --T 2"}
    assert {c[1] for c in calls} == {threads_per_job(2)} and r["jobs"] == 2
    assert "error" not in ft and ft["step_rel"] == 1 and math.isfinite(r["ft_drift"])
    assert all(m["step_rel_from"] == "pairs" and "error" not in m for m in rest), rest


def test_tag_and_setup_time(tmp_path):
    "`tag` names the files (e.g. the table before an optimisation); every row reports its setup time."
    out = run_bench(("tiny-clip",), {"FT": "ft", "RTD": "rtd --lam-ar 0"}, tmp_path, warmup=0, reps={"tiny-clip": 1},
                    isolate=False, tag="before")
    assert (tmp_path/"overhead_before.json").exists() and (tmp_path/"overhead_before.md").exists()
    assert not (tmp_path/"overhead.json").exists() and out["meta"]["tag"] == "before"
    t = overhead_table(out["results"][0])
    assert (t.setup_s > 0).all() and out["results"][0]["reps"] == 1
    assert "(before)" in (tmp_path/"overhead_before.md").read_text()


def test_command_line_from_the_signature(tmp_path, capsys):
    ("`python -m rtd_nb.bench` (its `main`, here): run_bench's options (old spellings kept), "
     "method specs in the one syntax.")
    with pytest.raises(SystemExit) as e: bench_main(["--help"])
    out = capsys.readouterr().out
    assert e.value.code == 0 and out.startswith("usage: python -m rtd_nb.bench")
    for o in ("--models", "--methods", "--out-dir", "--out", "--warmup", "--reps", "--model-reps", "--isolate",
              "--in-process", "--seed", "--device", "--patches", "--tag", "--bs", "--jobs"): assert o in out, o
    bench_main(["--models", "tiny-clip", "--methods", "FT=ft", "RTD=rtd --lam-ar 0", "--in-process", "--warmup", "0",
                "--reps", "1", "--out", str(tmp_path), "--tag", "cli"])
    assert "wrote" in capsys.readouterr().out
    js = json.loads((tmp_path/"overhead_cli.json").read_text())
    rows = {m["method"]: m for m in js["results"][0]["methods"]}
    assert rows["RTD"]["spec"] == "rtd --lam-ar 0" and "error" not in rows["RTD"], rows


def test_probe_models_skip_text_tower_methods(monkeypatch):
    ("A model that starts from a linear probe has no text tower: Lipsum-FT is listed as not run, "
     "not reported as an error.")
    from rtd_nb import bench
    monkeypatch.setitem(bench.BENCH_MODELS, "tiny-clip", dict(bench.BENCH_MODELS["tiny-clip"], init="lp"))
    r = bench_model("tiny-clip", {"FT": "ft", "Lipsum-FT": "lipsum"}, warmup=0, reps=1, isolate=False)
    assert r["skipped"] == ["Lipsum-FT"] and [m["method"] for m in r["methods"]] == ["FT"]
    assert "Not run on this model: Lipsum-FT" in bench._md(r)
