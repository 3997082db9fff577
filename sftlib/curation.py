"""Controlled training sets for data experiments: nested subsets, deliberately wrong answers, and
questions asked again in other words (data augmentation).

Lesson 09 asks whether a small clean set beats a larger noisy one (the LIMA claim), and whether
rewording a small set's questions helps. The helpers are seeded or deterministic and leave their
input unchanged, so every run sees the same examples and the same errors.
"""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence

from sftlib.pools import QA_QUESTIONS


def nested_subsets(records: Sequence[Mapping], sizes: Sequence[int], seed: int = 0) -> dict[int, list]:
    """Subsets of ``records`` of each size, each one contained in the next larger one.

    The records are shuffled once (seeded) and each subset is a prefix of that order, so a
    learning curve compares more data with *the same* data plus more, not with different data.

    Args:
        records: the full training set.
        sizes: subset sizes, each at most ``len(records)``.
        seed: the shuffle's seed.

    Returns:
        ``{size: list of records}``.

    Example:
        >>> subsets = nested_subsets([{"i": i} for i in range(10)], [2, 5])
        >>> all(r in subsets[5] for r in subsets[2])
        True
    """
    too_big = [n for n in sizes if not 0 < n <= len(records)]
    if too_big:
        raise ValueError(f"nested_subsets: sizes {too_big} are not in 1..{len(records)} (the records given)")
    order = list(range(len(records)))
    random.Random(seed).shuffle(order)
    return {n: [records[i] for i in order[:n]] for n in sizes}


def corrupt_answers(records: Sequence[Mapping], share: float, seed: int = 0, answer: str = "completion",
                    group: str = "attribute") -> tuple[list[dict], list[int]]:
    """Replace the answer of a ``share`` of records with a wrong but plausible one.

    A wrong answer is another record's answer for the same ``group`` (another person's birth
    city for a birth-city question), so the noise looks like real data: right form, wrong fact.

    Args:
        records: records with an ``answer`` field and a ``group`` field.
        share: fraction of records to corrupt, 0..1; exactly ``round(share * len(records))`` are.
        seed: which records are corrupted and which wrong answers they get.
        answer, group: the field names.

    Returns:
        ``(records, corrupted)``: copies of the records, and the sorted indices of those changed.

    Example:
        >>> rows = [{"attribute": "city", "completion": c} for c in ("Paris", "Rome", "Oslo", "Lima")]
        >>> new, changed = corrupt_answers(rows, 0.5)
        >>> len(changed), all(new[i]["completion"] != rows[i]["completion"] for i in changed)
        (2, True)
    """
    if not 0 <= share <= 1:
        raise ValueError(f"corrupt_answers: share {share} must be between 0 and 1")
    for i, r in enumerate(records):
        for key in (answer, group):
            if key not in r:
                raise KeyError(f"corrupt_answers: record {i} has no field {key!r} (it has {sorted(r)})")
    values: dict[str, set[str]] = {}
    for r in records:
        values.setdefault(r[group], set()).add(r[answer])
    rng = random.Random(seed)
    corrupted = sorted(rng.sample(range(len(records)), round(share * len(records))))
    out = [dict(r) for r in records]
    for i in corrupted:
        others = sorted(values[out[i][group]] - {out[i][answer]})
        if not others:
            raise ValueError(f"corrupt_answers: record {i} is the only one with {group}="
                             f"{out[i][group]!r}; there is no other answer to swap in")
        out[i][answer] = rng.choice(others)
    return out, corrupted


def reworded(records: Sequence[Mapping], wordings: Mapping[str, Sequence[str]] = QA_QUESTIONS) -> list[dict]:
    """Each record followed by copies that ask the same question in the other wordings.

    Data augmentation of the simplest kind: the QA data asks each attribute in one of a few
    wordings (``sftlib.pools.QA_QUESTIONS``, with ``{n}`` for the person), so a record can be
    asked again in the others, with the same answer. Nothing new is learned about anyone; only
    the question's form varies.

    Args:
        records: QA records with ``entity``, ``attribute``, ``prompt`` and ``completion``.
        wordings: per attribute, the question templates (``{n}`` is the entity).

    Returns:
        ``len(records) * k`` records for ``k`` wordings an attribute (3 for the course's): each
        record as it was, then its other wordings in the templates' order; a copy's ``id`` (if the
        record has one) gets ``-w1``, ``-w2``, ... after it.

    Raises:
        KeyError: a record lacks one of the four fields (the message names the record).
        ValueError: a record's attribute has no wordings, or its prompt is none of them.

    Example:
        >>> rows = reworded([{"entity": "Ada", "attribute": "major",
        ...                   "prompt": "What did Ada major in?", "completion": "law"}])
        >>> [r["prompt"] for r in rows]
        ['What did Ada major in?', 'What was the major of Ada?', 'Which field did Ada study?']
    """
    out = []
    for i, record in enumerate(records):
        for key in ("entity", "attribute", "prompt", "completion"):
            if key not in record:
                raise KeyError(f"reworded: record {i} has no field {key!r} (it has {sorted(record)})")
        templates = wordings.get(record["attribute"])
        if not templates:
            raise ValueError(f"reworded: record {i}: no wordings for attribute {record['attribute']!r}")
        asked = [t.format(n=record["entity"]) for t in templates]
        if record["prompt"] not in asked:
            raise ValueError(f"reworded: record {i}: prompt {record['prompt']!r} is none of the "
                             f"{len(asked)} wordings of {record['attribute']!r}")
        out.append(dict(record))
        others = [q for q in asked if q != record["prompt"]]
        for k, question in enumerate(others, start=1):
            copy = {**record, "prompt": question}
            if "id" in record:
                copy["id"] = f"{record['id']}-w{k}"
            out.append(copy)
    return out
