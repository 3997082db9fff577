"""Every lesson opens in Colab: its badge and set-up cell follow sftlib.colab's repository URL."""

from __future__ import annotations

import copy
import json
import os
import sys
import types

import pytest

from sftlib import colab

LESSONS = colab.lesson_paths()


def _lesson(title: str = "# 42 · A new lesson\n\n**Promise:** something.") -> dict:
    return {"nbformat": 4, "nbformat_minor": 5, "metadata": {}, "cells": [
        {"cell_type": "markdown", "id": "a", "metadata": {}, "source": title.splitlines(True)},
        {"cell_type": "code", "id": "b", "metadata": {}, "execution_count": 1, "outputs": [],
         "source": ["# NBVAL_IGNORE_OUTPUT\n", "import sftlib"]},
    ]}


SOLUTIONS = sorted((colab.ROOT / "notebooks" / "solutions").glob("*_solutions.ipynb"))


def test_lessons_are_found():
    assert [p.name[:2] for p in LESSONS] == [f"{i:02d}" for i in range(11)]  # lessons 00 to 10
    # every lesson, and only lessons: one per reference solutions notebook
    assert [p.name for p in LESSONS] == [p.name.replace("_solutions.ipynb", ".ipynb")
                                        for p in SOLUTIONS]


def test_solutions_notebooks_are_not_stamped_as_lessons():
    # deliberate: notebooks/solutions/NN_*_solutions.ipynb are read beside their lesson and run
    # where the course is installed; the set-up cell would move into notebooks/, not solutions/
    assert (colab.ROOT / "notebooks" / "solutions").is_dir()
    assert all(p.parent.name == "notebooks" for p in LESSONS)
    assert len(SOLUTIONS) == len(LESSONS)
    for path in SOLUTIONS:
        text = path.read_text(encoding="utf-8")
        assert colab.CELL_MARKER not in text and colab.BADGE_PREFIX not in text, path.name
        assert "colab.research.google.com" not in text, path.name  # no badge's URL either


@pytest.mark.parametrize("path", LESSONS, ids=lambda p: p.name)
def test_lesson_badge_and_setup_cell_match_the_repository_url(path):
    assert path.read_text(encoding="utf-8") == colab.stamped_text(path), (
        f"{path.name}: Colab badge or set-up cell missing or stale; run python -m sftlib.colab")
    nb = json.loads(path.read_text(encoding="utf-8"))
    first_code = next(c for c in nb["cells"] if c["cell_type"] == "code")
    assert "".join(first_code["source"]).startswith(colab.CELL_MARKER)
    assert first_code["outputs"] == [] and first_code["execution_count"] is None
    assert colab.REPO_URL in "".join(first_code["source"])
    assert colab.colab_url(path.name) in "".join(nb["cells"][0]["source"])


def test_stamp_puts_badge_under_title_and_cell_before_setup_and_is_idempotent():
    nb = colab.stamp(_lesson(), "42_new.ipynb")
    title = "".join(nb["cells"][0]["source"]).split("\n")
    assert title[:4] == ["# 42 · A new lesson", "", colab.badge("42_new.ipynb"), ""]
    assert [c.get("id") for c in nb["cells"]] == ["a", colab.CELL_ID, "b"]
    again = colab.stamp(copy.deepcopy(nb), "42_new.ipynb")
    assert again == nb


def test_stamp_refreshes_a_stale_url_and_rejects_a_lesson_without_title():
    nb = colab.stamp(_lesson(), "42_new.ipynb")
    stale = json.loads(json.dumps(nb).replace("sft-course/sft-course", "old/place"))
    assert colab.stamp(stale, "42_new.ipynb") == nb
    with pytest.raises(ValueError, match="title"):
        colab.stamp(_lesson("No title here"), "42_new.ipynb")


def test_check_mode_reports_a_stale_notebook_and_stamping_fixes_it(tmp_path, capsys):
    path = tmp_path / "42_new.ipynb"
    path.write_text(json.dumps(_lesson()), encoding="utf-8")
    assert colab.main(["--check", str(path)]) == 1
    assert colab.main([str(path)]) == 0
    assert colab.main(["--check", str(path)]) == 0
    assert "42_new.ipynb: out of step" in capsys.readouterr().out


def test_readme_launches_lesson_00_on_binder_and_colab_from_the_repository_url():
    readme = (colab.ROOT / "README.md").read_text(encoding="utf-8")
    assert readme == colab.stamped_readme(readme), "README badges stale; run python -m sftlib.colab"
    assert readme.split("\n")[2] == colab.readme_badges()
    assert colab.binder_url() in readme and colab.colab_url("00_tour.ipynb") in readme
    stale = readme.replace("sft-course/sft-course", "old/place")
    assert colab.stamped_readme(stale) == readme  # a stale line is replaced, not added to
    bare = "\n".join(line for line in readme.split("\n") if not line.startswith("[![Binder]"))
    assert colab.stamped_readme(bare.replace("\n\n\n", "\n\n", 1)) == readme
    with pytest.raises(ValueError, match="title"):
        colab.stamped_readme("no title\n\ntext")


def test_setup_cell_does_nothing_off_colab(monkeypatch):
    monkeypatch.delitem(sys.modules, "google.colab", raising=False)
    monkeypatch.setattr("subprocess.run", lambda *a, **k: pytest.fail("ran a command off Colab"))
    cwd, environ, path = os.getcwd(), dict(os.environ), list(sys.path)
    exec(colab.setup_cell_source(), {})
    assert (os.getcwd(), dict(os.environ), sys.path) == (cwd, environ, path)


@pytest.mark.parametrize("preset", [None, "qwen2.5-0.5b"])
def test_setup_cell_on_colab_clones_installs_keeping_torch_and_keeps_the_profile(monkeypatch,
                                                                              preset):
    runs, moves = [], []
    fake_torch = types.SimpleNamespace(__version__="2.8.0+cu126",
                                       cuda=types.SimpleNamespace(is_available=lambda: True))
    monkeypatch.setitem(sys.modules, "google.colab", types.ModuleType("google.colab"))
    monkeypatch.setitem(sys.modules, "torch", fake_torch)
    monkeypatch.setattr("subprocess.run", lambda cmd, **kw: runs.append((cmd, kw)))
    monkeypatch.setattr("os.chdir", moves.append)
    monkeypatch.setattr("os.path.isdir", lambda path: False)
    monkeypatch.setattr("sys.path", list(sys.path))
    monkeypatch.setenv("SFT_PROFILE", preset or "unset")  # teardown restores it
    if not preset:
        monkeypatch.delenv("SFT_PROFILE")
    exec(colab.setup_cell_source(), {})
    (clone, _), (install, install_kw), (judge, _) = runs
    assert clone[:2] == ["git", "clone"] and clone[-2:] == [colab.REPO_URL, colab.CLONE_DIR]
    assert install[-4:] == ["-e", colab.CLONE_DIR, "-c", "/dev/stdin"]
    assert install_kw["input"] == "torch==2.8.0+cu126"
    assert "--no-deps" in judge
    assert moves == [f"{colab.CLONE_DIR}/notebooks"] and sys.path[0] == colab.CLONE_DIR
    assert os.environ.get("SFT_PROFILE") == preset  # a GPU does not switch to a hub model
