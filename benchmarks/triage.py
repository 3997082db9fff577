"""The seed article's example task, fine-tuned: support tickets, urgent or not (lesson 08 reads it).

Lesson 08 asks the instruction-tuned SmolLM2-135M (``smollm2-135m``, its judge) to triage 60
validation tickets zero-shot, and it calls nearly every ticket urgent. The article's workflow
starts from such a narrowly defined task ("classify customer support tickets into urgent or
non-urgent") and fine-tunes for it. This script does that: LoRA on the 800 training tickets
(each answer is the label and a one-sentence reason, ``data/triage``), then scores the 200
validation tickets the way lesson 08 scores the zero-shot model: the log-likelihood of
"urgent" against "not urgent" after the chat prompt (``multiple_choice``), giving accuracy,
precision, recall and F1 on "urgent" and how many tickets were called urgent. The base model is
scored once (``steps`` 0), then one LoRA run per step count and seed, each from the base model.

    python benchmarks/triage.py --out triage.jsonl

``benchmarks/results/triage_smollm2_cpu.jsonl`` was made by that line (2-core CPU, bf16
autocast, 23 minutes); lesson 08 reads it. One JSON line per model; runs already in the file
are skipped.
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

import torch
from transformers import set_seed

from sftlib import DATA_DIR
from sftlib.data import read_jsonl
from sftlib.evaluate import chat_prompt, load_metric
from sftlib.likelihood import multiple_choice
from sftlib.models import load_model
from sftlib.tasks import chat_dataset
from sftlib.train import TrainConfig, train

LABELS = ["urgent", "not urgent"]


def triage_scores(model, tokenizer, tickets: list[dict]) -> dict:
    """Accuracy, precision/recall/F1 on "urgent" and the number called urgent, by log-likelihood."""
    items = [{"question": f"{t['instruction']}\n\n{t['input']}", "choices": LABELS,
              "answer": LABELS.index(t["label"])} for t in tickets]
    picks = multiple_choice(model, tokenizer, items, separator="", add_special_tokens=False,
                            render=lambda item: chat_prompt(tokenizer, item["question"]))["picks"]
    predicted, truth = [LABELS[k] for k in picks], [t["label"] for t in tickets]
    scores = load_metric("classification").compute(predictions=predicted, references=truth,
                                                     labels=LABELS, positive="urgent")
    return {"accuracy": load_metric("accuracy").compute(predictions=predicted, references=truth)["accuracy"],
            **{k: scores[k] for k in ("precision", "recall", "f1")},
            "said urgent": predicted.count("urgent"), "tickets": len(tickets)}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", default="smollm2-135m", help="an instruction-tuned model")
    parser.add_argument("--steps", nargs="+", type=int, default=[25, 50, 100])
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1])
    parser.add_argument("--lr", type=float, default=1e-3, help="LoRA r=8's peak learning rate")
    parser.add_argument("--out", type=Path, required=True, help="the JSON-lines file to append to")
    args = parser.parse_args(argv)
    done = set()
    if args.out.exists():
        done = {(r["steps"], r["seed"]) for r in map(json.loads, args.out.read_text().splitlines())}
    train_tickets = read_jsonl(DATA_DIR / "triage" / "train.jsonl", validate=True)
    val_tickets = read_jsonl(DATA_DIR / "triage" / "validation.jsonl", validate=True)
    model, tokenizer = load_model(args.profile)
    device = (torch.cuda.get_device_name() if torch.cuda.is_available()
              else f"cpu ({os.cpu_count()} threads)")
    todo = [(0, None)] + [(steps, seed) for steps in args.steps for seed in args.seeds]
    for steps, seed in todo:
        if (steps, seed) in done:
            continue
        row = {"profile": args.profile, "device": device, "steps": steps, "seed": seed}
        if steps == 0:
            row |= triage_scores(model, tokenizer, val_tickets)
        else:
            config = TrainConfig(method="lora", lr=args.lr, max_steps=steps, batch_size=8, seed=seed,
                                 logging_steps=steps, progress_bar=False)
            set_seed(seed)
            result = train(config, load_model(args.profile)[0], tokenizer, chat_dataset(train_tickets))
            row |= {"lr": args.lr, "batch_size": config.batch_size, "seconds": result.seconds,
                    "train_loss": result.final_loss, **triage_scores(result.model, tokenizer, val_tickets)}
        with args.out.open("a") as f:
            f.write(json.dumps(row) + "\n")
        print({k: round(v, 3) if isinstance(v, float) else v for k, v in row.items()}, flush=True)


if __name__ == "__main__":
    main()
