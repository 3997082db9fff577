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


def plot_trade_off(table, x: str = "learned", y: str = "people", ax=None, title: str = ""):
    """Scatter one point per row of ``table`` (a pandas DataFrame), labelled by its index.

    Where ``table`` has ``"<x> min"``/``"<x> max"`` (and the same for ``y``) columns, as
    ``Experiment.over_seeds`` returns, the spread over seeds is drawn as error bars. Both axes are
    shares in [0, 1].

    Returns:
        The matplotlib axes.
    """
    if ax is None:
        _, ax = plt.subplots(figsize=(6, 4))

    def spread(col: str):
        if {f"{col} min", f"{col} max"} <= set(table.columns):
            return [table[col] - table[f"{col} min"], table[f"{col} max"] - table[col]]
        return None

    ax.errorbar(table[x], table[y], xerr=spread(x), yerr=spread(y), fmt="o", capsize=3)
    for name, row in table.iterrows():
        ax.annotate(str(name), (row[x], row[y]), fontsize=8, xytext=(4, 4), textcoords="offset points")
    ax.set(xlabel=x, ylabel=y, xlim=(-0.03, 1.03), ylim=(-0.03, 1.03), title=title)
    ax.grid(alpha=0.3)
    return ax
