"""Lesson 07, exercise 4: forgetting_score(before, after) -> share of known facts lost."""

import pytest


def test_share_of_known_facts_lost(exercise):
    before = [True, True, True, True, False, False]
    after = [True, False, True, False, True, False]
    assert exercise["forgetting_score"](before, after) == pytest.approx(0.5)


def test_new_facts_do_not_offset_lost_ones(exercise):
    assert exercise["forgetting_score"]([True, False, False], [False, True, True]) == 1.0
    assert exercise["forgetting_score"]([True, True], [True, True]) == 0.0


@pytest.mark.parametrize("before, after", [([True], [True, False]), ([False, False],
                                                                     [True, False])])
def test_refuses_what_has_no_answer(exercise, before, after):
    with pytest.raises(ValueError):
        exercise["forgetting_score"](before, after)
