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


def _in_notebook() -> bool:
    """True inside a Jupyter kernel (where a figure can be redrawn in place)."""
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    shell = get_ipython()
    return shell is not None and "IPKernelApp" in shell.config


def live_loss_callback(max_steps: int):
    """A ``TrainerCallback`` that redraws the train/validation loss at every log, in place.

    In a notebook it updates one figure; elsewhere (a script, a terminal) it prints one line per
    log instead. The final figure stays in the notebook's output.
    """
    from transformers import TrainerCallback

    class LiveLossPlot(TrainerCallback):
        def __init__(self):
            self.handle = None

        def on_log(self, args, state, control, logs=None, **kwargs):
            if not logs or not ({"loss", "eval_loss"} & logs.keys()):
                return
            if not _in_notebook():
                shown = {k: round(v, 4) for k, v in logs.items() if k in ("loss", "eval_loss")}
                print(f"step {state.global_step}/{max_steps}: {shown}", flush=True)
                return
            from IPython.display import display

            fig, ax = plt.subplots(figsize=(6, 3.5))
            plot_log_history(state.log_history, ax=ax,
                             title=f"training loss, step {state.global_step}/{max_steps}")
            ax.set_xlim(0, max_steps)
            if self.handle is None:
                self.handle = display(fig, display_id=True)
            else:
                self.handle.update(fig)
            plt.close(fig)

    return LiveLossPlot()
