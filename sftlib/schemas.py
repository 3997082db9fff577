"""The three shapes of an SFT record: the checks that tell them apart and validate them, and the
converters between them (``to_messages``, ``to_prompt_completion``, ``to_alpaca``).

An SFT record is a JSON object in one of three shapes::

    alpaca             {"instruction": str, "input": str (may be "", null or absent), "output": str}
    messages           {"messages": [{"role": "system"|"user"|"assistant", "content": str}, ...]}
    prompt_completion  {"prompt": str, "completion": str}, or TRL's conversational form
                       {"prompt": [messages ending with a user turn], "completion": [one assistant message]}

A ``messages`` list has an optional leading system message, then user and assistant turns strictly
alternating, starting with user and ending with assistant. This is also OpenAI's chat fine-tuning
shape: an assistant message may carry ``"weight": 0`` or ``1`` (0: context, not to be trained
on). TRL's ``SFTTrainer`` does not read weights; ``sftlib.templates.tokenize_chat`` and
``sftlib.train.train`` do, and leave the weight-0 answers out of the loss. Any other top-level key
("id", "label", "entity", ...) is metadata: allowed, kept, never read.

Each check reports every problem with the field at fault (e.g. ``messages[2].role``);
:mod:`sftlib.data` adds the file and line when it loads records from disk.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

SCHEMAS: dict[str, tuple[str, ...]] = {
    "alpaca": ("instruction", "input", "output"),
    "messages": ("messages",),
    "prompt_completion": ("prompt", "completion"),
}
# The keys that identify a shape: a record holding any of them is of that shape.
SIGNATURES = {"alpaca": {"instruction", "output"}, "messages": {"messages"},
               "prompt_completion": {"prompt", "completion"}}
_SHAPES = "alpaca (instruction, input, output), messages (messages) or prompt_completion (prompt, completion)"
ROLES = ("system", "user", "assistant")
_MESSAGE_KEYS = ("role", "content", "weight")

PathLike = str | Path
Problem = tuple[str | None, str]  # (field or None, what is wrong)


class DataFormatError(ValueError):
    """A data file or record breaks the SFT format.

    Attributes:
        problem: what is wrong, without the location.
        path: the file (as given), or None for a record checked on its own.
        line: 1-based line number in a ``.jsonl`` file, or None.
        index: 0-based position in the array of a ``.json`` file, or None.
        field: the field, e.g. ``"messages[2].role"``, or None when the whole line is at fault.
        problems: every problem found (``[self]`` unless several were collected).
    """

    def __init__(self, problem: str, path: PathLike | None = None, line: int | None = None,
                 field: str | None = None, *, index: int | None = None,
                 problems: list[DataFormatError] | None = None, message: str | None = None):
        self.problem, self.line, self.field, self.index = problem, line, field, index
        self.path = None if path is None else str(path)
        self.problems = [self] if problems is None else problems
        super().__init__(message or self.located())

    def located(self) -> str:
        """``"<path>, line <n>, field '<field>': <problem>"`` with the parts that are known."""
        where = [self.path] if self.path else []
        where += [f"line {self.line}"] if self.line is not None else []
        where += [f"array index {self.index}"] if self.index is not None else []
        where += [f"field {self.field!r}"] if self.field is not None else []
        return f"{', '.join(where)}: {self.problem}" if where else self.problem


def json_type(value: Any) -> str:
    """The JSON name of a Python value's type, e.g. ``'array'`` for a list."""
    names = {str: "string", bool: "boolean", int: "number", float: "number", list: "array",
             dict: "object", type(None): "null"}
    return names.get(type(value), type(value).__name__)


def _text_problems(record: Mapping, key: str, field: str, optional: bool = False) -> list[Problem]:
    """Problems of one required (or optional, possibly empty) text field."""
    if key not in record or (optional and record[key] is None):
        return [] if optional else [(field, "missing required field")]
    value = record[key]
    if not isinstance(value, str):
        return [(field, f"expected a string, got {json_type(value)} {json.dumps(value)[:40]}")]
    if not optional and not value.strip():
        return [(field, "empty or whitespace-only string; every example needs text here")]
    if optional and value and not value.strip():
        return [(field, "whitespace-only string; write \"\" for none (it would be added to the "
                        "prompt as it is)")]
    return []


def _message_problems(messages: Any, field: str, last: str | None) -> list[Problem]:
    """Problems of a message list. ``last``: the role it must end with (None: do not check the order)."""
    if not isinstance(messages, list):
        return [(field, f"expected an array of messages, got {json_type(messages)}")]
    if not messages:
        return [(field, "empty array; a conversation needs a user and an assistant message")]
    problems: list[Problem] = []
    for i, m in enumerate(messages):
        f = f"{field}[{i}]"
        if not isinstance(m, dict):
            problems.append((f, f"expected an object with role and content, got {json_type(m)}"))
            continue
        problems += [(f"{f}.{k}", f"unknown key {k!r} in a message (allowed: role, content, weight)")
                     for k in m if k not in _MESSAGE_KEYS]
        if "role" not in m:
            problems.append((f"{f}.role", "missing required field"))
        elif m["role"] not in ROLES:
            problems.append((f"{f}.role",
                             f"unknown role {m['role']!r} (expected one of {', '.join(ROLES)})"))
        problems += _text_problems(m, "content", f"{f}.content")
        weight = m.get("weight")
        if weight is not None and (m.get("role") != "assistant" or type(weight) is not int
                                   or weight not in (0, 1)):
            problems.append((f"{f}.weight", f"weight {json.dumps(weight)} on a {m.get('role')!r} "
                             "message; only assistant messages take a weight, 0 or 1"))
    return problems or (_order_problems(messages, field, last) if last else [])


def _order_problems(messages: list[dict], field: str, last: str) -> list[Problem]:
    """Check: optional leading system, then user/assistant alternating from user; ends with ``last``."""
    roles = [m["role"] for m in messages]
    expected = "user"
    for i in range(1 if roles[0] == "system" else 0, len(roles)):
        if roles[i] != expected:
            why = ("a system message may only come first" if roles[i] == "system"
                   else "user and assistant must alternate, starting with user")
            return [(f"{field}[{i}].role", f"role {roles[i]!r} out of order: expected {expected!r} ({why})")]
        expected = "assistant" if expected == "user" else "user"
    if last == "assistant" and "assistant" not in roles:
        return [(field, "no assistant turn: there is nothing to train on")]
    if roles[-1] != last:
        return [(f"{field}[{len(roles) - 1}].role",
                 f"the conversation must end with {last!r}, not {roles[-1]!r}; add the "
                 f"{last} turn or remove the last message")]
    answers = [m for m in messages if m["role"] == "assistant"]
    if last == "assistant" and all(m.get("weight") == 0 for m in answers):
        return [(field, "every assistant message has weight 0: there is nothing to train on")]
    return []


def _completion_problems(record: Mapping) -> list[Problem]:
    """Problems of a prompt_completion record, standard (strings) or conversational (lists)."""
    prompt, completion = record.get("prompt"), record.get("completion")
    if not isinstance(prompt, list) and not isinstance(completion, list):
        return (_text_problems(record, "prompt", "prompt")
                + _text_problems(record, "completion", "completion"))
    missing = [key for key in ("prompt", "completion") if key not in record]
    if missing:
        return [(missing[0], "missing required field")]
    if not (isinstance(prompt, list) and isinstance(completion, list)):
        return [("prompt", f"prompt is {json_type(prompt)} but completion is {json_type(completion)}; "
                 "use two strings or two message arrays")]
    problems = _message_problems(prompt, "prompt", last="user")
    problems += [(f"prompt[{i}].weight", "weight 1 on an assistant message of the prompt, which is "
                  "context and never trained; move that turn into a messages record instead")
                 for i, m in enumerate(prompt) if isinstance(m, dict) and m.get("weight") == 1]
    problems += _message_problems(completion, "completion", last=None)
    if not problems and [m["role"] for m in completion] != ["assistant"]:
        problems.append(("completion", "a conversational completion is exactly one assistant message"))
    elif not problems and completion[0].get("weight") == 0:
        problems.append(("completion[0].weight", "the completion has weight 0: there is nothing to "
                         "train on"))
    return problems


def detect_schema(record: Any) -> str:
    """The shape of a record, chosen by its keys: ``"alpaca"``, ``"messages"`` or ``"prompt_completion"``.

    Raises:
        DataFormatError: not an object, or its keys match no shape or more than one.

    Example:
        >>> detect_schema({"prompt": "2+2=", "completion": "4", "id": 7})
        'prompt_completion'
    """
    if not isinstance(record, dict):
        raise DataFormatError(f"expected a JSON object (a record), got {json_type(record)}")
    found = [name for name, keys in SIGNATURES.items() if keys & record.keys()]
    if not found:
        raise DataFormatError(f"no SFT shape matches the keys {sorted(record)}; expected {_SHAPES}")
    if len(found) > 1:
        raise DataFormatError(f"ambiguous record: its keys {sorted(record)} match {' and '.join(found)}; "
                              "keep the keys of one shape (rename the others)")
    return found[0]


def record_problems(record: Any, schema: str | None = None) -> tuple[str | None, list[Problem]]:
    """``(detected shape or None, problems)`` of one record; ``schema``: the shape it must have."""
    if schema is not None and schema not in SCHEMAS:
        raise ValueError(f"unknown schema {schema!r}; use one of {', '.join(SCHEMAS)} or None to detect it")
    try:
        found = detect_schema(record)
    except DataFormatError as err:
        return None, [(None, err.problem)]
    if schema is not None and found != schema:
        key = sorted(SIGNATURES[found] & record.keys())[0]
        return found, [(key, f"the record is {found!r}, but schema={schema!r} was asked for")]
    if found == "alpaca":
        problems = _text_problems(record, "instruction", "instruction") + _text_problems(
            record, "input", "input", optional=True) + _text_problems(record, "output", "output")
    elif found == "messages":
        problems = _message_problems(record["messages"], "messages", last="assistant")
    else:
        problems = _completion_problems(record)
    return found, problems


def validate_record(record: Any, schema: str | None = None) -> str:
    """Check one record; return its shape. Raises DataFormatError (first problem, all in ``.problems``).

    Example:
        >>> validate_record({"instruction": "Say hi.", "output": "Hi!"})
        'alpaca'
    """
    found, problems = record_problems(record, schema)
    if problems:
        errs = [DataFormatError(p, field=f) for f, p in problems]
        raise DataFormatError(errs[0].problem, field=errs[0].field, problems=errs)
    return found  # type: ignore[return-value]


def _metadata(record: Mapping, schema: str) -> dict:
    """The record's keys that are not part of its shape."""
    return {k: v for k, v in record.items() if k not in SCHEMAS[schema]}


def _with_metadata(shape: dict, record: Mapping, schema: str, target: str) -> dict:
    """The converted ``shape`` followed by the record's metadata; raises if a metadata key would
    overwrite a key of the new shape (e.g. an extra ``input`` beside a prompt/completion)."""
    extra = _metadata(record, schema)
    clash = sorted(shape.keys() & extra.keys())
    if clash:
        raise ValueError(f"to_{target}: the record's extra key {clash[0]!r} is also a key of the "
                         f"{target} shape and would overwrite it; rename it before converting")
    return {**shape, **extra}


def _user_text(record: Mapping) -> str:
    """Alpaca instruction and input as one user text, separated by a blank line when input is set."""
    instruction, extra = record["instruction"], record.get("input")
    return f"{instruction}\n\n{extra}" if extra else instruction


def _conversation(record: Mapping, schema: str) -> list[dict]:
    """A copy of the messages of a messages or conversational prompt_completion record; the
    prompt's assistant turns get ``"weight": 0``: they were context, and stay so."""
    if schema == "messages":
        return [dict(m) for m in record["messages"]]
    context = [{**m, "weight": 0} if m["role"] == "assistant" else dict(m) for m in record["prompt"]]
    return [*context, *(dict(m) for m in record["completion"])]


def to_messages(record: Mapping, schema: str | None = None, system: str | None = None) -> dict:
    """Convert a record to the ``messages`` shape, metadata kept.

    Alpaca: one user turn ``instruction`` (plus ``"\\n\\n" + input`` when input is non-empty) and one
    assistant turn ``output``. prompt_completion: user ``prompt``, assistant ``completion`` (the
    conversational form is joined back into one list, its prompt's assistant turns marked
    ``"weight": 0``, so that the same answer alone is trained).

    Args:
        record: a record of any shape (checked first).
        schema: its shape, or None to detect it.
        system: a system message to put first; raises if the record already has one.

    Example:
        >>> to_messages({"instruction": "Reverse.", "input": "a b", "output": "b a"})["messages"][0]
        {'role': 'user', 'content': 'Reverse.\\n\\na b'}
    """
    schema = validate_record(record, schema)
    if schema == "alpaca":
        msgs = [{"role": "user", "content": _user_text(record)},
                {"role": "assistant", "content": record["output"]}]
    elif schema == "prompt_completion" and isinstance(record["prompt"], str):
        msgs = [{"role": "user", "content": record["prompt"]},
                {"role": "assistant", "content": record["completion"]}]
    else:
        msgs = _conversation(record, schema)
    if system is not None:
        if not isinstance(system, str) or not system.strip():
            raise ValueError(f"to_messages: system must be a non-empty string, got {system!r}")
        if msgs[0]["role"] == "system":
            raise ValueError("to_messages: the record already has a system message; pass system=None "
                             "to keep it, or remove it from the record first")
        msgs.insert(0, {"role": "system", "content": system})
    return _with_metadata({"messages": msgs}, record, schema, "messages")


def to_prompt_completion(record: Mapping, schema: str | None = None) -> dict:
    """Convert a record to the ``prompt_completion`` shape, metadata kept.

    Alpaca gives strings: prompt = instruction (plus ``"\\n\\n" + input``), completion = output.
    A messages record gives TRL's *conversational* prompt-completion shape, not a rendered string:
    ``{"prompt": [every message before the last assistant turn], "completion": [that turn]}``. The
    chat template renders it at training time; only the completion is trained on, so earlier
    assistant turns become context (trained in the messages shape unless marked ``"weight": 0``:
    training the last answer only is what this conversion is for). Raises ValueError when the
    message weights say otherwise (the last assistant turn has weight 0, or an earlier one
    weight 1).

    Example:
        >>> to_prompt_completion({"messages": [{"role": "user", "content": "Hi"},
        ...                                    {"role": "assistant", "content": "Hello"}]})["completion"]
        [{'role': 'assistant', 'content': 'Hello'}]
    """
    schema = validate_record(record, schema)
    if schema == "alpaca":
        shape = {"prompt": _user_text(record), "completion": record["output"]}
    elif schema == "prompt_completion":
        shape = {"prompt": record["prompt"], "completion": record["completion"]}
    else:
        msgs = _conversation(record, schema)
        earlier = [i for i, m in enumerate(msgs[:-1]) if m["role"] == "assistant" and m.get("weight") == 1]
        if msgs[-1].get("weight") == 0 or earlier:
            what = (f"messages[{len(msgs) - 1}], the last assistant turn, has weight 0"
                    if msgs[-1].get("weight") == 0 else f"messages[{earlier[0]}] has weight 1")
            raise ValueError(f"to_prompt_completion: {what}, but a completion trains exactly the last "
                             "assistant turn; converting would change what is trained (cut the "
                             "conversation after its last trained turn first)")
        shape = {"prompt": msgs[:-1], "completion": msgs[-1:]}
    return _with_metadata(shape, record, schema, "prompt_completion")


def to_alpaca(record: Mapping, schema: str | None = None) -> dict:
    """Convert a single-turn record to the ``alpaca`` shape, metadata kept.

    Only defined for one instruction and one answer: a string prompt_completion record, or a
    conversation of exactly one user and one assistant message (the user text becomes the
    instruction, input is ""). Raises ValueError for a system message or several turns.

    Example:
        >>> to_alpaca({"prompt": "2+2=", "completion": "4"})
        {'instruction': '2+2=', 'input': '', 'output': '4'}
    """
    schema = validate_record(record, schema)
    if schema == "alpaca":
        return dict(record)
    if schema == "prompt_completion" and isinstance(record["prompt"], str):
        shape = {"instruction": record["prompt"], "input": "", "output": record["completion"]}
    else:
        msgs = _conversation(record, schema)
        roles = [m["role"] for m in msgs]
        if roles != ["user", "assistant"]:
            raise ValueError(f"to_alpaca: the alpaca shape holds one user turn and its answer, this "
                             f"conversation has roles {roles}; keep it as messages or use "
                             "to_prompt_completion")
        shape = {"instruction": msgs[0]["content"], "input": "", "output": msgs[1]["content"]}
    return _with_metadata(shape, record, schema, "alpaca")
