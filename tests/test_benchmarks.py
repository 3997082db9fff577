import runpy
import sys

from sftlib import ROOT


def test_train_speed_benchmark_runs_and_prints_its_table(monkeypatch, capsys):
    monkeypatch.setattr(sys, "argv", ["train_speed.py", "--steps", "2"])
    runpy.run_path(str(ROOT / "benchmarks" / "train_speed.py"), run_name="__main__")
    table = capsys.readouterr().out.split("speed-up")[-1]
    assert "plain SFTTrainer defaults" in table and "1.00x" in table
    assert "recipe, padding-free" in table
