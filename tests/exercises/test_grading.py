"""The grader itself: it finds the marked cells, and the exercise tests fail on wrong code."""

from __future__ import annotations

import importlib.util
import os
import re
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from sftlib import ROOT
from sftlib.exercises import (NOTEBOOK_ENV, exercise_sources, grade, is_exercise_cell,
                              load_exercises, notebook_to_grade, solutions_path)

HERE = Path(__file__).parent


def _notebook(path: Path, *cells: nbformat.NotebookNode) -> Path:
    """Write a notebook of the given cells to ``path``."""
    nb = nbformat.v4.new_notebook()
    nb.cells = list(cells)
    nbformat.write(nb, str(path))
    return path


def _tagged(source: str) -> nbformat.NotebookNode:
    """A code cell tagged as an exercise."""
    cell = nbformat.v4.new_code_cell(source)
    cell.metadata["tags"] = ["exercise"]
    return cell


def test_cells_are_found_by_tag_or_first_line_and_run_alone(tmp_path):
    path = _notebook(tmp_path / "mine.ipynb",
                     nbformat.v4.new_code_cell("helper = 1  # not graded"),
                     _tagged("import math\ndef area(r):\n    return math.pi * r * r"),
                     nbformat.v4.new_markdown_cell("# exercise in markdown: not code"),
                     nbformat.v4.new_code_cell("# Exercise: lesson 42\n"
                                               "def double(x):\n    return 2 * x"))
    assert len(exercise_sources(path)) == 2
    namespace = load_exercises(path)
    assert namespace["double"](4) == 8 and namespace["area"](1) == pytest.approx(3.14159, abs=1e-5)
    assert "helper" not in namespace
    assert not is_exercise_cell({"cell_type": "code", "metadata": {}, "source": ["x = 1"]})


def test_a_notebook_without_exercise_cell_says_how_to_mark_one(tmp_path):
    path = _notebook(tmp_path / "none.ipynb", nbformat.v4.new_code_cell("x = 1"))
    with pytest.raises(ValueError, match="tag the cell"):
        load_exercises(path)


def test_which_notebook_is_graded():
    assert notebook_to_grade("03", None) == solutions_path("03")
    assert notebook_to_grade("03", "mine.ipynb") == Path("mine.ipynb")
    assert notebook_to_grade("03", "notebooks/03_full_finetuning.ipynb").name[:2] == "03"
    assert notebook_to_grade("03", "notebooks/05_lora.ipynb") is None
    with pytest.raises(FileNotFoundError):
        solutions_path("99")


def test_every_lesson_has_an_exercise_cell_and_a_solution_that_defines_its_function():
    lessons = sorted(ROOT.glob("notebooks/[0-9][0-9]_*.ipynb"))
    for lesson in lessons:
        stub = exercise_sources(lesson)  # the learner's cell: the function, not yet written
        assert len(stub) == 1 and "raise NotImplementedError" in stub[0], lesson.name
        name = stub[0].split("def ", 1)[1].split("(", 1)[0]
        assert callable(load_exercises(solutions_path(lesson.name[:2]))[name]), lesson.name
    assert len(lessons) == len(list(HERE.glob("test_lesson[0-9][0-9].py")))


@pytest.mark.parametrize("lesson", sorted(ROOT.glob("notebooks/[0-9][0-9]_*.ipynb")),
                         ids=lambda p: p.name[:2])
def test_the_unwritten_stub_fails_every_test_of_its_lesson(lesson, capsys):
    """A test that the learner's stub (``raise NotImplementedError``) passes checks nothing."""
    stub = exercise_sources(lesson)[0]
    name = stub.split("def ", 1)[1].split("(", 1)[0]
    assert grade(lesson.name[:2], load_exercises(lesson)[name]) is False
    summary = capsys.readouterr().out.strip().splitlines()[-1]
    assert re.fullmatch(r"\d+ failed in [\d.]+s", summary), summary  # none passed or skipped


def test_a_wrong_ratio_fails_the_tests_it_should():
    spec = importlib.util.spec_from_file_location("graded_ratio", HERE / "test_lesson03.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)

    def forgets_epochs(n_params, pretrain_tokens, sft_examples, tokens_per_example, num_epochs=1):
        return pretrain_tokens / (sft_examples * tokens_per_example)

    wrong = {"pretraining_to_sft_ratio": forgets_epochs}
    module.test_smollm2_example(wrong)  # right for one epoch
    for test in (module.test_epochs_multiply_sft_compute,
                 module.test_agrees_with_training_flops_and_does_not_depend_on_model_size):
        with pytest.raises(AssertionError):
            test(wrong)


def test_grading_a_learners_notebook_from_the_command_line(tmp_path):
    # new facts offsetting lost ones: a plausible mistake
    wrong = _notebook(tmp_path / "07_mine.ipynb", _tagged(
        "def forgetting_score(before, after):\n"
        "    if len(before) != len(after) or not any(before):\n"
        "        raise ValueError('no score')\n"
        "    return (sum(before) - sum(after)) / sum(before)"))
    done = subprocess.run(
        [sys.executable, "-m", "pytest", str(HERE / "test_lesson07.py"),
         str(HERE / "test_lesson00.py"),  # two modules that import quickly
         "--notebook", str(wrong), "-q", "-rfs", "-p", "no:cacheprovider"],
        cwd=ROOT, capture_output=True, text=True, timeout=120,
        env={**os.environ, NOTEBOOK_ENV: ""})
    assert done.returncode == 1, done.stdout[-3000:]
    failed = [line for line in done.stdout.splitlines() if line.startswith("FAILED")]
    assert [line.split("::")[1].split(" ")[0] for line in failed] == [
        "test_share_of_known_facts_lost", "test_new_facts_do_not_offset_lost_ones"], done.stdout
    assert "is not lesson 00's notebook" in done.stdout  # lesson 00's tests skipped, not failed


def test_grade_runs_the_lessons_tests_on_functions_from_the_kernel(capsys):
    right = load_exercises(solutions_path("03"))["pretraining_to_sft_ratio"]

    def pretraining_to_sft_ratio(n_params, pretrain_tokens, sft_examples, tokens_per_example,
                                 num_epochs=1):  # forgets the epochs
        return pretrain_tokens / (sft_examples * tokens_per_example)

    assert grade("03", right) is True
    assert "3 passed" in capsys.readouterr().out
    assert grade("03", pretraining_to_sft_ratio) is False
    report = capsys.readouterr().out
    assert "2 failed, 1 passed" in report and "test_epochs_multiply_sft_compute" in report

    def forgetting_score(before, after):  # lesson 07's function, handed to lesson 03
        return 0.0

    assert grade("03", forgetting_score) is False
    assert "pass it, as in grade('03', pretraining_to_sft_ratio)" in capsys.readouterr().out


def test_grade_says_what_it_needs():
    with pytest.raises(TypeError, match="pass the function"):
        grade("03")
    with pytest.raises(TypeError, match="without calling it"):
        grade("03", 4000.0)
    with pytest.raises(FileNotFoundError, match="two-digit number"):
        grade("3", print)


@pytest.mark.filterwarnings("ignore:some_library.old_api")  # it reaches this session too
def test_grade_keeps_library_warnings_out_of_the_learners_report(tmp_path, monkeypatch, capsys):
    import sftlib.exercises as exercises

    (tmp_path / "test_lesson99.py").write_text(
        "import warnings\n\n\ndef test_noisy_import():\n"
        "    warnings.warn('some_library.old_api is deprecated', DeprecationWarning)\n")
    monkeypatch.setattr(exercises, "TESTS_DIR", tmp_path)
    assert exercises.grade("99", print) is True
    report = capsys.readouterr().out
    assert "1 passed" in report
    assert "warnings summary" not in report and "deprecated" not in report
