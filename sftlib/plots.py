"""Plots the lessons share, drawn with matplotlib from logged runs."""

from __future__ import annotations

import matplotlib.pyplot as plt


def plot_log_history(history: list[dict], ax=None, title: str = "training loss"):
    """Plot ``loss`` (and ``eval_loss`` when logged) against ``step`` from a Trainer log history.

    Args:
        history: ``trainer.state.log_history``: dicts with ``step`` and ``loss``/``eval_loss``.
        ax: an axes to draw on; a new figure when ``None``.

    Returns:
        The matplotlib axes.
    """
    if ax is None:
        _, ax = plt.subplots(figsize=(6, 3.5))
    for key, label in (("loss", "train"), ("eval_loss", "validation")):
        points = [(h["step"], h[key]) for h in history if key in h]
        if points:
            ax.plot(*zip(*points), marker="." if len(points) < 60 else None, label=label)
    if not ax.lines:
        raise ValueError("plot_log_history: no 'loss' or 'eval_loss' entries in the history")
    ax.set(xlabel="optimizer step", ylabel="cross-entropy (nats/token)", title=title)
    ax.grid(alpha=0.3)
    ax.legend()
    return ax
