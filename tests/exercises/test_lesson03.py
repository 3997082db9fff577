"""Lesson 03, exercise 3: pretraining_to_sft_ratio(...) by the 6ND rule."""

import pytest

from sftlib.cost import training_flops


def test_smollm2_example(exercise):
    ratio = exercise["pretraining_to_sft_ratio"](135e6, 2e12, 1_000_000, 500)
    assert ratio == pytest.approx(4000)


def test_epochs_multiply_sft_compute(exercise):
    assert exercise["pretraining_to_sft_ratio"](135e6, 2e12, 1_000_000, 500, num_epochs=4) == (
        pytest.approx(1000))


def test_agrees_with_training_flops_and_does_not_depend_on_model_size(exercise):
    expected = training_flops(5e6, 3e9) / training_flops(5e6, 2_000 * 80 * 3)
    for n_params in (5e6, 7e9):
        assert exercise["pretraining_to_sft_ratio"](n_params, 3e9, 2_000, 80, 3) == (
            pytest.approx(expected))
