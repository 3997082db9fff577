"""Controlled training sets for data experiments: nested subsets and deliberately wrong answers.

Lesson 09 asks whether a small clean set beats a larger noisy one (the LIMA claim). Both helpers are
seeded and leave their input unchanged, so every run sees the same examples and the same errors.
"""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence


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
