"""Typed records shared by every layer, and the vocabulary of the workplan convention; no I/O."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

TASK_STATUSES: tuple[str, ...] = ("wait", "todo", "progress", "done", "cancel")
TASK_STATUS_ALIASES: Mapping[str, str] = {
    "blocked": "wait",
    "waiting": "wait",
    "in_progress": "progress",
    "in-progress": "progress",
    "doing": "progress",
    "cancelled": "cancel",
    "canceled": "cancel",
    "completed": "done",
    "complete": "done",
    "open": "todo",
    "pending": "todo",
}
WORKPLAN_STATUSES: tuple[str, ...] = ("proposed", "ready", "active", "blocked", "backlog", "finished", "archived")
WORKPLAN_STATUS_ALIASES: Mapping[str, str] = {"done": "finished", "completed": "finished"}
PRIORITIES: tuple[str, ...] = ("critical", "high", "medium", "low")

# A task is ready when its workplan is in one of these and its deps are settled.
READY_WORKPLAN_STATUSES: frozenset[str] = frozenset({"active", "ready"})
SETTLED_TASK_STATUSES: frozenset[str] = frozenset({"done", "cancel"})

Severity = Literal["error", "warning"]


def canonical_task_status(word: str | None) -> str | None:
    """The canonical task status for a raw word, or None when the word is unknown."""
    if word is None:
        return None
    key = word.strip().lower()
    if key in TASK_STATUSES:
        return key
    return TASK_STATUS_ALIASES.get(key)


def canonical_workplan_status(word: str | None) -> str | None:
    """The canonical workplan status for a raw word, or None when the word is unknown."""
    if word is None:
        return None
    key = word.strip().lower()
    if key in WORKPLAN_STATUSES:
        return key
    return WORKPLAN_STATUS_ALIASES.get(key)


@dataclass(frozen=True, slots=True)
class Problem:
    """Something wrong in one file, at one line, with a stable code and a reason."""

    path: str  # repo-relative, e.g. workplans/CUST-WP-0054-x.md
    line: int  # 1-based; 0 means the whole file
    severity: Severity
    code: str  # stable id: yaml-error, missing-frontmatter, missing-id, ...
    message: str
    repo: str | None = None

    @property
    def location(self) -> str:
        return f"{self.path}:{self.line}"


@dataclass(frozen=True, slots=True)
class Reference:
    """An edge from a workplan or task to another id, and how it was found."""

    source_id: str
    target_id: str
    kind: Literal["depends_on", "dependencies", "sequencing", "mention"]
    line: int


@dataclass(frozen=True, slots=True)
class TaskRecord:
    """One task as its file states it."""

    id: str  # fully qualified, e.g. CUST-WP-0054-T05
    workplan_id: str
    title: str
    line: int  # line of the heading
    position: int  # 0-based order within the file
    status: str | None  # canonical, None when missing or unknown
    status_raw: str | None
    status_line: int | None  # line of the `status:` entry, for writeback
    priority: str | None
    state_hub_task_id: str | None
    assignee: str | None
    depends_on: tuple[str, ...]  # qualified ids
    body: str
    extra: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class WorkplanRecord:
    """One workplan file as parsed: frontmatter, tasks and references."""

    id: str
    path: str  # repo-relative
    archived: bool
    type: str | None
    title: str | None
    domain: str | None
    repo: str | None
    owner: str | None
    topic_slug: str | None
    status: str | None  # canonical
    status_raw: str | None
    status_line: int | None  # line of `status:` in the frontmatter
    planning_priority: str | None
    planning_order: int | None
    created: str | None
    updated: str | None
    finished: str | None
    state_hub_workstream_id: str | None
    extra: Mapping[str, Any]
    body: str  # markdown after the frontmatter
    tasks: tuple[TaskRecord, ...]
    references: tuple[Reference, ...]


@dataclass(frozen=True, slots=True)
class ParsedFile:
    """The parser's whole answer for one file: a workplan (if one could be read) and its problems."""

    path: str
    workplan: WorkplanRecord | None
    problems: tuple[Problem, ...]
