"""The course's shared task: questions about the embedded world's people, and sentence probes of
what the base model knows about them, taken the same way in every lesson so their numbers compare;
and the problem behind each triage ticket, for splits that hold whole problems out.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, NamedTuple

from sftlib import DATA_DIR
from sftlib.data import read_jsonl
from sftlib.pools import NOT_URGENT, URGENT
from sftlib.schemas import to_messages

if TYPE_CHECKING:
    from datasets import Dataset


class QATask(NamedTuple):
    """The training lessons' shared task: questions about people, as chat (``qa_task``)."""

    train: Dataset
    validation: Dataset
    val_questions: list[dict]
    test_questions: list[dict]


def one_question_per_entity(records: Sequence[Mapping], every: int = 1) -> list[dict]:
    """One record of every ``every``-th entity, taking the entities' attributes in turn.

    The QA files list each person's six attributes in the same order, so a plain ``records[::6]``
    asks every person their birth date. Here the first chosen entity gives its first attribute,
    the second its second, and so on, so each attribute is asked about equally often.

    Args:
        records: records with an ``entity`` key (QA records, probes), in file order.
        every: take every ``every``-th entity in order of first appearance (1: all of them).

    Returns:
        ``ceil(entities / every)`` records, one per chosen entity, in the entities' order.

    Example:
        >>> rows = [{"entity": e, "attribute": a} for e in "xyz" for a in ("date", "city")]
        >>> [(r["entity"], r["attribute"]) for r in one_question_per_entity(rows)]
        [('x', 'date'), ('y', 'city'), ('z', 'date')]
    """
    if every < 1:
        raise ValueError(f"one_question_per_entity: every must be 1 or more, got {every}")
    by_entity: dict[str, list[Mapping]] = {}
    for record in records:
        by_entity.setdefault(record["entity"], []).append(record)
    chosen = list(by_entity.values())[::every]
    return [dict(rows[turn % len(rows)]) for turn, rows in enumerate(chosen)]


def chat_dataset(records: Sequence[Mapping]) -> Dataset:
    """Records of any course shape as a dataset with one column, ``messages`` (``to_messages``)."""
    from datasets import Dataset

    return Dataset.from_list([{"messages": to_messages(r)["messages"]} for r in records])


def qa_task() -> QATask:
    """``data/qa`` as lessons 03-10 use it, the same in every lesson so their numbers compare.

    Returns:
        ``train``: all 4,500 training records as ``messages``; ``validation``: every 7th
        validation record as ``messages`` (129, for the validation loss); ``val_questions``: one
        question per validation person (150, for accuracy while choosing); ``test_questions``: one
        question for every other test person (300, scored once at the end). Both ask about the six
        attributes equally often (``one_question_per_entity``). Validation and test people never
        appear in train.
    """
    def split(name: str, step: int = 1) -> list[dict]:
        return read_jsonl(DATA_DIR / "qa" / f"{name}.jsonl", validate=True)[::step]

    return QATask(chat_dataset(split("train")), chat_dataset(split("validation", 7)),
                  one_question_per_entity(split("validation")),
                  one_question_per_entity(split("test"), every=2))


def people_probes(count: int = 200) -> list[dict]:
    """``count`` sentence probes of ``data/probes/people.jsonl``: what the base model knows of them.

    One probe per person, every ``1500 // count``-th person from the start of the file (for 200,
    every 7th: the first 1,394 people), the six attributes taken in turn
    (``one_question_per_entity``), so every attribute is probed about equally often. A plain
    ``rows[::45]`` would probe birth dates and majors only: each person's six probes sit in the
    same order, and 45 steps on by 3 attributes at a time.

    Raises:
        ValueError: ``count`` below 1 or above the number of people (1,500).
    """
    rows = read_jsonl(DATA_DIR / "probes" / "people.jsonl")
    people = len({r["entity"] for r in rows})
    if not 1 <= count <= people:
        raise ValueError(f"people_probes: count={count}; the file holds {people} people, one probe "
                         "each at most")
    return one_question_per_entity(rows, every=people // count)[:count]


def triage_problem(ticket: Mapping) -> str:
    """The problem behind a ``data/triage`` ticket: its reason as ``sftlib.pools`` writes it.

    Each ticket dresses one of 20 problems (10 urgent, 10 not) in new words; its answer is the
    label and that problem's reason, with the ticket's product filled in.

    Args:
        ticket: a triage record (``id``, ``output``).

    Returns:
        the reason sentence with its ``{product}`` placeholder, the same for every ticket of the
        problem.

    Raises:
        ValueError: when the answer gives no reason of the pools, naming the ticket's id.

    Example:
        >>> output = "urgent: Payment failures in PayFlow are costing the customer sales right now."
        >>> triage_problem({"id": "triage-00042", "output": output})
        'Payment failures in {product} are costing the customer sales right now.'
    """
    for _, reason in URGENT + NOT_URGENT:
        pattern = re.escape(reason).replace(re.escape("{product}"), ".+")
        if re.fullmatch(rf"(not )?urgent: {pattern}", ticket["output"]):
            return reason
    raise ValueError(f"ticket {ticket.get('id')}: its answer {ticket['output']!r} gives no reason of "
                     "sftlib.pools")
