"""Which parameters a fine-tuning run updates: full, frozen layers, LoRA, or QLoRA.

``apply_method`` turns a loaded model into the model a ``TrainConfig`` asks for. LoRA and QLoRA use
peft (``LoraConfig``, ``get_peft_model``, ``prepare_model_for_kbit_training``); QLoRA expects a
model loaded in 4-bit by ``sftlib.models.load_model(..., quantize="nf4")``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch

if TYPE_CHECKING:  # pragma: no cover
    from sftlib.train import TrainConfig

METHODS = ("full", "frozen", "lora", "qlora")


def decoder_layers(model) -> torch.nn.ModuleList:
    """The list of transformer blocks of a causal LM (Llama/Qwen/SmolLM layout: ``model.layers``)."""
    base = model.get_base_model() if hasattr(model, "get_base_model") else model
    layers = getattr(getattr(base, "model", None), "layers", None)
    if layers is None:
        raise TypeError(f"{type(base).__name__}: no `model.layers`; freezing needs a decoder-only "
                        "model in the Llama layout")
    return layers


def freeze_bottom(model, k: int):
    """Freeze the token embeddings and the first ``k`` transformer blocks; train the rest.

    With tied embeddings (the ``tiny`` model, SmolLM2) the output head is the embedding matrix, so it
    is frozen too. Returns ``model`` (changed in place).
    """
    layers = decoder_layers(model)
    if not 0 <= k <= len(layers):
        raise ValueError(f"freeze_layers={k}: the model has {len(layers)} blocks (0..{len(layers)})")
    for param in model.parameters():
        param.requires_grad_(True)
    model.get_input_embeddings().weight.requires_grad_(False)
    for block in layers[:k]:
        for param in block.parameters():
            param.requires_grad_(False)
    return model


def lora_config(config: TrainConfig):
    """The ``peft.LoraConfig`` for a run: rank, alpha, dropout and target modules from ``config``."""
    from peft import LoraConfig

    return LoraConfig(r=config.lora_r, lora_alpha=config.lora_alpha,
                      lora_dropout=config.lora_dropout, target_modules=config.lora_targets,
                      bias="none", task_type="CAUSAL_LM")


def is_4bit(model) -> bool:
    """True when the model holds bitsandbytes 4-bit weights (False after ``model.dequantize()``)."""
    return any(getattr(param, "quant_state", None) is not None for param in model.parameters())


def guard_4bit_training(model) -> int:
    """Keep bitsandbytes 4-bit weights in the layout that backpropagates; return how many it fixed.

    On a CPU with AVX512-BF16, bitsandbytes repacks a 4-bit weight for faster inference the first
    time the layer runs in eval mode without gradients (``generate``, an evaluation). Its packed
    kernel has no backward, so gradients stop flowing through that layer: LoRA adapters below it get
    zero gradients and training silently stops learning. This unpacks any packed weight and turns
    the repacking off for the rest of the model's life (inference then uses the unpacked kernel).
    """
    from bitsandbytes.functional import _convert_weight_packed_for_cpu_inverse
    from bitsandbytes.nn import Linear4bit

    fixed = 0
    for module in model.modules():
        if isinstance(module, Linear4bit):
            module.support_avx512bf16_for_cpu = False
            state = module.weight.quant_state
            if getattr(state, "packing_format_for_cpu", False):
                module.weight.data, module.weight.quant_state = (
                    _convert_weight_packed_for_cpu_inverse(module.weight.data, state))
                fixed += 1
    return fixed


def apply_method(model, config: TrainConfig):
    """Return the model that ``config.method`` trains (a peft model for LoRA and QLoRA).

    - ``full``: every parameter trains.
    - ``frozen``: embeddings and the first ``config.freeze_layers`` blocks are frozen.
    - ``lora``: the base is frozen; low-rank adapters on ``config.lora_targets`` train.
    - ``qlora``: as LoRA, on a 4-bit base (load it with ``quantize="nf4"``).
    """
    from peft import get_peft_model, prepare_model_for_kbit_training

    if (config.method == "qlora") != is_4bit(model):
        wanted = ("a 4-bit base model; load it with load_model(..., quantize='nf4')"
                  if config.method == "qlora" else "a base model that is not quantised")
        raise ValueError(f"method={config.method!r} needs {wanted}")
    if hasattr(model, "peft_config"):
        raise ValueError("the model already has adapters; load a fresh base model for each run")
    if config.method == "full":
        for param in model.parameters():
            param.requires_grad_(True)
        return model
    if config.method == "frozen":
        return freeze_bottom(model, config.freeze_layers)
    if config.method == "qlora":
        guard_4bit_training(model)
        model = prepare_model_for_kbit_training(model, use_gradient_checkpointing=False)
    return get_peft_model(model, lora_config(config))


def nf4_roundtrip(weight: torch.Tensor, quant_type: str = "nf4",
                  blocksize: int = 64) -> torch.Tensor:
    """``weight`` quantised to 4 bits by bitsandbytes and dequantised again (same shape, float32).

    The difference to ``weight`` is the quantisation error a 4-bit base model carries.
    """
    from bitsandbytes.functional import dequantize_4bit, quantize_4bit

    packed, state = quantize_4bit(weight.detach().float().contiguous(), blocksize=blocksize,
                                  quant_type=quant_type)
    return dequantize_4bit(packed, state).float()
