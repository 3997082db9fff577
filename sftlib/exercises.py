"""Autograded exercises: find the code a learner wrote for an exercise, and run it for a test.

Each lesson has one exercise that asks for a function with a fixed name and signature. The learner
writes it in a code cell of their lesson notebook that is tagged ``exercise`` (cell metadata
``"tags": ["exercise"]``) or whose first line is a comment starting with ``# exercise``.
``pytest tests/exercises -k lesson03`` grades the reference solutions in
``notebooks/solutions/`` (so CI checks the solutions and the tests together);
``--notebook notebooks/03_full_finetuning.ipynb`` (or the environment variable
:data:`NOTEBOOK_ENV`) grades that notebook instead. Only the marked cells run, in a fresh
namespace, so each one must do its own imports.

Inside the notebook, :func:`grade` runs the same tests on the function as the kernel holds it:
no saving, no terminal, and it works on Colab, where the notebook being edited is not a file of
the course's clone.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import nbformat

from sftlib import ROOT

TAG = "exercise"
MARKER = "# exercise"  # a first-line comment that marks a cell as well as the tag does
NOTEBOOK_ENV = "SFT_EXERCISE_NOTEBOOK"
SOLUTIONS_DIR = ROOT / "notebooks" / "solutions"
TESTS_DIR = ROOT / "tests" / "exercises"


def is_exercise_cell(cell: dict[str, Any]) -> bool:
    """Whether a notebook cell holds exercise code: a code cell tagged or first-line marked.

    Args:
        cell: one cell of an nbformat 4 notebook.

    Returns:
        True for a code cell with the tag :data:`TAG` or whose first line starts with
        :data:`MARKER` (case-insensitive).

    Example:
        >>> is_exercise_cell({"cell_type": "code", "source": "# Exercise 4\\nx = 1"})
        True
    """
    if cell.get("cell_type") != "code":
        return False
    source = cell["source"] if isinstance(cell["source"], str) else "".join(cell["source"])
    first_line = source.lstrip().split("\n", 1)[0].lower()
    return TAG in cell.get("metadata", {}).get("tags", []) or first_line.startswith(MARKER)


def exercise_sources(path: str | Path) -> list[str]:
    """The sources of a notebook's exercise cells, in notebook order.

    Args:
        path: an ``.ipynb`` file.

    Returns:
        One string per exercise cell.

    Raises:
        ValueError: the notebook has no exercise cell (the message says how to mark one).
    """
    nb = nbformat.read(str(path), as_version=4)
    sources = [cell.source for cell in nb.cells if is_exercise_cell(cell)]
    if not sources:
        raise ValueError(f"{path}: no exercise cell; tag the cell with your function "
                         f"'{TAG}' (cell metadata tags) or start it with the line '{MARKER}'")
    return sources


def load_exercises(path: str | Path) -> dict[str, Any]:
    """Run a notebook's exercise cells in a fresh namespace and return it.

    Args:
        path: an ``.ipynb`` file.

    Returns:
        The namespace after the cells ran: the learner's functions by name.

    Example:
        >>> ns = load_exercises(solutions_path("03"))
        >>> ns["pretraining_to_sft_ratio"](135e6, 2e12, 1_000_000, 500)
        4000.0
    """
    namespace: dict[str, Any] = {"__name__": f"exercises_{Path(path).stem}"}
    for i, source in enumerate(exercise_sources(path)):
        exec(compile(source, f"{path} (exercise cell {i + 1})", "exec"), namespace)
    return namespace


def notebook_to_grade(lesson: str, given: str | Path | None) -> Path | None:
    """Which notebook grades a lesson: the one given, else the lesson's reference solutions.

    Args:
        lesson: the lesson's two-digit number, e.g. ``"03"``.
        given: the notebook a learner named (``--notebook`` or :data:`NOTEBOOK_ENV`), or None.

    Returns:
        ``given`` as a path; :func:`solutions_path` when nothing was given; None when ``given``'s
        name starts with another lesson's number (that lesson's tests do not apply to it).

    Example:
        >>> notebook_to_grade("03", "notebooks/05_lora.ipynb") is None
        True
    """
    if not given:
        return solutions_path(lesson)
    prefix = Path(given).name[:2]
    return None if prefix.isdigit() and prefix != lesson else Path(given)


def solutions_path(lesson: str) -> Path:
    """The reference solutions notebook of a lesson.

    Args:
        lesson: the lesson's two-digit number, e.g. ``"03"``.

    Returns:
        ``notebooks/solutions/<lesson>_*_solutions.ipynb``.

    Raises:
        FileNotFoundError: there is no solutions notebook for that lesson, or more than one.
    """
    found = sorted(SOLUTIONS_DIR.glob(f"{lesson}_*_solutions.ipynb"))
    if len(found) != 1:
        raise FileNotFoundError(f"expected one {SOLUTIONS_DIR}/{lesson}_*_solutions.ipynb, "
                                f"found {len(found)}")
    return found[0]


class _Handed:
    """A pytest plugin that hands the functions given to :func:`grade` to the ``exercise`` fixture
    (``tests/exercises/conftest.py`` reads ``config.sft_graded``)."""

    def __init__(self, functions: dict[str, Callable]) -> None:
        self.functions = functions

    def pytest_configure(self, config) -> None:
        config.sft_graded = self.functions


def grade(lesson: str, *functions: Callable) -> bool:
    """Run a lesson's exercise tests on functions defined in the notebook; print pytest's report.

    Args:
        lesson: the lesson's two-digit number, e.g. ``"03"``.
        functions: the functions the exercise asks for, as defined in the kernel (they are
            looked up by their ``__name__``; nothing is read from the notebook's file).

    Returns:
        True when every test of the lesson passed.

    Raises:
        FileNotFoundError: the lesson has no tests in ``tests/exercises``.
        TypeError: something given is not a named function.

    Example:
        >>> grade("03", pretraining_to_sft_ratio)  # doctest: +SKIP
        ...                                                    [100%]
        3 passed in 0.02s
        True
    """
    try:
        import pytest
    except ModuleNotFoundError:
        raise ModuleNotFoundError("grade runs the lesson's tests with pytest, which is not installed "
                                  "here: pip install pytest") from None

    tests = TESTS_DIR / f"test_lesson{lesson}.py"
    if not tests.is_file():
        raise FileNotFoundError(f"grade: no tests for lesson {lesson!r} ({tests} does not exist); "
                                "give the lesson's two-digit number, e.g. '03'")
    if not functions:
        raise TypeError(f"grade: pass the function the exercise asks for, as in grade({lesson!r}, "
                        "my_function)")
    for function in functions:
        if not callable(function) or not hasattr(function, "__name__"):
            raise TypeError(f"grade: {function!r} is not a function; pass the function itself, "
                            "without calling it")
    handed = _Handed({function.__name__: function for function in functions})
    # no:warnings: the libraries' deprecation warnings that the tests' imports raise are not the
    # learner's to act on, and a warnings summary under "3 passed" reads like a problem
    code = pytest.main([str(tests), "-q", "--tb=short", "--no-header", "-p", "no:cacheprovider",
                        "-p", "no:warnings", "--rootdir", str(ROOT)], plugins=[handed])
    return code == pytest.ExitCode.OK
