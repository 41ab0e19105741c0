"""What a JSON value may hold before a write journals it: one check for REST bodies and MCP arguments alike.

Python's `json` accepts NaN, Infinity, 1e999 (as inf), lone surrogate escapes ("\\ud800"), integers of any
size and nesting up to the interpreter's recursion limit. None of those survives the journal (strict JSON in
UTF-8), an upstream State Hub, or a workplan file written back, so each is refused at the edge, by name.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from typing import Any

MAX_DEPTH = 32
INT_MIN, INT_MAX = -(2**63), 2**63 - 1  # what SQLite, Postgres and most JSON parsers hold exactly
MAX_REPORTED = 10  # a body with a thousand bad values names the first few, not all of them

_PLAIN_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_-]{0,63}")
_SHOWN_SEGMENTS = 4

Path = tuple[str | int, ...]


def field_name(path: Path) -> str:
    """`detail.items[2].name`; odd keys as their repr (escaped), long paths cut short with an ellipsis."""
    text = ""
    for segment in path[:_SHOWN_SEGMENTS]:
        if isinstance(segment, int):
            text += f"[{segment}]"
        elif _PLAIN_KEY.fullmatch(segment):
            text += f".{segment}" if text else segment
        else:
            text += f"[{segment!r}]"
    return (text or "body") + ("…" if len(path) > _SHOWN_SEGMENTS else "")


def text_problem(value: str) -> str | None:
    """Why `value` cannot be stored as UTF-8 text (a lone surrogate, a NUL), or None."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        return f"is not valid Unicode: it holds a lone surrogate {value[exc.start]!r}"
    if "\x00" in value:
        return "contains a NUL character (U+0000), which text files and most databases cannot hold"
    return None


def _scalar_problem(value: Any) -> str | None:
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, int):
        return None if INT_MIN <= value <= INT_MAX else "integer outside the signed 64-bit range"
    if isinstance(value, float):
        if math.isfinite(value):
            return None
        return "must be a finite number (NaN, Infinity and overflowing numbers such as 1e999 are not JSON)"
    if isinstance(value, str):
        return text_problem(value)
    return f"must be a JSON value, not {type(value).__name__}"


def value_problems(body: Mapping[str, Any]) -> dict[str, str]:
    """Each offending place in `body` (by field name) and why; empty when the whole body is storable JSON.

    Iterative, so a value nested far past the bound costs no recursion to refuse.
    """
    problems: dict[str, str] = {}
    pending: list[tuple[Path, Any, int]] = [((), body, 1)]
    while pending and len(problems) < MAX_REPORTED:
        path, value, depth = pending.pop()
        if isinstance(value, (dict, list)) and depth > MAX_DEPTH:
            problems.setdefault(field_name(path), f"nested deeper than {MAX_DEPTH} levels")
        elif isinstance(value, dict):
            children: list[tuple[Path, Any, int]] = []
            for key, child in value.items():
                why = text_problem(key) if isinstance(key, str) else f"must be a text key, not {type(key).__name__}"
                if why:
                    problems.setdefault(field_name(path), f"key {key!r} {why}")
                else:
                    children.append(((*path, key), child, depth + 1))
            pending.extend(reversed(children))  # so problems are named in the body's order
        elif isinstance(value, list):
            pending.extend(reversed([((*path, i), child, depth + 1) for i, child in enumerate(value)]))
        else:
            why = _scalar_problem(value)
            if why:
                problems.setdefault(field_name(path), why)
    return problems
