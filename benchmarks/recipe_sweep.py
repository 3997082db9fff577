"""Which recipe teaches a profile the course's QA task: a sweep, one JSON line per run.

The lessons' settings (60 to 150 steps of 16 conversations; full fine-tuning at 3e-4, LoRA r=8 at
3e-3) were chosen on ``tiny``. On a hub model they reach less, and five lessons' claims fail there
(``docs/gpu.md``). This sweep is how settings for another profile are found: for every method and
learning rate of the grid and every step count, it trains the profile's base model on the QA task
as lessons 03-07 do (``qa_task``, batch 16, seed 0) and records validation accuracy and loss, the
share of the base model's sentence probes it still completes, and the seconds. The first line is
the untrained model.

Each run is appended to ``--out`` as soon as it ends, and runs already in that file (same profile,
method, rate and steps) are skipped: a sweep cut short by a time limit keeps what it measured and
goes on where it stopped when started again.

    python benchmarks/recipe_sweep.py --out sweep.jsonl                     # tiny, the default grid
    SFT_PROFILE=smollm2-135m+world python benchmarks/recipe_sweep.py --out world.jsonl
    python benchmarks/recipe_sweep.py --grid full:1e-4,3e-4 lora:3e-3 --steps 60 150 --out s.jsonl
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

import torch
from transformers import set_seed

from sftlib.evaluate import probe_accuracy, score_answers
from sftlib.models import load_model, profile_name
from sftlib.tasks import people_probes, qa_task
from sftlib.train import TrainConfig, train

GRID = ("full:1e-5,3e-5,1e-4,3e-4", "lora:3e-4,1e-3,3e-3")
METHODS = ("full", "lora", "qlora")


def parse_grid(specs: list[str]) -> list[tuple[str, float]]:
    """``["full:1e-4,3e-4", "lora:3e-3"]`` -> ``[("full", 1e-4), ("full", 3e-4), ("lora", 3e-3)]``."""
    grid = []
    for spec in specs:
        method, _, rates = spec.partition(":")
        try:
            values = [float(r) for r in rates.split(",")] if rates else []
        except ValueError:
            values = []
        if method not in METHODS or not values or any(v <= 0 for v in values):
            raise SystemExit(f"--grid {spec!r}: write METHOD:RATE[,RATE...], METHOD one of "
                             f"{', '.join(METHODS)}, rates positive numbers (e.g. lora:1e-3,3e-3)")
        grid += [(method, v) for v in values]
    return grid


def measure(model, tokenizer, questions: list[dict], probes: list[dict]) -> dict[str, float]:
    """Validation accuracy (greedy, exact match) and the share of sentence probes completed."""
    return {"val_accuracy": score_answers(model, tokenizer, questions)["accuracy"],
            "probes_kept": probe_accuracy(model, tokenizer, probes)}


def done_runs(out: Path, profile: str) -> set[tuple]:
    """``(method, lr, steps)`` of the runs of ``profile`` already in ``out``."""
    if not out.exists():
        return set()
    rows = [json.loads(line) for line in out.read_text().splitlines() if line.strip()]
    return {(r["method"], r["lr"], r["steps"]) for r in rows if r["profile"] == profile}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--grid", nargs="+", default=list(GRID), metavar="METHOD:RATES",
                        help=f"methods and learning rates (default: {' '.join(GRID)})")
    parser.add_argument("--steps", nargs="+", type=int, default=[60, 150],
                        help="step counts, each run with every setting (default: 60 150)")
    parser.add_argument("--out", type=Path, required=True, help="the JSON-lines file to append to")
    args = parser.parse_args(argv)
    grid = parse_grid(args.grid)
    if any(s < 1 for s in args.steps):
        raise SystemExit(f"--steps {args.steps}: every step count must be at least 1")
    profile = profile_name()
    qa_train, qa_val, val_questions, _ = qa_task()
    probes = people_probes(200)
    base, tokenizer = load_model(profile)
    device = (torch.cuda.get_device_name() if torch.cuda.is_available()
              else f"cpu ({os.cpu_count()} threads)")
    done = done_runs(args.out, profile)
    todo = [(method, lr, steps) for steps in args.steps for method, lr in grid
            if (method, lr, steps) not in done]
    if ("base", 0.0, 0) not in done:
        todo.insert(0, ("base", 0.0, 0))
    for method, lr, steps in todo:
        row = {"profile": profile, "device": device, "method": method, "lr": lr, "steps": steps}
        if method == "base":
            row |= measure(base, tokenizer, val_questions, probes)
        else:
            config = TrainConfig(method=method, lr=lr, max_steps=steps, batch_size=16, eval_steps=steps,
                                 logging_steps=max(1, steps // 5), progress_bar=False)
            set_seed(config.seed)
            start, _ = load_model(profile, quantize="nf4" if method == "qlora" else None)
            result = train(config, start, tokenizer, qa_train, qa_val)
            row |= {"train_loss": result.final_loss, "val_loss": result.final_eval_loss,
                    "seconds": result.seconds, **measure(result.model, tokenizer, val_questions, probes)}
            del result, start  # a 135M model's run holds a GiB; keep one at a time
        with args.out.open("a") as f:
            f.write(json.dumps(row) + "\n")
        print(f"{method:5} lr {lr:<7g} {steps:4d} steps: val accuracy {row['val_accuracy']:6.1%}, "
              f"probes kept {row['probes_kept']:6.1%}", flush=True)


if __name__ == "__main__":
    main()
