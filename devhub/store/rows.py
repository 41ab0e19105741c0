"""The rows one workplan file contributes to the read model: pure, so any process can make them.

`parse_file_rows` is what a build's parse workers run (see `store.parallel`); the writer runs
the same function itself for small syncs, so a parallel build and a serial one insert the
very same tuples in the very same order.
"""

from __future__ import annotations

import json
from typing import Any

from devhub.model import PRIORITIES, ParsedFile
from devhub.store.schema import TABLES

# The tables a workplan file has rows in (besides its `files` fingerprint row), in insert order.
ROW_TABLES: tuple[str, ...] = ("workplans", "tasks", "task_deps", "refs", "problems")
COLUMNS: dict[str, tuple[str, ...]] = {table: tuple(TABLES[table][0]) for table in ("files", *ROW_TABLES)}

# table -> rows, each a tuple of values in COLUMNS order (what executemany takes, cheap to pickle)
FileRows = dict[str, list[tuple[Any, ...]]]

# One file to parse: (repo slug, repo-relative path, its bytes).
ParseJob = tuple[str, str, bytes]


def parse_file_rows(jobs: list[ParseJob]) -> list[FileRows]:
    """Parse each file and return its rows, in the order given (a parse worker's whole task)."""
    from devhub.workplans import parse_workplan

    return [file_rows(repo, parse_workplan(data, rel)) for repo, rel, data in jobs]


def file_rows(repo: str, parsed: ParsedFile) -> FileRows:
    """The rows one parsed file contributes to each table, as tuples in column order."""
    return {
        table: [tuple(row.get(column) for column in COLUMNS[table]) for row in rows]
        for table, rows in _rows_for(repo, parsed).items()
    }


def workplan_key(repo: str, path: str) -> str:
    return f"{repo}:{path}"


def task_key(wp_key: str, task_id: str) -> str:
    return f"{wp_key}#{task_id}"


def _json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, ensure_ascii=False, default=str)


def _truthy(value: Any) -> int:
    if isinstance(value, str):
        return int(value.strip().lower() in {"true", "yes", "1", "on"})
    return int(bool(value))


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


def _rows_for(repo: str, parsed: ParsedFile) -> dict[str, list[dict[str, Any]]]:
    """The rows one parsed file contributes to each table, as column -> value."""
    wp_key = workplan_key(repo, parsed.path)
    rows: dict[str, list[dict[str, Any]]] = {"workplans": [], "tasks": [], "task_deps": [], "refs": [], "problems": []}
    seen_problems: set[tuple[int, str, str]] = set()
    for problem in parsed.problems:
        marker = (problem.line, problem.code, problem.message)
        if marker in seen_problems:
            continue
        seen_problems.add(marker)
        rows["problems"].append(
            {
                "repo": repo,
                "path": parsed.path,
                "line": problem.line,
                "severity": problem.severity,
                "code": problem.code,
                "message": problem.message,
            }
        )
    wp = parsed.workplan
    if wp is None:
        return rows
    rows["workplans"].append(
        {
            "key": wp_key,
            "id": wp.id,
            "repo": repo,
            "path": wp.path,
            "archived": int(wp.archived),
            "type": wp.type,
            "title": wp.title,
            "domain": wp.domain,
            "repo_field": wp.repo,
            "owner": wp.owner,
            "topic_slug": wp.topic_slug,
            "file_status": wp.status,
            "status_raw": wp.status_raw,
            "status_line": wp.status_line,
            "status": wp.status,
            "status_source": "file",
            "planning_priority": wp.planning_priority,
            "planning_order": wp.planning_order,
            "created": wp.created,
            "updated": wp.updated,
            "finished": wp.finished,
            "state_hub_workstream_id": wp.state_hub_workstream_id,
            "extra": _json(dict(wp.extra)),
            "body": wp.body,
            "intro": _intro(wp.body, wp.tasks[0].title if wp.tasks else None),
        }
    )
    seen_tasks: set[str] = set()
    for task in wp.tasks:
        if task.id in seen_tasks:
            continue  # the parser reported the duplicate; the first one wins
        seen_tasks.add(task.id)
        key = task_key(wp_key, task.id)
        extra = dict(task.extra)
        needs_human = _truthy(extra.get("needs_human", False))
        note = _text(extra.get("intervention_note"))
        reason = _text(extra.get("blocking_reason"))
        rows["tasks"].append(
            {
                "key": key,
                "id": task.id,
                "repo": repo,
                "path": wp.path,
                "workplan_key": wp_key,
                "workplan_id": wp.id,
                "title": task.title,
                "line": task.line,
                "position": task.position,
                "file_status": task.status,
                "status_raw": task.status_raw,
                "status_line": task.status_line,
                "priority": task.priority,
                "state_hub_task_id": task.state_hub_task_id,
                "assignee": task.assignee,
                "depends_on": _json(list(task.depends_on)),
                "file_needs_human": needs_human,
                "file_intervention_note": note,
                "file_blocking_reason": reason,
                "status": task.status,
                "status_source": "file",
                "needs_human": needs_human,
                "intervention_note": note,
                "blocking_reason": reason,
                "ready": 0,
                "priority_rank": PRIORITIES.index(task.priority) if task.priority in PRIORITIES else len(PRIORITIES),
                "body": task.body,
                "extra": _json(extra),
            }
        )
        rows["task_deps"].extend({"task_key": key, "depends_on": dep} for dep in dict.fromkeys(task.depends_on))
    seen_refs: set[tuple[str, str, str]] = set()
    for ref in wp.references:
        ref_marker = (ref.source_id, ref.target_id, ref.kind)
        if ref_marker in seen_refs:
            continue
        seen_refs.add(ref_marker)
        rows["refs"].append(
            {
                "repo": repo,
                "path": wp.path,
                "source_id": ref.source_id,
                "target_id": ref.target_id,
                "kind": ref.kind,
                "line": ref.line,
            }
        )
    return rows


def _intro(body: str, first_task_title: str | None) -> str:
    """The workplan's text before its first task heading (its tasks are indexed on their own)."""
    if not first_task_title:
        return body
    offset = 0
    for line in body.split("\n"):
        if line.startswith("#") and first_task_title in line:
            return body[:offset]
        offset += len(line) + 1
    return body
