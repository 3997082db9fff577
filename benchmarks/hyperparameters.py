"""The seed article's hyperparameter table, measured: one JSON line per training run.

The article's table gives, for full fine-tuning and LoRA, a learning rate ("lower for larger
batches"), epochs ("3-5 (large data)" for full fine-tuning, "15-20 (small data)" for LoRA) and
warmup ("3-7% of total steps"). Lesson 03 measures learning rate, warmup (0 against 20 %) and
weight decay one run each; this script runs the five studies that need more runs than a lesson
can afford, on the QA task as lessons 03-07 train it (``qa_task``), scoring each run on the 150
validation questions (greedy accuracy) and by validation loss:

* ``batch``: batch sizes 8, 16, 32 and 64 at four learning rates, every run seeing the same
  1,920 examples (so 240 steps at batch 8, 30 at batch 64). Does the best rate fall as the batch
  grows, as the article says, or rise, as the linear scaling rule of large-batch training says?
* ``warmup``: 60 steps at 3e-4 and 1e-3 with warmup 0, 3, 5, 7 and 20 % of the steps, two seeds.
* ``epochs``: 100 training examples, full fine-tuning at 3e-4 and LoRA r=8 at 3e-3, for 3, 5, 10,
  15 and 20 epochs (batch 16), each a run of its own (the schedule depends on the length).
* ``data``: the article's comparison table says full fine-tuning needs "hundreds to thousands" of
  examples and PEFT a "smaller" set. Full fine-tuning at 3e-4 and LoRA r=8 at 3e-3 on the first
  30, 100, 300, 1,000 and all 4,500 training examples, 120 steps of 16 each (so the small sets
  are seen many times), two seeds.
* ``optimizer``: the article names "Adam or SGD". Full fine-tuning, 120 steps of 16, with the
  trainer's AdamW at 1e-4, 3e-4 and 1e-3 and with SGD (momentum 0.9) at 3e-3 to 3e-1, two seeds.

Each run is appended to ``--out`` when it ends; runs already in the file are skipped, so a run
cut short goes on where it stopped.

    python benchmarks/hyperparameters.py --out hp.jsonl                 # all five studies
    python benchmarks/hyperparameters.py --study warmup --out hp.jsonl

``benchmarks/results/hyperparameters_tiny_cpu.jsonl`` was made by the first line (``tiny``, 2-core
CPU, bf16 autocast: about 8 minutes for the first three studies, 5.5 for the last two, whose 36
runs gave the same accuracies and losses when run again); lessons 03 and 05 read it.
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path

from transformers import set_seed

from sftlib.env import device_label
from sftlib.evaluate import score_answers
from sftlib.models import load_model, profile_name
from sftlib.tasks import qa_task
from sftlib.train import TrainConfig, train

EXAMPLES_SEEN = 1920  # the batch study's budget: 120 steps of 16
BATCH_RATES = (1e-4, 3e-4, 1e-3, 3e-3)
SMALL_SET = 100  # the epochs study's training examples
DATA_SIZES = (30, 100, 300, 1000, 4500)  # the data study's training sets (4,500: all of them)


def runs(study: str) -> list[dict]:
    """The settings of one study: each a dict of ``TrainConfig`` fields plus ``study`` and ``examples``."""
    if study == "batch":
        return [{"study": study, "batch_size": b, "lr": lr, "max_steps": EXAMPLES_SEEN // b, "seed": 0,
                 "examples": None} for b in (8, 16, 32, 64) for lr in BATCH_RATES]
    if study == "warmup":
        return [{"study": study, "batch_size": 16, "lr": lr, "max_steps": 60, "warmup_ratio": w,
                 "seed": seed, "examples": None}
                for lr in (3e-4, 1e-3) for w in (0.0, 0.03, 0.05, 0.07, 0.2) for seed in (0, 1)]
    if study == "epochs":
        return [{"study": study, "method": method, "batch_size": 16, "lr": lr, "epochs": epochs,
                 "max_steps": math.ceil(epochs * SMALL_SET / 16), "seed": 0, "examples": SMALL_SET}
                for method, lr in (("full", 3e-4), ("lora", 3e-3)) for epochs in (3, 5, 10, 15, 20)]
    if study == "data":
        return [{"study": study, "method": method, "batch_size": 16, "lr": lr, "max_steps": 120,
                 "seed": seed, "examples": examples}
                for method, lr in (("full", 3e-4), ("lora", 3e-3)) for examples in DATA_SIZES
                for seed in (0, 1)]
    if study == "optimizer":
        return [{"study": study, "batch_size": 16, "lr": lr, "max_steps": 120, "seed": seed,
                 "examples": None, **optimizer}
                for optimizer, rates in (({}, (1e-4, 3e-4, 1e-3)),
                                         ({"optim": "sgd", "optim_args": "momentum=0.9"},
                                          (3e-3, 1e-2, 3e-2, 1e-1, 3e-1)))
                for lr in rates for seed in (0, 1)]
    raise SystemExit(f"--study {study!r}: choose batch, warmup, epochs, data or optimizer")


def config_fields(setting: dict) -> dict:
    """The ``TrainConfig`` fields of a setting: all but its bookkeeping (study, examples, epochs)."""
    return {k: v for k, v in setting.items() if k not in ("study", "examples", "epochs")}


def key(setting: dict) -> str:
    """A run's identity in the output file: its settings, sorted."""
    return json.dumps({k: v for k, v in sorted(setting.items())})


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--study", nargs="+", default=["batch", "warmup", "epochs", "data", "optimizer"],
                        help="which studies to run (default: all five)")
    parser.add_argument("--out", type=Path, required=True, help="the JSON-lines file to append to")
    args = parser.parse_args(argv)
    todo = [s for study in args.study for s in runs(study)]
    profile = profile_name()
    done = set()
    if args.out.exists():
        done = {key(json.loads(line)["setting"]) for line in args.out.read_text().splitlines() if line.strip()}
    qa_train, qa_val, val_questions, _ = qa_task()
    tokenizer = load_model(profile)[1]
    device = device_label()
    for setting in todo:
        if key(setting) in done:
            continue
        evals = max(1, setting["max_steps"] // 5)
        config = TrainConfig(**config_fields(setting), eval_steps=evals, logging_steps=evals, progress_bar=False)
        data = qa_train if setting["examples"] is None else qa_train.select(range(setting["examples"]))
        set_seed(config.seed)
        result = train(config, load_model(profile)[0], tokenizer, data, qa_val)
        row = {"profile": profile, "device": device, "setting": setting,
               "val_accuracy": score_answers(result.model, tokenizer, val_questions)["accuracy"],
               "val_loss": result.final_eval_loss, "train_loss": result.final_loss,
               "val_losses": [[h["step"], h["eval_loss"]] for h in result.log_history if "eval_loss" in h],
               "seconds": result.seconds}
        with args.out.open("a") as f:
            f.write(json.dumps(row) + "\n")
        print(f"{setting}: val accuracy {row['val_accuracy']:.1%}, val loss {row['val_loss']:.3f}", flush=True)


if __name__ == "__main__":
    main()
