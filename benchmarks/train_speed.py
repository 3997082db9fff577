"""Training speed of the course's SFT recipe against a plain ``SFTTrainer`` with its defaults.

Same model (the ``tiny`` profile), same data (triage tickets and knowledge QA as chat), same
batch, steps, learning rate and seed. The plain run keeps TRL's defaults except what a CPU needs
to start at all (``use_cpu=True``, ``bf16=False``); the recipe is ``sftlib.train.sft_config``.
Prints one row per run: real (non-padding) tokens per second, seconds, final loss.

    python benchmarks/train_speed.py            # 40 steps per run, about 2 minutes on 2 cores
    python benchmarks/train_speed.py --steps 3  # a smoke run
"""

from __future__ import annotations

import argparse

from datasets import Dataset
from transformers import set_seed
from trl import SFTConfig

from sftlib import DATA_DIR
from sftlib.data import read_jsonl
from sftlib.models import load_model
from sftlib.runner import scratch_dir
from sftlib.schemas import to_messages
from sftlib.train import TrainConfig, sft_config, train_with_args


def mixed_dataset() -> Dataset:
    """800 triage tickets and 800 QA pairs, as conversations, interleaved."""
    triage = read_jsonl(DATA_DIR / "triage" / "train.jsonl")
    qa = read_jsonl(DATA_DIR / "qa" / "train.jsonl")[:800]
    rows = [to_messages(r)["messages"] for pair in zip(triage, qa) for r in pair]
    return Dataset.from_list([{"messages": m} for m in rows])


def run(name: str, args: SFTConfig, dataset: Dataset) -> dict:
    """Train a fresh tiny model with ``args``; return speed, time and final loss."""
    set_seed(0)
    model, tokenizer = load_model("tiny", device="cpu")
    result = train_with_args(args, model, tokenizer, dataset)
    return {"run": name, "tokens/s": result.tokens_per_second, "seconds": result.seconds,
            "final loss": result.final_loss}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=40)
    ns = parser.parse_args()
    dataset = mixed_dataset()
    common = dict(max_steps=ns.steps, per_device_train_batch_size=16, learning_rate=3e-4,
                  seed=0, data_seed=0, logging_steps=1, report_to=[], save_strategy="no",
                  include_num_input_tokens_seen="non_padding", assistant_only_loss=True,
                  max_length=256, disable_tqdm=True)
    plain = SFTConfig(output_dir=scratch_dir(), use_cpu=True, bf16=False, **common)
    base = TrainConfig(lr=3e-4, max_steps=ns.steps, batch_size=16, logging_steps=1)
    rows = [run("plain SFTTrainer defaults", plain, dataset),
            run("recipe", sft_config(base, "cpu"), dataset),
            run("recipe, padding-free", sft_config(TrainConfig(**{**vars(base), "padding_free": True,
                                                                  "max_length": None}), "cpu"),
                dataset)]
    print(f"\n{'run':28} {'tokens/s':>9} {'seconds':>8} {'final loss':>10} {'speed-up':>9}")
    for row in rows:
        print(f"{row['run']:28} {row['tokens/s']:9,.0f} {row['seconds']:8.1f} "
              f"{row['final loss']:10.3f} {row['tokens/s'] / rows[0]['tokens/s']:8.2f}x")


if __name__ == "__main__":
    main()
