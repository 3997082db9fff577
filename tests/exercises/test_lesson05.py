"""Lesson 05, exercise 1: lora_trainable_parameters(shapes, r, num_layers) against peft."""

import copy

import pytest
from peft import LoraConfig, get_peft_model


def test_by_hand(exercise):
    shapes = {"q_proj": (256, 256), "v_proj": (256, 64)}
    assert exercise["lora_trainable_parameters"](shapes, 4, 6) == 6 * 4 * (512 + 320)
    assert exercise["lora_trainable_parameters"]({}, 8, 6) == 0


@pytest.mark.parametrize("r, targets", [(4, ["q_proj", "v_proj"]), (8, ["q_proj", "k_proj",
                                                                         "v_proj", "o_proj"])])
def test_matches_peft_on_the_tiny_model(exercise, tiny, r, targets):
    model = copy.deepcopy(tiny[0])
    attention = model.model.layers[0].self_attn
    shapes = {name: (getattr(attention, name).in_features, getattr(attention, name).out_features)
              for name in targets}
    peft_model = get_peft_model(model, LoraConfig(r=r, lora_alpha=2 * r, target_modules=targets))
    trainable = sum(p.numel() for p in peft_model.parameters() if p.requires_grad)
    assert exercise["lora_trainable_parameters"](shapes, r, len(model.model.layers)) == trainable
