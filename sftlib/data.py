"""SFT data on disk: a strict JSONL reader, a writer and a loader into ``datasets``.

The record shapes (alpaca, messages, prompt_completion), their validation and the converters
between them live in :mod:`sftlib.schemas`; ``DataFormatError``, ``detect_schema`` and
``validate_record`` are re-exported here.

The loader reads every file line by line and checks every record before it builds a
``datasets.Dataset``, so each problem is reported with file, line and field. Nothing is skipped or
changed: a blank line, a bad record or a second shape in one file is an error, not a warning.
``datasets`` is imported only when a Dataset is built.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sftlib.schemas import (SIGNATURES, DataFormatError, PathLike, detect_schema, json_type,
                            record_problems, validate_record)

if TYPE_CHECKING:
    from datasets import Dataset, DatasetDict

__all__ = ["SPLITS", "DataFormatError", "detect_schema", "load_sft_dataset", "read_jsonl",
           "validate_record", "write_jsonl"]

SPLITS = ("train", "validation", "test")


class _Repeated(dict):
    """A parsed JSON object in which the key ``repeated`` appeared twice (``json`` keeps the last)."""

    repeated: str


def _mark_repeats(pairs: list[tuple[str, Any]]) -> dict:
    obj = dict(pairs)
    if len(obj) == len(pairs):
        return obj
    keys = [k for k, _ in pairs]
    obj = _Repeated(obj)
    obj.repeated = next(k for i, k in enumerate(keys) if k in keys[:i])
    return obj


class _Constant:
    """``NaN``, ``Infinity`` or ``-Infinity`` where JSON wants a value; found after parsing, so the
    error can name the field (and, in a ``.json`` array, the record)."""

    def __init__(self, name: str):
        self.name = name


_SURROGATE = re.compile("[\ud800-\udfff]")  # "\ud800" escapes are valid JSON but not text


def _first(value: Any, found: Callable[[Any], bool], path: tuple = ()) -> tuple | None:
    """The path (keys and indices) of the first node of ``value``, in reading order, that is ``found``."""
    if found(value):
        return path
    children = value.items() if isinstance(value, dict) else \
        enumerate(value) if isinstance(value, list) else ()
    for key, child in children:
        if isinstance(key, str) and found(key):
            return (*path, key)
        hit = _first(child, found, (*path, key))
        if hit is not None:
            return hit
    return None


def _field(path: tuple) -> str | None:
    """``("messages", 1, "role")`` -> ``"messages[1].role"`` (None for the whole value)."""
    text = "".join(f"[{step}]" if isinstance(step, int) else f".{step}" for step in path).lstrip(".")
    return text or None


def _parse(text: str) -> Any:
    """Parse one JSON text strictly; raise DataFormatError with ``line`` (within the text) or, in a
    top-level array, ``index``, and the ``field`` when one is to blame.

    Beyond ``json.loads``: a repeated key in one object, ``NaN``/``Infinity`` and unpaired UTF-16
    surrogate escapes (``"\\ud800"``, which no UTF-8 file can hold as text) are errors.
    """
    try:
        value = json.loads(text, object_pairs_hook=_mark_repeats, parse_constant=_Constant)
    except json.JSONDecodeError as err:
        raise DataFormatError(f"invalid JSON: {err.msg} at column {err.colno}", line=err.lineno) from None
    for found, problem in (
            (lambda v: isinstance(v, _Constant),
             lambda node: f"invalid JSON: {node.name} is not a JSON value; write a number or null"),
            (lambda v: isinstance(v, _Repeated),
             lambda node: f"duplicate key {node.repeated!r} in one object; JSON would keep only the "
                          "last value"),
            (lambda v: isinstance(v, str) and _SURROGATE.search(v) is not None,
             lambda node: "an unpaired surrogate escape (\\ud800-\\udfff) is not text; fix the "
                          "writer that produced it")):
        path = _first(value, found)
        if path is None:
            continue
        node = value
        for step in path:
            node = node[step]
        if isinstance(node, _Repeated):
            path = (*path, node.repeated)
        index, path = (path[0], path[1:]) if isinstance(value, list) and path else (None, path)
        raise DataFormatError(problem(node), field=_field(path), index=index)
    return value


Entry = tuple[str, str, int, Any]  # (path, "line" | "index", position, parsed value)


def _error(path: str, kind: str, pos: int | None, field: str | None, problem: str) -> DataFormatError:
    """A DataFormatError at a line (``kind="line"``) or an array index (``kind="index"``)."""
    return DataFormatError(problem, path, pos if kind == "line" else None, field,
                           index=pos if kind == "index" else None)


def _read_entries(path: Path) -> tuple[list[Entry], list[DataFormatError]]:
    """Parse a ``.jsonl`` (one object a line) or ``.json`` (one array) file into entries and problems."""
    name = str(path)
    if path.suffix not in (".jsonl", ".json"):
        what = "is a folder" if path.is_dir() else f"has the unsupported file type {path.suffix!r}"
        raise ValueError(f"{name} {what}; give .jsonl (one JSON object per line) or .json (one array "
                         "of objects) files, or a folder on its own")
    if not path.is_file():
        raise FileNotFoundError(f"{name}: no such file (the course data is written by "
                                "`python -m sftlib.generate`)")
    raw = path.read_bytes()
    if not raw.strip():
        return [], [DataFormatError("no records: the file is empty", name)]
    if raw.startswith(b"\xef\xbb\xbf"):
        return [], [DataFormatError("the file starts with a byte-order mark; save it as UTF-8 without BOM",
                                    name, 1)]
    lines = raw.split(b"\n") if path.suffix == ".jsonl" else [raw]
    if lines[-1] == b"":
        lines.pop()  # the newline that ends the last line
    entries, problems = [], []
    for n, chunk in enumerate(lines, 1):
        try:
            text = chunk.decode("utf-8")
            if not text.strip():
                tail = " at the end of the file" if not b"".join(lines[n:]).strip() else ""
                raise DataFormatError(f"blank line{tail}; JSONL holds one JSON object on every line, so "
                                      "remove it")
            value = _parse(text)
        except UnicodeDecodeError as err:
            line = n + chunk[:err.start].count(b"\n")
            column = err.start - chunk.rfind(b"\n", 0, err.start)
            problems.append(DataFormatError(f"not valid UTF-8 (byte {chunk[err.start]:#04x} at byte "
                                            f"{column} of the line); re-save the file as UTF-8", name, line))
        except DataFormatError as err:
            if err.index is not None and path.suffix == ".json":  # in the array's records
                problems.append(DataFormatError(err.problem, name, None, err.field, index=err.index))
            else:
                problems.append(DataFormatError(err.problem, name, n + (err.line or 1) - 1, err.field))
        else:
            if path.suffix == ".jsonl":
                entries.append((name, "line", n, value))
            elif not isinstance(value, list) or not value:
                what = "an empty array" if value == [] else json_type(value)
                problems.append(DataFormatError(f"expected a JSON array of records, got {what} (for one "
                                                "record per line use a .jsonl file)", name))
            else:
                entries += [(name, "index", i, v) for i, v in enumerate(value)]
    return entries, problems


def _check_entries(entries: list[Entry], schema: str | None) -> list[DataFormatError]:
    """Check every record, one shape for all of them, and one JSON type per top-level key."""
    problems: list[DataFormatError] = []
    first: tuple[str, str, int, str] | None = None  # (path, kind, pos, shape) of the first record
    types: dict[str, tuple[str, str, str, int]] = {}
    for path, kind, pos, value in entries:
        found, shape_problems = record_problems(value, schema)
        if found and first is None:
            first = (path, kind, pos, found)
        elif found and schema is None and found != first[3]:  # type: ignore[index]
            fpath, fkind, fpos, fshape = first  # type: ignore[misc]
            key = sorted(SIGNATURES[found] & value.keys())[0]
            shape_problems = [(key, f"mixed shapes: this record is {found!r} but {fkind} {fpos} of {fpath} "
                               f"is {fshape!r}; one file holds one shape (convert with to_{fshape})")]
        problems += [_error(path, kind, pos, f, p) for f, p in shape_problems]
        for key, v in (value.items() if found and not shape_problems else ()):
            if v is not None and types.setdefault(key, (json_type(v), path, kind, pos))[0] != json_type(v):
                t, tpath, tkind, tpos = types[key]
                problems.append(_error(path, kind, pos, key, f"is {json_type(v)} here but {t} at {tkind} "
                                       f"{tpos} of {tpath}; a column holds one type"))
    return problems


def _raise_problems(problems: list[DataFormatError], errors: str, paths: list[Path]) -> None:
    """Raise one DataFormatError for the problems (the first, or with ``report`` all), if any.

    Problems are put in reading order first: by file (as in ``paths``), then line or array index.
    """
    if not problems:
        return
    rank = {str(p): i for i, p in reversed(list(enumerate(paths)))}
    problems.sort(key=lambda p: (rank.get(p.path or "", -1), p.line or p.index or 0))
    first = problems[0]
    if errors == "report" and len(problems) > 1:
        message = f"{len(problems)} problems:\n" + "\n".join(f"  {p.located()}" for p in problems)
    else:
        more = len(problems) - 1
        message = first.located() + (f" (and {more} more problem{'s' * (more > 1)}; load with "
                                     "errors='report' to list them all)" if more else "")
    raise DataFormatError(first.problem, first.path, first.line, first.field, index=first.index,
                          problems=problems, message=message)


def read_jsonl(path: PathLike, validate: bool = False, schema: str | None = None) -> list[dict]:
    """Read the records of a ``.jsonl`` (or ``.json`` array) file, strictly.

    Args:
        path: the file.
        validate: also check every record against the SFT shapes (one shape per file).
        schema: with ``validate``, the shape every record must have (None: detect it).

    Returns:
        The records as dicts, in file order. Blank lines, invalid JSON, non-UTF-8 bytes and lines
        that are not objects always raise DataFormatError; shapes are checked only with ``validate``.

    Example:
        >>> read_jsonl("data/triage/train.jsonl")[0]["label"]  # doctest: +SKIP
        'urgent'
    """
    if schema is not None and not validate:
        raise ValueError("read_jsonl: schema is checked only with validate=True; pass both")
    entries, problems = _read_entries(Path(path))
    problems += [_error(p, k, n, None, f"expected a JSON object (a record), got {json_type(v)}")
                 for p, k, n, v in entries if not isinstance(v, dict)]
    if validate and not problems:
        problems = _check_entries(entries, schema)
    _raise_problems(problems, "raise", [Path(path)])
    return [v for *_, v in entries]


def _non_string_key(value: Any, path: str) -> str | None:
    """The path of the first mapping key in ``value`` that is not a string, or None."""
    if isinstance(value, Mapping):
        for key, item in value.items():
            if not isinstance(key, str):
                return f"{path}.{key!r}" if path else repr(key)
            found = _non_string_key(item, f"{path}.{key}" if path else key)
            if found is not None:
                return found
    elif isinstance(value, (list, tuple)):
        for n, item in enumerate(value):
            found = _non_string_key(item, f"{path}[{n}]")
            if found is not None:
                return found
    return None


def write_jsonl(records: Iterable[Mapping], path: PathLike) -> Path:
    """Write records as UTF-8 JSONL: one object a line, non-ASCII kept as is, parent folders created.

    Args:
        records: dicts (or a ``datasets.Dataset``, which yields dicts).
        path: the ``.jsonl`` file to (over)write.

    Returns:
        The path written. Reading it with ``read_jsonl`` or ``load_sft_dataset`` gives the records back
        (tuples as lists).

    Raises:
        TypeError, ValueError: naming the record, for what the file would not give back: a key
            that is not a string, NaN or infinity, a value JSON cannot hold, or text with a lone
            surrogate.

    Example:
        >>> write_jsonl([{"prompt": "2+2=", "completion": "4"}], "/tmp/x/a.jsonl")  # doctest: +SKIP
    """
    if Path(path).suffix != ".jsonl":
        raise ValueError(f"write_jsonl: {path} should end in .jsonl (one JSON object per line)")
    lines = []
    for i, record in enumerate(records):
        if not isinstance(record, Mapping):
            raise TypeError(f"write_jsonl: record {i} is {type(record).__name__}, expected a dict")
        where = _non_string_key(record, "")
        if where is not None:
            raise TypeError(f"write_jsonl: record {i}: key {where} is not a string; JSON would "
                            "write it as one and read it back changed")
        try:
            line = json.dumps(dict(record), ensure_ascii=False, allow_nan=False) + "\n"
        except (TypeError, ValueError) as err:  # a value JSON cannot hold: NaN, a set, an object
            raise type(err)(f"write_jsonl: record {i}: {err}") from None
        try:
            line.encode("utf-8")
        except UnicodeEncodeError as err:
            raise ValueError(f"write_jsonl: record {i}: text with a lone surrogate "
                             f"({line[err.start:err.end]!r}), which UTF-8 cannot hold") from None
        lines.append(line)
    if not lines:
        raise ValueError(f"write_jsonl: no records to write to {path}; an empty file is not SFT data")
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("".join(lines), encoding="utf-8", newline="\n")
    return out


def _split_files(folder: Path) -> dict[str, list[Path]]:
    """``{split: [file]}`` for the train/validation/test ``.jsonl``/``.json`` files of a folder."""
    found = {}
    for split in SPLITS:
        files = [f for f in (folder / f"{split}.jsonl", folder / f"{split}.json") if f.is_file()]
        if len(files) > 1:
            raise ValueError(f"{folder}: both {split}.jsonl and {split}.json exist; keep one")
        if files:
            found[split] = files
    if not found:
        present = sorted(p.name for p in folder.iterdir())
        raise FileNotFoundError(f"{folder}: no train, validation or test .jsonl file (found: {present}); "
                                "pass a file, a list of files or a dict {split: path} instead")
    return found


def _as_paths(value: PathLike | list[PathLike]) -> list[Path]:
    return [Path(p) for p in value] if isinstance(value, (list, tuple)) else [Path(value)]


def load_sft_dataset(path_or_paths: PathLike | list[PathLike] | Mapping[str, Any],
                     schema: str | None = None, errors: str = "raise") -> Dataset | DatasetDict:
    """Load SFT records from JSONL into a ``datasets.Dataset`` or ``DatasetDict``, checking each record.

    Args:
        path_or_paths: a file or a list of files -> ``Dataset``; a dict ``{split: file or files}``
            or a folder with ``train``/``validation``/``test`` ``.jsonl`` files -> ``DatasetDict``
            (other files in the folder, e.g. ``data/qa/invented.jsonl``, are not loaded).
        schema: the shape every record must have; None detects it from the first record. Either
            way all records of one Dataset (split) must share one shape.
        errors: ``"raise"`` raises DataFormatError at the first problem (its ``.problems`` holds
            all); ``"report"`` raises one DataFormatError whose message lists every problem.

    Returns:
        The Dataset(s). Columns are the union of the records' keys, in first-seen order; a key a
        record lacks is None in its row (e.g. an absent alpaca ``input`` or message ``weight``),
        inside nested objects too. Arrow keeps one type per column, so a number column with any
        float holds floats (``1`` reads back as ``1.0``); values no one type can hold raise
        DataFormatError naming the column.

    Example:
        >>> load_sft_dataset("data/chat")["train"].column_names  # doctest: +SKIP
        ['id', 'messages']
    """
    if errors not in ("raise", "report"):
        raise ValueError(f"load_sft_dataset: errors={errors!r}; use 'raise' or 'report'")
    if isinstance(path_or_paths, Mapping):
        splits = {name: _as_paths(p) for name, p in path_or_paths.items()}
    elif not isinstance(path_or_paths, (list, tuple)) and Path(path_or_paths).is_dir():
        splits = _split_files(Path(path_or_paths))
    else:
        splits = {"": _as_paths(path_or_paths)}
    empty = [name for name, paths in splits.items() if not paths]
    if not splits or empty:
        where = f" for split {empty[0]!r}" if empty and empty[0] else ""
        raise ValueError(f"load_sft_dataset: no files given{where}; pass a file, a list of files, "
                         "a folder or a dict {split: file or files}")
    problems, records = [], {}
    for name, paths in splits.items():
        entries: list[Entry] = []
        for path in paths:
            file_entries, file_problems = _read_entries(path)
            entries += file_entries
            problems += file_problems
        problems += _check_entries(entries, schema)
        records[name] = [v for *_, v in entries]
    _raise_problems(problems, errors, [p for paths in splits.values() for p in paths])
    from datasets import DatasetDict

    if list(splits) == [""]:
        return _build(records[""], splits[""])
    return DatasetDict({name: _build(rows, splits[name]) for name, rows in records.items()})


def _build(rows: list[dict], paths: list[Path]) -> Dataset:
    """One Dataset from checked records; a column Arrow cannot store in one type (nested values
    of two types, an integer beyond 64 bits) raises DataFormatError naming the column."""
    import pyarrow as pa
    from datasets import Dataset

    columns = {k: [row.get(k) for row in rows] for k in dict.fromkeys(k for row in rows for k in row)}
    try:
        return Dataset.from_dict(columns)
    except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError) as err:
        for name, values in columns.items():
            try:
                pa.array(values)
            except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError) as column_err:
                raise DataFormatError(f"its values do not fit one Arrow type ({column_err}); a column, "
                                      "nested values included, holds one type",
                                      ", ".join(map(str, paths)), field=name) from None
        raise DataFormatError(f"the records do not fit an Arrow table: {err}",
                              ", ".join(map(str, paths))) from err
