"""Bytes to lines (BOM, CRLF, bad UTF-8) and YAML values to JSON-safe values."""

from __future__ import annotations

import base64
import datetime as dt
import math
import re
from functools import lru_cache
from typing import Any

import yaml

from devhub.workplans._problems import ProblemSink

_BOM = b"\xef\xbb\xbf"
# Deep or self-referencing YAML (anchors) must not make a JSON conversion explode.
_MAX_DEPTH = 32
_MAX_NODES = 10_000


def decode_lines(data: bytes, sink: ProblemSink) -> list[str]:
    """The file's lines without line endings; a bad byte is reported and replaced, never fatal."""
    if data.startswith(_BOM):
        data = data[len(_BOM) :]
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        sink.add("undecodable", line, f"byte 0x{data[exc.start]:02x} is not valid UTF-8 (read on with U+FFFD)")
        text = data.decode("utf-8", errors="replace")
    if "\r" in text:
        text = text.replace("\r\n", "\n")
    return text.split("\n")


def yaml_problem(exc: BaseException, text: str, first_line: int, last_line: int) -> tuple[int, str]:
    """(file line, reason) for a YAML error in `text`, which starts at file line `first_line`."""

    def file_line(offset: int) -> int:
        return min(max(first_line + offset, first_line), max(last_line, first_line))

    problem_mark = getattr(exc, "problem_mark", None)
    context_mark = getattr(exc, "context_mark", None)
    if problem_mark is not None:
        line = file_line(problem_mark.line)
    elif context_mark is not None:
        line = file_line(context_mark.line)
    elif isinstance(exc, yaml.reader.ReaderError):
        line = file_line(text.count("\n", 0, max(exc.position, 0)))  # a position, not a mark
    else:
        line = first_line
    problem = getattr(exc, "problem", None)
    context = getattr(exc, "context", None)
    if problem:
        reason = f"{context}, {problem}" if context else str(problem)
    else:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    if problem_mark is not None and context_mark is not None and file_line(context_mark.line) != line:
        reason += f" (it starts at line {file_line(context_mark.line)})"
    return line, reason


def json_safe(value: Any) -> Any:
    """A JSON-serialisable copy of a YAML value: dates as ISO strings, sets and tuples as lists."""
    return _json_safe(value, 0, [0])


def _json_safe(value: Any, depth: int, nodes: list[int]) -> Any:
    nodes[0] += 1
    if depth > _MAX_DEPTH or nodes[0] > _MAX_NODES:
        raise ValueError("value nested too deeply or too large")
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    if isinstance(value, bytes):
        return base64.b64encode(value).decode("ascii")
    if isinstance(value, dict):
        return {_key_text(k): _json_safe(v, depth + 1, nodes) for k, v in value.items()}
    if isinstance(value, (set, frozenset)):
        return sorted((_json_safe(v, depth + 1, nodes) for v in value), key=repr)
    if isinstance(value, (list, tuple)):
        return [_json_safe(v, depth + 1, nodes) for v in value]
    return str(value)


def _key_text(key: Any) -> str:
    if isinstance(key, (dt.date, dt.datetime)):
        return key.isoformat()
    return key if isinstance(key, str) else str(key)


def scalar_text(value: Any) -> str | None:
    """A YAML scalar as text (dates ISO); None for null; raises TypeError for lists and mappings."""
    if value is None:
        return None
    if isinstance(value, str):
        return value.strip()
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return str(value)
    raise TypeError(type(value).__name__)


NULL_WORDS = frozenset({"", "~", "null", "Null", "NULL"})
_BOOL_WORDS = {
    **dict.fromkeys(("true", "True", "TRUE", "yes", "Yes", "YES", "on", "On", "ON"), True),
    **dict.fromkeys(("false", "False", "FALSE", "no", "No", "NO", "off", "Off", "OFF"), False),
}
_MAYBE_NUMBER = re.compile(r"^[-+.0-9]")


def resolve_plain(raw: str) -> Any:
    """A plain (unquoted) YAML scalar typed the way YAML would type it."""
    if raw in NULL_WORDS:
        return None
    if raw in _BOOL_WORDS:
        return _BOOL_WORDS[raw]
    if _MAYBE_NUMBER.match(raw):
        return _yaml_scalar(raw)
    return raw


@lru_cache(maxsize=4096)
def _yaml_scalar(raw: str) -> Any:
    # Numbers, dates and timestamps have many YAML spellings: let YAML decide. Only immutable
    # scalars are returned, so sharing them through the cache is safe.
    try:
        value = yaml.load(raw, Loader=yaml.CSafeLoader)
    except Exception:
        return raw
    return value if isinstance(value, (int, float, dt.date)) else raw
