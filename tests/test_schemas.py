"""sftlib.schemas: the three record shapes, told apart by their keys, every field checked, and the
converters between them."""

from __future__ import annotations

import pytest

import sftlib.data
from sftlib.schemas import (DataFormatError, detect_schema, to_alpaca, to_messages, to_prompt_completion,
                            validate_record)

# One sample record per shape; tests/test_data.py loads the same three.
ALPACA = {"id": "a1", "instruction": "Reverse the words.", "input": "Zürich grüßt",
          "output": "grüßt Zürich"}
CHAT = {"id": "c1", "messages": [
    {"role": "system", "content": "Be brief."},
    {"role": "user", "content": "Capital of Peru?"}, {"role": "assistant", "content": "Lima."},
    {"role": "user", "content": "And Chile?"}, {"role": "assistant", "content": "Santiago."}]}
PC = {"id": "p1", "entity": "Ada Vale", "prompt": "Where was Ada Vale born?", "completion": "Oslo"}


def test_detect_schema_by_keys():
    assert detect_schema(ALPACA) == "alpaca"
    assert detect_schema(CHAT) == "messages"
    assert detect_schema(PC) == "prompt_completion"
    assert detect_schema({"instruction": "x"}) == "alpaca"  # validation then says output is missing


def test_detect_schema_rejects_ambiguous_and_unknown():
    with pytest.raises(DataFormatError, match="ambiguous.*alpaca and prompt_completion"):
        detect_schema({"instruction": "a", "output": "b", "prompt": "c"})
    with pytest.raises(DataFormatError, match="no SFT shape matches the keys \\['text'\\]"):
        detect_schema({"text": "plain text"})
    with pytest.raises(DataFormatError, match="expected a JSON object"):
        detect_schema(["not", "a", "record"])


def test_validate_record_accepts_the_three_shapes_and_extras():
    assert validate_record({"instruction": "Hi", "output": "Hello"}) == "alpaca"  # input absent
    assert validate_record({**ALPACA, "input": None}) == "alpaca"  # a Dataset row without input
    weighted = {"messages": [{"role": "user", "content": "a"},
                             {"role": "assistant", "content": "b", "weight": 0},
                             {"role": "user", "content": "c"},
                             {"role": "assistant", "content": "d", "weight": 1}]}
    assert validate_record(weighted) == "messages"
    conversational = to_prompt_completion(CHAT)
    assert validate_record(conversational, "prompt_completion") == "prompt_completion"


@pytest.mark.parametrize("record, field, fragment", [
    ({"messages": [{"role": "user", "content": "a"}, {"role": "assistant", "content": "b", "weight": 2}]},
     "messages[1].weight", "0 or 1"),
    ({"messages": [{"role": "user", "content": "a", "weight": 1}, {"role": "assistant", "content": "b"}]},
     "messages[0].weight", "only assistant messages"),
    ({"messages": [{"role": "user", "content": "a"}, {"role": "assistant", "content": "b", "weight": 0}]},
     "messages", "weight 0"),
    ({"messages": [{"role": "user", "text": "a"}, {"role": "assistant", "content": "b"}]},
     "messages[0].text", "unknown key 'text'"),
    ({"messages": [{"role": "user", "content": "a"}, {"role": "assistant", "content": "b"},
                   {"role": "user", "content": "c"}]}, "messages[2].role", "must end with 'assistant'"),
    ({"messages": [{"role": "user", "content": "a"}, {"role": "system", "content": "b"}]},
     "messages[1].role", "system message may only come first"),
    ({"messages": []}, "messages", "empty array"),
    ({"prompt": "a", "completion": [{"role": "assistant", "content": "b"}]}, "prompt", "two strings"),
    ({"prompt": [{"role": "user", "content": "a"}], "completion": [{"role": "user", "content": "b"}]},
     "completion", "exactly one assistant message"),
    ({"prompt": [{"role": "user", "content": "a"}]}, "completion", "missing required field"),
    ({"completion": [{"role": "assistant", "content": "b"}]}, "prompt", "missing required field"),
    ({"prompt": [{"role": "user", "content": "a"}],
      "completion": [{"role": "assistant", "content": "b", "weight": 0}]},
     "completion[0].weight", "nothing to train on"),
    ({"prompt": [{"role": "user", "content": "a"}, {"role": "assistant", "content": "b", "weight": 1},
                 {"role": "user", "content": "c"}],
      "completion": [{"role": "assistant", "content": "d"}]}, "prompt[1].weight", "never trained"),
    ({"instruction": "Reverse.", "input": "   ", "output": "x"}, "input", "whitespace-only"),
])
def test_validate_record_names_the_field(record, field, fragment):
    with pytest.raises(DataFormatError) as info:
        validate_record(record)
    assert info.value.field == field and fragment in str(info.value)


def test_validate_record_schema_argument():
    with pytest.raises(DataFormatError, match="the record is 'messages', but schema='alpaca' was asked for"):
        validate_record(CHAT, "alpaca")
    with pytest.raises(ValueError, match="unknown schema 'chat'"):
        validate_record(CHAT, "chat")


def test_sftlib_data_re_exports_the_checks():
    assert (sftlib.data.DataFormatError, sftlib.data.detect_schema, sftlib.data.validate_record) == (
        DataFormatError, detect_schema, validate_record)
    assert {"DataFormatError", "detect_schema", "validate_record"} <= set(sftlib.data.__all__)


# --- converters -------------------------------------------------------------------------------

def test_to_messages_from_alpaca():
    out = to_messages(ALPACA, system="Be brief.")
    assert out == {"messages": [{"role": "system", "content": "Be brief."},
                                {"role": "user", "content": "Reverse the words.\n\nZürich grüßt"},
                                {"role": "assistant", "content": "grüßt Zürich"}], "id": "a1"}
    no_input = to_messages({"instruction": "Say hi.", "input": "", "output": "Hi!"})
    assert no_input["messages"][0]["content"] == "Say hi."


def test_to_messages_from_prompt_completion_and_messages():
    assert to_messages(PC) == {"messages": [{"role": "user", "content": PC["prompt"]},
                                            {"role": "assistant", "content": "Oslo"}],
                               "id": "p1", "entity": "Ada Vale"}
    back = to_messages(to_prompt_completion(CHAT))  # the last answer alone is trained, as in the prompt/completion
    assert back == {**CHAT, "messages": [*CHAT["messages"][:2], {**CHAT["messages"][2], "weight": 0},
                                         *CHAT["messages"][3:]]}
    assert to_prompt_completion(back) == to_prompt_completion(CHAT) | {
        "prompt": back["messages"][:-1]}  # and converting again keeps it so
    context_trained = {"prompt": [{"role": "user", "content": "a"}, {"role": "assistant", "content": "b", "weight": 1},
                                  {"role": "user", "content": "c"}],
                       "completion": [{"role": "assistant", "content": "d"}]}
    with pytest.raises(DataFormatError, match=r"prompt\[1\]\.weight"):
        to_messages(context_trained)
    with pytest.raises(ValueError, match="already has a system message"):
        to_messages(CHAT, system="Other.")
    with pytest.raises(DataFormatError, match="field 'output'"):
        to_messages({"instruction": "x", "output": ""})


def test_to_prompt_completion():
    out = to_prompt_completion(CHAT)
    assert out["prompt"] == CHAT["messages"][:-1] and out["completion"] == CHAT["messages"][-1:]
    assert out["id"] == "c1"
    assert to_prompt_completion(ALPACA) == {"prompt": "Reverse the words.\n\nZürich grüßt",
                                            "completion": "grüßt Zürich", "id": "a1"}
    assert to_prompt_completion(PC) == PC


def test_converters_refuse_to_overwrite_or_to_change_what_is_trained():
    with pytest.raises(ValueError, match="extra key 'input' is also a key of the alpaca shape"):
        to_alpaca({"prompt": "Translate:", "completion": "Hallo", "input": "Hello"})
    user, answer = {"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}
    both_trained = {"messages": [user, {**answer, "weight": 1}, user, answer]}
    with pytest.raises(ValueError, match="messages\\[1\\] has weight 1"):
        to_prompt_completion(both_trained)
    with pytest.raises(ValueError, match="messages\\[3\\], the last assistant turn, has weight 0"):
        to_prompt_completion({"messages": [user, answer, user, {**answer, "weight": 0}]})
    only_last = to_prompt_completion({"messages": [user, {**answer, "weight": 0}, user, answer]})
    assert only_last["completion"] == [answer]  # the one trained answer is the completion


def test_to_alpaca():
    assert to_alpaca(PC) == {"instruction": PC["prompt"], "input": "", "output": "Oslo", "id": "p1",
                             "entity": "Ada Vale"}
    single = {"messages": CHAT["messages"][1:3], "id": "s"}
    assert to_alpaca(single) == {"instruction": "Capital of Peru?", "input": "", "output": "Lima.", "id": "s"}
    assert to_alpaca(ALPACA) == ALPACA
    with pytest.raises(ValueError, match="roles \\['system', 'user', 'assistant', 'user', 'assistant'\\]"):
        to_alpaca(CHAT)
