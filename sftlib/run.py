"""The notebooks' SFT recipe as a script: a YAML file in, a trained model and a results file out.

    python -m sftlib.run --config configs/qa_full.yaml
    torchrun --nproc_per_node 2 -m sftlib.run --config configs/qa_full.yaml
    accelerate launch --config_file configs/accelerate/multi_gpu.yaml -m sftlib.run --config ...

The YAML file is flat: the ``RunConfig`` keys (which model, which data, which device) next to the
``TrainConfig`` keys (method and hyperparameters, ``output_dir`` included). Training goes through
``sftlib.train.train``, the function the notebooks call; under torchrun or ``accelerate launch``
the Hugging Face ``Trainer`` inside it runs data parallel, and only the main process prints and
writes. See ``docs/scale_out.md``.
"""

from __future__ import annotations

import argparse
import dataclasses
import difflib
import json
import os
import re
import types
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from sftlib.runner import TrainResult
from sftlib.train import TrainConfig

if TYPE_CHECKING:  # pragma: no cover
    from datasets import Dataset

RESULTS_FILE = "results.json"
# trl.SFTConfig / `trl sft` names that TrainConfig or RunConfig spell differently.
TRL_NAMES = {"learning_rate": "lr", "per_device_train_batch_size": "batch_size",
             "gradient_accumulation_steps": "grad_accum_steps", "model_name_or_path": "profile",
             "dataset_name": "dataset"}


@dataclass
class RunConfig:
    """What a script run trains on: the model, the data and the device; ``train`` is the recipe."""

    profile: str = field(default="tiny", metadata={"help": "a profile name or a model folder"})
    dataset: str = field(default="qa", metadata={
        "help": "'qa' (the lessons' task, sftlib.tasks.qa_task) or a .jsonl file, or a folder with "
                "train.jsonl (and validation.jsonl) in any of the course's record shapes"})
    max_examples: int | None = field(default=None, metadata={
        "help": "train on the first N training records only (None: all)"})
    device: str | None = field(default=None, metadata={
        "help": "None: the best available (each process gets its own GPU); 'cpu' forces the CPU"})
    train: TrainConfig = field(default_factory=TrainConfig)

    def __post_init__(self) -> None:
        if self.max_examples is not None and self.max_examples < 1:
            raise ValueError(f"RunConfig.max_examples: at least 1 (or None for all), got "
                             f"{self.max_examples}")


def _type_problem(value, annotation: str) -> str | None:
    """Why ``value`` does not fit a dataclass field annotation such as ``'int | None'``; else None."""
    kinds = {"int": (int,), "float": (int, float), "str": (str,), "bool": (bool,),
             "None": (types.NoneType,), "list[str]": (list,)}
    allowed = tuple(t for name in annotation.split(" | ") for t in kinds[name])
    if isinstance(value, allowed) and not (isinstance(value, bool) and bool not in allowed):
        return None
    hint = " (YAML reads 3e-4 as text: write 3.0e-4)" if isinstance(value, str) else ""
    return f"expected {annotation}, got {type(value).__name__} {value!r}{hint}"


def load_run_config(path: str | Path) -> RunConfig:
    """Read a run's YAML file into a ``RunConfig``, checking every key and its type.

    Args:
        path: a YAML mapping of ``RunConfig`` keys (except ``train``) and ``TrainConfig`` keys;
            ``output_dir`` is required (the model and ``results.json`` are written there).

    Returns:
        The ``RunConfig``, its ``train`` a ``TrainConfig``. An unknown key, a value of the wrong
        type or a missing ``output_dir`` raises ``ValueError`` naming the file, line and key.

    Example:
        >>> load_run_config("configs/qa_full.yaml").train.method  # doctest: +SKIP
        'full'
    """
    import yaml

    text = Path(path).read_text(encoding="utf-8")
    values = yaml.safe_load(text)
    if not isinstance(values, dict):
        raise ValueError(f"{path}: expected a YAML mapping of settings (key: value lines), "
                         f"got {type(values).__name__}")
    lines: dict = {}
    for key, _ in yaml.compose(text).value:
        line = key.start_mark.line + 1
        if key.value in lines:  # YAML would keep the last value without a word
            raise ValueError(f"{path}, line {line}: {key.value} is set twice (also on line "
                             f"{lines[key.value]}); keep one")
        lines[key.value] = line
    run_fields = {f.name: f for f in dataclasses.fields(RunConfig) if f.name != "train"}
    train_fields = {f.name: f for f in dataclasses.fields(TrainConfig)}
    known = {**run_fields, **train_fields}
    for key, value in values.items():
        where = f"{path}, line {lines.get(key, '?')}"
        if key not in known:
            close = [TRL_NAMES[key]] if key in TRL_NAMES else difflib.get_close_matches(
                str(key), known, n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            raise ValueError(f"{where}: unknown key {key!r}{hint} Known keys: {', '.join(known)}")
        problem = _type_problem(value, known[key].type)
        if problem:
            raise ValueError(f"{where}: {key}: {problem}")
    if not values.get("output_dir"):
        raise ValueError(f"{path}: set output_dir (where the model and {RESULTS_FILE} go)")
    try:
        train = TrainConfig(**{k: v for k, v in values.items() if k in train_fields})
        return RunConfig(**{k: v for k, v in values.items() if k in run_fields}, train=train)
    except ValueError as err:  # a value a config refuses: name the key's line
        named = re.match(r"(?:Train|Run)Config\.(\w+)", str(err))
        where = f"{path}, line {lines[named.group(1)]}" if named and named.group(1) in lines else str(path)
        raise ValueError(f"{where}: {re.sub(r'^(Train|Run)Config[.]', '', str(err))}") from None


def load_datasets(config: RunConfig) -> tuple[Dataset, Dataset | None]:
    """The training and validation sets of ``config.dataset`` as ``messages`` datasets.

    Args:
        config: ``dataset`` is ``"qa"`` (``sftlib.tasks.qa_task``: its train and validation sets), a
            ``.jsonl`` file (no validation set) or a folder with ``train.jsonl`` and optionally
            ``validation.jsonl``; records of any course shape become messages (``to_messages``).
            ``max_examples`` keeps the first N training records.

    Returns:
        ``(train, validation)``; validation is None where there is none.

    Example:
        >>> len(load_datasets(RunConfig(max_examples=160))[0])  # doctest: +SKIP
        160
    """
    from sftlib.data import read_jsonl
    from sftlib.tasks import chat_dataset, qa_task

    if config.dataset == "qa":
        task = qa_task()
        train, validation = task.train, task.validation
    else:
        path = Path(config.dataset)
        files = [path / "train.jsonl", path / "validation.jsonl"] if path.is_dir() else [path, None]
        train, validation = (None if f is None or not f.is_file()
                             else chat_dataset(read_jsonl(f, validate=True)) for f in files)
        if train is None:
            raise FileNotFoundError(f"dataset {config.dataset!r}: no {files[0]}; give 'qa', a "
                                    ".jsonl file or a folder with train.jsonl")
    if config.max_examples is not None:
        train = train.select(range(min(config.max_examples, len(train))))
    return train, validation


def summarise(config: RunConfig, result: TrainResult) -> dict:
    """The ``results.json`` record of a run: sizes, per-step losses, seconds and tokens."""
    args = result.trainer.args
    return {"profile": config.profile, "dataset": config.dataset, "method": config.train.method,
            "world_size": args.world_size,
            "distributed_type": str(result.trainer.accelerator.distributed_type).split(".")[-1],
            "per_device_batch_size": args.per_device_train_batch_size,
            "grad_accum_steps": args.gradient_accumulation_steps,
            "global_batch_size": args.per_device_train_batch_size
            * args.gradient_accumulation_steps * args.world_size,
            "steps": result.steps, "final_loss": result.final_loss,
            "final_eval_loss": result.final_eval_loss,
            "losses": {h["step"]: h["loss"] for h in result.log_history if "loss" in h},
            "seconds": round(result.seconds, 3), "train_tokens": result.train_tokens}


def run(config: RunConfig) -> dict:
    """Load the model and data, train with ``sftlib.train.train``, save; return the results record.

    Every process of a torchrun / ``accelerate launch`` job calls this; the main process writes the
    model, its tokenizer and ``results.json`` to ``config.train.output_dir``.

    Args:
        config: the run (``config.train.output_dir`` must be set).

    Returns:
        The dict written to ``results.json`` (see ``summarise``); every process returns it.

    Example:
        >>> run(load_run_config("configs/qa_full.yaml"))["final_loss"]  # doctest: +SKIP
        0.5263
    """
    import torch

    from sftlib.models import load_model
    from sftlib.train import train

    device = config.device
    if device is None and torch.cuda.is_available() and "LOCAL_RANK" in os.environ:
        device = f"cuda:{os.environ['LOCAL_RANK']}"  # each process loads onto its own GPU
    model, tokenizer = load_model(config.profile, device=device)
    train_dataset, eval_dataset = load_datasets(config)
    if not config.train.eval_steps:
        eval_dataset = None
    result = train(config.train, model, tokenizer, train_dataset, eval_dataset)
    result.trainer.save_model(config.train.output_dir)  # every process: FSDP gathers the weights
    record = summarise(config, result)
    if result.trainer.is_world_process_zero():
        out = Path(config.train.output_dir) / RESULTS_FILE
        out.write_text(json.dumps(record, indent=1) + "\n", encoding="utf-8")
    return record


def main(argv: list[str] | None = None) -> None:
    """Command line: ``python -m sftlib.run --config FILE.yaml``; the main process prints results."""
    parser = argparse.ArgumentParser(prog="python -m sftlib.run", description=__doc__.split("\n")[0])
    parser.add_argument("--config", required=True, help="YAML file of RunConfig/TrainConfig keys")
    config = load_run_config(parser.parse_args(argv).config)
    record = run(config)
    from accelerate import PartialState

    if PartialState().is_main_process:
        print(f"{record['world_size']} process(es), {record['distributed_type']}: "
              f"{record['per_device_batch_size']} examples x {record['grad_accum_steps']} "
              f"accumulation x {record['world_size']} = global batch {record['global_batch_size']}; "
              f"{record['steps']} steps in {record['seconds']} s")
        print(f"final loss {record['final_loss']:.4f}; model and {RESULTS_FILE} in "
              f"{config.train.output_dir}")


if __name__ == "__main__":
    main()
