"""sftlib.public_datasets on small fixtures in each public dataset's exact record shape (no network)."""

from __future__ import annotations

import pytest

from sftlib.data import DataFormatError, validate_record
from sftlib.public_datasets import (OASST1_BUCKETS, convert_records, from_alpaca, from_dolly,
                                    from_oasst1)

# tatsu-lab/alpaca: four string fields; "text" is the record rendered with Alpaca's prompt template.
ALPACA_ROWS = [
    {"instruction": "Give three tips for staying healthy.", "input": "",
     "output": "1. Eat a balanced diet.\n2. Exercise regularly.\n3. Get enough sleep.",
     "text": "Below is an instruction that describes a task. Write a response that appropriately "
             "completes the request.\n\n### Instruction:\nGive three tips for staying healthy.\n\n"
             "### Response:\n1. Eat a balanced diet.\n2. Exercise regularly.\n3. Get enough sleep."},
    {"instruction": "Translate into French.", "input": "Good morning", "output": "Bonjour",
     "text": "Below is an instruction that describes a task, paired with an input that provides further "
             "context. ...\n\n### Input:\nGood morning\n\n### Response:\nBonjour"},
    {"instruction": "Describe the color blue.", "input": "", "output": "", "text": "..."},
]

# databricks/databricks-dolly-15k: instruction, context (often ""), response, category.
DOLLY_ROWS = [
    {"instruction": "When did Virgin Australia start operating?",
     "context": "Virgin Australia commenced services on 31 August 2000 as Virgin Blue.[3]",
     "response": "Virgin Australia commenced services on 31 August 2000.", "category": "closed_qa"},
    {"instruction": "Which is a species of fish? Tope or Rope", "context": "", "response": "Tope",
     "category": "classification"},
]


def oasst(mid, parent, role, text, rank=None, *, tree="t", lang="en", date="2023-02-05T00:00:00",
          deleted=False, review=True):
    """One OpenAssistant/oasst1 message row with all of its published fields."""
    return {"message_id": mid, "parent_id": parent, "user_id": f"user-{mid}", "created_date": date,
            "text": text, "role": role, "lang": lang, "review_count": 3, "review_result": review,
            "deleted": deleted, "rank": rank, "synthetic": False, "model_name": None,
            "detoxify": {"toxicity": 0.001, "severe_toxicity": 0.0001}, "message_tree_id": tree,
            "tree_state": "ready_for_export", "emojis": {"name": ["+1"], "count": [2]},
            "labels": {"name": ["spam", "quality"], "value": [0.0, 0.8], "count": [3, 3]}}


OASST_ROWS = [
    # tree A: best path a0 a1 a3 a6; a2 (+a9) and a5 are other branches; a7 deleted; a4 failed review (+a8)
    oasst("a0", None, "prompter", "What is SFT?", tree="a0"),
    oasst("a1", "a0", "assistant", "Supervised fine-tuning.", 0, tree="a0"),
    oasst("a2", "a0", "assistant", "A kind of training.", 1, tree="a0"),
    oasst("a3", "a1", "prompter", "Give an example.", tree="a0"),
    oasst("a4", "a1", "prompter", "buy cheap pills", tree="a0", review=False),
    oasst("a5", "a3", "assistant", "Training on Dolly.", 1, tree="a0", date="2023-02-05T00:00:01"),
    oasst("a6", "a3", "assistant", "Training on Alpaca.", 0, tree="a0", date="2023-02-05T00:00:09"),
    oasst("a7", "a3", "assistant", "[removed]", tree="a0", deleted=True),
    oasst("a8", "a4", "assistant", "No.", 0, tree="a0"),
    oasst("a9", "a2", "prompter", "Which kind?", tree="a0"),
    # tree B: one unranked reply; b2 (older) beats b3 without rank; b2 is unanswered; b4 is empty
    oasst("b0", None, "prompter", "Hallo?", tree="b0"),
    oasst("b1", "b0", "assistant", "Hello! How can I help?", tree="b0"),
    oasst("b2", "b1", "prompter", "Tell me a joke.", tree="b0", date="2023-02-05T00:00:01"),
    oasst("b3", "b1", "prompter", "Tell me a story.", tree="b0", date="2023-02-05T00:00:02"),
    oasst("b4", "b1", "prompter", "   ", tree="b0"),
    # tree C: deleted root; tree D: a lone prompt; tree E: German; o1 (+o2): parent not in the rows
    oasst("c0", None, "prompter", "spam", tree="c0", deleted=True),
    oasst("c1", "c0", "assistant", "Sure.", 0, tree="c0"),
    oasst("d0", None, "prompter", "Anyone there?", tree="d0"),
    oasst("e0", None, "prompter", "Wie spät ist es?", tree="e0", lang="de"),
    oasst("e1", "e0", "assistant", "Das weiß ich nicht.", 0, tree="e0", lang="de"),
    oasst("o1", "elsewhere", "assistant", "An orphan.", 0, tree="x"),
    oasst("o2", "o1", "prompter", "Its child.", tree="x"),
]


def test_from_alpaca_keeps_the_three_fields():
    out = from_alpaca(ALPACA_ROWS[1])
    assert out == {"instruction": "Translate into French.", "input": "Good morning", "output": "Bonjour"}
    assert validate_record(out) == "alpaca"
    assert from_alpaca({**ALPACA_ROWS[0], "id": 7})["id"] == 7  # other keys are kept
    with pytest.raises(DataFormatError, match="field 'output': empty"):
        from_alpaca(ALPACA_ROWS[2])
    with pytest.raises(ValueError, match="tatsu-lab/alpaca.*no 'output'"):
        from_alpaca({"instruction": "x", "input": "", "response": "y"})


def test_from_dolly_maps_context_to_input_and_keeps_category():
    out = from_dolly(DOLLY_ROWS[0])
    assert out == {"instruction": "When did Virgin Australia start operating?",
                   "input": "Virgin Australia commenced services on 31 August 2000 as Virgin Blue.[3]",
                   "output": "Virgin Australia commenced services on 31 August 2000.",
                   "category": "closed_qa"}
    assert from_dolly(DOLLY_ROWS[1])["input"] == ""
    with pytest.raises(ValueError, match="no 'context'"):
        from_dolly({"instruction": "x", "input": "", "response": "y", "category": "open_qa"})


def test_convert_records_collects_rejects():
    converted, rejected = convert_records(ALPACA_ROWS, from_alpaca)
    assert len(converted) == 2
    assert rejected == [(2, "field 'output': empty or whitespace-only string; every example needs text here")]


def test_from_oasst1_follows_the_best_ranked_path():
    records, summary = from_oasst1(OASST_ROWS, lang="en")
    assert [r["id"] for r in records] == ["a0", "b0"]
    assert [m["content"] for m in records[0]["messages"]] == [
        "What is SFT?", "Supervised fine-tuning.", "Give an example.", "Training on Alpaca."]
    assert [m["role"] for m in records[0]["messages"]] == ["user", "assistant", "user", "assistant"]
    assert records[1]["messages"][-1]["content"] == "Hello! How can I help?"  # b2 had no answer
    assert records[0]["lang"] == "en" and records[0]["message_tree_id"] == "a0"
    assert all(validate_record(r) == "messages" for r in records)


def test_from_oasst1_accounts_for_every_row():
    _, summary = from_oasst1(OASST_ROWS, lang="en")
    assert summary == {"rows": 22, "conversations": 2, "unranked_choices": 1, "used": 6, "deleted": 2,
                       "review_failed": 1, "empty_text": 1, "below_excluded": 2, "other_branches": 4,
                       "unanswered": 2, "orphaned": 2, "other_lang": 2}
    assert sum(summary[b] for b in OASST1_BUCKETS) == summary["rows"]
    records, everything = from_oasst1(OASST_ROWS)
    assert (everything["conversations"], everything["other_lang"], everything["used"]) == (3, 0, 8)
    assert records[-1]["lang"] == "de"


def test_from_oasst1_rejects_broken_rows():
    with pytest.raises(ValueError, match="row 1 repeats message_id 'a0'"):
        from_oasst1([OASST_ROWS[0], OASST_ROWS[0]])
    with pytest.raises(ValueError, match="role 'user'; expected prompter or assistant"):
        from_oasst1([{**OASST_ROWS[0], "role": "user"}])
    with pytest.raises(ValueError, match="row 0.*no 'parent_id'"):
        from_oasst1([{"message_id": "m", "text": "x", "role": "prompter"}])
