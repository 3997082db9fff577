"""Trained runs kept on disk, so that a long cell can load its models instead of training again.

With the environment variable ``SFT_RUN_CACHE`` set (``1`` for ``.cache/runs``, or a folder),
``sftlib.train.train`` first looks for a finished run with exactly the same inputs:

* the starting weights, bit for bit, and the model's config;
* the tokenizer (vocabulary, special tokens, chat template);
* the training and validation data, row by row;
* the ``TrainConfig`` (all fields but the display ones);
* the versions of torch, transformers, TRL, peft, accelerate, datasets and bitsandbytes, the
  source of ``sftlib.train``, ``sftlib.runner``, ``sftlib.methods``, ``sftlib.templates`` (the
  loss masks of weighted chats) and ``sftlib.checkpoints`` (the saved run's shape), the device
  type with its bf16 support, the attention implementation, and the number of processes
  (``torchrun``: the global batch is the per-device batch times it).

If it finds such a run, it loads the trained weights into the model and rebuilds the trainer
around the saved log instead of training. For the tiny model this takes about a second. If it
does not, it trains and saves the run. Unset (the default, and in CI), nothing is read or written.

A run saves only what training changed: the trainable tensors (all weights for full fine-tuning,
the adapters for LoRA) and the log, times and memory of the run. A loaded run reports the seconds,
tokens per second and memory of the run that made it. Runs that write their own checkpoints
(``save_steps``), resume one, or take extra callbacks are never cached.

    make checkpoints         # the night before: every lesson once, its runs saved (.cache/runs)
    SFT_RUN_CACHE=1 make lab # in the room: the cells that train load what was trained
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import shutil
import tempfile
import time
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path

import torch

from sftlib import CACHE_DIR, ROOT

CACHE_ENV = "SFT_RUN_CACHE"
# TrainConfig fields that change what is shown, not what is trained
DISPLAY_FIELDS = ("output_dir", "progress_bar", "live_plot")


class CacheError(RuntimeError):
    """A saved run does not fit the model it should be loaded into."""


def cache_dir() -> Path | None:
    """The folder of saved runs from ``$SFT_RUN_CACHE``, or ``None`` when caching is off.

    ``0``, ``off``, ``false``, ``no`` or empty turn it off and ``1``, ``on``, ``true``, ``yes``
    mean ``.cache/runs`` (in any case); any other value is a folder.
    """
    value = os.environ.get(CACHE_ENV, "").strip()
    if value.lower() in ("", "0", "off", "false", "no"):
        return None
    return CACHE_DIR / "runs" if value.lower() in ("1", "on", "true", "yes") else Path(value)


def cacheable(config) -> bool:
    """Whether a run with ``config`` may be cached: not one that writes checkpoints of its own
    (``save_steps``, or early stopping into a chosen ``output_dir``), which a loaded run lacks."""
    return not config.save_steps and not (config.early_stopping_patience and config.output_dir)


def _update_tensor(digest, name: str, tensor: torch.Tensor) -> None:
    data = tensor.detach().cpu().contiguous()
    digest.update(f"{name}|{data.dtype}|{tuple(data.shape)}".encode())
    digest.update(data.reshape(-1).view(torch.uint8).numpy().tobytes())


def dataset_rows(dataset) -> str:
    """Every row of ``dataset`` as one JSON text ("" for ``None``): what a key hashes of the data."""
    return "" if dataset is None else json.dumps(dataset.to_list(), sort_keys=True, default=str)


def tokenizer_state(tokenizer) -> str:
    """The tokenizer's vocabulary and rules, chat template, padding side and special tokens as text."""
    backend = getattr(tokenizer, "backend_tokenizer", None)
    return json.dumps([backend.to_str() if backend else repr(tokenizer.get_vocab()),
                       tokenizer.chat_template, tokenizer.padding_side,
                       tokenizer.pad_token, tokenizer.eos_token], default=str)


def run_key(config, model, tokenizer, train_dataset, eval_dataset=None) -> str:
    """A hex digest of everything that decides a run's result (see the module docstring).

    Computed before the method is applied, from the model as it is passed to ``train``. Hashing
    reads every weight once: a few milliseconds for the tiny model, about a second for 135M.
    """
    from sftlib.models import supports_bf16

    digest = hashlib.sha256()
    settings = {k: v for k, v in dataclasses.asdict(config).items() if k not in DISPLAY_FIELDS}
    environment = {name: version(name) for name in ("torch", "transformers", "trl", "peft",
                                                    "accelerate", "datasets", "bitsandbytes")}
    environment |= {"device": model.device.type, "bf16": supports_bf16(model.device),
                    "attention": model.config._attn_implementation,  # not in the config's JSON
                    "processes": int(os.environ.get("WORLD_SIZE", "1"))}  # torchrun: the global batch
    for source in ("train.py", "runner.py", "methods.py", "templates.py", "checkpoints.py"):
        environment[source] = hashlib.sha256((ROOT / "sftlib" / source).read_bytes()).hexdigest()
    digest.update(json.dumps([settings, environment], sort_keys=True, default=str).encode())
    digest.update(model.config.to_json_string().encode())
    for name, tensor in model.state_dict().items():
        _update_tensor(digest, name, tensor)
    digest.update(tokenizer_state(tokenizer).encode())
    digest.update(dataset_rows(train_dataset).encode())
    digest.update(dataset_rows(eval_dataset).encode())
    return digest.hexdigest()


@dataclass
class SavedRun:
    """What ``train`` needs to stand in for a run it did not repeat (its ``TrainResult`` fields)."""

    log_history: list[dict]
    seconds: float
    train_tokens: int
    peak_memory_mb: float
    memory_kind: str
    global_step: int
    total_flos: float
    trainable_params: int
    total_params: int
    saved: str = ""
    state_mb: dict[str, float] = dataclasses.field(default_factory=dict)
    step_seconds: list[float] = dataclasses.field(default_factory=list)
    forward_tokens: dict[str, int] = dataclasses.field(default_factory=dict)


def save_run(folder: Path, key: str, result) -> Path:
    """Save a finished ``TrainResult`` under ``folder/key``: trainable tensors and ``run.json``.

    The files are written to a temporary folder first and moved into place, so two processes
    saving the same run at once leave one complete copy.
    """
    from safetensors.torch import save_file

    folder.mkdir(parents=True, exist_ok=True)
    target = folder / key
    tmp = Path(tempfile.mkdtemp(prefix=f".{key[:12]}-", dir=folder))
    trained = {name: p.detach().cpu().contiguous()
               for name, p in result.model.named_parameters() if p.requires_grad}
    save_file(trained, tmp / "trained.safetensors")
    state = result.trainer.state
    run = SavedRun(result.log_history, result.seconds, result.train_tokens, result.peak_memory_mb,
                   result.memory_kind, state.global_step, float(state.total_flos or 0),
                   result.trainable_params, result.total_params,
                   saved=time.strftime("%Y-%m-%d %H:%M"), state_mb=result.state_mb,
                   step_seconds=result.step_seconds, forward_tokens=result.forward_tokens)
    (tmp / "run.json").write_text(json.dumps(dataclasses.asdict(run), indent=1))
    try:
        tmp.rename(target)
    except OSError:  # another process saved the same run first
        shutil.rmtree(tmp, ignore_errors=True)
    return target


def load_run(folder: Path, model) -> SavedRun:
    """Copy a saved run's trained tensors into ``model`` (after the method was applied).

    Raises:
        CacheError: when the saved tensors are not exactly the model's trainable ones, by name
            and shape (the saved run came from a different method or model).
    """
    from safetensors.torch import load_file

    trained = load_file(folder / "trained.safetensors")
    params = {name: p for name, p in model.named_parameters() if p.requires_grad}
    if trained.keys() != params.keys():
        missing, extra = sorted(params.keys() - trained.keys()), sorted(trained.keys() - params.keys())
        raise CacheError(f"{folder}: the saved run does not fit this model (missing {missing[:3]}, "
                         f"unexpected {extra[:3]}); delete the folder to train again")
    with torch.no_grad():
        for name, tensor in trained.items():
            if tensor.shape != params[name].shape:
                raise CacheError(f"{folder}: {name} was saved as {tuple(tensor.shape)}, the model "
                                 f"has {tuple(params[name].shape)}; delete the folder to train again")
            params[name].copy_(tensor)
    return SavedRun(**json.loads((folder / "run.json").read_text()))
