import runpy
import sys

import pytest

from sftlib import ROOT


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
    assert "| 01_data_formatting |" in out and "| **total** |" in out


def test_course_runtime_names_the_notebooks_it_knows():
    module = runpy.run_path(str(ROOT / "benchmarks" / "course_runtime.py"))
    with pytest.raises(FileNotFoundError, match="00_tour"):
        module["run_notebook"]("99_missing")
