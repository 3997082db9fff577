"""Why QLoRA learned less than LoRA on ``tiny`` (lesson 06): LoRA on changed base weights, over seeds.

Lesson 06 found that LoRA on the NF4-rounded weights learned about as little as QLoRA in one run
(seed 0). This script asks what in the rounding slows learning, and whether one seed told the
truth. Each *variant* changes the base model's block matrices (attention and MLP, not the
embeddings) before LoRA trains on it:

- ``original``: unchanged;
- ``nf4``: every block matrix replaced by its NF4 rounding (what ``dequantize()`` of the 4-bit
  model gives, double quantisation included);
- ``nf4-attention`` / ``nf4-mlp``: only the attention or only the MLP matrices rounded;
- ``noise``: Gaussian noise added to every block matrix, scaled to the norm of that matrix's NF4
  error: as large a change as NF4's, without its pattern;
- ``qlora``: the 4-bit model itself, trained with QLoRA (adapters on bitsandbytes' 4-bit layers),
  as lesson 06's QLoRA run.

For each variant the untrained model's sentence probes are scored once (share completed, and the
answers' negative log-likelihood per token: how firmly the facts sit). Then LoRA r=8 (QLoRA for
``qlora``) trains with lesson 06's recipe (lr 3e-3, batch 16, no validation during training) for
every seed and step count, and the test questions of the lesson's table are scored. One JSON line
per run, appended as it ends; runs already in ``--out`` are skipped, so a cut-short run resumes.

    python benchmarks/rounding_seeds.py --out rounding.jsonl           # every variant, 20 seeds, 100 steps
    python benchmarks/rounding_seeds.py --variants original nf4 noise qlora --steps 200 --out rounding.jsonl
    python benchmarks/rounding_seeds.py --summary benchmarks/results/rounding_seeds_tiny_cpu.jsonl

The first two lines made ``benchmarks/results/rounding_seeds_tiny_cpu.jsonl`` (2-core CPU, bf16,
about 40 minutes), which lesson 06 quotes.
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
from pathlib import Path

import torch
from transformers import set_seed

from sftlib.env import device_label
from sftlib.evaluate import probe_accuracy, score_answers
from sftlib.likelihood import answer_perplexity
from sftlib.models import load_model, profile_name
from sftlib.tasks import people_probes, qa_task
from sftlib.train import TrainConfig, train

# how a variant changes the base model ("nf4", "noise", or "4-bit": bitsandbytes' 4-bit model
# itself), and which block matrices: those whose name holds the text, or every one (None)
VARIANTS: dict[str, tuple[str, str | None] | None] = {
    "original": None,
    "nf4": ("nf4", None),
    "nf4-attention": ("nf4", "self_attn"),
    "nf4-mlp": ("nf4", "mlp"),
    "noise": ("noise", None),
    "qlora": ("4-bit", None),
}


def changed_model(profile: str, variant: str, rounded: dict[str, torch.Tensor], noise_seed: int = 1234):
    """``profile``'s base model (and tokenizer) with its block matrices changed as ``variant`` says.

    Args:
        rounded: every parameter of the NF4-rounded model by name (float32, same shapes).
        noise_seed: the seed of the ``noise`` variant's Gaussian draws (the same for every run).
    """
    if VARIANTS[variant] is None:
        return load_model(profile)
    kind, part = VARIANTS[variant]
    if kind == "4-bit":
        return load_model(profile, quantize="nf4")
    model, tokenizer = load_model(profile)
    draws = torch.Generator().manual_seed(noise_seed)
    with torch.no_grad():
        for name, weight in model.named_parameters():
            if weight.ndim != 2 or "layers." not in name or (part and part not in name):
                continue
            if kind == "nf4":
                weight.copy_(rounded[name])
            else:
                noise = torch.randn(weight.shape, generator=draws)
                weight.add_(noise * (rounded[name] - weight).norm() / noise.norm())
    return model, tokenizer


def probe_scores(model, tokenizer, probes: list[dict]) -> dict[str, float]:
    """Share of ``probes`` completed (greedy) and the answers' negative log-likelihood per token (nats)."""
    answers = answer_perplexity(model, tokenizer, [p["prompt"] for p in probes],
                                [" " + p["answer"] for p in probes])
    return {"probes_kept": probe_accuracy(model, tokenizer, probes),
            "probe_nll_per_token": math.log(answers)}


def done_runs(out: Path) -> set[tuple]:
    """``(variant, seed, steps)`` of the runs already in ``out``."""
    if not out.exists():
        return set()
    rows = [json.loads(line) for line in out.read_text().splitlines() if line.strip()]
    return {(r["variant"], r["seed"], r["steps"]) for r in rows}


def summary(rows: list[dict]) -> dict[tuple[str, int], dict[str, float]]:
    """Per ``(variant, steps)``: runs, mean, lowest and highest test accuracy, and the mean gap to
    ``original`` over the seeds both have (positive: the variant answered fewer)."""
    accuracy: dict[tuple[str, int], dict[int, float]] = {}
    for r in rows:
        accuracy.setdefault((r["variant"], r["steps"]), {})[r["seed"]] = r["test_accuracy"]
    table = {}
    for (variant, steps), by_seed in accuracy.items():
        base = accuracy.get(("original", steps), {})
        gaps = [base[s] - a for s, a in by_seed.items() if s in base]
        table[variant, steps] = {"runs": len(by_seed), "mean": statistics.mean(by_seed.values()),
                                 "min": min(by_seed.values()), "max": max(by_seed.values()),
                                 "gap_to_original": statistics.mean(gaps) if gaps else float("nan")}
    return table


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=list(VARIANTS))
    parser.add_argument("--seeds", nargs="+", type=int, default=list(range(20)))
    parser.add_argument("--steps", nargs="+", type=int, default=[100])
    parser.add_argument("--out", type=Path, help="the JSON-lines file to append to")
    parser.add_argument("--summary", type=Path, help="only print the table of a finished file")
    args = parser.parse_args(argv)
    if args.summary:
        rows = [json.loads(line) for line in args.summary.read_text().splitlines() if line.strip()]
        for (variant, steps), s in sorted(summary(rows).items(), key=lambda kv: (kv[0][1], kv[0][0])):
            print(f"{variant:14} {steps:4d} steps, {s['runs']:2d} seeds: test accuracy mean "
                  f"{s['mean']:6.1%} ({s['min']:.0%}-{s['max']:.0%}), "
                  f"{s['gap_to_original'] * 100:+5.1f} points below original")
        return
    if args.out is None or any(s < 1 for s in args.steps):
        raise SystemExit("give --out FILE (or --summary FILE), and step counts of at least 1")
    profile = profile_name()
    qa_train, _, _, test_questions = qa_task()
    probes = people_probes(200)
    rounded = {n: p.detach().float().clone()
               for n, p in load_model(profile, quantize="nf4")[0].dequantize().named_parameters()}
    device = device_label()
    done = done_runs(args.out)
    for variant in args.variants:
        todo = [(seed, steps) for steps in args.steps for seed in args.seeds
                if (variant, seed, steps) not in done]
        if not todo:
            continue
        base = probe_scores(*changed_model(profile, variant, rounded), probes)
        for seed, steps in todo:
            set_seed(seed)
            model, tokenizer = changed_model(profile, variant, rounded)
            config = TrainConfig(method="qlora" if variant == "qlora" else "lora", lr=3e-3,
                                 max_steps=steps, batch_size=16, seed=seed,
                                 logging_steps=max(1, steps // 10), progress_bar=False)
            result = train(config, model, tokenizer, qa_train)
            row = {"profile": profile, "device": device, "variant": variant, "seed": seed, "steps": steps,
                   **base, "train_losses": [h["loss"] for h in result.log_history if "loss" in h],
                   "test_accuracy": score_answers(result.model, tokenizer, test_questions)["accuracy"],
                   "seconds": result.seconds}
            with args.out.open("a") as f:
                f.write(json.dumps(row) + "\n")
            print(f"{variant:14} seed {seed} {steps:4d} steps: test accuracy {row['test_accuracy']:6.1%}",
                  flush=True)


if __name__ == "__main__":
    main()
