"""One SFT recipe: a dataclass config -> a configured TRL ``SFTTrainer`` run -> a result.

The recipe picks CPU-safe settings on its own (float32 or bf16 autocast by hardware, no pinned
memory, no gradient checkpointing for small models, no reporting to services), so a notebook only
states what the lesson is about: learning rate, steps, batch size, what the loss is computed on.
"""

from __future__ import annotations

import tempfile
import time
from dataclasses import dataclass, field

from sftlib.models import pick_device, supports_bf16


@dataclass
class TrainConfig:
    """Hyperparameters of one SFT run (the names follow ``trl.SFTConfig`` where they exist)."""

    lr: float = field(default=1e-4, metadata={"help": "peak learning rate"})
    max_steps: int = field(default=100, metadata={"help": "optimizer steps"})
    batch_size: int = field(default=8, metadata={"help": "examples per device per forward pass"})
    grad_accum_steps: int = field(default=1, metadata={"help": "forward passes per optimizer step"})
    max_length: int | None = field(default=256, metadata={"help": "longest sequence, tokens"})
    warmup_ratio: float = field(default=0.05, metadata={"help": "share of steps with linear warmup"})
    weight_decay: float = field(default=0.01, metadata={"help": "AdamW weight decay"})
    lr_scheduler_type: str = "linear"
    packing: bool = field(default=False, metadata={"help": "pack examples into max_length rows"})
    padding_free: bool = field(default=False, metadata={"help": "flatten the batch, no padding"})
    assistant_only_loss: bool = field(default=True, metadata={"help": "chat data: train answers"})
    completion_only_loss: bool | None = field(default=None, metadata={"help": "prompt/completion"})
    eval_steps: int | None = field(default=None, metadata={"help": "evaluate every N steps"})
    logging_steps: int = 10
    seed: int = 0
    bf16: bool | None = field(default=None, metadata={"help": "None: use bf16 where supported"})
    output_dir: str | None = field(default=None, metadata={"help": "None: a temporary folder"})


@dataclass
class TrainResult:
    """What a run produced: the trainer (with the trained model), its log, and timings."""

    trainer: object
    log_history: list[dict]
    seconds: float
    train_tokens: int

    @property
    def tokens_per_second(self) -> float:
        """Real (non-padding) input tokens processed per wall-clock second."""
        return self.train_tokens / self.seconds

    @property
    def final_loss(self) -> float:
        """Last logged training loss (nats per trained token)."""
        return [h["loss"] for h in self.log_history if "loss" in h][-1]


def sft_config(config: TrainConfig, device=None):
    """Translate a ``TrainConfig`` into a ``trl.SFTConfig`` with safe defaults for the device."""
    from trl import SFTConfig

    device = pick_device(device)
    bf16 = supports_bf16(device) if config.bf16 is None else config.bf16
    return SFTConfig(
        output_dir=config.output_dir or tempfile.mkdtemp(prefix="sft-"),
        learning_rate=config.lr, max_steps=config.max_steps,
        per_device_train_batch_size=config.batch_size, per_device_eval_batch_size=config.batch_size,
        gradient_accumulation_steps=config.grad_accum_steps, max_length=config.max_length,
        warmup_steps=config.warmup_ratio, weight_decay=config.weight_decay,
        lr_scheduler_type=config.lr_scheduler_type, packing=config.packing,
        padding_free=config.padding_free, assistant_only_loss=config.assistant_only_loss,
        completion_only_loss=config.completion_only_loss,
        eval_strategy="steps" if config.eval_steps else "no", eval_steps=config.eval_steps,
        logging_steps=config.logging_steps, seed=config.seed, data_seed=config.seed,
        bf16=bf16, use_cpu=device.type == "cpu", dataloader_pin_memory=False,
        gradient_checkpointing=False, report_to=[], save_strategy="no",
        include_num_input_tokens_seen="non_padding",
        disable_tqdm=config.max_steps < 20,  # no bar for a handful of steps
    )


def train(config: TrainConfig, model, tokenizer, train_dataset, eval_dataset=None) -> TrainResult:
    """Fine-tune ``model`` in place with TRL's ``SFTTrainer`` and return a ``TrainResult``.

    Args:
        config: the run's hyperparameters.
        model: a causal LM (its weights are updated).
        tokenizer: its tokenizer; passed to TRL as ``processing_class``.
        train_dataset, eval_dataset: ``datasets.Dataset`` in any shape TRL accepts
            (``messages``, ``prompt``/``completion``, or ``text``).

    Returns:
        ``TrainResult`` with the trainer, ``log_history``, wall-clock seconds and trained tokens.

    Example:
        >>> result = train(TrainConfig(max_steps=20), model, tokenizer, dataset)  # doctest: +SKIP
        >>> result.final_loss < result.log_history[0]["loss"]
        True
    """
    return train_with_args(sft_config(config, model.device), model, tokenizer, train_dataset,
                           eval_dataset)


def train_with_args(args, model, tokenizer, train_dataset, eval_dataset=None) -> TrainResult:
    """Like ``train``, but with a ready ``trl.SFTConfig`` (for comparing against TRL's defaults).

    Set ``include_num_input_tokens_seen`` in ``args`` for ``TrainResult.train_tokens`` to count.
    """
    from trl import SFTTrainer

    trainer = SFTTrainer(model=model, args=args, train_dataset=train_dataset,
                         eval_dataset=eval_dataset, processing_class=tokenizer)
    start = time.perf_counter()
    trainer.train()
    seconds = time.perf_counter() - start
    model.eval()
    return TrainResult(trainer, trainer.state.log_history, seconds,
                       int(trainer.state.num_input_tokens_seen or 0))
