"""conftest.py: a notebook's checked cells are compared number for number only where its outputs'
precision and numerics fingerprint are this machine's."""

import json
import os
import shutil
import subprocess
import sys
from datetime import datetime, timedelta

import nbformat
import pytest

from sftlib import ROOT
from sftlib.models import numerics_fingerprint, training_precision


def checked_notebook(path, printed: str, committed: str, precision: str,
                     numerics: str | None = None) -> None:
    """A notebook with one checked cell that prints ``printed``, committed as ``committed``."""
    cell = nbformat.v4.new_code_cell(f"# NBVAL_CHECK_OUTPUT\nprint({printed!r})")
    cell.execution_count = 1
    cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text=committed + "\n")]
    notebook = nbformat.v4.new_notebook(cells=[cell])
    notebook.metadata["sft_course"] = {"precision": precision, "numerics": numerics or numerics_fingerprint()}
    nbformat.write(notebook, path)


def run_pytest(folder, *args: str) -> subprocess.CompletedProcess:
    shutil.copy(ROOT / "conftest.py", folder / "conftest.py")
    (folder / "tests").mkdir()
    shutil.copy(ROOT / "tests" / "nbval_numbers.cfg", folder / "tests")
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}
    return subprocess.run([sys.executable, "-m", "pytest", str(folder), "--nbval-lax",
                           "--nbval-current-env", "-q", "-p", "no:cacheprovider", "-p", "no:xdist",
                           "--rootdir", str(folder), *args],
                          capture_output=True, text=True, env=env, cwd=folder, timeout=300)


@pytest.mark.parametrize("precision, passes", [(training_precision(), False), ("tpu, fp8", True)])
def test_numbers_of_checked_cells_are_masked_only_where_the_precision_differs(tmp_path, precision,
                                                                              passes):
    checked_notebook(tmp_path / "lesson.ipynb", "accuracy 55% after 150 steps",
                     "accuracy 82% after 150 steps", precision)
    result = run_pytest(tmp_path)
    assert ("1 passed" if passes else "- accuracy 55% after 150 steps") in result.stdout, \
        result.stdout[-3000:]
    assert ("numbers masked in 1 of 1 notebooks, lesson: outputs made in tpu, fp8" in result.stdout) == passes


def test_masked_numbers_still_catch_changed_words(tmp_path):
    checked_notebook(tmp_path / "lesson.ipynb", "LoRA forgets less: 98% vs 43%",
                     "full fine-tuning forgets less: 98% vs 43%", "tpu, fp8")
    assert "- LoRA forgets less: #% vs #%" in run_pytest(tmp_path).stdout  # the masked mismatch


def test_a_notebook_without_a_recorded_precision_is_compared_with_masked_numbers(tmp_path):
    checked_notebook(tmp_path / "lesson.ipynb", "1.5", "2.25", "cpu, bf16")
    raw = json.loads((tmp_path / "lesson.ipynb").read_text())
    del raw["metadata"]["sft_course"]
    (tmp_path / "lesson.ipynb").write_text(json.dumps(raw))
    assert "1 passed" in run_pytest(tmp_path).stdout


@pytest.mark.parametrize("numerics, passes", [(None, False), ("0123456789ab", True)])
def test_the_same_precision_with_other_numerics_is_compared_with_masked_numbers(tmp_path, numerics, passes):
    # same precision; this machine's fingerprint (None: computed here) or another machine's
    checked_notebook(tmp_path / "lesson.ipynb", "accuracy 56% after 150 steps",
                     "accuracy 59% after 150 steps", training_precision(), numerics)
    result = run_pytest(tmp_path)
    assert ("1 passed" if passes else "- accuracy 56% after 150 steps") in result.stdout, result.stdout[-3000:]
    assert ("(numerics 0123456789ab)" in result.stdout) == passes


def test_a_notebook_without_a_recorded_fingerprint_is_compared_with_masked_numbers(tmp_path):
    checked_notebook(tmp_path / "lesson.ipynb", "1.5", "2.25", training_precision())
    raw = json.loads((tmp_path / "lesson.ipynb").read_text())
    del raw["metadata"]["sft_course"]["numerics"]
    (tmp_path / "lesson.ipynb").write_text(json.dumps(raw))
    result = run_pytest(tmp_path)
    assert "1 passed" in result.stdout and "numerics not recorded" in result.stdout, result.stdout[-3000:]


def test_only_the_notebooks_made_elsewhere_are_compared_with_masked_numbers(tmp_path):
    # in one session: a notebook made on this machine is compared number for number, even
    # though another one was made elsewhere and is compared masked
    checked_notebook(tmp_path / "made_here.ipynb", "accuracy 56%", "accuracy 59%", training_precision())
    checked_notebook(tmp_path / "made_elsewhere.ipynb", "accuracy 56%", "accuracy 59%", "tpu, fp8")
    result = run_pytest(tmp_path)
    assert "1 failed, 1 passed" in result.stdout and "- accuracy 56%" in result.stdout, result.stdout[-3000:]
    assert "made_here.ipynb::Cell 0" in result.stdout.split("short test summary")[-1]
    assert "masked in 1 of 2 notebooks, made_elsewhere: outputs made in tpu, fp8" in result.stdout


def test_numerics_fingerprint_is_repeatable_and_leaves_the_thread_count_alone():
    import torch

    threads = torch.get_num_threads()
    first = numerics_fingerprint()
    assert numerics_fingerprint() == first and len(first) == 12 and int(first, 16) >= 0
    assert torch.get_num_threads() == threads


def timed_notebook(path, seconds: float) -> None:
    """A two-cell notebook whose recorded execution took ``seconds`` in all."""
    start = datetime(2026, 11, 27, 10, 0, 0)
    cells = [nbformat.v4.new_code_cell(f"x = {i}") for i in range(2)]
    for cell in cells:
        end = start + timedelta(seconds=seconds / 2)
        cell.metadata["execution"] = {"iopub.execute_input": start.isoformat() + "Z",
                                      "shell.execute_reply": end.isoformat() + "Z"}
        start = end + timedelta(seconds=10)  # time between cells does not count
    nbformat.write(nbformat.v4.new_notebook(cells=cells), path)


def test_the_longest_files_are_collected_first_each_in_its_own_order(tmp_path):
    """By recorded seconds (2 and 90, not the 10 s between cells) and seconds marks (8)."""
    timed_notebook(tmp_path / "a_quick.ipynb", 2)
    timed_notebook(tmp_path / "b_long.ipynb", 90)
    (tmp_path / "test_marked.py").write_text("import pytest\n\n\n@pytest.mark.seconds(8)\n"
                                             "def test_slow():\n    pass\n\n\n"
                                             "def test_after():\n    pass\n")
    (tmp_path / "test_plain.py").write_text("def test_plain():\n    pass\n")
    result = run_pytest(tmp_path, "--collect-only")
    collected = [line.split("::")[0] + "::" + line.split("::")[-1]
                 for line in result.stdout.splitlines() if "::" in line]
    assert collected == ["b_long.ipynb::Cell 0", "b_long.ipynb::Cell 1", "test_marked.py::test_slow",
                         "test_marked.py::test_after", "a_quick.ipynb::Cell 0",
                         "a_quick.ipynb::Cell 1", "test_plain.py::test_plain"], result.stdout[-3000:]
