"""Nested subsets and controlled answer noise (lesson 09's LIMA experiment)."""

from __future__ import annotations

import pytest

from sftlib.curation import corrupt_answers, nested_subsets, reworded

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


def test_reworded_asks_each_question_in_every_wording_with_the_same_answer():
    from sftlib import DATA_DIR
    from sftlib.data import read_jsonl
    from sftlib.pools import QA_QUESTIONS

    records = read_jsonl(DATA_DIR / "qa" / "train.jsonl")[:12]  # two people, six attributes each
    rows = reworded(records)
    assert len(rows) == 3 * len(records) and rows[::3] == records  # each original, then its copies
    for record, group in zip(records, (rows[i:i + 3] for i in range(0, len(rows), 3))):
        wordings = {t.format(n=record["entity"]) for t in QA_QUESTIONS[record["attribute"]]}
        assert {r["prompt"] for r in group} == wordings  # three different questions
        assert all(r["completion"] == record["completion"] and r["entity"] == record["entity"] for r in group)
        assert [r["id"] for r in group] == [record["id"], record["id"] + "-w1", record["id"] + "-w2"]
    assert records == read_jsonl(DATA_DIR / "qa" / "train.jsonl")[:12]  # the input is left as it was


def test_reworded_names_a_record_it_cannot_reword():
    record = {"entity": "Ada", "attribute": "major", "prompt": "What did Ada major in?", "completion": "law"}
    with pytest.raises(ValueError, match=r"record 1: prompt 'What did Ada read\?' is none of the 3 wordings"):
        reworded([record, {**record, "prompt": "What did Ada read?"}])
    with pytest.raises(ValueError, match="record 0: no wordings for attribute 'pet'"):
        reworded([{**record, "attribute": "pet"}])
    with pytest.raises(KeyError, match="record 0 has no field 'entity'"):
        reworded([{k: v for k, v in record.items() if k != "entity"}])
