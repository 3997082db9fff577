"""Nested subsets and controlled answer noise (lesson 09's LIMA experiment)."""

from __future__ import annotations

import pytest

from sftlib.curation import corrupt_answers, nested_subsets

ROWS = [{"attribute": a, "completion": f"{a}-{i}"} for a in ("city", "year") for i in range(10)]


def test_nested_subsets_are_prefixes_of_one_seeded_order():
    subsets = nested_subsets(ROWS, [3, 10, 20], seed=1)
    assert [len(s) for s in subsets.values()] == [3, 10, 20]
    assert subsets[10][:3] == subsets[3] and subsets[20][:10] == subsets[10]
    assert sorted(map(str, subsets[20])) == sorted(map(str, ROWS))
    assert nested_subsets(ROWS, [10], seed=1)[10] == subsets[10]
    assert nested_subsets(ROWS, [10], seed=2)[10] != subsets[10]
    with pytest.raises(ValueError, match=r"sizes \[0, 21\]"):
        nested_subsets(ROWS, [0, 5, 21])


def test_corrupt_answers_changes_exactly_the_share_with_same_group_answers():
    new, changed = corrupt_answers(ROWS, 0.25, seed=3)
    assert len(changed) == 5 and changed == sorted(changed)
    for i, (old, row) in enumerate(zip(ROWS, new)):
        if i in changed:
            assert row["completion"] != old["completion"]
            assert row["completion"].startswith(old["attribute"])  # another answer of the same group
        else:
            assert row == old
    assert ROWS[changed[0]]["completion"] == f"{ROWS[changed[0]]['attribute']}-{changed[0] % 10}"  # input untouched
    assert corrupt_answers(ROWS, 0.25, seed=3) == (new, changed)
    assert corrupt_answers(ROWS, 0.0)[1] == [] and len(corrupt_answers(ROWS, 1.0)[1]) == 20


def test_corrupt_answers_errors_name_the_problem():
    with pytest.raises(ValueError, match="share 1.5"):
        corrupt_answers(ROWS, 1.5)
    with pytest.raises(KeyError, match="record 1 has no field 'attribute'"):
        corrupt_answers([ROWS[0], {"completion": "x"}], 0.5)
    with pytest.raises(ValueError, match="only one with attribute='solo'"):
        corrupt_answers([{"attribute": "solo", "completion": "x"}], 1.0)
