"""One SFT recipe: a dataclass config -> a configured TRL ``SFTTrainer`` run -> a result.

The config names the method (full fine-tuning, frozen layers, LoRA, QLoRA) and the
hyperparameters. The recipe picks CPU-safe settings on its own (float32 or bf16 autocast by
hardware, no pinned memory, no gradient checkpointing for small models, no reporting to services),
so a notebook only states what the lesson is about. The run itself, and the ``TrainResult`` with
the log, the timings, the memory and the trainable parameter count (the columns of the course's
comparison tables), are ``sftlib.runner``'s.
"""

from __future__ import annotations

import copy
import dataclasses
import hashlib
import json
from dataclasses import dataclass, field
from importlib.metadata import version

from sftlib import checkpoints
from sftlib.methods import METHODS, apply_method
from sftlib.models import pick_device, supports_bf16
from sftlib.runner import (TrainResult, drop_scratch, quiet_datasets, release_model, run_trainer,
                           scratch_dir)
from sftlib.templates import IGNORE_INDEX, tokenize_chat


@dataclass
class TrainConfig:
    """Method and hyperparameters of one SFT run (names follow ``trl.SFTConfig`` where they exist)."""

    method: str = field(default="full", metadata={"help": "full, frozen, lora or qlora"})
    freeze_layers: int = field(default=0, metadata={"help": "frozen: bottom blocks to freeze"})
    lora_r: int = field(default=8, metadata={"help": "LoRA rank"})
    lora_alpha: int = field(default=16, metadata={"help": "LoRA scale numerator (alpha / r)"})
    lora_dropout: float = 0.0
    lora_targets: str | list[str] = field(default="all-linear",
                                          metadata={"help": "module names or 'all-linear'"})
    lr: float = field(default=1e-4, metadata={"help": "peak learning rate"})
    max_steps: int = field(default=100, metadata={"help": "optimizer steps"})
    batch_size: int = field(default=8, metadata={
        "help": "rows per device per forward pass: examples, or packed rows with packing"})
    grad_accum_steps: int = field(default=1, metadata={"help": "forward passes per optimizer step"})
    max_length: int | None = field(default=256, metadata={"help": "longest sequence, tokens"})
    warmup_ratio: float = field(default=0.05, metadata={"help": "share of steps with linear warmup"})
    weight_decay: float = field(default=0.01, metadata={"help": "weight decay (AdamW's, or optim's)"})
    lr_scheduler_type: str = "linear"
    optim: str | None = field(default=None, metadata={
        "help": "transformers' optimizer name, e.g. 'sgd'; None: the trainer's AdamW"})
    optim_args: str | None = field(default=None, metadata={
        "help": "the optimizer's extra settings, e.g. 'momentum=0.9' for sgd"})
    packing: bool = field(default=False, metadata={"help": "pack examples into max_length rows"})
    padding_free: bool = field(default=False, metadata={"help": "flatten the batch, no padding"})
    assistant_only_loss: bool = field(default=True, metadata={
        "help": "chat (messages) data: train the answers only; other shapes use completion_only_loss"})
    completion_only_loss: bool | None = field(default=None, metadata={"help": "prompt/completion"})
    eval_steps: int | None = field(default=None, metadata={"help": "evaluate every N steps"})
    early_stopping_patience: int | None = field(
        default=None, metadata={"help": "stop after N evaluations without a lower eval loss"})
    logging_steps: int = 10
    seed: int = 0
    bf16: bool | None = field(default=None, metadata={"help": "None: use bf16 where supported"})
    output_dir: str | None = field(default=None, metadata={"help": "None: a temporary folder"})
    save_steps: int | None = field(default=None, metadata={"help": "checkpoint every N steps"})
    live_plot: bool = field(default=False, metadata={"help": "draw the losses while training"})
    progress_bar: bool = field(default=True, metadata={
        "help": "show the trainer's progress bar (turn it off for sweeps of many runs)"})

    def __post_init__(self) -> None:
        if self.method not in METHODS:
            raise ValueError(f"TrainConfig.method={self.method!r}; choose one of {METHODS}")
        if self.freeze_layers and self.method != "frozen":
            raise ValueError(f"TrainConfig.freeze_layers={self.freeze_layers} does nothing with "
                             f"method={self.method!r}; set method='frozen' or freeze_layers=0")
        for name in ("max_steps", "batch_size", "grad_accum_steps", "logging_steps"):
            if getattr(self, name) < 1:
                raise ValueError(f"TrainConfig.{name}={getattr(self, name)}; it must be at least 1")
        for name in ("eval_steps", "save_steps", "early_stopping_patience"):
            if getattr(self, name) is not None and getattr(self, name) < 1:
                raise ValueError(f"TrainConfig.{name}={getattr(self, name)}; use None to turn it "
                                 "off, or a number >= 1")
        if not self.lr > 0:
            raise ValueError(f"TrainConfig.lr={self.lr}; a learning rate is > 0")
        if not 0 <= self.warmup_ratio < 1:  # transformers reads a value >= 1 as a step count
            raise ValueError(f"TrainConfig.warmup_ratio={self.warmup_ratio}; a share of the steps "
                             "in [0, 1)")
        if self.early_stopping_patience and not self.eval_steps:
            raise ValueError("TrainConfig.early_stopping_patience needs eval_steps (and an "
                             "eval_dataset): it stops on the validation loss")


def trainer_settings(config, device=None) -> dict:
    """The ``TrainingArguments`` every course recipe shares: CPU-safe, seeded, quiet.

    Used by ``sft_config`` and by ``sftlib.preferences`` for TRL's DPO and ORPO configs, so every
    trainer in the course runs with the same device, precision and logging choices.

    Args:
        config: a ``TrainConfig`` or ``sftlib.preferences.PreferenceConfig`` (the fields ``lr``,
            ``max_steps``, ``batch_size``, ``grad_accum_steps``, ``max_length``, ``warmup_ratio``,
            ``weight_decay``, ``lr_scheduler_type``, ``eval_steps``, ``logging_steps``, ``seed``,
            ``bf16``, ``output_dir`` and ``progress_bar`` are read).
        device: where training runs; None picks CUDA, then MPS, then CPU.

    Returns:
        Keyword arguments for any ``transformers.TrainingArguments`` subclass: float32 or bf16 by
        hardware, no pinned memory, no activation checkpointing, no reporting to services, a
        temporary output folder unless one is given (``scratch_dir``: removed after the run),
        no checkpoints, no progress bar for runs under 20 steps.

    Example:
        >>> trainer_settings(TrainConfig(lr=3e-4), "cpu")["learning_rate"]
        0.0003
    """
    device = pick_device(device)
    bf16 = supports_bf16(device) if config.bf16 is None else config.bf16
    return dict(
        output_dir=config.output_dir or scratch_dir(),
        learning_rate=config.lr, max_steps=config.max_steps,
        per_device_train_batch_size=config.batch_size, per_device_eval_batch_size=config.batch_size,
        gradient_accumulation_steps=config.grad_accum_steps, max_length=config.max_length,
        warmup_steps=config.warmup_ratio, weight_decay=config.weight_decay,
        lr_scheduler_type=config.lr_scheduler_type,
        eval_strategy="steps" if config.eval_steps else "no", eval_steps=config.eval_steps,
        logging_steps=config.logging_steps, seed=config.seed, data_seed=config.seed,
        bf16=bf16, use_cpu=device.type == "cpu", dataloader_pin_memory=False,
        activation_checkpointing=False, report_to=[], save_strategy="no",
        disable_tqdm=not config.progress_bar or config.max_steps < 20,
        # Data parallel (torchrun): every trained parameter takes part in each forward pass, so DDP
        # need not search for unused ones (frozen parameters have requires_grad off and are skipped).
        ddp_find_unused_parameters=False,
    )


def sft_config(config: TrainConfig, device=None):
    """Translate a ``TrainConfig`` into a ``trl.SFTConfig`` with safe defaults for the device."""
    from trl import SFTConfig

    settings = trainer_settings(config, device) | _save_settings(config)
    settings["disable_tqdm"] |= config.live_plot  # the live plot replaces the bar
    if config.optim is not None:  # otherwise the trainer's default, a (fused) AdamW
        settings |= {"optim": config.optim, "optim_args": config.optim_args}
    return SFTConfig(
        **settings, packing=config.packing, padding_free=config.padding_free,
        assistant_only_loss=config.assistant_only_loss,
        completion_only_loss=config.completion_only_loss,
        include_num_input_tokens_seen="non_padding",
    )


def _save_settings(config: TrainConfig) -> dict:
    """Checkpointing: every ``save_steps``; with early stopping, the best model is kept and loaded."""
    settings = {"save_strategy": "steps" if config.save_steps else "no",
                "save_steps": config.save_steps}
    if config.early_stopping_patience:
        settings = {"save_strategy": "steps", "save_steps": config.save_steps or config.eval_steps,
                    "save_only_model": not config.save_steps, "save_total_limit": 1,
                    "load_best_model_at_end": True, "metric_for_best_model": "eval_loss"}
    return settings


def callbacks(config: TrainConfig) -> list:
    """The trainer callbacks a config asks for: early stopping, the live loss plot."""
    from transformers import EarlyStoppingCallback

    from sftlib.plots import live_loss_callback

    found = []
    if config.early_stopping_patience:
        found.append(EarlyStoppingCallback(config.early_stopping_patience))
    if config.live_plot:
        found.append(live_loss_callback(config.max_steps))
    return found


def train(config: TrainConfig, model, tokenizer, train_dataset, eval_dataset=None,
          resume_from_checkpoint: str | bool | None = None,
          extra_callbacks: list | tuple = ()) -> TrainResult:
    """Fine-tune ``model`` with TRL's ``SFTTrainer`` by ``config.method``; return a ``TrainResult``.

    Args:
        config: the run's method and hyperparameters.
        model: a causal LM (its weights are updated; for LoRA and QLoRA it gets adapters, and
            ``result.model`` is the peft model). Load a fresh one per run.
        tokenizer: its tokenizer; passed to TRL as ``processing_class``.
        train_dataset, eval_dataset: ``datasets.Dataset`` in any shape TRL accepts
            (``messages``, ``prompt``/``completion``, or ``text``); an eval set needs
            ``config.eval_steps``.
        resume_from_checkpoint: a checkpoint folder (or ``True`` for the latest in
            ``config.output_dir``) to continue an interrupted run from.
        extra_callbacks: more ``TrainerCallback`` objects, after the config's own.

    Returns:
        ``TrainResult`` with the trainer, ``log_history``, wall-clock seconds and trained tokens.

    Example:
        >>> result = train(TrainConfig(max_steps=20), model, tokenizer, dataset)  # doctest: +SKIP
        >>> result.final_loss < result.log_history[0]["loss"]
        True
    """
    from transformers import set_seed

    device = model.device
    if eval_dataset is not None and not config.eval_steps:
        raise ValueError("an eval_dataset was given but TrainConfig.eval_steps is None, so it would never "
                         "be evaluated: set eval_steps (eval_steps=max_steps evaluates once, at the end) "
                         "or leave the eval set out")
    if "messages" not in train_dataset.column_names:  # the option exists for chat data only
        config = dataclasses.replace(config, assistant_only_loss=False)
    folder = checkpoints.cache_dir()  # None unless $SFT_RUN_CACHE is set
    if resume_from_checkpoint or extra_callbacks or not checkpoints.cacheable(config):
        folder = None  # these runs depend on more than their inputs
    key = folder and checkpoints.run_key(config, model, tokenizer, train_dataset, eval_dataset)
    set_seed(config.seed)  # LoRA's random A matrices are drawn here, before the trainer seeds
    model = apply_method(model, config)
    args = sft_config(config, device)
    if key and (folder / key).exists():
        result = load_cached_run(folder / key, args, config, model, tokenizer, train_dataset,
                                 eval_dataset)
        drop_scratch(args.output_dir)  # the trainer made it; nothing was trained into it
        return result
    result = train_with_args(args, model, tokenizer, train_dataset, eval_dataset,
                             callbacks(config) + list(extra_callbacks), resume_from_checkpoint)
    if key:
        checkpoints.save_run(folder, key, result)
    return result


def load_cached_run(folder, args, config: TrainConfig, model, tokenizer, train_dataset,
                    eval_dataset=None) -> TrainResult:
    """Stand in for a run saved by ``sftlib.checkpoints``: its weights, log, times and memory.

    ``model`` has had the method applied; the saved trainable tensors are copied into it, and a
    trainer is built around it (tokenising the data, about a second) with the saved state, so that
    ``result.trainer`` holds the log and step count and can save the model, as after a trained
    run. Prints one line saying where the run came from.
    """
    from sftlib.plots import plot_log_history

    run = checkpoints.load_run(folder, model)
    trainer = sft_trainer(args, model, tokenizer, train_dataset, eval_dataset)
    trainer.state.log_history = run.log_history
    trainer.state.global_step, trainer.state.max_steps = run.global_step, config.max_steps
    trainer.state.total_flos, trainer.state.num_input_tokens_seen = run.total_flos, run.train_tokens
    # Prepare and release as a real run does: the trainer then counts the model as its own (its
    # evaluate adds no wrapper) and the model is left plain, so the cells after a loaded run
    # behave as after the trained one (lesson 10 runs DPO on the SFT model).
    release_model(trainer.accelerator.prepare_model(model))
    print(f"run cache: loaded {run.global_step} steps trained on {run.saved} in {run.seconds:.1f} s "
          f"({folder.name[:10]})")
    if config.live_plot:
        plot_log_history(run.log_history, title=f"training loss, {run.global_step} steps (cached)")
    return TrainResult(trainer, run.log_history, run.seconds, run.train_tokens,
                       run.peak_memory_mb, run.memory_kind, run.trainable_params, run.total_params,
                       from_cache=True, state_mb=run.state_mb, step_seconds=run.step_seconds,
                       forward_tokens=run.forward_tokens)


def train_with_args(args, model, tokenizer, train_dataset, eval_dataset=None,
                    callbacks: list | None = None,
                    resume_from_checkpoint: str | bool | None = None) -> TrainResult:
    """Like ``train``, but with a ready ``trl.SFTConfig`` and the model as it is.

    For comparing against TRL's defaults. Set ``include_num_input_tokens_seen`` in ``args`` for
    ``TrainResult.train_tokens`` to count.
    """
    trainer = sft_trainer(args, model, tokenizer, train_dataset, eval_dataset, callbacks)
    return run_trainer(trainer, resume_from_checkpoint)


# SFTConfig fields that decide how TRL prepares (tokenises, masks, truncates, packs) a dataset
PREPARATION_FIELDS = ("max_length", "truncation_mode", "packing", "packing_strategy", "eval_packing",
                      "padding_free", "assistant_only_loss", "completion_only_loss",
                      "dataset_text_field", "eos_token", "pad_token", "chat_template_path",
                      "shuffle_dataset", "dataset_kwargs")
_prepared: dict[str, object] = {}  # this process's prepared datasets, by prepared_key
PREPARED_KEPT = 16  # a lesson trains on a handful of datasets; a few MiB each


def prepared_key(args, tokenizer, dataset, split: str) -> str:
    """A hex digest of what decides TRL's preparation of ``dataset`` for ``split`` (train or eval):
    its rows, the tokenizer, the ``PREPARATION_FIELDS`` of ``args`` and TRL's version."""
    settings = {name: getattr(args, name, None) for name in PREPARATION_FIELDS}
    digest = hashlib.sha256(json.dumps([split, settings, version("trl")], sort_keys=True,
                                       default=str).encode())
    digest.update(checkpoints.tokenizer_state(tokenizer).encode())
    digest.update(checkpoints.dataset_rows(dataset).encode())
    return digest.hexdigest()


def sft_trainer(args, model, tokenizer, train_dataset, eval_dataset=None,
                callbacks: list | None = None):
    """A TRL ``SFTTrainer`` for ``model`` and the data, ready to train (the data is tokenised).

    Building the trainer tokenises the data: 1.35 s for the 4,500 QA conversations on one CPU
    thread, for every run (0.24 s from prepared rows). The lessons train many runs on the same
    data, so the datasets TRL prepared are kept for the rest of the process, by
    ``prepared_key``, and handed to the next trainer that would prepare the same ones. TRL takes
    a tokenised dataset as it is (it skips tokenising when ``input_ids`` are there), so both
    trainers train on the same rows. Packed data is prepared every time: TRL would pack the
    packed rows again, and so is shuffled data (TRL would shuffle it again).

    Raises:
        ValueError: TRL's preparation dropped examples (no trained token left) or cut one at
            ``max_length``: nothing is dropped or shortened silently.
    """
    from datasets import Dataset
    from trl import SFTTrainer

    data = {"train": train_dataset, "eval": eval_dataset}
    args, data = apply_answer_weights(args, tokenizer, data)
    packed = {"train": args.packing,
              "eval": args.packing if args.eval_packing is None else args.eval_packing}
    checked = {split: dataset for split, dataset in data.items() if isinstance(dataset, Dataset)
               and "input_ids" not in dataset.column_names}
    raw = {split: dataset for split, dataset in checked.items() if not packed[split]}  # TRL packs again
    keys = {split: prepared_key(args, tokenizer, dataset, split) for split, dataset in raw.items()
            if not args.shuffle_dataset}  # TRL would shuffle shuffled rows again
    data |= {split: _prepared[key] for split, key in keys.items() if key in _prepared}
    with quiet_datasets():  # TRL's preparing passes; no bars for them
        trainer = SFTTrainer(model=model, args=args, train_dataset=data["train"],
                             eval_dataset=data["eval"], processing_class=tokenizer,
                             callbacks=callbacks)
    for split, dataset in checked.items():
        _check_prepared(dataset, trainer.train_dataset if split == "train" else trainer.eval_dataset,
                        args.max_length, split)
    for split, key in keys.items():
        _prepared[key] = trainer.train_dataset if split == "train" else trainer.eval_dataset
    while len(_prepared) > PREPARED_KEPT:
        del _prepared[next(iter(_prepared))]  # the oldest first
    return trainer


def apply_answer_weights(args, tokenizer, data: dict) -> tuple:
    """Keep the answers marked ``"weight": 0`` out of the loss, which TRL would train on.

    OpenAI's chat fine-tuning format marks an assistant message ``"weight": 0`` to keep it as
    context without training on it (``sftlib.schemas`` accepts it). TRL's ``SFTTrainer`` does not
    read weights and would train every answer, but it takes tokenised rows with an
    ``assistant_masks`` column as they are. So when a conversation of ``data`` has a weight-0
    answer, every chat split is tokenised by ``tokenize_chat`` (the masks TRL builds itself, lesson
    02 checks, less the weight-0 answers) and ``args`` says the masks are in the rows.

    Args:
        args: the run's ``trl.SFTConfig``; nothing changes unless ``assistant_only_loss`` is on.
        tokenizer: a tokenizer whose chat template marks assistant turns with ``{% generation %}``.
        data: ``{"train": Dataset, "eval": Dataset or None}``.

    Returns:
        ``(args, data)`` unchanged, or a copy of ``args`` with ``assistant_only_loss=False`` and
        the chat splits as ``{"input_ids", "assistant_masks"}`` rows (tokens; 1 = trained), one
        per conversation, in order.

    Raises:
        ValueError: naming the split and row, if a conversation has no trained token left or is
            longer than ``args.max_length`` (never cut silently).
    """
    chats = {split: dataset for split, dataset in data.items()
             if dataset is not None and "messages" in dataset.column_names}
    if not args.assistant_only_loss or not any(map(_has_weight_0, chats.values())):
        return args, data
    args = copy.copy(args)
    args.assistant_only_loss = False  # TRL refuses it for tokenised rows; it reads their masks
    return args, data | {split: _masked_rows(dataset, tokenizer, args.max_length, split)
                         for split, dataset in chats.items()}


def _has_weight_0(dataset) -> bool:
    """Whether a ``messages`` dataset has an assistant message with ``"weight": 0``."""
    feature = dataset.features["messages"]
    inner = getattr(feature, "feature", feature[0] if isinstance(feature, list) else None)
    if not isinstance(inner, dict) or "weight" not in inner:
        return False  # no message of this dataset has a weight
    return any(m.get("weight") == 0 for messages in dataset["messages"] for m in messages)


def _masked_rows(dataset, tokenizer, max_length: int | None, split: str):
    """``tokenize_chat`` of every conversation, as ``{"input_ids", "assistant_masks"}`` rows."""
    from datasets import Dataset

    rows = []
    for row, messages in enumerate(dataset["messages"]):
        try:
            example = tokenize_chat(messages, tokenizer, max_length)
        except ValueError as error:
            raise ValueError(f"{split} data, row {row}: {error}") from None
        rows.append({"input_ids": example["input_ids"],
                     "assistant_masks": [int(label != IGNORE_INDEX) for label in example["labels"]]})
    return Dataset.from_list(rows)


def _check_prepared(raw, prepared, max_length: int | None, split: str) -> None:
    """Raise if TRL's preparation of ``raw`` dropped rows or cut one at ``max_length`` (tokens).

    Packed data (a ``seq_lengths`` column: one row holds several examples) is checked by the
    examples' lengths: TRL cuts each to ``max_length`` before packing, without a word.
    """
    import pyarrow.compute as pc

    table = prepared.with_format("arrow")[:]  # rows as selected
    packed = "seq_lengths" in table.column_names
    if packed:
        lengths = pc.list_flatten(table["seq_lengths"])
    else:
        if len(prepared) != len(raw):
            raise ValueError(f"{split} data: TRL dropped {len(raw) - len(prepared)} of {len(raw)} examples "
                             f"that had no trained token left after truncation to max_length="
                             f"{max_length} (an answer cut off, or a chat template without "
                             "{% generation %} marks); raise max_length or fix those examples")
        lengths = pc.list_value_length(table["input_ids"])
    if max_length is None or not len(lengths):
        return
    if pc.max(lengths).as_py() >= max_length:
        row = pc.index(pc.greater_equal(lengths, max_length), True).as_py()
        where = "an example" if packed else f"example {row}"  # a packed row holds several
        raise ValueError(f"{split} data: {where} fills max_length={max_length} "
                         "tokens, so TRL cut it (or it is exactly that long); raise max_length or "
                         "shorten it: nothing is cut silently")