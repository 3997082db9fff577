"""Converters from the public SFT datasets the course cites to this package's record shapes.

Each converter takes records exactly as the dataset publishes them (``list(load_dataset(...))``)
and returns records that ``sftlib.data.validate_record`` accepts. Nothing is dropped quietly:
a record that cannot be converted raises, ``convert_records`` collects those with the reason, and
``from_oasst1`` accounts for every message row in its summary.

- tatsu-lab/alpaca (52k, CC BY-NC 4.0): ``instruction``, ``input``, ``output``, ``text``.
- databricks/databricks-dolly-15k (CC BY-SA 3.0): ``instruction``, ``context``, ``response``, ``category``.
- OpenAssistant/oasst1 (Apache 2.0): one row per message of a conversation tree.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Mapping

from sftlib.data import DataFormatError, validate_record

ALPACA_FIELDS = ("instruction", "input", "output", "text")
DOLLY_FIELDS = ("instruction", "context", "response", "category")
OASST1_FIELDS = ("message_id", "parent_id", "text", "role")
OASST1_ROLES = {"prompter": "user", "assistant": "assistant"}
# Every message row lands in exactly one of these; the summary's counts add up to "rows".
OASST1_BUCKETS = ("used", "deleted", "review_failed", "empty_text", "below_excluded", "other_branches",
                  "unanswered", "orphaned", "other_lang")


def _require(record: Mapping, fields: Iterable[str], source: str) -> None:
    """Raise if a field of the published record shape is missing (wrong dataset or column renamed)."""
    missing = [f for f in fields if f not in record]
    if missing:
        raise ValueError(f"{source}: the record has no {', '.join(map(repr, missing))} (it has "
                         f"{sorted(record)}); expected the published fields {', '.join(fields)}")


def from_alpaca(record: Mapping) -> dict:
    """A tatsu-lab/alpaca record as an ``alpaca`` record.

    ``text`` is dropped: it is the same three fields rendered with Alpaca's own prompt template,
    and the course renders prompts itself. Any other key is kept.

    Example:
        >>> from_alpaca({"instruction": "Add.", "input": "2 3", "output": "5", "text": "..."})
        {'instruction': 'Add.', 'input': '2 3', 'output': '5'}
    """
    _require(record, ALPACA_FIELDS[:3], "from_alpaca (tatsu-lab/alpaca)")
    out = {k: record[k] for k in ALPACA_FIELDS[:3]}
    out |= {k: v for k, v in record.items() if k not in ALPACA_FIELDS}
    validate_record(out, "alpaca")
    return out


def from_dolly(record: Mapping) -> dict:
    """A databricks-dolly-15k record as an ``alpaca`` record: context -> input, response -> output.

    ``category`` (e.g. ``"closed_qa"``) and any other key are kept; the context is not edited (Dolly
    contexts copied from Wikipedia keep their citation marks such as ``[1]``).

    Example:
        >>> from_dolly({"instruction": "Who?", "context": "", "response": "Ada.", "category": "open_qa"})
        {'instruction': 'Who?', 'input': '', 'output': 'Ada.', 'category': 'open_qa'}
    """
    _require(record, DOLLY_FIELDS[:3], "from_dolly (databricks-dolly-15k)")
    out = {"instruction": record["instruction"], "input": record["context"], "output": record["response"]}
    out |= {k: v for k, v in record.items() if k not in DOLLY_FIELDS[:3]}
    validate_record(out, "alpaca")
    return out


def convert_records(records: Iterable[Mapping], convert: Callable[[Mapping], dict]
                    ) -> tuple[list[dict], list[tuple[int, str]]]:
    """Apply a converter to every record, collecting the ones it rejects instead of stopping.

    Returns:
        ``(converted, rejected)``: ``rejected`` lists ``(record index, reason)``, e.g. for an
        Alpaca record with an empty output.

    Example:
        >>> convert_records([{"instruction": "Hi", "input": "", "output": ""}], from_alpaca)[1]
        [(0, "field 'output': empty or whitespace-only string; every example needs text here")]
    """
    converted, rejected = [], []
    for i, record in enumerate(records):
        try:
            converted.append(convert(record))
        except (DataFormatError, ValueError) as err:
            rejected.append((i, str(err)))
    return converted, rejected


def _rank_key(row: Mapping) -> tuple:
    """Sort key of sibling replies: rank 0 first, unranked last, then oldest, then id."""
    rank = row.get("rank")
    return (rank is None, rank if rank is not None else 0, str(row.get("created_date") or ""),
            str(row["message_id"]))


def _exclusion(row: Mapping) -> str | None:
    """Why a message cannot be used (a bucket name), or None."""
    if row.get("deleted"):
        return "deleted"
    if row.get("review_result") is False:
        return "review_failed"
    if not isinstance(row["text"], str) or not row["text"].strip():
        return "empty_text"
    return None


def from_oasst1(rows: Iterable[Mapping], lang: str | None = None) -> tuple[list[dict], dict[str, int]]:
    """Rebuild OpenAssistant/oasst1 conversation trees and keep the best-ranked path of each.

    From each root (a prompter message) the path follows, at every step, the usable reply with the
    best rank (rank 0; unranked replies come after ranked ones, then the oldest). A message is not
    usable if it is deleted, failed review (``review_result`` False; None, not yet reviewed, is
    kept) or has empty text; its whole subtree is left out with it. A path that ends with a
    prompter message loses that unanswered message. Roles: prompter -> user.

    Args:
        rows: the flat message rows (``message_id``, ``parent_id``, ``text``, ``role``, ``lang``,
            ``rank``, ``deleted``, ``review_result``, ``created_date``, ``message_tree_id``, ...).
        lang: keep only trees whose root has this language code (e.g. ``"en"``); None keeps all.

    Returns:
        ``(records, summary)``. Records are ``messages`` records with ``id`` (root message id),
        ``message_tree_id`` and ``lang``. ``summary`` counts ``rows``, ``conversations``,
        ``unranked_choices`` (steps where the best reply had no rank) and, adding up to ``rows``,
        where every row went: ``used``, ``deleted``, ``review_failed``, ``empty_text``,
        ``below_excluded`` (inside an excluded message's subtree), ``other_branches`` (replies not
        on the best path, with their subtrees), ``unanswered``, ``orphaned`` (parent not among the
        rows, e.g. in the other split) and ``other_lang``.

    Example:
        >>> rows = [{"message_id": "q", "parent_id": None, "text": "Hi?", "role": "prompter"},
        ...         {"message_id": "r", "parent_id": "q", "text": "Hello!", "role": "assistant", "rank": 0}]
        >>> records, summary = from_oasst1(rows)
        >>> records[0]["messages"][1], summary["used"]
        ({'role': 'assistant', 'content': 'Hello!'}, 2)
    """
    rows = list(rows)
    by_id: dict[str, Mapping] = {}
    children: dict[str, list[Mapping]] = defaultdict(list)
    for i, row in enumerate(rows):
        _require(row, OASST1_FIELDS, f"from_oasst1 (OpenAssistant/oasst1), row {i}")
        if row["message_id"] in by_id:
            raise ValueError(f"from_oasst1: row {i} repeats message_id {row['message_id']!r}")
        if row["role"] not in OASST1_ROLES:
            raise ValueError(f"from_oasst1: row {i} has role {row['role']!r}; expected prompter or assistant")
        by_id[row["message_id"]] = row
    for row in rows:
        if row["parent_id"] is not None:
            children[row["parent_id"]].append(row)

    def size(row: Mapping) -> int:
        """Messages in the subtree of ``row``, itself included."""
        total, stack = 0, [row]
        while stack:
            node = stack.pop()
            total += 1
            stack += children.get(node["message_id"], [])
        return total

    summary: Counter = Counter()
    records = []
    for row in rows:
        if row["parent_id"] is not None and row["parent_id"] not in by_id:
            summary["orphaned"] += size(row)
    for root in (r for r in rows if r["parent_id"] is None):
        if lang is not None and root.get("lang") != lang:
            summary["other_lang"] += size(root)
            continue
        path, node = [], root
        if reason := _exclusion(root):
            summary[reason] += 1
            summary["below_excluded"] += size(root) - 1
            node = None
        while node is not None:
            path.append(node)
            usable = []
            for child in children.get(node["message_id"], []):
                if reason := _exclusion(child):
                    summary[reason] += 1
                    summary["below_excluded"] += size(child) - 1
                else:
                    usable.append(child)
            node = min(usable, key=_rank_key) if usable else None
            summary["other_branches"] += sum(size(c) for c in usable if c is not node)
            summary["unranked_choices"] += len(usable) > 1 and node.get("rank") is None
        while path and path[-1]["role"] == "prompter":
            path.pop()
            summary["unanswered"] += 1
        if path:
            summary["used"] += len(path)
            record = {"messages": [{"role": OASST1_ROLES[m["role"]], "content": m["text"]} for m in path],
                      "id": root["message_id"], "message_tree_id": root.get("message_tree_id"),
                      "lang": root.get("lang")}
            try:
                validate_record(record, "messages")
            except DataFormatError as err:
                raise ValueError(f"from_oasst1: the tree of root {root['message_id']!r}: {err}") from err
            records.append(record)
    out = {"rows": len(rows), "conversations": len(records), "unranked_choices": summary["unranked_choices"]}
    out |= {bucket: summary[bucket] for bucket in OASST1_BUCKETS}
    if sum(out[b] for b in OASST1_BUCKETS) != len(rows):
        raise ValueError(f"from_oasst1: {len(rows)} rows but {sum(out[b] for b in OASST1_BUCKETS)} "
                         "accounted for; the parent_id links form a cycle")
    return records, out
