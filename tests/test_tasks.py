"""sftlib.tasks: the lessons' shared QA splits and people probes."""

from __future__ import annotations

from collections import Counter

import pytest

from sftlib import DATA_DIR
from sftlib.data import read_jsonl
from sftlib.pools import NOT_URGENT, QA_QUESTIONS, URGENT
from sftlib.tasks import one_question_per_entity, people_probes, qa_task, triage_problem


def test_qa_task_gives_the_training_lessons_their_splits_without_shared_people():
    task = qa_task()
    assert (len(task.train), len(task.validation), len(task.val_questions),
            len(task.test_questions)) == (4500, 129, 150, 300)
    assert task.train.column_names == ["messages"]
    assert [m["role"] for m in task.train[0]["messages"]] == ["user", "assistant"]
    trained = {r["entity"] for r in read_jsonl(DATA_DIR / "qa" / "train.jsonl")}
    assert not trained & {r["entity"] for r in task.val_questions + task.test_questions}
    # one question per person, every attribute asked equally often (not 150 birth dates)
    for questions, per_attribute in ((task.val_questions, 25), (task.test_questions, 50)):
        assert len({q["entity"] for q in questions}) == len(questions)
        assert Counter(q["attribute"] for q in questions) == dict.fromkeys(QA_QUESTIONS, per_attribute)


def test_one_question_per_entity_takes_the_attributes_in_turn():
    rows = [{"entity": e, "attribute": a, "n": i} for i, (e, a) in
            enumerate((e, a) for e in "abcde" for a in ("date", "city", "job"))]
    picked = one_question_per_entity(rows)
    assert [(r["entity"], r["attribute"]) for r in picked] == [
        ("a", "date"), ("b", "city"), ("c", "job"), ("d", "date"), ("e", "city")]
    assert [r["entity"] for r in one_question_per_entity(rows, every=2)] == ["a", "c", "e"]
    assert [r["attribute"] for r in one_question_per_entity(rows, every=2)] == ["date", "city", "job"]
    picked[0]["n"] = -1  # copies: the caller's records are not changed
    assert rows[0]["n"] == 0
    with pytest.raises(ValueError, match="every must be 1 or more"):
        one_question_per_entity(rows, every=0)


def test_people_probes_cover_every_attribute_once_per_person():
    probes = people_probes(200)
    assert len(probes) == 200 and len({p["entity"] for p in probes}) == 200
    per_attribute = Counter(p["attribute"] for p in probes)
    assert len(per_attribute) == 6 and max(per_attribute.values()) - min(per_attribute.values()) <= 1
    assert people_probes(200) == probes
    for bad in (0, 1501):
        with pytest.raises(ValueError, match=f"count={bad}; the file holds 1500 people"):
            people_probes(bad)


@pytest.mark.parametrize("split", ["train", "validation", "test"])
def test_triage_problem_names_each_tickets_problem_of_the_twenty(split):
    tickets = read_jsonl(DATA_DIR / "triage" / f"{split}.jsonl")
    problems = Counter(triage_problem(t) for t in tickets)
    urgent = {reason for _, reason in URGENT}
    assert set(problems) == urgent | {reason for _, reason in NOT_URGENT}  # all 20 in every split
    assert all((triage_problem(t) in urgent) == (t["label"] == "urgent") for t in tickets)


def test_triage_problem_names_the_ticket_whose_answer_has_no_known_reason():
    ticket = {"id": "triage-00001", "output": "urgent: The printer is out of paper."}
    with pytest.raises(ValueError, match="ticket triage-00001: .*'urgent: The printer is out of paper.'"):
        triage_problem(ticket)
    with pytest.raises(ValueError, match="no reason"):  # a known reason under another label is still a reason
        triage_problem({"id": "x", "output": "maybe: This is a how-to question and nothing is broken."})
