"""Run a ready trainer and keep what it measured: the result, its step times, a tidy model.

``run_trainer`` is what every course recipe ends with (SFT in ``sftlib.train``, DPO and ORPO in
``sftlib.preferences``): it trains, times the whole run and each optimizer step, counts the token
positions the forward passes took in, measures the memory, and then hands the model back plain
(``release_model``), frees the optimizer's state and removes the trainer's scratch folder. The
``TrainResult`` it returns holds the columns of the course's comparison tables.
"""

from __future__ import annotations

import atexit
import contextlib
import shutil
import statistics
import tempfile
import time
from dataclasses import dataclass, field

from sftlib.cost import PeakMemory, forward_tokens, return_freed_memory, training_state_mb
from sftlib.models import count_parameters, quiet_weight_bars


@dataclass
class TrainResult:
    """What a run produced: the trainer (with the trained model), its log, timings and memory.

    ``peak_memory_mb`` is what training added on top of what was in memory before it (see
    ``sftlib.cost.PeakMemory``). On a CPU, a run after other runs in the same process reuses memory
    they freed and reads low; ``sftlib.cost.measure_training_memory`` measures in a fresh process.
    ``state_mb`` is ``sftlib.cost.training_state_mb`` counted as training ended (weights,
    gradients, optimizer state, reference model, in MiB); the optimizer's state itself is freed
    then, so a notebook that keeps several results does not keep several optimizers (on a 16 GB
    GPU, four kept full runs of a 135M model held 4 GiB of AdamW moments).
    """

    trainer: object
    log_history: list[dict]
    seconds: float
    train_tokens: int
    peak_memory_mb: float = float("nan")
    memory_kind: str = ""
    trainable_params: int = 0
    total_params: int = 0
    from_cache: bool = False  # loaded by ``sftlib.checkpoints``: times and memory are the saved run's
    state_mb: dict[str, float] = field(default_factory=dict)
    step_seconds: list[float] = field(default_factory=list)  # each optimizer step's, see step_timer
    forward_tokens: dict[str, int] = field(default_factory=dict)  # see sftlib.cost.forward_tokens

    @property
    def model(self):
        """The trained model (a peft model for LoRA and QLoRA)."""
        return self.trainer.model

    @property
    def steps(self) -> int:
        """Optimizer steps taken (fewer than ``max_steps`` when stopped early)."""
        return self.trainer.state.global_step

    @property
    def seconds_per_step(self) -> float:
        """Wall-clock seconds per optimizer step, evaluations included."""
        return self.seconds / max(self.steps, 1)

    @property
    def median_step_seconds(self) -> float:
        """Median wall-clock seconds of one optimizer step (NaN for a run saved without them).

        The fair figure for comparing methods' speed: the setup before the first step, the
        evaluations, and a stretch of other work on the machine shorter than half the run all
        leave the median where it is, while they move ``seconds_per_step``.
        """
        return statistics.median(self.step_seconds) if self.step_seconds else float("nan")

    @property
    def tokens_per_second(self) -> float:
        """Real (non-padding) input tokens processed per wall-clock second."""
        return self.train_tokens / self.seconds

    @property
    def final_loss(self) -> float:
        """Last logged training loss (nats per trained token); NaN if no step was logged."""
        losses = [h["loss"] for h in self.log_history if "loss" in h]
        return losses[-1] if losses else float("nan")

    @property
    def final_eval_loss(self) -> float:
        """Last logged validation loss; NaN when the run had no evaluation."""
        losses = [h["eval_loss"] for h in self.log_history if "eval_loss" in h]
        return losses[-1] if losses else float("nan")

    def summary(self) -> dict[str, float]:
        """One row of the comparison table (units in the keys; ``s/step`` is the median step's)."""
        return {"trainable params": self.trainable_params,
                "trainable %": 100 * self.trainable_params / self.total_params,
                "peak memory MiB": self.peak_memory_mb,
                "s/step": self.median_step_seconds,
                "tokens/s": self.tokens_per_second,
                "train loss": self.final_loss,
                "val loss": self.final_eval_loss}


_scratch: set[str] = set()  # output folders made by scratch_dir and not yet removed


def scratch_dir(prefix: str = "sft-") -> str:
    """A new temporary folder for a trainer's ``output_dir`` that nobody asked to keep.

    ``drop_scratch`` removes it once its run has ended (``run_trainer`` does so), and whatever is
    left is removed when the Python process (the notebook's kernel) exits. Without this, every run
    left a folder in the system's temporary directory, and each run with early stopping left its
    best checkpoint there (about 25 MB for the tiny model, 0.5 GB for a 135M one).
    """
    path = tempfile.mkdtemp(prefix=prefix)
    _scratch.add(path)
    return path


def drop_scratch(path) -> None:
    """Remove ``path`` with its contents if ``scratch_dir`` made it; any other folder is kept."""
    if str(path) in _scratch:
        shutil.rmtree(path, ignore_errors=True)
        _scratch.discard(str(path))


@atexit.register
def _drop_all_scratch() -> None:
    for path in list(_scratch):
        drop_scratch(path)


@contextlib.contextmanager
def quiet_datasets():
    """Turn ``datasets``' progress bars off inside the block (a trainer's dataset preparation)."""
    import datasets

    quiet = datasets.are_progress_bars_disabled()
    datasets.disable_progress_bars()
    try:
        yield
    finally:
        if not quiet:
            datasets.enable_progress_bars()


def release_model(model, keep_trainer_forward: bool = False) -> None:
    """Hand ``model`` back from its trainer in eval mode, ready for another trainer.

    Training patches the model object: accelerate wraps its forward in bf16 autocast (when bf16
    is on) and marks it as prepared, and TRL wraps the forward in a fused LM head whose closure
    holds this very object (a ``copy.deepcopy`` of the model would still compute with the
    original's weights). By default every patch is dropped: the model computes in its own dtype
    with its class's forward, exactly as after ``save_pretrained`` and a reload, and a later
    trainer (DPO on an SFT model, a second task in lesson 07) prepares it afresh, with its own
    autocast; with the prepared mark left on, such a trainer computed in float32 although its
    ``bf16`` was on. ``keep_trainer_forward=True`` drops only accelerate's patches and keeps the
    trainer's own forward, which DPO's ``trainer.evaluate`` needs.
    """
    wrapped = vars(model).pop("_original_forward", None)  # the forward accelerate wrapped
    if keep_trainer_forward:
        if wrapped is not None:
            model.forward = wrapped
    else:
        vars(model).pop("forward", None)
        if hasattr(model, "get_base_model"):  # TRL patches the base model inside a peft model
            vars(model.get_base_model()).pop("forward", None)
    vars(model).pop("_is_accelerate_prepared", None)
    model.eval()


def step_timer():
    """A ``TrainerCallback`` that appends each optimizer step's wall-clock seconds to ``.seconds``.

    A step is timed from the trainer's ``on_step_begin`` to its ``on_step_end``: the forward and
    backward passes of its batches (all of them with gradient accumulation) and the optimizer's
    update. Fetching the batch, evaluation, logging and checkpoints fall outside. On CUDA the clock
    is read after the GPU has finished its queued work, so a step is not timed as its launch only.
    """
    import torch
    from transformers import TrainerCallback

    def now() -> float:
        if torch.cuda.is_initialized():
            torch.cuda.synchronize()
        return time.perf_counter()

    class StepTimer(TrainerCallback):
        def __init__(self) -> None:
            self.seconds: list[float] = []

        def on_step_begin(self, args, state, control, **kwargs):
            self.start = now()

        def on_step_end(self, args, state, control, **kwargs):
            self.seconds.append(now() - self.start)

    return StepTimer()


def run_trainer(trainer, resume_from_checkpoint: str | bool | None = None,
                keep_trainer_forward: bool = False) -> TrainResult:
    """Train a ready TRL/transformers ``trainer``, timed and with its peak memory measured.

    Shared by every recipe of the course (SFT here, DPO and ORPO in ``sftlib.preferences``).

    Args:
        trainer: a ``transformers.Trainer`` (or TRL subclass) holding its model and data.
        resume_from_checkpoint: as in ``train``.
        keep_trainer_forward: as in ``release_model``.

    Returns:
        ``TrainResult``: wall-clock seconds of ``trainer.train()`` and of each step
        (``step_timer``), the token positions its forward passes took in (``forward_tokens``), the
        peak memory it added (MiB, see ``PeakMemory``), the state it held
        (``training_state_mb``), the parameter counts; the model is left in eval mode, the
        optimizer's state is freed and a ``scratch_dir`` output folder is removed.
    """
    from transformers import PrinterCallback

    trainer.remove_callback(PrinterCallback)  # with the bar off, logs go to the live plot or nowhere
    timer = step_timer()
    trainer.add_callback(timer)
    model = trainer.model
    try:
        with (PeakMemory(model.device) as memory, quiet_weight_bars(),  # checkpoints: no save bars
              forward_tokens(model, getattr(trainer, "ref_model", None)) as tokens):
            start = time.perf_counter()
            trainer.train(resume_from_checkpoint=resume_from_checkpoint)
            seconds = time.perf_counter() - start
    finally:  # also after an error or an interrupted cell: the model is left plain, no files
        trainer.remove_callback(timer)
        drop_scratch(trainer.args.output_dir)  # early stopping's best checkpoint is loaded by now
        release_model(model, keep_trainer_forward)
    state = training_state_mb(trainer)
    if trainer.optimizer is not None:
        trainer.optimizer.state.clear()  # AdamW's moments: twice the trained weights, not needed now
    return_freed_memory()  # the run's activations: a kernel that trained stays smaller
    return TrainResult(trainer, trainer.state.log_history, seconds,
                       int(trainer.state.num_input_tokens_seen or 0), memory.peak_mb, memory.kind,
                       count_parameters(model, trainable_only=True), count_parameters(model),
                       state_mb=state, step_seconds=timer.seconds, forward_tokens=tokens)
