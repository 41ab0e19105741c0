"""The vocabulary a template is written in: calls (an MCP tool or a REST request) and the checks after them.

A template is data: a list of `Step`s. Strings in arguments, paths, queries and expectations may
hold `{PLACEHOLDER}`s (tests/conformance/world.py, plus what earlier steps `save`d); `runner.py`
substitutes them and runs the steps in order against one daemon.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

# In a `where`, this key stands for the object's own identity (its id, slug or fleet UUID).
SELF = "@"


class _Any:
    """In a `where`, a value that only asks the key to be there (whatever its value)."""

    def __repr__(self) -> str:
        return "<any value>"


ANY = _Any()


@dataclass(frozen=True)
class Tool:
    """An MCP tool call through the official SDK client, with the argument names the real tool takes."""

    name: str
    args: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Rest:
    """A REST request exactly as the template writes it (path with its trailing slash, query, JSON body)."""

    method: str
    path: str
    query: Mapping[str, Any] = field(default_factory=dict)
    body: Mapping[str, Any] | None = None


@dataclass(frozen=True)
class Find:
    """Some object in a list matches `where` (or, with present=False, none does).

    The list is the step's own answer when `path` is None, else the answer of GET `path`?`query`;
    `key` picks a list inside an object answer (e.g. a summary's "active_workstreams").
    """

    where: Mapping[str, Any]
    path: str | None = None
    query: Mapping[str, Any] = field(default_factory=dict)
    key: str | None = None
    present: bool = True


@dataclass(frozen=True)
class Fields:
    """GET `path` (or the step's own answer when None) answers an object whose fields match `where`."""

    where: Mapping[str, Any]
    path: str | None = None


Check = Find | Fields


@dataclass(frozen=True)
class Step:
    """One template step: the call, the shape of its answer, what to remember, and its observable effects."""

    name: str
    call: Tool | Rest
    shape: str | None = None  # a key of shapes.SHAPES; a list answer is checked item by item
    save: Mapping[str, str] = field(default_factory=dict)  # placeholder -> key of the (object) answer
    checks: tuple[Check, ...] = ()


@dataclass(frozen=True)
class Template:
    """One agent template (one revision, one surface) as a list of steps."""

    name: str
    source: str  # the page and revision the steps are copied from
    surface: str  # "mcp" or "rest"
    steps: tuple[Step, ...]


def absent(**kwargs: Any) -> Find:
    """A Find that must match nothing."""
    return Find(present=False, **kwargs)
