"""Lesson 04, exercise 1: bytes_saved_by_freezing(frozen_params), checked against the estimate."""

import pytest

from sftlib.cost import MB, estimate_training_memory
from sftlib.methods import freeze_bottom


@pytest.mark.parametrize("params, bytes_per_value, expected", [
    (1, 4, 12), (1_000, 4, 12_000), (0, 4, 0), (1_000, 2, 6_000)])
def test_gradient_and_two_moments_per_parameter(exercise, params, bytes_per_value, expected):
    assert exercise["bytes_saved_by_freezing"](params, bytes_per_value) == expected


def test_matches_the_estimate_for_the_tiny_model_with_frozen_embeddings(exercise, tiny):
    model, _ = tiny
    kept = [param.requires_grad for param in model.parameters()]  # the fixture is shared
    try:
        full = estimate_training_memory(freeze_bottom(model, 0).requires_grad_(True), 16 * 48)
        frozen = estimate_training_memory(freeze_bottom(model, 0), 16 * 48)
    finally:
        for param, flag in zip(model.parameters(), kept):
            param.requires_grad_(flag)
    saved_mib = (full.gradients + full.optimizer) - (frozen.gradients + frozen.optimizer)
    embeddings = model.get_input_embeddings().weight.numel()
    assert exercise["bytes_saved_by_freezing"](embeddings) / MB == pytest.approx(saved_mib)
