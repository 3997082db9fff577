import matplotlib

matplotlib.use("Agg")

import pytest

from sftlib.env import environment_report, versions
from sftlib.plots import plot_log_history


def test_versions_names_installed_and_missing_packages():
    found = versions(("torch", "no-such-package-xyz"))
    assert found["torch"].startswith("2.")
    assert found["no-such-package-xyz"] == "missing"


def test_environment_report_mentions_device_and_packages():
    report = environment_report()
    assert "torch 2." in report and "device " in report and "bf16" in report


def test_plot_log_history_draws_train_and_validation():
    history = [{"step": 1, "loss": 3.0}, {"step": 2, "loss": 2.0}, {"step": 2, "eval_loss": 2.5}]
    ax = plot_log_history(history)
    assert [line.get_label() for line in ax.lines] == ["train", "validation"]
    assert list(ax.lines[0].get_ydata()) == [3.0, 2.0]
    with pytest.raises(ValueError, match="no 'loss'"):
        plot_log_history([{"step": 1, "grad_norm": 1.0}])
