import os
import runpy
import sys

import pytest

from sftlib import ROOT
from sftlib.models import numerics_fingerprint, training_precision


def test_train_speed_benchmark_runs_and_prints_its_table(monkeypatch, capsys):
    monkeypatch.setattr(sys, "argv", ["train_speed.py", "--steps", "2"])
    runpy.run_path(str(ROOT / "benchmarks" / "train_speed.py"), run_name="__main__")
    table = capsys.readouterr().out.split("speed-up")[-1]
    assert "plain SFTTrainer defaults" in table and "1.00x" in table
    assert "recipe, padding-free" in table


def test_course_runtime_times_a_notebook_and_prints_the_table(monkeypatch, capsys):
    monkeypatch.setattr(sys, "argv", ["course_runtime.py", "01_data_formatting"])
    runpy.run_path(str(ROOT / "benchmarks" / "course_runtime.py"), run_name="__main__")
    out = capsys.readouterr().out
    assert "| 01_data_formatting |" in out and "| **total** |" in out and "peak memory (MiB)" in out
    assert f"trained in {training_precision()}) |" in out  # the minutes depend on it


def test_course_runtime_names_the_notebooks_it_knows():
    module = runpy.run_path(str(ROOT / "benchmarks" / "course_runtime.py"))
    with pytest.raises(FileNotFoundError, match="00_tour"):
        module["run_notebook"]("99_missing")


def test_gpu_methods_refuses_to_run_without_cuda(monkeypatch, tmp_path):
    module = runpy.run_path(str(ROOT / "benchmarks" / "gpu_methods.py"))
    monkeypatch.setattr(module["torch"].cuda, "is_available", lambda: False)
    with pytest.raises(SystemExit, match="GPU"):
        module["main"](["--out", str(tmp_path / "out.json")])
    assert not (tmp_path / "out.json").exists()


def test_gpu_methods_shapes_are_the_published_hub_architectures():
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    shapes = runpy.run_path(str(ROOT / "benchmarks" / "gpu_methods.py"))["SHAPES"]
    sizes = {}
    for name, shape in shapes.items():
        with torch.device("meta"):  # shapes only, no memory
            model = LlamaForCausalLM(LlamaConfig(**shape))
        sizes[name] = sum(p.numel() for p in model.parameters()) / 1e9
    # SmolLM2-135M has 134.5M parameters, SmolLM2-1.7B 1.71B, Llama-2-7B 6.74B (their model cards)
    assert sizes["SmolLM2-135M"] == pytest.approx(0.1345, rel=0.01)
    assert sizes["SmolLM2-1.7B"] == pytest.approx(1.71, rel=0.01)
    assert sizes["Llama-2-7B"] == pytest.approx(6.74, rel=0.01)


def test_course_runtime_keeps_going_past_a_failed_claim_and_lists_it(tmp_path, monkeypatch, capsys):
    import nbformat

    claims = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_code_cell("x = 1"),
        nbformat.v4.new_code_cell('assert x == 2, "the claim did not hold"'),
        nbformat.v4.new_code_cell("print('ran on', x)")])
    path = tmp_path / "claims.ipynb"
    nbformat.write(claims, path)
    module = runpy.run_path(str(ROOT / "benchmarks" / "course_runtime.py"))
    from nbclient.exceptions import CellExecutionError
    with pytest.raises(CellExecutionError, match="the claim did not hold"):
        module["run_notebook"](str(path))
    seconds, failures, peak_mb = module["run_notebook"](str(path), keep_going=True,
                                                        save_to=tmp_path / "out")
    assert seconds > 0 and failures == ["cell 1: AssertionError: the claim did not hold"]
    assert 10 < peak_mb < 2000  # a kernel holds tens of MiB; the sampler found it
    saved = nbformat.read(tmp_path / "out" / "claims.ipynb", as_version=4)
    assert saved.cells[2].outputs[0]["text"] == "ran on 1\n"  # the cell after the failure ran
    assert nbformat.read(path, as_version=4).cells[2].outputs == []  # the original is untouched
    monkeypatch.setattr(sys, "argv", ["course_runtime.py", str(path), "--keep-going"])
    with pytest.raises(SystemExit, match="cells that failed .*claims.ipynb 1"):
        runpy.run_path(str(ROOT / "benchmarks" / "course_runtime.py"), run_name="__main__")
    assert "claims.ipynb cell 1: AssertionError" in capsys.readouterr().out


def test_course_runtime_reports_a_dead_kernel_and_times_the_other_notebooks(tmp_path, monkeypatch, capsys):
    import nbformat

    dying, fine = tmp_path / "dying.ipynb", tmp_path / "fine.ipynb"
    nbformat.write(nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("import os; os._exit(1)")]), dying)
    nbformat.write(nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("x = 1")]), fine)
    monkeypatch.setattr(sys, "argv", ["course_runtime.py", str(dying), str(fine), "--keep-going"])
    with pytest.raises(SystemExit, match="stopped: .*dying.ipynb"):
        runpy.run_path(str(ROOT / "benchmarks" / "course_runtime.py"), run_name="__main__")
    out = capsys.readouterr().out
    assert "FAILED (DeadKernelError)" in out and f"| {fine} |" in out


def test_course_runtime_stops_at_the_deadline_and_keeps_what_ran(tmp_path, monkeypatch, capsys):
    import time

    import nbformat

    slow = tmp_path / "slow.ipynb"
    nbformat.write(nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_code_cell("print('first')"),
        nbformat.v4.new_code_cell(""),  # skipped by the client: not the cell it stopped in
        nbformat.v4.new_code_cell("import time; time.sleep(60)"),
        nbformat.v4.new_code_cell("print('never')", execution_count=3, outputs=[
            nbformat.v4.new_output("stream", text="from an earlier run\n")])]), slow)
    module = runpy.run_path(str(ROOT / "benchmarks" / "course_runtime.py"))
    start = time.monotonic()
    seconds, failures, _ = module["run_notebook"](str(slow), save_to=tmp_path / "out",
                                                  deadline=start + 8)
    assert seconds < 30 and time.monotonic() - start < 30  # not the 60 s of the sleeping cell
    assert failures == ["stopped at the deadline in cell 2 of 4"]
    saved = nbformat.read(tmp_path / "out" / "slow.ipynb", as_version=4)
    assert saved.cells[0].outputs[0]["text"] == "first\n"
    assert saved.cells[3].outputs == [] and saved.cells[3].execution_count is None  # not run: cleared
    # from the command line: the table marks the notebook that did not finish
    monkeypatch.setattr(sys, "argv", ["course_runtime.py", str(slow), "--save", str(tmp_path / "cli"),
                                      "--deadline", "0.1"])
    with pytest.raises(SystemExit, match="cells that failed"):
        runpy.run_path(str(ROOT / "benchmarks" / "course_runtime.py"), run_name="__main__")
    out = capsys.readouterr().out
    assert "slow.ipynb stopped at the deadline in cell 2 of 4" in out
    assert f"| {slow} (stopped at the deadline) |" in out


def test_course_runtime_saves_the_notebook_after_every_cell(tmp_path):
    import nbformat

    module = runpy.run_path(str(ROOT / "benchmarks" / "course_runtime.py"))
    path = tmp_path / "cells.ipynb"
    check = "import pathlib; print(len(pathlib.Path({!r}).read_text()) > 0)"
    nbformat.write(nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_code_cell("print('one')"),
        nbformat.v4.new_code_cell(check.format(str(tmp_path / "out" / "cells.ipynb")))]), path)
    module["run_notebook"](str(path), save_to=tmp_path / "out")
    saved = nbformat.read(tmp_path / "out" / "cells.ipynb", as_version=4)
    assert saved.cells[1].outputs[0]["text"] == "True\n"  # written before the second cell ran
    assert [p.name for p in (tmp_path / "out").iterdir()] == ["cells.ipynb"]  # no partial file


def test_course_runtime_runs_notebooks_at_once_with_a_share_of_the_threads(tmp_path, monkeypatch, capsys):
    import nbformat

    names = [tmp_path / f"n{i}.ipynb" for i in range(2)]
    for path in names:
        nbformat.write(nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(
            "import os, time; time.sleep(1); print(os.environ['OMP_NUM_THREADS'])")]), path)
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)  # restored afterwards
    monkeypatch.setattr(sys, "argv", ["course_runtime.py", *map(str, names), "--jobs", "2",
                                      "--save", str(tmp_path / "out")])
    runpy.run_path(str(ROOT / "benchmarks" / "course_runtime.py"), run_name="__main__")
    out = capsys.readouterr().out
    assert all(f"| {path} |" in out for path in names) and "2 at once" in out
    share = str(max(1, os.cpu_count() // 2))
    for path in names:
        saved = nbformat.read(tmp_path / "out" / path.name, as_version=4)
        assert saved.cells[0].outputs[0]["text"] == share + "\n"  # each kernel got its share


def test_course_runtime_in_place_writes_back_what_ran_through_with_bars_as_their_last_line(
        tmp_path, monkeypatch, capsys):
    import nbformat

    good, bad = tmp_path / "good.ipynb", tmp_path / "bad.ipynb"
    nbformat.write(nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_code_cell("import os; print(os.environ['OMP_NUM_THREADS'], os.environ['SFT_RUN_CACHE'])"),
        nbformat.v4.new_code_cell("from tqdm.auto import tqdm\n"
                                  "kept = sum(tqdm(range(3), desc='kept'))\n"
                                  "gone = sum(tqdm(range(2), desc='gone', leave=False))"),
        nbformat.v4.new_code_cell("import matplotlib.pyplot as plt\nplt.plot([1, 2]);"),
        nbformat.v4.new_code_cell("import ipywidgets\nipywidgets.IntSlider(3)")]), good)
    nbformat.write(nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("1 / 0")]), bad)
    monkeypatch.setenv("OMP_NUM_THREADS", "4")  # all three restored afterwards
    monkeypatch.setenv("SFT_RUN_CACHE", "1")
    monkeypatch.setenv("MPLBACKEND", "Agg")  # as make test sets it
    monkeypatch.delenv("SFT_PROFILE", raising=False)
    monkeypatch.setattr(sys, "argv", ["course_runtime.py", str(good), str(bad), "--in-place"])
    with pytest.raises(SystemExit, match="stopped: .*bad.ipynb"):
        runpy.run_path(str(ROOT / "benchmarks" / "course_runtime.py"), run_name="__main__")
    written = nbformat.read(good, as_version=4)
    assert written.cells[0].outputs[0]["text"] == "1 0\n"  # one torch thread, the run cache off
    assert "widgets" not in written.metadata
    bars = [o["text"] for o in written.cells[1].outputs]
    assert len(bars) == 1 and bars[0].startswith("kept: 100%|██████████| 3/3 [")  # "gone" hid itself
    assert "image/png" in written.cells[2].outputs[0]["data"]  # figures are drawn, as in Jupyter
    assert list(written.cells[3].outputs[0]["data"]) == ["text/plain"]  # another widget: its text
    assert written.metadata["sft_course"] == {"precision": training_precision(),  # see conftest.py
                                              "numerics": numerics_fingerprint()}
    assert nbformat.read(bad, as_version=4).cells[0].outputs == []  # a failed notebook is left alone
    capsys.readouterr()
    monkeypatch.setenv("SFT_PROFILE", "smollm2-135m")
    with pytest.raises(SystemExit, match="tiny"):
        runpy.run_path(str(ROOT / "benchmarks" / "course_runtime.py"), run_name="__main__")


def test_recipe_sweep_writes_a_line_per_run_and_resumes(tmp_path, monkeypatch, capsys):
    import json

    monkeypatch.delenv("SFT_PROFILE", raising=False)
    module = runpy.run_path(str(ROOT / "benchmarks" / "recipe_sweep.py"))
    out = tmp_path / "sweep.jsonl"
    module["main"](["--grid", "full:3e-4", "--steps", "2", "--out", str(out)])
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert [(r["method"], r["lr"], r["steps"]) for r in rows] == [("base", 0.0, 0), ("full", 3e-4, 2)]
    assert rows[0]["val_accuracy"] == 0 and rows[0]["probes_kept"] > 0.9  # tiny knows, cannot answer
    assert rows[1]["profile"] == "tiny" and rows[1]["seconds"] > 0 and rows[1]["val_loss"] > 0
    assert 0 <= rows[1]["val_accuracy"] <= 1
    module["main"](["--grid", "full:3e-4", "--steps", "2", "--out", str(out)])  # all done: nothing
    assert len(out.read_text().splitlines()) == 2
    assert "val accuracy" in capsys.readouterr().out


def test_recipe_sweep_names_a_bad_grid():
    module = runpy.run_path(str(ROOT / "benchmarks" / "recipe_sweep.py"))
    assert module["parse_grid"](["lora:1e-3,3e-3"]) == [("lora", 1e-3), ("lora", 3e-3)]
    for bad in ("lora", "dora:1e-3", "full:fast", "full:-1e-4"):
        with pytest.raises(SystemExit, match=f"--grid '{bad}'.*METHOD:RATE"):
            module["parse_grid"]([bad])


def test_course_runtime_peak_memory_counts_the_processes_a_kernel_starts(tmp_path):
    import nbformat

    module = runpy.run_path(str(ROOT / "benchmarks" / "course_runtime.py"))
    hold = "import time; x = bytearray(400 * 2**20); x[::4096] = b'1' * len(x[::4096]); time.sleep(1.5)"
    alone, child = tmp_path / "alone.ipynb", tmp_path / "child.ipynb"
    nbformat.write(nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(hold)]), alone)
    nbformat.write(nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(
        f"import subprocess, sys; subprocess.run([sys.executable, '-c', {hold!r}], check=True)")]),
        child)
    _, _, peak_alone = module["run_notebook"](str(alone))
    _, _, peak_child = module["run_notebook"](str(child))
    assert peak_alone > 400 and peak_child > 400  # 400 MiB touched, in the kernel or in its child


def test_as_t4_hides_bf16_from_every_process_and_runs_the_sitecustomize_it_hides(tmp_path):
    import subprocess

    hidden = tmp_path / "site"
    hidden.mkdir()
    (hidden / "sitecustomize.py").write_text("import builtins; builtins.HIDDEN_RAN = True\n")
    env = {**os.environ, "PYTHONPATH": f"{ROOT / 'benchmarks' / 'as_t4'}{os.pathsep}{hidden}"}
    # a CPU answers no bf16 anyway, so look at what was put in place: the answer, and the memory
    # cap queued for when CUDA starts
    probe = ("import builtins, torch; from sftlib.models import supports_bf16; "
             "print(torch.cuda.is_bf16_supported.__module__, supports_bf16(torch.device('cuda')), "
             "'_t4_memory' in [call.__name__ for call, _ in torch.cuda._queued_calls], "
             "getattr(builtins, 'HIDDEN_RAN', False))")
    out = subprocess.run([sys.executable, "-c", probe], env=env, cwd=ROOT, capture_output=True,
                         text=True, check=True).stdout
    assert out.split() == ["sitecustomize", "False", "True", "True"]


def test_rounding_seeds_changes_the_chosen_matrices_by_nf4s_error_and_resumes(tmp_path, capsys):
    import json

    import torch

    module = runpy.run_path(str(ROOT / "benchmarks" / "rounding_seeds.py"))
    original, _ = module["changed_model"]("tiny", "original", {})
    weights = dict(original.named_parameters())
    rounded = {n: p.detach().float() for n, p in
               module["load_model"]("tiny", quantize="nf4")[0].dequantize().named_parameters()}
    blocks = [n for n, w in weights.items() if w.ndim == 2 and "layers." in n]
    for variant in ("nf4-attention", "noise"):
        changed = dict(module["changed_model"]("tiny", variant, rounded)[0].named_parameters())
        for name in blocks:
            moved = (changed[name] - weights[name]).norm()
            nf4_error = (rounded[name] - weights[name]).norm()
            if variant == "noise" or "self_attn" in name:
                assert torch.isclose(moved, nf4_error, rtol=1e-3) and moved > 0
            else:
                assert moved == 0  # the MLP stays as it was
        if variant == "noise":  # as large a change as NF4's, not the same one
            assert not torch.allclose(changed[blocks[0]], rounded[blocks[0]])
        assert torch.equal(changed["model.embed_tokens.weight"], weights["model.embed_tokens.weight"])

    out = tmp_path / "rounding.jsonl"
    args = ["--variants", "original", "nf4", "qlora", "--seeds", "0", "--steps", "2", "--out", str(out)]
    module["main"](args)
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert [(r["variant"], r["seed"], r["steps"]) for r in rows] == [
        ("original", 0, 2), ("nf4", 0, 2), ("qlora", 0, 2)]
    assert rows[0]["probes_kept"] > 0.9
    nll = [r["probe_nll_per_token"] for r in rows]
    assert min(nll[1], nll[2]) > nll[0]  # rounded or 4-bit, the facts sit less firmly
    assert all(0 <= r["test_accuracy"] <= 1 and len(r["train_losses"]) == 2 for r in rows)
    module["main"](args)  # all done: nothing trained again
    assert len(out.read_text().splitlines()) == 3
    table = module["summary"](rows)
    assert table["original", 2]["gap_to_original"] == 0 and table["nf4", 2]["runs"] == 1
    module["main"](["--summary", str(out)])
    assert "points below original" in capsys.readouterr().out


def recorded_summary_and_prose(script: str, results: str, lesson: str) -> tuple[dict, str]:
    """``summary`` of a recorded run of ``benchmarks/<script>``, and the lesson's Markdown as one
    line of single spaces (a quote may be wrapped anywhere in the notebook)."""
    import json

    module = runpy.run_path(str(ROOT / "benchmarks" / script))
    rows = [json.loads(line) for line in (ROOT / "benchmarks" / "results" / results).read_text().splitlines()]
    notebook = json.loads((ROOT / "notebooks" / lesson).read_text())
    prose = " ".join("".join(c["source"]) for c in notebook["cells"] if c["cell_type"] == "markdown")
    return module["summary"](rows), " ".join(prose.split())


def test_lesson_06_quotes_the_recorded_rounding_seeds():
    """Lesson 06's twenty-seed table is the summary of benchmarks/results/rounding_seeds_tiny_cpu.jsonl."""
    table, prose = recorded_summary_and_prose("rounding_seeds.py", "rounding_seeds_tiny_cpu.jsonl",
                                              "06_qlora.ipynb")
    assert {s["runs"] for s in table.values()} == {20}
    for s in table.values():  # as the lesson writes them: "25.2 % (9 to 46)"
        assert f"{s['mean'] * 100:.1f} % ({s['min'] * 100:.0f} to {s['max'] * 100:.0f})" in prose
    gap = {key: f"{s['gap_to_original'] * 100:.1f}" for key, s in table.items()}
    assert f"{gap['nf4', 100]} points fewer than the original ones on average and QLoRA {gap['qlora', 100]}" \
        in prose
    assert f"QLoRA were still {gap['nf4', 200]} and {gap['qlora', 200]} points behind" in prose


def test_dpo_seeds_scores_each_sft_model_and_each_dpo_run_on_it(tmp_path, capsys):
    import json

    module = runpy.run_path(str(ROOT / "benchmarks" / "dpo_seeds.py"))
    out = tmp_path / "dpo.jsonl"
    module["main"](["--sft-seeds", "0", "--dpo-seeds", "0", "1", "--sft-steps", "40", "--dpo-steps", "1",
                    "--questions", "16", "--out", str(out)])
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert [(r["sft_seed"], r["dpo_seed"]) for r in rows] == [(0, None), (0, 0), (0, 1)]
    assert all(0 <= r["val_accuracy"] <= 1 and 0 < r["pairs"] <= 16 for r in rows)
    table = module["summary"](rows)
    assert table == {0: {"sft": rows[0]["val_accuracy"],
                         "dpo": {0: rows[1]["val_accuracy"], 1: rows[2]["val_accuracy"]}}}
    module["main"](["--summary", str(out)])
    assert "after DPO on its mistakes (DPO seeds 0, 1)" in capsys.readouterr().out


def test_lesson_10_quotes_the_recorded_dpo_seeds():
    """Lesson 10's seed bullet is the summary of benchmarks/results/dpo_seeds_tiny_cpu.jsonl."""
    table, prose = recorded_summary_and_prose("dpo_seeds.py", "dpo_seeds_tiny_cpu.jsonl",
                                              "10_after_sft.ipynb")

    def pct(share: float) -> str:  # as the lesson writes them: "37 %"
        return f"{share * 100:.0f} %"

    sft = [pct(s["sft"]) for s in table.values()]
    after = [" and ".join(pct(a) for _, a in sorted(s["dpo"].items())) for s in table.values()]
    assert f"The SFT models reached {', '.join(sft[:-1])} and {sft[-1]};" in prose
    assert f"after DPO on their own mistakes, {', '.join(after)}." in prose
    dpo_runs = [(a, s["sft"]) for s in table.values() for a in s["dpo"].values()]
    fell = sum(a < before for a, before in dpo_runs)
    halved = sum(a < before / 2 for a, before in dpo_runs)
    fell_in = f"all {len(dpo_runs)}" if fell == len(dpo_runs) else f"{fell} of {len(dpo_runs)}"
    assert f"Accuracy fell in {fell_in} runs, by more than half in {halved}." in prose


def test_hyperparameter_studies_keep_their_budgets():
    module = runpy.run_path(str(ROOT / "benchmarks" / "hyperparameters.py"))
    batch, warmup, epochs = (module["runs"](s) for s in ("batch", "warmup", "epochs"))
    assert {r["batch_size"] * r["max_steps"] for r in batch} == {module["EXAMPLES_SEEN"]}  # same examples seen
    assert len(batch) == 16 and len(warmup) == 20 and len(epochs) == 10
    assert {r["warmup_ratio"] for r in warmup} == {0.0, 0.03, 0.05, 0.07, 0.2}
    for r in epochs:  # enough steps for the epochs asked, and less than one batch more
        assert r["epochs"] * r["examples"] <= r["max_steps"] * 16 < r["epochs"] * r["examples"] + 16
    data, optimizer = module["runs"]("data"), module["runs"]("optimizer")
    assert {r["max_steps"] * r["batch_size"] for r in data + optimizer} == {1920}  # one budget for all
    assert sorted({r["examples"] for r in data}) == [30, 100, 300, 1000, 4500]
    assert len(data) == 20 and len(optimizer) == 16
    assert {(r.get("optim"), r.get("optim_args")) for r in optimizer} == {(None, None), ("sgd", "momentum=0.9")}
    with pytest.raises(SystemExit, match="choose batch, warmup, epochs, data or optimizer"):
        module["runs"]("momentum")


def test_recorded_hyperparameter_runs_are_every_study_run_once_on_the_settings_of_today():
    import json

    from sftlib.train import TrainConfig

    module = runpy.run_path(str(ROOT / "benchmarks" / "hyperparameters.py"))
    planned = [module["key"](s) for study in ("batch", "warmup", "epochs", "data", "optimizer")
               for s in module["runs"](study)]
    recorded = ROOT / "benchmarks" / "results" / "hyperparameters_tiny_cpu.jsonl"
    rows = [json.loads(line) for line in recorded.read_text().splitlines()]
    assert sorted(module["key"](r["setting"]) for r in rows) == sorted(planned)
    for row in rows:  # each setting is still a valid config
        TrainConfig(**module["config_fields"](row["setting"]))


def test_hyperparameters_writes_a_line_per_run_and_resumes(tmp_path, monkeypatch, capsys):
    import json

    monkeypatch.delenv("SFT_PROFILE", raising=False)
    module = runpy.run_path(str(ROOT / "benchmarks" / "hyperparameters.py"))
    small = {"study": "epochs", "method": "lora", "batch_size": 4, "lr": 3e-3, "epochs": 1,
             "max_steps": 2, "seed": 0, "examples": 8}
    monkeypatch.setitem(module["main"].__globals__, "runs", lambda study: [small])  # main looks them up there
    out = tmp_path / "hp.jsonl"
    module["main"](["--study", "epochs", "--out", str(out)])
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(rows) == 1 and rows[0]["setting"] == small and rows[0]["profile"] == "tiny"
    assert 0 <= rows[0]["val_accuracy"] <= 1 and rows[0]["val_loss"] > 0 and rows[0]["seconds"] > 0
    assert [step for step, _ in rows[0]["val_losses"]] == [1, 2]  # evaluated every max_steps // 5 steps, at least 1
    module["main"](["--study", "epochs", "--out", str(out)])  # done already: nothing added
    assert len(out.read_text().splitlines()) == 1
    assert "val accuracy" in capsys.readouterr().out


def test_triage_scores_the_base_model_then_each_run_and_resumes(tmp_path, capsys):
    import json

    module = runpy.run_path(str(ROOT / "benchmarks" / "triage.py"))
    out = tmp_path / "triage.jsonl"
    module["main"](["--profile", "tiny", "--steps", "2", "--seeds", "0", "--out", str(out)])
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert [(r["steps"], r["seed"]) for r in rows] == [(0, None), (2, 0)]
    for r in rows:  # the fields describe one confusion matrix of the 200 tickets, 80 of them urgent
        assert r["tickets"] == 200 and 0 <= r["said urgent"] <= 200
        caught = round(r["recall"] * 80)  # urgent tickets called urgent
        assert r["recall"] * 80 == pytest.approx(caught) and r["precision"] * r["said urgent"] == pytest.approx(caught)
        right = caught + (120 - (r["said urgent"] - caught))  # plus the routine tickets called routine
        assert r["accuracy"] == pytest.approx(right / 200)
    assert rows[1]["train_loss"] > 0 and rows[1]["seconds"] > 0
    module["main"](["--profile", "tiny", "--steps", "2", "--seeds", "0", "--out", str(out)])  # done: nothing added
    assert len(out.read_text().splitlines()) == 2 and "said urgent" in capsys.readouterr().out


def test_triage_problem_folds_hold_each_problem_out_once_and_train_without_it(tmp_path):
    import json

    from sftlib import DATA_DIR
    from sftlib.data import read_jsonl
    from sftlib.pools import NOT_URGENT, URGENT
    from sftlib.tasks import triage_problem

    module = runpy.run_path(str(ROOT / "benchmarks" / "triage.py"))
    folds = module["problem_folds"]()
    urgent = {reason for _, reason in URGENT}
    assert sorted(r for fold in folds for r in fold) == sorted(r for _, r in URGENT + NOT_URGENT)
    assert all(sum(r in urgent for r in fold) == 2 and len(fold) == 4 for fold in folds)
    assert module["problem_folds"]() == folds  # seeded
    tickets = read_jsonl(DATA_DIR / "triage" / "train.jsonl")

    out = tmp_path / "folds.jsonl"
    module["main"](["--profile", "tiny", "--split", "problems", "--folds", "1", "--steps", "2",
                    "--seeds", "0", "--out", str(out)])
    [row] = [json.loads(line) for line in out.read_text().splitlines()]
    assert (row["split"], row["fold"], row["held out"]) == ("problems", 1, folds[1])
    assert row["train tickets"] == sum(triage_problem(t) not in folds[1] for t in tickets) < len(tickets)
    validation = read_jsonl(DATA_DIR / "triage" / "validation.jsonl")
    assert list(row["predicted"]) == [t["id"] for t in validation]
    unseen = [t for t in validation if triage_problem(t) in folds[1]]
    assert row["unseen"]["tickets"] == len(unseen) and row["seen"]["tickets"] == 200 - len(unseen)
    said = [row["predicted"][t["id"]] for t in unseen]
    assert row["unseen"]["said urgent"] == said.count("urgent")
    right = sum(p == t["label"] for p, t in zip(said, unseen))
    assert row["unseen"]["accuracy"] == pytest.approx(right / len(unseen))
    with pytest.raises(SystemExit):  # the base model belongs to the ticket split
        module["main"](["--split", "problems", "--steps", "0", "--out", str(out)])
