import warnings

import pytest
import torch

from sftlib import quiet_library_warnings
from sftlib.methods import apply_method, freeze_bottom, guard_4bit_training, nf4_roundtrip
from sftlib.models import count_parameters, load_model
from sftlib.train import TrainConfig


def _cpu_repacks_4bit() -> bool:
    from bitsandbytes.nn.modules import Linear4bit
    return bool(Linear4bit(4, 4).support_avx512bf16_for_cpu)


def test_freeze_bottom_freezes_embeddings_and_the_first_blocks():
    model, _ = load_model("tiny", device="cpu")
    per_block = count_parameters(model.model.layers[0])
    embeddings = model.model.embed_tokens.weight.numel()
    freeze_bottom(model, 2)
    assert count_parameters(model, trainable_only=True) == (
        count_parameters(model) - embeddings - 2 * per_block)
    assert not model.lm_head.weight.requires_grad  # tied to the embeddings
    assert all(p.requires_grad for p in model.model.layers[2].parameters())
    with pytest.raises(ValueError, match="6 blocks"):
        freeze_bottom(model, 7)


def test_apply_method_lora_trains_adapters_only_and_checks_quantisation():
    model, _ = load_model("tiny", device="cpu")
    peft_model = apply_method(model, TrainConfig(method="lora", lora_r=4, lora_targets=["q_proj", "v_proj"]))
    trainable = {n for n, p in peft_model.named_parameters() if p.requires_grad}
    assert trainable and all("lora_" in n for n in trainable)
    # r * (in + out) values per adapted matrix
    expected = sum(4 * (m.in_features + m.out_features) for name, m in model.named_modules()
                   if name.endswith(("q_proj.base_layer", "v_proj.base_layer")))
    assert count_parameters(peft_model, trainable_only=True) == expected
    with pytest.raises(ValueError, match="already has adapters"):
        apply_method(peft_model, TrainConfig(method="lora"))
    with pytest.raises(ValueError, match="4-bit base model"):
        apply_method(load_model("tiny", device="cpu")[0], TrainConfig(method="qlora"))
    nf4 = load_model("tiny", device="cpu", quantize="nf4")[0]
    with pytest.raises(ValueError, match="not quantised"):
        apply_method(nf4, TrainConfig(method="lora"))
    rounded = nf4.dequantize()  # float weights again (rounded to NF4's values): plain LoRA trains them
    assert count_parameters(apply_method(rounded, TrainConfig(method="lora")), trainable_only=True) > 0
    with pytest.raises(ValueError, match="choose one of"):
        TrainConfig(method="adapters")


def test_peft_deprecation_warning_is_hidden_and_still_real():
    def lora_warnings(quiet: bool) -> list[str]:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")  # not once per location: earlier tests may have seen it
            if quiet:
                quiet_library_warnings()
            apply_method(load_model("tiny", device="cpu")[0], TrainConfig(method="lora"))
        return [str(w.message) for w in caught if issubclass(w.category, FutureWarning)]

    # peft still triggers it (when this fails, drop the filter from sftlib/__init__.py) ...
    assert any("is_gradient_checkpointing" in m for m in lora_warnings(quiet=False))
    # ... and a learner does not see it
    assert not any("is_gradient_checkpointing" in m for m in lora_warnings(quiet=True))


def _layer0_lora_grad(infer_first: bool, guard: bool) -> float:
    torch.manual_seed(0)
    model, tokenizer = load_model("tiny", device="cpu", quantize="nf4")
    batch = tokenizer(["Olga Brandt was born in", "The capital of Peru is"], return_tensors="pt",
                      padding=True)
    if infer_first:
        with torch.no_grad():
            model(**batch)
    if not guard:  # what apply_method does, minus the guard
        from peft import get_peft_model, prepare_model_for_kbit_training
        from sftlib.methods import lora_config
        model = get_peft_model(prepare_model_for_kbit_training(model, False), lora_config(TrainConfig()))
    else:
        model = apply_method(model, TrainConfig(method="qlora"))
    model.train()
    model(**batch, labels=batch.input_ids).loss.backward()
    return model.base_model.model.model.layers[0].self_attn.q_proj.lora_B.default.weight.grad.norm().item()


def test_qlora_gets_gradients_in_every_layer_even_after_inference():
    assert _layer0_lora_grad(infer_first=False, guard=True) > 0
    if not _cpu_repacks_4bit():  # inference repacks nothing here: a do-nothing guard would pass
        pytest.skip("this CPU has no AVX512-BF16 repacking: the guard has nothing to undo")
    assert _layer0_lora_grad(infer_first=True, guard=True) > 0


@pytest.mark.skipif(not _cpu_repacks_4bit(), reason="this CPU has no AVX512-BF16 repacking")
def test_the_trap_the_guard_prevents_is_real_on_this_cpu():
    """Without the guard, inference before training repacks weights and gradients stop at them."""
    assert _layer0_lora_grad(infer_first=True, guard=False) == 0


@pytest.mark.skipif(not _cpu_repacks_4bit(), reason="this CPU has no AVX512-BF16 repacking: "
                    "nothing is packed, so a do-nothing guard would count 0 too")
def test_guard_counts_the_layers_it_unpacks():
    model, tokenizer = load_model("tiny", device="cpu", quantize="nf4")
    with torch.no_grad():
        model(**tokenizer(["Hello"], return_tensors="pt"))
    assert guard_4bit_training(model) == 6 * 7  # q k v o gate up down in 6 blocks
    assert guard_4bit_training(model) == 0


def test_nf4_roundtrip_keeps_shape_and_has_a_small_error():
    torch.manual_seed(0)
    weight = torch.randn(256, 128) * 0.02
    back = nf4_roundtrip(weight)
    assert back.shape == weight.shape and back.dtype == torch.float32
    relative = ((back - weight).norm() / weight.norm()).item()
    assert 0.01 < relative < 0.2  # 4 bits cannot be exact, and NF4 is not far off
    assert torch.equal(nf4_roundtrip(back), back)  # quantised values are fixed points
