"""Lesson 01, exercise 4: alpaca_to_messages(record, system) agrees with sftlib's to_messages."""

import copy

import pytest

from sftlib.schemas import to_messages

RECORDS = [
    {"instruction": "Reverse the words.", "input": "a b c", "output": "c b a"},
    {"instruction": "Name a colour.", "input": "", "output": "Blue."},
    {"instruction": "Name a colour.", "output": "Red."},
]


@pytest.mark.parametrize("system", [None, "Answer briefly."])
@pytest.mark.parametrize("record", RECORDS, ids=["input", "empty input", "no input"])
def test_matches_to_messages(exercise, record, system):
    assert exercise["alpaca_to_messages"](record, system) == to_messages(record, system=system)[
        "messages"]


def test_user_turn_joins_instruction_and_input_with_a_blank_line(exercise):
    messages = exercise["alpaca_to_messages"](RECORDS[0])
    assert [m["role"] for m in messages] == ["user", "assistant"]
    assert messages[0]["content"] == "Reverse the words.\n\na b c"


def test_record_is_not_changed(exercise):
    record = copy.deepcopy(RECORDS[0])
    exercise["alpaca_to_messages"](record, "Be brief.")
    assert record == RECORDS[0]
