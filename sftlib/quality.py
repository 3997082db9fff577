"""Data quality for SFT: splits that do not leak, duplicates, contamination, lengths and label balance.

Everything works on plain lists of record dicts (a ``datasets.Dataset`` converts with
``list(ds)``) and needs no model: ``length_profile`` takes any tokenizer-like callable.
"""

from __future__ import annotations

import json
import math
import random
import re
import unicodedata
from collections import Counter, defaultdict
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from sftlib.data import detect_schema

KeyLike = str | Callable[[Mapping], Any]


def normalize_text(text: str) -> str:
    """Case-folded text with punctuation removed and whitespace collapsed, for comparisons.

    Example:
        >>> normalize_text("  What is the CAPITAL of Peru?! ")
        'what is the capital of peru'
    """
    text = re.sub(r"[^\w\s]|_", " ", unicodedata.normalize("NFKC", text).casefold())
    return " ".join(text.split())


def _join(value: Any) -> str:
    """A field's text: a string as is, a message list as its contents, anything else as JSON."""
    if isinstance(value, str):
        return value
    if isinstance(value, list) and all(isinstance(m, Mapping) and "content" in m for m in value):
        return "\n\n".join(str(m["content"]) for m in value)
    return json.dumps(value, sort_keys=True, ensure_ascii=False)


def record_text(record: Mapping, field_or_fn: KeyLike | None = None) -> str:
    """The text of a record: one field, a function of the record, or (None) all its SFT text.

    With None the text depends on the shape: instruction, input and output (alpaca); every message
    content (messages); prompt and completion (prompt_completion); joined by blank lines.

    Example:
        >>> record_text({"prompt": "2+2=", "completion": "4", "id": 1})
        '2+2=\\n\\n4'
    """
    if callable(field_or_fn):
        return str(field_or_fn(record))
    if field_or_fn is not None:
        if field_or_fn not in record:
            raise KeyError(f"record_text: the record has no field {field_or_fn!r} (it has {sorted(record)})")
        return _join(record[field_or_fn])
    keys = {"alpaca": ("instruction", "input", "output"), "messages": ("messages",),
            "prompt_completion": ("prompt", "completion")}[detect_schema(dict(record))]
    return "\n\n".join(_join(record[k]) for k in keys if record.get(k))


def _texts(records: Sequence[Mapping], field_or_fn, what: str) -> list[str]:
    """``record_text`` of every record; a missing field's error names the record."""
    texts = []
    for i, r in enumerate(records):
        try:
            texts.append(record_text(r, field_or_fn))
        except KeyError as error:
            raise KeyError(f"{what}: record {i}: {error.args[0]}") from None
    return texts


def _key_of(records: Sequence[Mapping], key: KeyLike, what: str) -> list[Any]:
    """Each record's key value (hashable: lists and dicts become JSON); says which record lacks it."""
    values = []
    for i, r in enumerate(records):
        if not callable(key) and key not in r:
            raise KeyError(f"{what}: record {i} has no field {key!r} (it has {sorted(r)})")
        v = key(r) if callable(key) else r[key]
        values.append(json.dumps(v, sort_keys=True) if isinstance(v, (list, dict)) else v)
    return values


def _stratum_targets(sizes: Sequence[int], fractions: Sequence[float]) -> list[list[int]]:
    """Integer split sizes for each stratum (label), adding up to its size. Each stratum's rounding
    leftovers go to the splits owed most so far, so the totals stay within a record of
    ``fractions`` (rounding each stratum alone would hand every leftover to the same split)."""
    open_splits = [s for s, f in enumerate(fractions) if f > 0]
    owed = [0.0] * len(fractions)
    out = []
    for n in sizes:
        raw = [n * f for f in fractions]
        sizes_here = [math.floor(x) for x in raw]
        owed = [o + x - k for o, x, k in zip(owed, raw, sizes_here)]
        for s in sorted(open_splits, key=lambda s: (-owed[s], s))[: n - sum(sizes_here)]:
            sizes_here[s] += 1
            owed[s] -= 1
        out.append(sizes_here)
    return out


def _deal(units: list[list[int]], targets: list[int], open_splits: list[int],
          rng: random.Random) -> list[list[int]]:
    """Shuffle units (lists of record indices) and give each to the open split furthest below
    its target size (records)."""
    rng.shuffle(units)
    units.sort(key=len, reverse=True)  # stable: large groups first, equal sizes stay shuffled
    out: list[list[int]] = [[] for _ in targets]
    for unit in units:
        s = max(open_splits, key=lambda s: (targets[s] - len(out[s]), -s))
        out[s] += unit
    return out


def split_records(records: Sequence[Mapping], fractions: Sequence[float] = (0.8, 0.1, 0.1),
                  seed: int = 0, stratify_by: KeyLike | None = None, group_by: KeyLike | None = None,
                  names: Sequence[str] | None = None) -> dict[str, list]:
    """Split records at random into train/validation/test (or ``names``), reproducibly.

    Args:
        records: the records.
        fractions: share of each split, adding up to 1 (two fractions: train and test).
        seed: random seed; the same seed and records give the same split.
        stratify_by: a field or function; each of its values is split by ``fractions`` on its own,
            so every split keeps the label proportions (to within one record per label), and the
            split sizes stay within a record of ``fractions``.
        group_by: a field or function (e.g. ``"entity"``); all records with one value go to one
            split, so no person or ticket is seen in two splits. Sizes are then approximate.
            With ``stratify_by`` too, every group must have a single label.
        names: split names; default ``train, validation, test`` (or ``train, test``).

    Returns:
        ``{name: records}``; each split keeps the input order of its records.

    Example:
        >>> parts = split_records([{"id": i} for i in range(10)], seed=1)
        >>> [len(v) for v in parts.values()]
        [8, 1, 1]
    """
    default = {2: ["train", "test"], 3: ["train", "validation", "test"]}.get(len(fractions), [])
    names = list(names or default)
    if len(names) != len(fractions):
        raise ValueError(f"split_records: {len(fractions)} fractions need as many names, got {names}")
    if any(f < 0 for f in fractions) or abs(sum(fractions) - 1) > 1e-6:
        raise ValueError(f"split_records: fractions {tuple(fractions)} must be >= 0 and add up to 1")
    groups = _key_of(records, group_by, "split_records group_by") if group_by else range(len(records))
    units: dict[Any, list[int]] = defaultdict(list)
    for i, g in enumerate(groups):
        units[g].append(i)
    strata: dict[Any, list[list[int]]] = defaultdict(list)
    labels = _key_of(records, stratify_by, "split_records stratify_by") if stratify_by else None
    for g, unit in units.items():
        unit_labels = {labels[i] for i in unit} if labels else {None}
        if len(unit_labels) > 1:
            raise ValueError(f"split_records: group {g!r} has several labels "
                             f"{sorted(map(str, unit_labels))}; a group goes to one split, so it "
                             "cannot be stratified")
        strata[unit_labels.pop()].append(unit)
    rng = random.Random(seed)
    parts: list[list[int]] = [[] for _ in fractions]
    open_splits = [s for s, f in enumerate(fractions) if f > 0]
    labels_in_order = sorted(strata, key=str)
    targets = _stratum_targets([sum(map(len, strata[label])) for label in labels_in_order], fractions)
    for label, label_targets in zip(labels_in_order, targets):
        for s, idx in enumerate(_deal(strata[label], label_targets, open_splits, rng)):
            parts[s] += idx
    return {name: [records[i] for i in sorted(idx)] for name, idx in zip(names, parts)}


def check_leaks(splits: Mapping[str, Sequence[Mapping]], key: KeyLike | None = None,
                normalize: bool = True) -> dict[tuple[str, str], list]:
    """Values shared by two splits: by a field, a function, or (None) the whole SFT text.

    Args:
        splits: ``{name: records}``, e.g. the output of ``split_records``.
        key: a field (``"entity"``, ``"input"``), a function of a record, or None for ``record_text``.
        normalize: compare string values after ``normalize_text`` (case, punctuation, spaces).

    Returns:
        ``{(split_a, split_b): sorted shared values}`` for every pair of splits, empty lists
        included, so a clean result shows as all-empty. Values are shown as in ``split_a``.

    Example:
        >>> check_leaks({"train": [{"q": "Hi!"}], "test": [{"q": "hi"}]}, key="q")
        {('train', 'test'): ['Hi!']}
    """
    seen: dict[str, dict[Any, Any]] = {}
    for name, records in splits.items():
        values = [record_text(r) for r in records] if key is None else _key_of(records, key, "check_leaks")
        seen[name] = {}
        for v in values:
            k = normalize_text(v) if normalize and isinstance(v, str) else v
            if k != "":  # text that normalises to nothing ("?!") is no evidence of a leak
                seen[name].setdefault(k, v)
    names = list(splits)
    return {(a, b): sorted((seen[a][k] for k in seen[a].keys() & seen[b].keys()), key=str)
            for i, a in enumerate(names) for b in names[i + 1:]}


def _shingles(text: str, n: int) -> frozenset[tuple[str, ...]]:
    """The set of word n-grams of normalised text (the whole text if it has fewer than n words;
    none if normalising leaves no word, so such texts match nothing)."""
    if type(n) is not int or n < 1:
        raise ValueError(f"ngram must be a whole number of words >= 1, got {n!r}")
    words = normalize_text(text).split()
    return frozenset(tuple(words[i:i + n]) for i in range(max(1, len(words) - n + 1)) if words)


def find_duplicates(records: Sequence[Mapping], field_or_fn: KeyLike | None = None, near: bool = False,
                    threshold: float = 0.9, ngram: int = 3) -> list[tuple[int, int, float]]:
    """Pairs of duplicate records: exact after ``normalize_text``, or near by word n-gram Jaccard.

    Near duplicates are found exactly (no sampling) with prefix filtering: word n-grams are ordered
    rarest first, and two sets with Jaccard >= t must share one of the first ``|A| - ceil(t|A|) + 1``
    of each; only those are indexed, so frequent n-grams such as a shared instruction cost nothing.

    Args:
        records: the records.
        field_or_fn: the text to compare: a field, a function, or None for ``record_text``.
        near: also find near duplicates (Jaccard of word ``ngram``-gram sets >= ``threshold``).
        threshold: Jaccard similarity in (0, 1] for ``near``.
        ngram: words per n-gram for ``near``.

    Returns:
        ``(i, j, similarity)`` with ``i < j`` record indices, sorted. Exact mode pairs each later copy
        with the first (similarity 1.0); to deduplicate, drop every ``j``. A text that normalises
        to nothing (punctuation only, or empty) matches nothing, as in ``check_leaks``.

    Example:
        >>> find_duplicates([{"q": "Hi there"}, {"q": "hi, THERE!"}], "q")
        [(0, 1, 1.0)]
    """
    texts = _texts(records, field_or_fn, "find_duplicates")
    if not near:
        first: dict[str, int] = {}
        return [(first[k], j, 1.0) for j, k in enumerate(map(normalize_text, texts))
                if k and first.setdefault(k, j) != j]
    if not 0 < threshold <= 1:
        raise ValueError(f"find_duplicates: threshold {threshold} must be in (0, 1]")
    sets = [_shingles(t, ngram) for t in texts]
    freq = Counter(g for s in sets for g in s)
    index: dict[tuple[str, ...], list[int]] = defaultdict(list)
    pairs = []
    for j, s in enumerate(sets):
        ordered = sorted(s, key=lambda g: (freq[g], g))
        prefix = ordered[: len(s) - math.ceil(threshold * len(s) - 1e-9) + 1]
        candidates = {i for g in prefix for i in index[g]}
        for i in sorted(candidates):
            other = sets[i]
            if threshold * len(s) <= len(other) and threshold * len(other) <= len(s):
                common = len(s & other)
                similarity = common / (len(s) + len(other) - common)
                if similarity >= threshold:
                    pairs.append((i, j, round(similarity, 4)))
        for g in prefix:
            index[g].append(j)
    return sorted(pairs)


def contamination(train_texts: Sequence[str], eval_texts: Sequence[str], ngram: int = 8) -> list[int]:
    """Evaluation items that share a word n-gram with the training data (after ``normalize_text``).

    The decontamination check of GPT-3 (13-grams) and Llama 2 (similar): an evaluation item whose
    n-gram also occurs in training may be scored on memory, not skill. Texts shorter than ``ngram``
    words are compared whole. Short templated questions share many short n-grams, so pick ``ngram``
    longer than the shared template, and check a few flagged items by eye.

    Args:
        train_texts, eval_texts: the texts to compare (a question with its answer, say).
        ngram: words per n-gram.

    Returns:
        Sorted indices into ``eval_texts`` of the contaminated items.

    Example:
        >>> contamination(["the capital of france is paris"], ["Capital of France is Paris!", "Rome"], 4)
        [0]
    """
    seen = set().union(*(_shingles(t, ngram) for t in train_texts)) if train_texts else set()
    return [i for i, t in enumerate(eval_texts) if not _shingles(t, ngram).isdisjoint(seen)]


def _percentile(sorted_values: Sequence[int], q: float) -> float:
    """The q-th percentile (0-100) with linear interpolation, as numpy's default."""
    pos = (len(sorted_values) - 1) * q / 100
    lo, hi = math.floor(pos), math.ceil(pos)
    return sorted_values[lo] + (sorted_values[hi] - sorted_values[lo]) * (pos - lo)


def length_profile(records: Sequence[Mapping], tokenizer: Callable[[str], Any],
                   field_or_fn: KeyLike | None = None) -> dict[str, Any]:
    """Token counts per record and their summary, for a histogram and for choosing ``max_length``.

    Args:
        records: the records.
        tokenizer: any callable returning ``input_ids`` for a string: a mapping or object with
            ``input_ids`` (a Hugging Face tokenizer), or the id list itself. Special tokens count
            as the tokenizer adds them.
        field_or_fn: the text to count, as in ``record_text``. For the exact training length of a
            chat, pass ``lambda r: tok.apply_chat_template(r["messages"], tokenize=False)`` with
            ``lambda text: tok(text, add_special_tokens=False)`` as the tokenizer: the template
            writes the BOS itself, and a tokenizer that adds one would count it twice.

    Returns:
        ``{"counts": [tokens per record], "n", "mean", "min", "p50", "p90", "p95", "p99", "max"}``.

    Example:
        >>> length_profile([{"prompt": "a b", "completion": "c"}], str.split)["max"]
        3
    """
    if not records:
        raise ValueError("length_profile: no records given")
    counts = []
    for i, r in enumerate(records):
        out = tokenizer(record_text(r, field_or_fn))
        ids = out["input_ids"] if isinstance(out, Mapping) else getattr(out, "input_ids", out)
        if not hasattr(ids, "__len__") or (len(ids) and isinstance(ids[0], (list, tuple))):
            raise TypeError(f"length_profile: record {i}: the tokenizer must return one flat list of ids "
                            f"for one string, got {type(ids).__name__}")
        counts.append(len(ids))
    ordered = sorted(counts)
    summary = {f"p{q}": _percentile(ordered, q) for q in (50, 90, 95, 99)}
    return {"counts": counts, "n": len(counts), "mean": sum(counts) / len(counts), "min": ordered[0],
            **summary, "max": ordered[-1]}


def label_balance(records: Sequence[Mapping], key: KeyLike) -> dict[Any, dict[str, float]]:
    """How often each label occurs: ``{label: {"count": n, "fraction": share}}``, most common first.

    Example:
        >>> label_balance([{"label": "a"}, {"label": "b"}, {"label": "a"}], "label")["a"]
        {'count': 2, 'fraction': 0.6666666666666666}
    """
    counts = Counter(_key_of(records, key, "label_balance"))
    total = sum(counts.values())
    return {label: {"count": c, "fraction": c / total}
            for label, c in sorted(counts.items(), key=lambda kv: (-kv[1], str(kv[0])))}
