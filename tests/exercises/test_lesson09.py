"""Lesson 09, exercise 4: contaminated(train_texts, eval_texts, n) against sftlib's check."""

import pytest

from sftlib import DATA_DIR
from sftlib.data import read_jsonl
from sftlib.quality import contamination


def test_small_cases(exercise):
    train = ["The capital of France is Paris, of course."]
    assert exercise["contaminated"](train, ["capital of FRANCE is paris!", "Rome"], 4) == [0]
    assert exercise["contaminated"](train, ["capital of France was Paris"], 4) == []
    assert exercise["contaminated"](["short text"], ["Short text.", "short"], 8) == [0]
    assert exercise["contaminated"]([], ["anything at all"], 2) == []


@pytest.mark.parametrize("n", [3, 5, 8])
def test_matches_contamination_on_the_qa_data(exercise, n):
    def text(record):
        return f"{record['prompt']} {record['completion']}"

    train = [text(r) for r in read_jsonl(DATA_DIR / "qa" / "train.jsonl")[:300]]
    evaluation = [text(r) for r in read_jsonl(DATA_DIR / "qa" / "validation.jsonl")[:100]]
    evaluation += train[:20:4]  # five planted leaks
    found = exercise["contaminated"](train, evaluation, n)
    assert found == contamination(train, evaluation, ngram=n)
    assert set(range(100, 105)) <= set(found)
