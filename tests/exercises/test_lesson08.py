"""Lesson 08, exercise 1: macro_f1(predictions, references) against the course's metric."""

import pytest

from sftlib.evaluate import load_metric

CASES = [
    (["urgent", "urgent", "not urgent", "not urgent"], ["urgent", "not urgent", "not urgent",
                                                        "not urgent"]),
    (["a", "a", "a"], ["a", "b", "c"]),  # b and c never predicted: their F1 is 0
    (["x", "y", "z", "x"], ["x", "y", "z", "x"]),
    (["a", "x", "a"], ["a", "a", "b"]),  # x is predicted but never true: it is averaged over too
]


def test_by_hand(exercise):
    # urgent: P 1/2, R 1 -> F1 2/3; not urgent: P 1, R 2/3 -> F1 4/5
    assert exercise["macro_f1"](*CASES[0]) == pytest.approx((2 / 3 + 4 / 5) / 2)
    assert exercise["macro_f1"](*CASES[2]) == 1.0
    # a: P 1/2, R 1/2 -> F1 1/2; b (never predicted) and x (never true): F1 0. The mean is over
    # the union {a, b, x}: 1/6, not 1/4 as over the true labels {a, b} alone
    assert exercise["macro_f1"](*CASES[3]) == pytest.approx(1 / 6)


@pytest.mark.parametrize("predictions, references", CASES)
def test_matches_the_classification_metric(exercise, predictions, references):
    expected = load_metric("classification").compute(predictions=predictions,
                                                     references=references)["f1"]
    assert exercise["macro_f1"](predictions, references) == pytest.approx(expected)
