"""Lesson 06, exercise 2: qlora_weight_bytes(n_params) in NF4 with its quantisation constants."""

import pytest


def test_a_7b_model_with_double_quantisation(exercise):
    # 4 bits per weight + 8 bits per block of 64 + 32 bits per 256 blocks = 4.127 bits per weight
    assert exercise["qlora_weight_bytes"](7e9) == pytest.approx(7e9 * (0.5 + 1 / 64 + 4 / 16384))
    assert exercise["qlora_weight_bytes"](7e9) / 2**30 == pytest.approx(3.36, abs=0.01)


def test_without_double_quantisation_each_block_keeps_a_float32(exercise):
    assert exercise["qlora_weight_bytes"](7e9, double_quant=False) == pytest.approx(
        7e9 * (0.5 + 4 / 64))


def test_larger_blocks_need_fewer_constants(exercise):
    small, large = (exercise["qlora_weight_bytes"](1e9, block_size=b) for b in (64, 256))
    assert 0.5e9 < large < small
    # 1e9 / 256 blocks: one 8-bit constant each, plus a float32 per 256 of them
    assert large == pytest.approx(1e9 * (0.5 + 1 / 256 + 4 / (256 * 256)))
    # without double quantisation, a float32 per block of 128
    assert exercise["qlora_weight_bytes"](1e9, block_size=128, double_quant=False) == pytest.approx(
        1e9 * (0.5 + 4 / 128))
