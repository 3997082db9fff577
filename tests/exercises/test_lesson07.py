"""Lesson 07, exercise 4: forgetting_score(before, after) -> share of known facts lost."""

import pytest


def test_share_of_known_facts_lost(exercise):
    before = [True, True, True, True, False, False]
    after = [True, False, True, False, True, False]
    assert exercise["forgetting_score"](before, after) == pytest.approx(0.5)


def test_new_facts_do_not_offset_lost_ones(exercise):
    assert exercise["forgetting_score"]([True, False, False], [False, True, True]) == 1.0
    assert exercise["forgetting_score"]([True, True], [True, True]) == 0.0


@pytest.mark.parametrize("before, after, near, score", [
    ([True], [True, False], ([True], [False]), 1.0),  # lengths differ; equal lengths are scored
    ([False, False], [True, False], ([False, True], [False, False]), 1.0),  # nothing known before
])
def test_refuses_what_has_no_answer(exercise, before, after, near, score):
    with pytest.raises(ValueError):
        exercise["forgetting_score"](before, after)
    # a valid call next to it is answered: the refusal is for that input only
    assert exercise["forgetting_score"](*near) == pytest.approx(score)
