"""Read a task metadata block (fenced or bare `key: value` lines) into a mapping with key lines.

Blocks of plain `key: value` lines, which is nearly all of them, take a fast path that types
scalars the way YAML does; anything else (lists, multi-line values, anchors) goes through YAML.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import yaml

from devhub.workplans._text import NULL_WORDS, resolve_plain, yaml_problem

KEY_LINE = re.compile(r"^([A-Za-z_][A-Za-z0-9_.-]*)[ \t]*:(?:[ \t]+(.*?))?[ \t]*$")
_TOP_KEY = re.compile(r"^([ \t]*)([A-Za-z_][A-Za-z0-9_.-]*)[ \t]*:")
_SIMPLE_FLOW_LIST = re.compile(r"^\[([^\[\]{}\"'#&*!|>%@`]*)\]$")
_FAST_SPECIAL = frozenset("[{&*!|>%@`")
# Known task fields are read as text, so YAML typing of their values does not matter.
TEXT_KEYS = frozenset({"id", "status", "priority", "state_hub_task_id", "assignee"})


@dataclass(slots=True)
class Block:
    """A block's values, the file line of each key, and a YAML failure if there was one."""

    values: dict[str, Any]
    key_lines: dict[str, int]
    error: str | None = None
    error_line: int = 0


class _Fallback(Exception):
    """The fast path met something only YAML can read."""


def read_block(lines: list[str], start: int, end: int) -> Block:
    """The block in lines[start:end] (0-based indices); file lines in the result are 1-based."""
    return read_simple(lines, start, end) or _read_yaml(lines, start, end)


def read_simple(lines: list[str], start: int, end: int) -> Block | None:
    """The mapping in lines[start:end] when every line is a plain `key: value`, else None."""
    try:
        return _read_fast(lines, start, end)
    except _Fallback:
        return None


def _read_fast(lines: list[str], start: int, end: int) -> Block:
    values: dict[str, Any] = {}
    key_lines: dict[str, int] = {}
    for index in range(start, end):
        line = lines[index]
        match = KEY_LINE.match(line)
        if match is None:
            if not line.strip() or line.lstrip().startswith("#"):
                continue
            raise _Fallback
        key, raw = match.group(1), match.group(2)
        values[key] = _fast_value(raw or "", key in TEXT_KEYS)
        key_lines[key] = index + 1
    return Block(values, key_lines)


def _fast_value(raw: str, as_text: bool) -> Any:
    if not raw:
        return None
    first = raw[0]
    if first == '"':
        if len(raw) >= 2 and raw[-1] == '"' and '"' not in raw[1:-1] and "\\" not in raw:
            return raw[1:-1]
        raise _Fallback
    if first == "'":
        inner = raw[1:-1]
        if len(raw) >= 2 and raw[-1] == "'" and "'" not in inner.replace("''", ""):
            return inner.replace("''", "'")
        raise _Fallback
    if first in _FAST_SPECIAL:
        flow = _SIMPLE_FLOW_LIST.match(raw)
        if flow is None:
            raise _Fallback
        items = [item.strip() for item in flow.group(1).split(",")]
        return [resolve_plain(item) for item in items if item]
    if first == "#":
        return None
    for marker in (" #", "\t#"):
        cut = raw.find(marker)
        if cut >= 0:
            raw = raw[:cut].rstrip()
    if ": " in raw or raw.endswith(":") or (first in "-?," and (len(raw) == 1 or raw[1] in " \t")):
        raise _Fallback
    if as_text:
        return None if raw in NULL_WORDS else raw
    return resolve_plain(raw)


def _read_yaml(lines: list[str], start: int, end: int) -> Block:
    text = "\n".join(lines[start:end])
    try:
        loaded = yaml.load(text, Loader=yaml.CSafeLoader)
    except Exception as exc:  # any YAML failure (or a recursion blow-up) is a problem, not a crash
        line, reason = yaml_problem(exc, text, start + 1, max(end, start + 1))
        return Block({}, {}, reason, line)
    if not isinstance(loaded, dict):
        return Block({}, {})
    values = {key if isinstance(key, str) else str(key): value for key, value in loaded.items()}
    return Block(values, top_key_lines(lines, start, end, values))


def top_key_lines(lines: list[str], start: int, end: int, values: dict[str, Any]) -> dict[str, int]:
    """The 1-based file line of each top-level key of a YAML mapping in lines[start:end]."""
    key_lines: dict[str, int] = {}
    indent: str | None = None
    for index in range(start, end):
        match = _TOP_KEY.match(lines[index])
        if match is None:
            continue
        if indent is None:
            indent = match.group(1)
        if match.group(1) == indent and match.group(2) in values:
            key_lines[match.group(2)] = index + 1  # the last one wins, as in YAML
    return key_lines
