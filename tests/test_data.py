"""sftlib.data: the strict loader (every bad input names file, line and field) and the writer."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from sftlib import DATA_DIR
from sftlib.data import DataFormatError, load_sft_dataset, read_jsonl, write_jsonl
from sftlib.schemas import to_messages, to_prompt_completion
from test_schemas import ALPACA, CHAT, PC  # one sample record per shape


def lines(*records) -> str:
    """JSONL text of records (dicts) or raw lines (str)."""
    return "".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in records)


def put(tmp_path: Path, content: str | bytes, name: str = "train.jsonl") -> Path:
    path = tmp_path / name
    path.write_bytes(content.encode("utf-8") if isinstance(content, str) else content)
    return path


def raises_at(path: Path, line: int | None, field: str | None, fragment: str, **kw) -> DataFormatError:
    """Load ``path``; assert one DataFormatError naming path, line and field, with ``fragment``."""
    with pytest.raises(DataFormatError) as info:
        load_sft_dataset(path, **kw)
    err, msg = info.value, str(info.value)
    assert (err.path, err.line, err.field) == (str(path), line, field)
    assert msg.startswith(str(path))
    assert (f"line {line}" in msg) == (line is not None)
    assert (f"field '{field}'" in msg) == (field is not None)
    assert fragment in msg
    return err


# --- loader: one test per bad input -----------------------------------------------------------

def test_invalid_json(tmp_path):
    path = put(tmp_path, lines(ALPACA, '{"instruction": "a", "output": "b",}'))
    raises_at(path, 2, None, "invalid JSON")


def test_line_that_is_not_an_object(tmp_path):
    raises_at(put(tmp_path, lines(ALPACA, "[1, 2]")), 2, None, "expected a JSON object (a record), got array")


def test_missing_required_field(tmp_path):
    path = put(tmp_path, lines(ALPACA, {"instruction": "Say hi."}))
    raises_at(path, 2, "output", "missing required field")


def test_empty_required_field(tmp_path):
    path = put(tmp_path, lines(ALPACA, ALPACA, {"instruction": "Say hi.", "output": "  "}))
    raises_at(path, 3, "output", "empty or whitespace-only")


def test_wrong_type(tmp_path):
    path = put(tmp_path, lines({"instruction": "Add.", "input": 12, "output": "3"}))
    raises_at(path, 1, "input", "expected a string, got number 12")


def test_unknown_role(tmp_path):
    bad = {"messages": [{"role": "user", "content": "a"}, {"role": "assistant", "content": "b"},
                        {"role": "bot", "content": "c"}]}
    path = tmp_path / "data" / "chat" / "train.jsonl"
    write_jsonl([CHAT] * 6 + [bad], path)
    err = raises_at(path, 7, "messages[2].role", "unknown role 'bot'")
    assert str(err) == (f"{path}, line 7, field 'messages[2].role': unknown role 'bot' "
                        "(expected one of system, user, assistant)")


def test_out_of_order_roles(tmp_path):
    bad = {"messages": [{"role": "user", "content": "a"}, {"role": "user", "content": "b"},
                        {"role": "assistant", "content": "c"}]}
    raises_at(put(tmp_path, lines(bad)), 1, "messages[1].role", "expected 'assistant'")


def test_no_assistant_turn(tmp_path):
    bad = {"messages": [{"role": "system", "content": "a"}, {"role": "user", "content": "b"}]}
    raises_at(put(tmp_path, lines(CHAT, bad)), 2, "messages", "no assistant turn")


def test_non_utf8_bytes(tmp_path):
    path = put(tmp_path, lines(ALPACA, ALPACA).encode() + b'{"instruction": "caf\xe9", "output": "x"}\n')
    raises_at(path, 3, None, "not valid UTF-8 (byte 0xe9")


def test_blank_file(tmp_path):
    raises_at(put(tmp_path, ""), None, None, "no records: the file is empty")
    raises_at(put(tmp_path, "\n \n", "b.jsonl"), None, None, "no records")


def test_blank_line_in_the_middle(tmp_path):
    raises_at(put(tmp_path, lines(ALPACA, "", ALPACA)), 2, None, "blank line; JSONL holds one JSON object")


def test_blank_line_at_the_end(tmp_path):
    raises_at(put(tmp_path, lines(ALPACA, ALPACA) + "\n"), 3, None, "blank line at the end of the file")


def test_mixed_schemas_in_one_file(tmp_path):
    path = put(tmp_path, lines(ALPACA, ALPACA, CHAT))
    raises_at(path, 3, "messages", f"mixed shapes: this record is 'messages' but line 1 of {path} is 'alpaca'")


def test_byte_order_mark(tmp_path):
    raises_at(put(tmp_path, b"\xef\xbb\xbf" + lines(ALPACA).encode()), 1, None, "byte-order mark")


def test_duplicate_key(tmp_path):
    path = put(tmp_path, '{"instruction": "a", "output": "b", "output": "c"}\n')
    raises_at(path, 1, "output", "duplicate key 'output'")


def test_duplicate_key_deep_in_a_record_is_named_by_its_path(tmp_path):
    chat = {"messages": [{"role": "user", "content": "a"},
                         {"role": "assistant", "content": "b"}]}
    text = json.dumps(chat).replace('"role": "assistant"', '"role": "assistant", "role": "user"')
    raises_at(put(tmp_path, text + "\n"), 1, "messages[1].role", "duplicate key 'role'")
    array = f'[\n{json.dumps(ALPACA)},\n{{"instruction": "a", "output": "b", "output": "c"}}\n]'
    with pytest.raises(DataFormatError) as info:
        load_sft_dataset(put(tmp_path, array, "train.json"))
    assert (info.value.line, info.value.index, info.value.field) == (None, 1, "output")


@pytest.mark.parametrize("constant", ["NaN", "Infinity", "-Infinity"])
def test_nan_and_infinity_are_not_json(tmp_path, constant):
    path = put(tmp_path, lines(ALPACA, f'{{"instruction": "a", "output": "b", "score": {constant}}}'))
    raises_at(path, 2, "score", f"invalid JSON: {constant} is not a JSON value")
    array = f'[\n{json.dumps(ALPACA)},\n{{"instruction": "a", "output": "b", "score": [1, {constant}]}}\n]'
    with pytest.raises(DataFormatError, match=f"{constant} is not a JSON value") as info:
        load_sft_dataset(put(tmp_path, array, "train.json"))
    assert (info.value.index, info.value.field) == (1, "score[1]")  # the record, not the file's line 1


def test_unpaired_surrogate_escape_is_not_text(tmp_path):
    path = put(tmp_path, lines(ALPACA, '{"instruction": "a\\ud800", "output": "b"}'))
    raises_at(path, 2, "instruction", "unpaired surrogate")
    paired = put(tmp_path, '{"instruction": "smile \\ud83d\\ude00", "output": "b"}\n', "ok.jsonl")
    assert read_jsonl(paired)[0]["instruction"] == "smile \U0001F600"


def test_nested_values_of_two_types_or_an_oversized_integer_name_the_column(tmp_path):
    mixed = put(tmp_path, lines({**ALPACA, "meta": {"a": 1}}, {**ALPACA, "meta": {"a": "x"}}))
    raises_at(mixed, None, "meta", "do not fit one Arrow type")
    huge = put(tmp_path, lines({**ALPACA, "id": 2**70}), "huge.jsonl")
    raises_at(huge, None, "id", "do not fit one Arrow type")


def test_no_files_at_all_is_an_error():
    for nothing in ([], {}, {"train": []}):
        with pytest.raises(ValueError, match="no files given"):
            load_sft_dataset(nothing)


def test_column_with_two_types(tmp_path):
    path = put(tmp_path, lines({**ALPACA, "label": "urgent"}, {**ALPACA, "label": 1}))
    raises_at(path, 2, "label", "is number here but string at line 1")


def test_first_error_counts_the_others(tmp_path):
    path = put(tmp_path, lines({"instruction": "x"}, "", ALPACA, "nope"))
    err = raises_at(path, 1, "output",
                    "missing required field (and 2 more problems; load with errors='report'")
    assert [(p.line, p.field) for p in err.problems] == [(1, "output"), (2, None), (4, None)]  # reading order


def test_report_lists_every_problem(tmp_path):
    path = put(tmp_path, lines(ALPACA, "", {"instruction": "x"}, "nope"))
    other = put(tmp_path, "", "validation.jsonl")
    with pytest.raises(DataFormatError) as info:
        load_sft_dataset({"train": path, "validation": other}, errors="report")
    msg = str(info.value)
    assert msg.startswith("4 problems:")
    wheres = [f"{path}, line 2:", f"{path}, line 3, field 'output'", f"{path}, line 4:",
              f"{other}: no records"]
    assert [msg.index(w) for w in wheres] == sorted(msg.index(w) for w in wheres)
    assert len(info.value.problems) == 4
    with pytest.raises(ValueError, match="errors='ignore'"):
        load_sft_dataset(path, errors="ignore")


def test_json_array_reports_the_index(tmp_path):
    records = [ALPACA, ALPACA, {"instruction": "x", "output": 3}]
    path = put(tmp_path, json.dumps(records, indent=1), "train.json")
    with pytest.raises(DataFormatError) as info:
        load_sft_dataset(path)
    err = info.value
    assert (err.path, err.line, err.index, err.field) == (str(path), None, 2, "output")
    assert str(err).startswith(f"{path}, array index 2, field 'output': expected a string")
    assert load_sft_dataset(put(tmp_path, json.dumps([ALPACA] * 3), "ok.json")).num_rows == 3


def test_json_array_syntax_error_gives_the_line(tmp_path):
    path = put(tmp_path, '[\n{"instruction": "a", "output": "b"},\n{"instruction": \n]', "train.json")
    raises_at(path, 4, None, "invalid JSON")
    raises_at(put(tmp_path, json.dumps(ALPACA), "one.json"), None, None, "expected a JSON array of records")


def test_wrong_file_type_and_missing_file(tmp_path):
    with pytest.raises(ValueError, match="train.csv has the unsupported file type '.csv'"):
        load_sft_dataset(put(tmp_path, "a,b\n", "train.csv"))
    with pytest.raises(ValueError, match="is a folder"):
        load_sft_dataset([tmp_path])
    with pytest.raises(FileNotFoundError, match="nope.jsonl: no such file"):
        load_sft_dataset(tmp_path / "nope.jsonl")
    with pytest.raises(FileNotFoundError, match="no train, validation or test"):
        load_sft_dataset(tmp_path)


# --- loader: good input -----------------------------------------------------------------------

@pytest.mark.parametrize("record", [ALPACA, CHAT, PC, to_prompt_completion(CHAT)])
def test_write_then_load_round_trips(tmp_path, record):
    path = write_jsonl([record, record], tmp_path / "deep" / "er" / "train.jsonl")
    text = path.read_text(encoding="utf-8")
    assert text.count("\n") == 2 and ("Zürich" in text) == (record is ALPACA)  # not \u00fc escapes
    assert read_jsonl(path, validate=True) == [record, record]
    assert load_sft_dataset(path).to_list() == [record, record]


def test_write_jsonl_refuses_nothing_and_non_dicts(tmp_path):
    with pytest.raises(ValueError, match="no records to write"):
        write_jsonl([], tmp_path / "a.jsonl")
    with pytest.raises(TypeError, match="record 1 is str"):
        write_jsonl([ALPACA, "x"], tmp_path / "a.jsonl")
    with pytest.raises(ValueError, match="should end in .jsonl"):
        write_jsonl([ALPACA], tmp_path / "a.json")


def test_write_jsonl_names_the_record_it_cannot_write(tmp_path):
    with pytest.raises(ValueError, match="record 1: Out of range float"):
        write_jsonl([ALPACA, {**ALPACA, "score": float("nan")}], tmp_path / "out.jsonl")
    with pytest.raises(TypeError, match="record 0: Object of type set"):
        write_jsonl([{**ALPACA, "tags": {"a"}}], tmp_path / "out.jsonl")
    with pytest.raises(TypeError, match=r"record 1: key meta\[0\]\.5 is not a string"):
        write_jsonl([ALPACA, {**ALPACA, "meta": [{5: "five"}]}], tmp_path / "out.jsonl")  # would read "5"
    with pytest.raises(ValueError, match="record 0: text with a lone surrogate"):
        write_jsonl([{**ALPACA, "output": "a\ud800b"}], tmp_path / "out.jsonl")
    assert not (tmp_path / "out.jsonl").exists()


def test_read_jsonl_validates_only_when_asked(tmp_path):
    path = put(tmp_path, lines({"text": "not SFT"}))
    assert read_jsonl(path) == [{"text": "not SFT"}]
    with pytest.raises(DataFormatError, match="line 1: no SFT shape"):
        read_jsonl(path, validate=True)
    with pytest.raises(DataFormatError, match="line 2: blank line"):
        read_jsonl(put(tmp_path, lines(ALPACA, "", ALPACA), "b.jsonl"))
    with pytest.raises(ValueError, match="schema is checked only with validate=True"):
        read_jsonl(path, schema="messages")  # a shape that would not be checked is refused


def test_list_dict_and_folder(tmp_path):
    a = write_jsonl([ALPACA], tmp_path / "train.jsonl")
    b = write_jsonl([ALPACA, ALPACA], tmp_path / "validation.jsonl")
    write_jsonl([ALPACA], tmp_path / "extra.jsonl")  # not a split name: not loaded
    assert load_sft_dataset([a, b]).num_rows == 3
    dd = load_sft_dataset({"train": [a, b], "test": b})
    assert {k: v.num_rows for k, v in dd.items()} == {"train": 3, "test": 2}
    assert {k: v.num_rows for k, v in load_sft_dataset(tmp_path).items()} == {"train": 1, "validation": 2}
    write_jsonl([CHAT], tmp_path / "c.jsonl")
    with pytest.raises(DataFormatError, match="line 1, field 'messages': mixed shapes.*of .*train.jsonl"):
        load_sft_dataset([a, tmp_path / "c.jsonl"])
    put(tmp_path, json.dumps([ALPACA]), "train.json")
    with pytest.raises(ValueError, match="both train.jsonl and train.json"):
        load_sft_dataset(tmp_path)


def test_keys_missing_in_some_records_become_none(tmp_path):
    first = {"instruction": "Hi", "output": "Hello"}
    path = write_jsonl([first, {**ALPACA, "label": "x"}], tmp_path / "train.jsonl")
    ds = load_sft_dataset(path)
    assert ds.column_names == ["instruction", "output", "id", "input", "label"]
    assert ds[0]["input"] is None and ds[1]["label"] == "x"
    assert to_messages(ds[0])["messages"][0] == {"role": "user", "content": "Hi"}


def test_message_weight_survives_a_dataset_round_trip(tmp_path):
    weighted = {"messages": [{"role": "user", "content": "a"},
                             {"role": "assistant", "content": "b", "weight": 1}]}
    plain = {"messages": [{"role": "user", "content": "a"}, {"role": "assistant", "content": "b"}]}
    ds = load_sft_dataset(write_jsonl([weighted, plain], tmp_path / "train.jsonl"))
    assert ds[0]["messages"][1]["weight"] == 1 and ds[1]["messages"][1]["weight"] is None  # Arrow fills None
    again = load_sft_dataset(write_jsonl(ds, tmp_path / "again.jsonl"))  # null weights are accepted
    assert again.to_list() == ds.to_list()


@pytest.mark.skipif(not (DATA_DIR / "chat" / "train.jsonl").exists(), reason="course data not generated")
def test_course_data_loads():
    assert load_sft_dataset(DATA_DIR / "chat" / "validation.jsonl").column_names == ["id", "messages"]
