"""Memory and speed of full fine-tuning, LoRA and QLoRA on a GPU, for models of real sizes.

The course's machines cannot reach the model hub, so each model is built from its published
architecture (the numbers in ``SHAPES``, from the models' ``config.json`` on the hub) with random
weights, saved by ``save_pretrained`` and loaded back through ``sftlib.models.load_model``: the code
path of the hub profiles. Memory and speed depend on the shapes, not on the values of the weights;
the losses of these runs mean nothing and are not reported.

Two tables, written as JSON to ``--out`` and printed:

* ``memory``: each method trains ``--steps`` steps of the course recipe (batch 8, QA prompts) in a
  fresh process (``sftlib.cost.measure_training_memory``); peak CUDA memory and seconds per step.
* ``precision``: the recipe's tokens per second on the 135M and 1.7B shapes, in float32 (TF32 off,
  PyTorch's default), float32 weights under bf16 autocast (mixed precision), and bf16 weights (what
  ``load_model`` picks on a bf16 GPU); once with the course's batches (16 short QA examples, about
  1,000 tokens a step, where launching kernels costs more than computing) and once packed into
  8 rows of 1,024 tokens (8,192 tokens a step, where the matrix products dominate).

    python benchmarks/gpu_methods.py --out benchmarks/results/gpu_methods.json   # needs CUDA
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import torch

from sftlib import DATA_DIR
from sftlib.cost import measure_training_memory
from sftlib.models import load_model
from sftlib.train import TrainConfig, train

# Architecture numbers of three hub models (their config.json). Vocabulary sizes are kept, so the
# embedding and the logits cost what they cost there; the tokenizer is the tiny profile's, whose
# 1,816 ids are all inside every one of these vocabularies.
SHAPES: dict[str, dict] = {
    "SmolLM2-135M": dict(hidden_size=576, intermediate_size=1536, num_hidden_layers=30,
                         num_attention_heads=9, num_key_value_heads=3, vocab_size=49152,
                         tie_word_embeddings=True),
    "SmolLM2-1.7B": dict(hidden_size=2048, intermediate_size=8192, num_hidden_layers=24,
                         num_attention_heads=32, num_key_value_heads=32, vocab_size=49152,
                         tie_word_embeddings=True),
    "Llama-2-7B": dict(hidden_size=4096, intermediate_size=11008, num_hidden_layers=32,
                       num_attention_heads=32, num_key_value_heads=32, vocab_size=32000,
                       tie_word_embeddings=False),
}
METHODS = ("full", "lora", "qlora")


def build(shape: str, folder: Path) -> Path:
    """Save a randomly initialised Llama-layout model of ``SHAPES[shape]`` (bf16) into ``folder``."""
    from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM

    config = LlamaConfig(**SHAPES[shape], max_position_embeddings=4096, pad_token_id=0,
                         bos_token_id=1, eos_token_id=2, use_cache=False)
    torch.manual_seed(0)
    with torch.device("cuda"):
        model = LlamaForCausalLM(config).to(torch.bfloat16)
    model.save_pretrained(folder)
    AutoTokenizer.from_pretrained(DATA_DIR / "tiny").save_pretrained(folder)
    del model
    torch.cuda.empty_cache()
    return folder


def memory_rows(folder: Path, shape: str, steps: int) -> list[dict]:
    """One row per method: weights, peak training memory (MiB) and seconds per step."""
    rows = []
    for method in METHODS:
        config = TrainConfig(method=method, lr=1e-4, max_steps=steps, batch_size=8,
                             logging_steps=1, progress_bar=False)
        try:
            found = measure_training_memory(str(folder), config, examples=64, device="cuda")
        except RuntimeError as err:  # out of memory is a result too
            oom = "OutOfMemoryError" in str(err)
            found = {"error": "out of memory" if oom else str(err)[-500:]}
        rows.append({"model": shape, "method": method, **found})
        print(json.dumps(rows[-1]), flush=True)
    return rows


def precision_rows(folder: Path, shape: str, steps: int, packed: bool) -> list[dict]:
    """Tokens per second of the recipe in float32, mixed bf16, and bf16 weights.

    ``packed``: 8 rows of 1,024 packed tokens per step instead of 16 padded QA examples.
    """
    from datasets import Dataset

    from sftlib.data import read_jsonl
    from sftlib.schemas import to_messages

    records = read_jsonl(DATA_DIR / "qa" / "train.jsonl")
    dataset = Dataset.from_list([to_messages(r) for r in records])
    modes = {"float32": (torch.float32, False), "float32 weights, bf16 autocast":
             (torch.float32, True), "bf16 weights": (torch.bfloat16, False)}
    rows = []
    for mode, (dtype, autocast) in modes.items():
        model, tokenizer = load_model(str(folder), device="cuda", dtype=dtype)
        config = TrainConfig(lr=1e-4, max_steps=steps, batch_size=8 if packed else 16,
                             max_length=1024 if packed else 256, packing=packed,
                             logging_steps=1, bf16=autocast, progress_bar=False)
        result = train(config, model, tokenizer, dataset)
        rows.append({"model": shape, "batch": "8 x 1,024 packed" if packed else "16 QA examples",
                     "mode": mode, "tokens/s": result.tokens_per_second,
                     "s/step": result.seconds_per_step, "steps": result.steps})
        print(json.dumps(rows[-1]), flush=True)
        del model, result
        torch.cuda.empty_cache()
    return rows


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True, help="JSON file for the results")
    parser.add_argument("--shapes", nargs="*", default=list(SHAPES), choices=list(SHAPES))
    parser.add_argument("--tables", nargs="*", default=["memory", "precision"],
                        choices=["memory", "precision"])
    parser.add_argument("--steps", type=int, default=10, help="training steps per memory run")
    parser.add_argument("--speed-steps", type=int, default=20, help="steps per precision run")
    parser.add_argument("--work", type=Path, default=None, help="folder for the saved models")
    args = parser.parse_args(argv)
    if not torch.cuda.is_available():
        raise SystemExit("gpu_methods.py measures CUDA memory: run it on a machine with a GPU")
    work = args.work or Path(tempfile.mkdtemp(prefix="shapes-"))
    results = {"device": torch.cuda.get_device_name(), "torch": torch.__version__,
               "date": time.strftime("%Y-%m-%d"), "steps": args.steps, "memory": [],
               "precision": []}
    for shape in args.shapes:
        folder = build(shape, work / shape)
        if "memory" in args.tables:
            results["memory"] += memory_rows(folder, shape, args.steps)
        # float32 7B weights alone need 27 GB; the two smaller shapes tell the story
        if "precision" in args.tables and shape != "Llama-2-7B":
            for packed in (False, True):
                results["precision"] += precision_rows(folder, shape, args.speed_steps, packed)
        args.out.write_text(json.dumps(results, indent=1) + "\n")  # keep what is done so far
    print(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
