"""Lesson 00, exercise 2: accuracy_by_attribute(probes, hits) -> {attribute: share of hits}."""

import pytest

PROBES = [{"attribute": a} for a in ("birth_city", "employer", "birth_city", "birth_date",
                                     "birth_city", "employer")]


def test_shares_per_attribute(exercise):
    hits = [True, False, False, False, True, True]
    result = exercise["accuracy_by_attribute"](PROBES, hits)
    assert result == pytest.approx({"birth_city": 2 / 3, "employer": 0.5, "birth_date": 0.0})


def test_an_attribute_without_hits_is_kept_at_zero_and_all_hits_give_one(exercise):
    assert exercise["accuracy_by_attribute"](PROBES, [False] * 6) == {
        "birth_city": 0.0, "employer": 0.0, "birth_date": 0.0}
    assert set(exercise["accuracy_by_attribute"](PROBES, [True] * 6).values()) == {1.0}


def test_mismatched_lengths_are_refused(exercise):
    with pytest.raises(ValueError):
        exercise["accuracy_by_attribute"](PROBES, [True])
    # the same hit with as many probes is scored: the refusal is for the lengths only
    assert exercise["accuracy_by_attribute"](PROBES[:1], [True]) == {"birth_city": 1.0}
