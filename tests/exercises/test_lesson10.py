"""Lesson 10, exercise 4: dpo_loss(...) against the formula computed with torch."""

import math

import pytest
import torch


def reference(pc, pr, rc, rr, beta):
    margins = (torch.tensor(pc) - torch.tensor(rc)) - (torch.tensor(pr) - torch.tensor(rr))
    return -torch.nn.functional.logsigmoid(beta * margins).mean().item()


def test_policy_equal_to_reference_gives_log_2(exercise):
    logps = [-3.0, -1.5, -7.25]
    assert exercise["dpo_loss"](logps, logps[::-1], logps, logps[::-1]) == pytest.approx(math.log(2))


@pytest.mark.parametrize("beta", [0.02, 0.1, 0.5])
def test_matches_torch_on_random_pairs(exercise, beta):
    generator = torch.Generator().manual_seed(0)
    pc, pr, rc, rr = ((-20 * torch.rand(16, generator=generator, dtype=torch.float64)).tolist() for _ in range(4))
    assert exercise["dpo_loss"](pc, pr, rc, rr, beta) == pytest.approx(reference(pc, pr, rc, rr, beta), rel=1e-6)
    assert exercise["dpo_loss"](pc, pr, rc, rr, beta=beta) == pytest.approx(reference(pc, pr, rc, rr, beta), rel=1e-6)


def test_direction_and_extreme_margins(exercise):
    # preferring the chosen answer more than the reference does lowers the loss, and the reverse raises it
    assert exercise["dpo_loss"]([-1.0], [-5.0], [-3.0], [-3.0]) < math.log(2) < exercise["dpo_loss"]([-5.0], [-1.0], [-3.0], [-3.0])
    assert exercise["dpo_loss"]([0.0], [-2000.0], [0.0], [0.0], beta=1.0) == pytest.approx(0.0, abs=1e-12)
    assert exercise["dpo_loss"]([-2000.0], [0.0], [0.0], [0.0], beta=1.0) == pytest.approx(2000.0)


def test_bad_lengths_are_refused(exercise):
    with pytest.raises(ValueError):
        exercise["dpo_loss"]([-1.0, -2.0], [-1.0], [-1.0], [-1.0])
    # equal lengths are answered: policy == reference gives log 2
    assert exercise["dpo_loss"]([-1.0], [-1.0], [-1.0], [-1.0]) == pytest.approx(math.log(2))
    # no pairs: a mean of nothing is refused (statistics.mean's StatisticsError is a ValueError
    # too), not answered with nan or 0, nor a ZeroDivisionError
    with pytest.raises(ValueError):
        exercise["dpo_loss"]([], [], [], [])
    assert exercise["dpo_loss"]([-2.0], [-4.0], [-3.0], [-3.0], beta=1.0) == pytest.approx(
        math.log1p(math.exp(-2.0)))  # one pair is enough: margin 2, -log sigmoid(2)
