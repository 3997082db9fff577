import matplotlib

matplotlib.use("Agg")

import pytest
import torch

from sftlib.env import device_label, environment_report, versions
from sftlib.plots import plot_log_history, plot_trade_off


def test_versions_names_installed_and_missing_packages():
    found = versions(("torch", "no-such-package-xyz"))
    assert found["torch"].startswith("2.")
    assert found["no-such-package-xyz"] == "missing"


def test_environment_report_mentions_device_and_packages():
    report = environment_report()
    assert "torch 2." in report and "device " in report and "bf16" in report


def test_device_label_names_the_threads_torch_computes_with(monkeypatch):
    """Not the machine's cores: a seeded CPU run gives other numbers with another thread count."""
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    before = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        assert device_label() == "cpu (1 thread)"
        torch.set_num_threads(2)
        assert device_label() == "cpu (2 threads)"
    finally:
        torch.set_num_threads(before)


def test_plot_log_history_draws_train_and_validation():
    history = [{"step": 1, "loss": 3.0}, {"step": 2, "loss": 2.0}, {"step": 2, "eval_loss": 2.5}]
    ax = plot_log_history(history)
    assert [line.get_label() for line in ax.lines] == ["train", "validation"]
    assert list(ax.lines[0].get_ydata()) == [3.0, 2.0]
    with pytest.raises(ValueError, match="no 'loss'"):
        plot_log_history([{"step": 1, "grad_norm": 1.0}])


def test_plot_trade_off_labels_each_row_and_draws_seed_spread():
    import pandas as pd

    table = pd.DataFrame({"learned": [0.2, 0.6], "learned min": [0.1, 0.5], "learned max": [0.3, 0.7],
                          "people": [1.0, 0.4]}, index=["lora", "full"])
    ax = plot_trade_off(table)
    assert [t.get_text() for t in ax.texts] == ["lora", "full"]
    (bars,) = ax.containers
    assert bars.has_xerr and not bars.has_yerr
    left_caps, right_caps = (cap.get_xdata() for cap in bars.lines[1])  # one cap line per side
    assert list(left_caps) == pytest.approx([0.1, 0.5]) and list(right_caps) == pytest.approx([0.3, 0.7])
