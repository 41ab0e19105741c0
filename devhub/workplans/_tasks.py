"""Tasks: a `##`/`###` heading followed by a metadata block, and the body up to the next heading."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from devhub.model import PRIORITIES, Reference, TaskRecord, canonical_task_status
from devhub.workplans._blocks import KEY_LINE, Block, read_block
from devhub.workplans._frontmatter import UUID
from devhub.workplans._ids import SHORT_TASK, qualify
from devhub.workplans._outline import Heading, Outline
from devhub.workplans._problems import ProblemSink
from devhub.workplans._text import json_safe, scalar_text

_SEP = r"(?:[ \t]*[:\u2014\u2013][ \t]*|[ \t]+-{1,2}[ \t]+|[ \t]*$)"
_ANY_TASK_ID = rf"(?:(?:[A-Z][A-Z0-9]*-)+WP-\d+-{SHORT_TASK}|ADHOC-\d{{4}}-\d{{2}}-\d{{2}}-{SHORT_TASK}|{SHORT_TASK})"
# `Task: Title`, `Task T01: Title`, `T01 - Title`, `P1.1 — Title`, `CUST-WP-0054-T01 - Title`.
_TASK_HEADING = re.compile(
    rf"^(?:[Tt]ask(?:[ \t]+(?P<task_id>{_ANY_TASK_ID}))?{_SEP}|(?P<bare_id>{_ANY_TASK_ID}){_SEP})(?P<title>.*)$"
)
_BLOCK_FENCES = frozenset({"task", "yaml", "yml"})
_LIST_SPLIT = re.compile(r"[,\s]+")
_KNOWN_KEYS = frozenset({"id", "status", "priority", "state_hub_task_id", "assignee", "depends_on"})


@dataclass(frozen=True, slots=True)
class TaskSpan:
    """Where a kept task lives: heading line, the block's lines, and the end of its body (0-based)."""

    task_id: str
    heading: int
    block_start: int
    block_end: int
    body_end: int


@dataclass(slots=True)
class _Candidate:
    heading: Heading
    form: re.Match[str] | None
    block: Block | None
    block_start: int
    after: int  # first line after the block (and its closing fence)


def read_tasks(
    lines: list[str], outline: Outline, workplan_id: str, sink: ProblemSink
) -> tuple[list[TaskRecord], list[TaskSpan], list[Reference]]:
    """Every task of the file in order, where each lives, and its `depends_on` references."""
    candidates = [_candidate(lines, outline, h, sink) for h in outline.headings if h.level in (2, 3)]
    order = {h.index: position for position, h in enumerate(outline.headings)}
    task_headings = {c.heading.index for c in candidates if c.block is not None}
    tasks: list[TaskRecord] = []
    spans: list[TaskSpan] = []
    references: list[Reference] = []
    seen: dict[str, int] = {}
    for candidate in candidates:
        if candidate.block is None:
            continue
        body_end = _body_end(outline, order[candidate.heading.index], task_headings, len(lines))
        built = _build_task(lines, candidate, body_end, workplan_id, len(tasks), sink)
        if built is None:
            continue
        task, refs = built
        if task.id in seen:
            sink.add(
                "duplicate-task-id",
                task.line,
                f"task id {task.id} already used at line {seen[task.id]}; this task is skipped",
            )
            continue
        seen[task.id] = task.line
        tasks.append(task)
        references.extend(refs)
        spans.append(TaskSpan(task.id, candidate.heading.index, candidate.block_start, candidate.after, body_end))
    return tasks, spans, references


def _candidate(lines: list[str], outline: Outline, heading: Heading, sink: ProblemSink) -> _Candidate:
    form = _TASK_HEADING.match(heading.text)
    nothing = _Candidate(heading, form, None, heading.index + 1, heading.index + 1)
    index = heading.index + 1
    while index < len(lines) and not lines[index].strip():
        index += 1
    if index >= len(lines) or index in outline.heading_at:
        return _missing_block(nothing, sink)
    fence = outline.fences.get(index)
    if fence is not None:
        info, close = fence
        if info not in _BLOCK_FENCES:
            return _missing_block(nothing, sink)
        block = read_block(lines, index + 1, close)
        result = _Candidate(heading, form, block, index, min(close + 1, len(lines)))
        if block.error is not None:
            if info == "task" or form is not None:
                sink.add("yaml-error", block.error_line, f"task block is not valid YAML: {block.error}")
            return _Candidate(heading, form, None, index, index)
        if "id" in block.values or "status" in block.values:
            return result
        if info == "task":
            sink.add(
                "task-without-block", heading.index + 1, "the ```task block under this heading has no id or status"
            )
            return nothing
        return _missing_block(nothing, sink)
    if not KEY_LINE.match(lines[index]):
        return _missing_block(nothing, sink)
    end = _bare_block_end(lines, index)
    block = read_block(lines, index, end)
    if block.error is not None:
        if form is not None:
            sink.add("yaml-error", block.error_line, f"task metadata is not valid YAML: {block.error}")
        return _Candidate(heading, form, None, index, index)
    if "id" in block.values or "status" in block.values:
        return _Candidate(heading, form, block, index, end)
    return _missing_block(nothing, sink)


def _missing_block(candidate: _Candidate, sink: ProblemSink) -> _Candidate:
    if candidate.form is not None:
        sink.add(
            "task-without-block",
            candidate.heading.index + 1,
            f"heading {candidate.heading.text!r} looks like a task but has no metadata block (id/status) under it",
        )
    return candidate


def _bare_block_end(lines: list[str], start: int) -> int:
    """The end of consecutive `key: value` lines, with YAML continuation (indented, `- item`) lines."""
    index = start
    list_allowed = False
    while index < len(lines):
        line = lines[index]
        if not line.strip():
            break
        match = KEY_LINE.match(line)
        if match:
            list_allowed = not match.group(2)
        elif line[0] in " \t" or (list_allowed and line.startswith("- ")):
            pass
        else:
            break
        index += 1
    return index


def _body_end(outline: Outline, position: int, task_headings: set[int], total: int) -> int:
    heading = outline.headings[position]
    for later in outline.headings[position + 1 :]:
        if later.level <= heading.level or later.index in task_headings:
            return later.index
    return total


def _build_task(
    lines: list[str], candidate: _Candidate, body_end: int, workplan_id: str, position: int, sink: ProblemSink
) -> tuple[TaskRecord, list[Reference]] | None:
    assert candidate.block is not None
    values, key_lines = candidate.block.values, candidate.block.key_lines
    heading_line = candidate.heading.index + 1

    def line_of(key: str) -> int:
        return key_lines.get(key, heading_line)

    def text(key: str) -> str | None:
        try:
            return scalar_text(values.get(key)) or None
        except TypeError as exc:
            sink.add("invalid-field", line_of(key), f"task `{key}` must be a single value, not a {exc}")
            return None

    task_id = _task_id(text("id"), candidate, workplan_id, line_of("id"), sink)
    if task_id is None:
        return None
    status_raw = text("status")
    status = canonical_task_status(status_raw)
    if status_raw is None:
        sink.add("missing-status", heading_line, f"task {task_id} has no `status`")
    elif status is None:
        sink.add("unknown-status", line_of("status"), f"task {task_id}: unknown status {status_raw!r}")
    hub_id = text("state_hub_task_id")
    if hub_id is not None and not UUID.match(hub_id):
        sink.add("invalid-uuid", line_of("state_hub_task_id"), f"task {task_id}: `state_hub_task_id` is not a UUID")
    depends_on = _depends_on(values.get("depends_on"), workplan_id, line_of("depends_on"), sink)
    extra: dict[str, Any] = {}
    for key, value in values.items():
        if key not in _KNOWN_KEYS:
            try:
                extra[key] = json_safe(value)
            except ValueError as exc:
                sink.add("invalid-field", line_of(key), f"task `{key}` dropped: {exc}")
    form = candidate.form
    title = (form.group("title").strip() if form else "") or candidate.heading.text
    task = TaskRecord(
        id=task_id,
        workplan_id=workplan_id,
        title=title,
        line=heading_line,
        position=position,
        status=status,
        status_raw=status_raw,
        status_line=key_lines.get("status") if "status" in values else None,
        priority=_priority(text("priority"), task_id, line_of("priority"), sink),
        state_hub_task_id=hub_id,
        assignee=text("assignee"),
        depends_on=depends_on,
        body="\n".join(lines[candidate.after : body_end]).strip(),
        extra=extra,
    )
    refs = [Reference(task_id, dep, "depends_on", line_of("depends_on")) for dep in depends_on]
    return task, refs


def _task_id(raw_id: str | None, candidate: _Candidate, workplan_id: str, line: int, sink: ProblemSink) -> str | None:
    heading_line = candidate.heading.index + 1
    if raw_id is None:
        form = candidate.form
        from_heading = form and (form.group("task_id") or form.group("bare_id"))
        if not from_heading:
            sink.add("missing-task-id", heading_line, "task block has no `id` and the heading carries none")
            return None
        task_id = qualify(from_heading, workplan_id)
        sink.add("task-id-from-heading", heading_line, f"task block has no `id`; using {task_id} from the heading")
        return task_id
    task_id = qualify(raw_id, workplan_id)
    if task_id != raw_id:
        sink.add("short-task-id", line, f"short task id {raw_id!r} read as {task_id}")
    elif not task_id.startswith(workplan_id + "-"):
        sink.add("task-id-prefix-mismatch", line, f"task id {task_id} does not start with {workplan_id}-")
    return task_id


def _depends_on(value: Any, workplan_id: str, line: int, sink: ProblemSink) -> tuple[str, ...]:
    items: list[Any]
    if value is None:
        return ()
    if isinstance(value, str):
        items = _LIST_SPLIT.split(value)
    elif isinstance(value, list):
        items = value
    else:
        sink.add("invalid-field", line, "`depends_on` must be a list of task ids or a comma-separated string")
        return ()
    found: dict[str, None] = {}
    for item in items:
        try:
            text = scalar_text(item)
        except TypeError:
            sink.add("invalid-field", line, f"`depends_on` entry {item!r} is not a task id")
            continue
        if text:
            found[qualify(text, workplan_id)] = None
    return tuple(found)


def _priority(value: str | None, task_id: str, line: int, sink: ProblemSink) -> str | None:
    if value is None:
        return None
    if value.lower() in PRIORITIES:
        return value.lower()
    sink.add("unknown-priority", line, f"task {task_id}: unknown priority {value!r}")
    return value
