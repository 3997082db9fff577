"""What training costs: compute (FLOPs), memory measured while it runs, and memory estimated on paper.

Memory is measured as CUDA's peak allocated bytes on a GPU and as the peak resident set size (RSS)
of this process on a CPU, both relative to the moment measuring starts, so the figure is what the
training added on top of what was already loaded.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import torch

from sftlib import ROOT, checkpoints

MB = 2**20


def training_flops(n_params: int, tokens: int) -> float:
    """Approximate floating-point operations of training on ``tokens`` tokens: ``6 * N * D``.

    Each token costs about ``2N`` FLOPs forward and ``4N`` backward (Kaplan et al., 2020,
    arXiv:2001.08361). With loss masking the backward pass still runs through prompt tokens, so
    ``tokens`` counts every non-padding input token, trained or not.
    """
    return 6.0 * n_params * tokens


@contextlib.contextmanager
def forward_tokens(*models) -> Iterator[dict[str, int]]:
    """Count the token positions the models' forward passes take in while the block runs.

    A forward pre-hook on each model's input embeddings adds ``batch * length`` of every input,
    padding included (a padded position costs a real one's compute), to ``"with gradients"``
    when autograd records the pass (it will run backward too) and to ``"without gradients"``
    otherwise (a DPO reference model, an evaluation). ``None`` in ``models`` is skipped; a model
    fed ``inputs_embeds`` instead of token ids is not counted.

    Example:
        >>> with forward_tokens(model) as counted:  # doctest: +SKIP
        ...     model(torch.ones(4, 10, dtype=torch.long))
        >>> counted
        {'with gradients': 40, 'without gradients': 0}
    """
    counted = {"with gradients": 0, "without gradients": 0}

    def count(module, args) -> None:
        ids = args[0]
        counted["with gradients" if torch.is_grad_enabled() else "without gradients"] += ids.numel()

    hooks = [m.get_input_embeddings().register_forward_pre_hook(count)
             for m in models if m is not None]
    try:
        yield counted
    finally:
        for hook in hooks:
            hook.remove()


class PeakMemory:
    """Context manager: the peak memory (MiB) the code inside it added on ``device``.

    On CUDA it reads ``torch.cuda.max_memory_allocated``; elsewhere it samples this process's
    resident set size every ``interval`` seconds in a background thread, so a peak that lasts
    less than ``interval`` can be missed (a training step's tensors live far longer), and memory
    the process freed before is reused without raising RSS (measure in a fresh process).

    Example:
        >>> with PeakMemory("cpu") as mem:  # doctest: +SKIP
        ...     trainer.train()
        >>> mem.peak_mb
        183.2
    """

    def __init__(self, device: torch.device | str = "cpu", interval: float = 0.002):
        self.device = torch.device(device)
        self.interval = interval
        self.peak_mb = 0.0
        self.kind = "CUDA max allocated" if self.device.type == "cuda" else "process RSS"

    def __enter__(self) -> PeakMemory:
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
            torch.cuda.reset_peak_memory_stats(self.device)
            self._start = torch.cuda.memory_allocated(self.device)
            return self
        import psutil

        self._process = psutil.Process()
        self._start = self._peak = self._process.memory_info().rss
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def _sample(self) -> None:
        while not self._stop.is_set():
            self._peak = max(self._peak, self._process.memory_info().rss)
            time.sleep(self.interval)

    def __exit__(self, *exc) -> None:
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
            peak = torch.cuda.max_memory_allocated(self.device)
        else:
            self._stop.set()
            self._thread.join()
            peak = max(self._peak, self._process.memory_info().rss)
        self.peak_mb = (peak - self._start) / MB


def return_freed_memory() -> None:
    """Hand back to the operating system the memory that freed tensors left with C's allocator.

    glibc keeps freed blocks for reuse, so after a training run on the CPU a notebook's kernel
    stays near that run's peak resident memory even though the tensors are gone; ``malloc_trim``
    returns the free blocks. Nothing is computed differently. Where the C library is not glibc
    (macOS, Windows, musl) this does nothing.
    """
    import ctypes
    import ctypes.util

    name = ctypes.util.find_library("c")
    try:
        trim = ctypes.CDLL(name).malloc_trim if name else None
    except (OSError, AttributeError):  # no C library found, or one without malloc_trim
        trim = None
    if trim is not None:
        trim(0)


def training_state_mb(trainer) -> dict[str, float]:
    """MiB of the tensors a trainer keeps for its whole run, counted from the tensors themselves.

    Exact and cheap (no second process), but without activations, which live within a step and
    depend on the batch (``measure_training_memory`` measures them).

    ``sftlib.runner`` counts it as a run ends (``TrainResult.state_mb``) and then frees the
    optimizer's state; call this on a trainer of your own.

    Args:
        trainer: a ``transformers.Trainer`` after ``train()`` (TRL's trainers included).

    Returns:
        ``weights`` (the trained model's parameters and buffers), ``gradients`` (one per trainable
        parameter, held during each step), ``optimizer`` (the optimizer's state tensors, e.g.
        AdamW's two moments), ``reference`` (a reference model's weights, as DPO's; 0 without)
        and ``total``.

    Example:
        >>> training_state_mb(trainer)["optimizer"]  # doctest: +SKIP
        40.3
    """
    def size(tensors) -> float:
        return sum(t.numel() * t.element_size() for t in tensors) / MB

    model = trainer.model
    reference = getattr(trainer, "ref_model", None)
    state = [t for s in trainer.optimizer.state.values() for t in s.values()
             if isinstance(t, torch.Tensor)] if trainer.optimizer is not None else []
    found = {"weights": size([*model.parameters(), *model.buffers()]),
             "gradients": size([p for p in model.parameters() if p.requires_grad]),
             "optimizer": size(state),
             "reference": size([*reference.parameters(), *reference.buffers()]) if reference else 0.0}
    return {**found, "total": sum(found.values())}


@dataclass
class MemoryEstimate:
    """Training memory on paper, in MiB: what the weights, gradients, AdamW and activations take."""

    weights: float
    gradients: float
    optimizer: float
    activations: float

    @property
    def total(self) -> float:
        """Sum of the four parts, MiB."""
        return self.weights + self.gradients + self.optimizer + self.activations


def estimate_training_memory(model, tokens: int, activation_bytes: int = 4) -> MemoryEstimate:
    """Estimate the memory of one AdamW training step of ``model`` on a batch of ``tokens`` tokens.

    - weights: the bytes the parameters and buffers occupy now (4-bit layers count as 4-bit);
    - gradients: one value per trainable parameter, in the parameter's dtype (4 bytes in float32,
      2 in bf16); optimizer: two more (AdamW's moments are kept in the parameter's dtype);
    - activations: what backward needs, per token and per block from the lowest block that has a
      trainable parameter upward (about ``6h + 4i`` values: attention and MLP inputs and outputs,
      with ``h`` the hidden size and ``i`` the MLP size), plus the logits and their gradient
      (``2V`` values per token). Frozen blocks below every trainable one store nothing.

    Args:
        model: a causal LM in the Llama layout, possibly wrapped by peft, with its trainable set.
        tokens: tokens in one batch, padding included (``batch_size * padded_length``).
        activation_bytes: 4 for float32 training, 2 under bf16 autocast.

    Returns:
        A ``MemoryEstimate`` in MiB. It leaves out temporary buffers and allocator overhead.
    """
    from sftlib.methods import decoder_layers

    config = (model.get_base_model() if hasattr(model, "get_base_model") else model).config
    layers = decoder_layers(model)
    trainable = sum(p.numel() * p.element_size() for p in model.parameters() if p.requires_grad)
    weights = sum(p.numel() * p.element_size() for p in model.parameters())
    weights += sum(b.numel() * b.element_size() for b in model.buffers())
    first = next((i for i, block in enumerate(layers)
                  if any(p.requires_grad for p in block.parameters())), len(layers))
    per_token = (len(layers) - first) * (6 * config.hidden_size + 4 * config.intermediate_size)
    per_token += 2 * config.vocab_size if trainable else 0
    return MemoryEstimate(weights=weights / MB, gradients=trainable / MB,
                          optimizer=2 * trainable / MB,
                          activations=tokens * per_token * activation_bytes / MB)


def saved_activations_mb(model, batch: dict[str, torch.Tensor]) -> float:
    """MiB of the tensors autograd keeps for backward in one training forward pass, counted.

    Runs ``model(**batch, labels=batch["input_ids"])`` (the loss included) under
    ``torch.autograd.graph.saved_tensors_hooks`` and adds up the storage of every tensor saved for
    backward, once per storage (views share one). Parameters are not counted: they are weights.
    This is the exact figure that ``estimate_training_memory``'s ``activations`` approximates; it
    leaves out the temporaries a step creates and frees, which a measured peak includes.

    Args:
        model: a causal LM with its trainable set, in the mode it trains in (``model.train()``).
        batch: ``input_ids`` and ``attention_mask`` of shape (batch, length), on the model's device.

    Returns:
        MiB; 0.0 when nothing that is computed requires a gradient.
    """
    saved: dict[int, int] = {}

    def pack(tensor: torch.Tensor) -> torch.Tensor:
        storage = tensor.untyped_storage()
        saved[storage.data_ptr()] = storage.nbytes()
        return tensor

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda tensor: tensor):
        output = model(**batch, labels=batch["input_ids"])
    del output  # frees the graph and what it saved
    weights = {p.untyped_storage().data_ptr() for p in model.parameters()}
    return sum(size for pointer, size in saved.items() if pointer not in weights) / MB


GPU_RESULTS = ROOT / "benchmarks" / "results" / "gpu_methods_h100.json"


def recorded_gpu_runs(path: Path = GPU_RESULTS) -> dict:
    """Memory and speed that ``benchmarks/gpu_methods.py`` measured on a GPU, as it saved them.

    Returns:
        ``{"device", "date", "torch", "steps", "memory": [row, ...], "precision": [row, ...]}``;
        memory rows have ``model``, ``method``, ``measured`` (MiB: weights plus the training peak,
        CUDA max allocated) and ``s/step``; precision rows have ``model``, ``batch``, ``mode`` and
        ``tokens/s``. The models are hub architectures with random weights (see the script).
    """
    if not path.exists():
        raise FileNotFoundError(f"{path}: no recorded GPU run; make one with "
                                f"`python benchmarks/gpu_methods.py --out {path}` on a GPU")
    return json.loads(path.read_text())


def measure_training_memory(profile: str, config, examples: int = 64, device: str | None = None,
                            env: dict[str, str] | None = None) -> dict[str, float]:
    """Peak memory of a short training run of ``profile``, measured in a fresh Python process.

    A process's allocator keeps and reuses memory that earlier runs freed, so runs measured one
    after another in the same process would hide each other's peaks. The child process loads the
    model (in 4 bits for ``qlora``), trains ``config.max_steps`` steps on ``examples`` QA
    prompt/completion pairs, and reports the model's weights plus the peak that training added
    (weights are paged in first: safetensors may leave them memory-mapped until first touched).

    Args:
        profile: a profile name or a ``save_pretrained`` folder.
        config: the ``TrainConfig`` to run (its ``max_steps`` steps).
        examples: QA training examples; the batch is padded to the longest of them.
        device: where to train; None picks CUDA, then MPS, then CPU.
        env: environment variables added for the child, e.g. ``{"MALLOC_MMAP_THRESHOLD_":
            "131072"}``, which fixes glibc's threshold for serving large blocks by ``mmap``
            (returned to the system when freed) instead of letting it rise after each free.
            A child given ``env`` always trains: with ``$SFT_RUN_CACHE`` set, one without it
            loads a saved run of the same config (``sftlib.checkpoints``) and reports that
            run's memory and step time, but a run's key does not hold these variables, which
            change what is measured.

    Returns:
        MiB figures: ``measured`` (= ``measured weights``, the model's tensors, plus ``measured
        training``, the peak the run added), and ``estimate`` with its four parts from
        ``estimate_training_memory`` for the same model and batch; ``saved activations``, what
        autograd kept for backward in one forward pass of that batch (``saved_activations_mb``);
        ``kind`` says what was read; ``s/step`` is the run's median optimizer step, in wall-clock
        seconds (``TrainResult.median_step_seconds``).

    Raises:
        RuntimeError: the child failed; the message says how it stopped (a SIGKILL, most likely
            the out-of-memory killer) and ends with its last error output.
    """
    import os
    import subprocess
    import sys

    args = json.dumps({"profile": profile, "config": dataclasses.asdict(config),
                       "examples": examples, "device": device})
    child_env = {**os.environ, **(env or {})}
    if env:  # they change what is measured, and a saved run's key does not hold them
        child_env[checkpoints.CACHE_ENV] = "0"
    done = subprocess.run([sys.executable, "-m", "sftlib.cost", args], capture_output=True,
                          text=True, check=False, env=child_env)
    if done.returncode != 0:
        raise RuntimeError(f"memory measurement of {profile} / {config.method} failed: "
                           f"{_why_it_stopped(done.returncode)}\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def _why_it_stopped(returncode: int) -> str:
    """A child process's non-zero ``returncode`` in words (negative: the signal that ended it)."""
    import signal

    if returncode >= 0:
        return f"the measuring process exited with status {returncode}"
    name = signal.Signals(-returncode).name if -returncode in signal.valid_signals() else "?"
    why = f"the measuring process was killed by signal {-returncode} ({name})"
    if -returncode == signal.SIGKILL:  # what Linux's out-of-memory killer sends, silently
        why += (", most likely because the machine or its container ran out of memory (Binder "
                "gives 2 GB); estimate_training_memory says about how much this run needs")
    return why


def _measure_child(request: dict) -> dict:
    """The child side of ``measure_training_memory``: load, train, report (run via ``-m``)."""
    from datasets import Dataset

    from sftlib import DATA_DIR
    from sftlib.data import read_jsonl
    from sftlib.models import load_model, pick_device
    from sftlib.train import TrainConfig, train

    config = TrainConfig(**request["config"])
    device = pick_device(request["device"])
    records = read_jsonl(DATA_DIR / "qa" / "train.jsonl")[: request["examples"]]
    dataset = Dataset.from_list([{"prompt": r["prompt"], "completion": " " + r["completion"]}
                                 for r in records])
    model, tokenizer = load_model(request["profile"], device=request["device"],
                                  quantize="nf4" if config.method == "qlora" else None)
    weights = model.get_memory_footprint() / MB
    with torch.no_grad():  # page in weights that safetensors left memory-mapped on disk
        for tensor in (*model.parameters(), *model.buffers()):
            tensor.float().sum()
    result = train(config, model, tokenizer, dataset)
    texts = [r["prompt"] + " " + r["completion"] for r in records]
    longest = max(len(tokenizer(text).input_ids) + 1 for text in texts)
    bf16 = result.trainer.args.bf16
    estimate = estimate_training_memory(result.model, config.batch_size * longest, 2 if bf16 else 4)
    batch = tokenizer(texts[: config.batch_size], return_tensors="pt", padding="max_length",
                      max_length=longest).to(device)
    result.model.train()  # count in the mode and precision the run trained in
    with torch.autocast(result.model.device.type, dtype=torch.bfloat16, enabled=bf16):
        saved = saved_activations_mb(result.model, dict(batch))
    return {"measured": weights + result.peak_memory_mb, "measured weights": weights,
            "measured training": result.peak_memory_mb, "kind": result.memory_kind,
            "s/step": result.median_step_seconds,
            "estimate": estimate.total,
            **{f"estimate {k}": v for k, v in dataclasses.asdict(estimate).items()},
            "saved activations": saved}


if __name__ == "__main__":
    import sys

    print(json.dumps(_measure_child(json.loads(sys.argv[1]))))
