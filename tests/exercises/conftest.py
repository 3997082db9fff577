"""Grading: each ``test_lessonNN.py`` gets the namespace of that lesson's exercise cells.

By default the code graded is the reference solution (``notebooks/solutions/NN_*_solutions.ipynb``),
so CI checks the solutions and the tests together. A learner grades their own notebook with
``pytest tests/exercises -k lesson03 --notebook notebooks/03_full_finetuning.ipynb`` (or by setting
``SFT_EXERCISE_NOTEBOOK``); tests of other lessons are then skipped when the notebook's name starts
with another lesson number. In the notebook, ``sftlib.exercises.grade("03", pretraining_to_sft_ratio)``
runs the same tests on the function as the kernel holds it.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import pytest

from sftlib.exercises import NOTEBOOK_ENV, load_exercises, notebook_to_grade


def pytest_addoption(parser: pytest.Parser) -> None:
    """``--notebook PATH``: grade this notebook's exercise cells instead of the solutions."""
    parser.addoption("--notebook", default=None,
                     help=f"notebook whose exercise cells to grade (default: ${NOTEBOOK_ENV}, "
                          "else the reference solutions in notebooks/solutions/)")


def _lesson_of(request: pytest.FixtureRequest) -> str:
    """The two-digit lesson number of the requesting test module (test_lessonNN.py)."""
    match = re.fullmatch(r"test_lesson(\d\d)", Path(request.node.path).stem)
    assert match, f"{request.node.path}: an exercise test module is named test_lessonNN.py"
    return match[1]


class Graded(dict):
    """The names the graded code defined; a missing one fails the test with what to do."""

    def __init__(self, names: dict[str, Any], lesson: str, handed: bool = False) -> None:
        super().__init__(names)
        self.lesson, self.handed = lesson, handed

    def __missing__(self, name: str) -> Any:
        if self.handed:
            pytest.fail(f"no {name} among the functions given to grade: pass it, as in "
                        f"grade({self.lesson!r}, {name})")
        pytest.fail(f"no {name} in the exercise cells: define it in a code cell tagged "
                    "'exercise' (or starting with '# exercise'), with its own imports")


@pytest.fixture(scope="module")
def exercise(request: pytest.FixtureRequest) -> Graded:
    """The graded functions for this module's lesson: those given to ``sftlib.exercises.grade``,
    else the exercise cells of the notebook named (or of the lesson's reference solutions)."""
    lesson = _lesson_of(request)
    handed = getattr(request.config, "sft_graded", None)
    if handed is not None:
        return Graded(handed, lesson, handed=True)
    given = request.config.getoption("--notebook") or os.environ.get(NOTEBOOK_ENV)
    path = notebook_to_grade(lesson, given)
    if path is None:
        pytest.skip(f"{given} is not lesson {lesson}'s notebook")
    return Graded(load_exercises(path), lesson)
