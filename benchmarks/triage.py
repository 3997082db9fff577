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

Every one of the 20 problems behind the tickets (10 urgent, 10 not) occurs in the training set,
so that score is for known problems in new words. ``--split problems`` asks about problems the
model never saw: the problems are dealt into five folds of two urgent and two routine ones
(seeded), and each fold's run trains on the training tickets of the other 16 problems only, then
predicts all 200 validation tickets. Each validation ticket is thus predicted once by a model that
never saw its problem, and the other four times by models that did.

    python benchmarks/triage.py --split problems --out triage.jsonl

``benchmarks/results/triage_smollm2_cpu.jsonl`` was made by those two lines (2-core CPU, bf16
autocast, 23 and 35 minutes); lesson 08 reads it. One JSON line per model; runs already in the
file are skipped.
"""

from __future__ import annotations

import argparse
import json
import random
from pathlib import Path

from transformers import set_seed

from sftlib import DATA_DIR
from sftlib.data import read_jsonl
from sftlib.env import device_label
from sftlib.evaluate import chat_prompt, label_scores
from sftlib.likelihood import multiple_choice
from sftlib.models import load_model, load_tokenizer
from sftlib.pools import NOT_URGENT, URGENT
from sftlib.tasks import chat_dataset, triage_problem
from sftlib.train import TrainConfig, train

LABELS = ["urgent", "not urgent"]


def triage_predictions(model, tokenizer, tickets: list[dict]) -> list[str]:
    """The more likely label of each ticket after the chat prompt, by summed log-probabilities."""
    items = [{"question": f"{t['instruction']}\n\n{t['input']}", "choices": LABELS,
              "answer": LABELS.index(t["label"])} for t in tickets]
    picks = multiple_choice(model, tokenizer, items, separator="", add_special_tokens=False,
                            render=lambda item: chat_prompt(tokenizer, item["question"]))["picks"]
    return [LABELS[k] for k in picks]


def triage_scores(predicted: list[str], tickets: list[dict]) -> dict:
    """Accuracy, precision/recall/F1 on "urgent", the number called urgent and of tickets."""
    return {**label_scores(predicted, [t["label"] for t in tickets], LABELS, positive="urgent"),
            "tickets": len(tickets)}


def problem_folds(folds: int = 5, seed: int = 0) -> list[list[str]]:
    """Deal the urgent and the routine problems (``sftlib.tasks.triage_problem``) into ``folds`` groups.

    Returns:
        one list of held-out reasons per fold; each problem is in exactly one, and every fold
        holds as many urgent as routine problems (two of each for the pools' 10 and 10).
    """
    rng, dealt = random.Random(seed), [[] for _ in range(folds)]
    for problems in (URGENT, NOT_URGENT):
        reasons = [reason for _, reason in problems]
        rng.shuffle(reasons)
        for k, reason in enumerate(reasons):
            dealt[k % folds].append(reason)
    return dealt


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", default="smollm2-135m", help="an instruction-tuned model")
    parser.add_argument("--steps", nargs="+", type=int, default=[25, 50, 100])
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1])
    parser.add_argument("--lr", type=float, default=1e-3, help="LoRA r=8's peak learning rate")
    parser.add_argument("--split", choices=["tickets", "problems"], default="tickets",
                        help="train on all 800 tickets, or one run per fold of held-out problems")
    parser.add_argument("--folds", nargs="+", type=int, default=[0, 1, 2, 3, 4],
                        help="with --split problems: which of the five folds to run")
    parser.add_argument("--out", type=Path, required=True, help="the JSON-lines file to append to")
    args = parser.parse_args(argv)
    if args.split == "problems" and 0 in args.steps:
        parser.error("--split problems trains; the base model is scored by --split tickets (steps 0)")
    rows = [json.loads(line) for line in args.out.read_text().splitlines()] if args.out.exists() else []
    done = {(r.get("split", "tickets"), r.get("fold"), r["steps"], r["seed"]) for r in rows}
    train_tickets = read_jsonl(DATA_DIR / "triage" / "train.jsonl", validate=True)
    val_tickets = read_jsonl(DATA_DIR / "triage" / "validation.jsonl", validate=True)
    tokenizer = load_tokenizer(args.profile)
    device = device_label()
    if args.split == "tickets":
        todo = [(None, 0, None)] + [(None, steps, seed) for steps in args.steps for seed in args.seeds]
    else:
        todo = [(fold, steps, seed) for fold in args.folds for steps in args.steps for seed in args.seeds]
    held_out = problem_folds()
    for fold, steps, seed in todo:
        if (args.split, fold, steps, seed) in done:
            continue
        row = {"profile": args.profile, "device": device, "steps": steps, "seed": seed}
        if steps == 0:
            base = load_model(args.profile)[0]
            row |= triage_scores(triage_predictions(base, tokenizer, val_tickets), val_tickets)
            _record(args.out, row)
            continue
        seen = train_tickets
        if fold is not None:
            seen = [t for t in train_tickets if triage_problem(t) not in held_out[fold]]
            row |= {"split": "problems", "fold": fold, "held out": held_out[fold], "train tickets": len(seen)}
        config = TrainConfig(method="lora", lr=args.lr, max_steps=steps, batch_size=8, seed=seed,
                             logging_steps=steps, progress_bar=False)
        set_seed(seed)
        result = train(config, load_model(args.profile)[0], tokenizer, chat_dataset(seen))
        predicted = triage_predictions(result.model, tokenizer, val_tickets)
        row |= {"lr": args.lr, "batch_size": config.batch_size, "seconds": result.seconds,
                "train_loss": result.final_loss}
        if fold is None:
            row |= triage_scores(predicted, val_tickets)
        else:
            unseen = [triage_problem(t) in held_out[fold] for t in val_tickets]
            for name, keep in (("unseen", True), ("seen", False)):
                pairs = [(p, t) for p, t, u in zip(predicted, val_tickets, unseen) if u == keep]
                row[name] = triage_scores([p for p, _ in pairs], [t for _, t in pairs])
            row["predicted"] = dict(zip((t["id"] for t in val_tickets), predicted))
        _record(args.out, row)


def _record(out: Path, row: dict) -> None:
    """Append ``row`` to ``out`` as one JSON line and print it, rounded and without predictions."""
    with out.open("a") as f:
        f.write(json.dumps(row) + "\n")
    print({k: round(v, 3) if isinstance(v, float) else v for k, v in row.items() if k != "predicted"},
          flush=True)


if __name__ == "__main__":
    main()
