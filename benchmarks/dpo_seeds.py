"""How much DPO on a model's own mistakes costs it (lesson 10, section 4), over SFT and DPO seeds.

Lesson 10 trains one SFT model (seed 0), builds preference pairs from its wrong greedy answers
on 400 training questions (the truth chosen, its answer rejected) and runs DPO on them; its
greedy validation accuracy falls. One seed is one draw, so this script repeats the two stages
with the lesson's settings for every SFT seed and, on each SFT model, every DPO seed, and scores
the lesson's 150 validation questions after each stage. One JSON line per model: the SFT model
(``dpo_seed`` null) and each DPO run on it.

    python benchmarks/dpo_seeds.py --out dpo.jsonl            # SFT seeds 0-2, DPO seeds 0-1
    python benchmarks/dpo_seeds.py --summary benchmarks/results/dpo_seeds_tiny_cpu.jsonl

The first line, run with ``OMP_NUM_THREADS=1`` as the lessons run (the thread count changes a
seeded CPU run's numbers; with it, SFT seed 0 and DPO seed 0 are the lesson's own runs), made
``benchmarks/results/dpo_seeds_tiny_cpu.jsonl`` (2-core CPU, bf16, about 2 minutes), which lesson 10
quotes.
"""

from __future__ import annotations

import argparse
import copy
import json
from pathlib import Path

from datasets import Dataset
from transformers import set_seed

from sftlib import DATA_DIR
from sftlib.data import read_jsonl
from sftlib.env import device_label
from sftlib.evaluate import score_answers
from sftlib.models import load_model, profile_name
from sftlib.preferences import PreferenceConfig, mistake_pairs, train_preferences
from sftlib.recipes import qa_recipe
from sftlib.tasks import qa_task
from sftlib.train import TrainConfig, train


def summary(rows: list[dict]) -> dict[int, dict]:
    """Per SFT seed: the SFT model's accuracy and, by DPO seed, the accuracy after DPO."""
    table: dict[int, dict] = {}
    for r in rows:
        entry = table.setdefault(r["sft_seed"], {"sft": None, "dpo": {}})
        if r["dpo_seed"] is None:
            entry["sft"] = r["val_accuracy"]
        else:
            entry["dpo"][r["dpo_seed"]] = r["val_accuracy"]
    return dict(sorted(table.items()))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sft-seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--dpo-seeds", nargs="+", type=int, default=[0, 1])
    parser.add_argument("--sft-steps", type=int, default=80, help="tiny's; a recipe scales it")
    parser.add_argument("--dpo-steps", type=int, default=25)
    parser.add_argument("--questions", type=int, default=400, help="training questions the pairs come from")
    parser.add_argument("--out", type=Path, help="the JSON-lines file to write")
    parser.add_argument("--summary", type=Path, help="only print the table of a finished file")
    args = parser.parse_args(argv)
    if args.summary:
        rows = [json.loads(line) for line in args.summary.read_text().splitlines() if line.strip()]
        for seed, s in summary(rows).items():
            after = ", ".join(f"{a:.1%}" for _, a in sorted(s["dpo"].items()))
            print(f"SFT seed {seed}: {s['sft']:.1%}; after DPO on its mistakes (DPO seeds "
                  f"{', '.join(map(str, sorted(s['dpo'])))}): {after}")
        return
    if args.out is None:
        raise SystemExit("give --out FILE (or --summary FILE)")
    profile = profile_name()
    recipe = qa_recipe(profile)
    qa_train, _, val_questions, _ = qa_task()
    questions = read_jsonl(DATA_DIR / "qa" / "train.jsonl")[2000:2000 + args.questions]  # the lesson's
    device = device_label()
    with args.out.open("w") as f:
        for sft_seed in args.sft_seeds:
            model, tokenizer = load_model(profile)
            set_seed(sft_seed)
            sft = train(TrainConfig(lr=recipe.lr(3e-4), max_steps=recipe.steps(args.sft_steps), batch_size=16,
                                    seed=sft_seed, progress_bar=False), model, tokenizer, qa_train)
            pairs = Dataset.from_list(mistake_pairs(sft.model, tokenizer, questions))
            runs = [(None, sft.model)] + [
                (dpo_seed, train_preferences(PreferenceConfig(method="dpo", beta=0.1, lr=1e-4,
                                                              max_steps=args.dpo_steps, batch_size=16,
                                                              seed=dpo_seed, progress_bar=False),
                                             copy.deepcopy(sft.model), tokenizer, pairs).model)
                for dpo_seed in args.dpo_seeds]
            for dpo_seed, trained in runs:
                row = {"profile": profile, "device": device, "sft_seed": sft_seed, "dpo_seed": dpo_seed,
                       "pairs": len(pairs),
                       "val_accuracy": score_answers(trained, tokenizer, val_questions)["accuracy"]}
                f.write(json.dumps(row) + "\n")
                f.flush()
                print(f"SFT seed {sft_seed}, DPO seed {dpo_seed}: validation accuracy "
                      f"{row['val_accuracy']:.1%}", flush=True)


if __name__ == "__main__":
    main()
