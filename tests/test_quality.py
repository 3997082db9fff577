"""sftlib.quality: splits, leaks, duplicates, lengths and label balance."""

from __future__ import annotations

import random
import time
from collections import Counter

import pytest

from sftlib.quality import (check_leaks, contamination, find_duplicates, label_balance, length_profile,
                            normalize_text, record_text, split_records)

WORDS = ("alpha bravo charlie delta echo foxtrot golf hotel india juliet kilo lima mike november "
         "oscar papa quebec romeo sierra tango uniform victor whiskey xray yankee zulu").split()


def tickets(n: int, seed: int = 0) -> list[dict]:
    """``n`` alpaca records of 20 random words; 40 % are "urgent"; 5 records per entity."""
    rng = random.Random(seed)
    return [{"id": i, "instruction": "Classify the ticket.", "input": " ".join(rng.choices(WORDS, k=20)),
             "output": "ok", "label": "urgent" if i % 5 < 2 else "not urgent", "entity": f"e{i // 5}"}
            for i in range(n)]


def test_normalize_text():
    assert normalize_text("  Hello,   WORLD!\n") == "hello world"
    assert normalize_text("Straße_1") == "strasse 1"


def test_record_text_per_shape_field_and_function():
    assert record_text({"instruction": "Do.", "input": "", "output": "Done."}) == "Do.\n\nDone."
    chat = {"messages": [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Yo"}]}
    assert record_text(chat) == "Hi\n\nYo"
    assert record_text(chat, "messages") == "Hi\n\nYo"
    assert record_text({"prompt": "p", "completion": "c", "id": 3}, lambda r: r["id"]) == "3"
    with pytest.raises(KeyError, match="no field 'input'"):
        record_text({"prompt": "p", "completion": "c"}, "input")


def test_split_sizes_are_exact_disjoint_and_reproducible():
    records = tickets(100)
    parts = split_records(records, seed=3)
    assert {k: len(v) for k, v in parts.items()} == {"train": 80, "validation": 10, "test": 10}
    ids = [r["id"] for v in parts.values() for r in v]
    assert sorted(ids) == list(range(100))
    assert split_records(records, seed=3) == parts
    assert split_records(records, seed=4) != parts
    assert [r["id"] for r in parts["test"]] == sorted(r["id"] for r in parts["test"])  # input order kept
    two = split_records(records, (0.7, 0.3))
    assert {k: len(v) for k, v in two.items()} == {"train": 70, "test": 30}
    assert len(split_records(tickets(7), (0.5, 0.5, 0.0))["test"]) == 0
    four = split_records(records, (0.25,) * 4, names=["a", "b", "c", "d"])
    assert {k: len(v) for k, v in four.items()} == {"a": 25, "b": 25, "c": 25, "d": 25}


def test_split_rejects_bad_fractions():
    with pytest.raises(ValueError, match="add up to 1"):
        split_records(tickets(10), (0.8, 0.1))
    with pytest.raises(ValueError, match="4 fractions need as many names"):
        split_records(tickets(10), (0.25,) * 4)


def test_stratified_split_keeps_label_proportions():
    parts = split_records(tickets(200), stratify_by="label", seed=1)
    for name, size in {"train": 160, "validation": 20, "test": 20}.items():
        counts = Counter(r["label"] for r in parts[name])
        assert counts == {"urgent": size * 2 // 5, "not urgent": size * 3 // 5}, name


def test_stratified_split_keeps_the_split_sizes_when_labels_do_not_divide():
    ten_labels = [{"id": i, "label": f"l{i % 10}"} for i in range(50)]  # 5 records a label
    parts = split_records(ten_labels, stratify_by="label", seed=0)
    assert {name: len(v) for name, v in parts.items()} == {"train": 40, "validation": 5, "test": 5}
    skewed = [{"id": i, "label": f"l{i % 5}"} for i in range(50)]  # 10 a label at 0.8/0.12/0.08
    parts = split_records(skewed, (0.8, 0.12, 0.08), stratify_by="label", seed=0)
    assert {name: len(v) for name, v in parts.items()} == {"train": 40, "validation": 6, "test": 4}
    for name in parts:  # each label still within one record of its share
        counts = Counter(r["label"] for r in parts[name])
        assert max(counts.values()) - min(counts.values()) <= 1, name


def test_grouped_split_keeps_each_entity_in_one_split():
    parts = split_records(tickets(500), group_by="entity", seed=2)
    entities = {name: {r["entity"] for r in v} for name, v in parts.items()}
    assert not entities["train"] & entities["validation"]
    assert not entities["train"] & entities["test"] and not entities["validation"] & entities["test"]
    assert {k: len(v) for k, v in parts.items()} == {"train": 400, "validation": 50, "test": 50}
    assert check_leaks(parts, "entity") == {("train", "validation"): [], ("train", "test"): [],
                                            ("validation", "test"): []}


def test_grouped_and_stratified_needs_one_label_per_group():
    records = tickets(100)
    with pytest.raises(ValueError, match="group 'e0' has several labels"):
        split_records(records, group_by="entity", stratify_by="label")
    one_label = [{**r, "label": int(r["entity"][1:]) % 2} for r in records]
    parts = split_records(one_label, group_by="entity", stratify_by="label")
    assert {k: len(v) for k, v in parts.items()} == {"train": 80, "validation": 10, "test": 10}


def test_check_leaks_finds_planted_overlap_by_key_and_text():
    records = tickets(50)
    parts = split_records(records, seed=0)
    planted = {**parts["train"][0], "instruction": "CLASSIFY the ticket!!", "id": 999}
    parts["test"].append(planted)
    leaks = check_leaks(parts)
    assert len(leaks[("train", "test")]) == 1 and leaks[("train", "validation")] == []
    assert check_leaks(parts, normalize=False)[("train", "test")] == []  # only the case differs
    assert check_leaks(parts, "id")[("train", "test")] == []
    assert check_leaks(parts, "input")[("train", "test")] == [planted["input"]]
    with pytest.raises(KeyError, match="record 0 has no field 'nope'"):
        check_leaks(parts, "nope")


def test_exact_duplicates_after_normalising():
    records = [{"q": "What is SFT?"}, {"q": "what is sft"}, {"q": "Something else"}, {"q": "WHAT  is SFT ?"}]
    assert find_duplicates(records, "q") == [(0, 1, 1.0), (0, 3, 1.0)]
    assert find_duplicates([{"q": "?"}, {"q": "!!"}, {"q": ""}], "q") == []  # no text, no match
    with pytest.raises(KeyError, match="find_duplicates: record 1: record_text: the record has no field 'q'"):
        find_duplicates([{"q": "a"}, {"p": "b"}], "q")


def test_near_duplicate_planted_among_2000_records_is_found_fast():
    records = tickets(2000, seed=5)
    words = records[10]["input"].split()
    words[7] = "changed"
    records.append({**records[10], "input": " ".join(words), "id": 2000})
    start = time.perf_counter()
    pairs = find_duplicates(records, "input", near=True, threshold=0.7)
    assert time.perf_counter() - start < 1.0
    assert [(i, j) for i, j, _ in pairs] == [(10, 2000)]
    assert 0.7 <= pairs[0][2] < 1  # 15 of 18 trigrams shared: 15 / 21
    assert find_duplicates(records, "input", near=True, threshold=0.8) == []
    assert find_duplicates(records, "input") == []
    with pytest.raises(ValueError, match="threshold 0 must be in"):
        find_duplicates(records, "input", near=True, threshold=0)


class _Encoding(dict):
    """What a Hugging Face tokenizer returns: a mapping with ``input_ids``."""


def test_length_profile_with_tokenizer_like_callables():
    records = [{"prompt": " ".join(["w"] * n), "completion": "end"} for n in range(1, 101)]
    profile = length_profile(records, lambda text: _Encoding(input_ids=[0, *text.split()]))
    assert profile["counts"][:3] == [3, 4, 5] and profile["n"] == 100
    assert (profile["min"], profile["max"], profile["mean"]) == (3, 102, 52.5)
    assert profile["p50"] == 52.5 and profile["p90"] == pytest.approx(92.1)
    as_list = length_profile(records, str.split, "prompt")
    assert as_list["max"] == 100

    class Output:
        input_ids = [1, 2]

    assert length_profile(records[:1], lambda t: Output())["counts"] == [2]
    with pytest.raises(TypeError, match="one flat list of ids"):
        length_profile(records[:1], lambda t: {"input_ids": [[1, 2]]})
    with pytest.raises(ValueError, match="no records"):
        length_profile([], str.split)


def test_length_profile_of_a_chat_counts_its_training_tokens(tiny):
    from sftlib.templates import tokenize_chat

    _, tokenizer = tiny
    chats = [[{"role": "user", "content": "Hi" * n}, {"role": "assistant", "content": "Hello."}]
             for n in (1, 5)]
    profile = length_profile([{"messages": m} for m in chats],
                             lambda text: tokenizer(text, add_special_tokens=False),
                             lambda r: tokenizer.apply_chat_template(r["messages"], tokenize=False))
    assert profile["counts"] == [len(tokenize_chat(m, tokenizer)["input_ids"]) for m in chats]


def test_label_balance():
    balance = label_balance(tickets(10), "label")
    assert list(balance) == ["not urgent", "urgent"]
    assert balance["urgent"] == {"count": 4, "fraction": 0.4}
    assert label_balance(tickets(10), lambda r: r["id"] % 2)[0]["count"] == 5
    with pytest.raises(KeyError, match="record 0 has no field 'kind'"):
        label_balance(tickets(3), "kind")


def test_contamination_flags_eval_items_sharing_an_ngram_with_training():
    train = ["Where was Ada Upton born? Mexico City", "What did Olga Brandt major in? law"]
    evals = ["where was ada upton born mexico city", "Where was Jonas Eskin born? Quito",
             "What did Olga Brandt major in? LAW!", "short"]
    assert contamination(train, evals, ngram=4) == [0, 2]
    # a shorter n-gram also catches the shared question template: a false positive to check by eye
    assert contamination(train, evals, ngram=2) == [0, 1, 2]
    assert contamination([], evals) == []
    assert contamination(["short"], evals, ngram=8) == [3]  # texts shorter than n compare whole


def test_ngram_must_be_a_positive_word_count_and_wordless_texts_match_nothing():
    for bad in (0, -1):
        with pytest.raises(ValueError, match="ngram must be a whole number of words >= 1"):
            contamination(["alpha bravo charlie"], ["xray yankee zulu"], ngram=bad)
        with pytest.raises(ValueError, match="ngram"):
            find_duplicates([{"q": "alpha bravo"}, {"q": "xray yankee"}], "q", near=True, ngram=bad)
    assert contamination(["?", "alpha bravo"], ["!!", "alpha bravo"], ngram=2) == [1]
    assert check_leaks({"train": [{"q": "?"}], "test": [{"q": "!!!"}]}, key="q") == {("train", "test"): []}
