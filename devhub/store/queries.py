"""Read-only queries over workplans and tasks; every adapter (REST, MCP, CLI, dashboard) calls these.

Each function returns plain JSON-ready dicts: the shapes the REST API serves.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from typing import Any

from devhub.errors import Ambiguous, BadRequest, NotFound
from devhub.model import PRIORITIES
from devhub.records import TaskView, WorkplanView
from devhub.store.reader import Reader

READY_SQL = "t.ready = 1"  # materialised by the writer (store.ready)

PRIORITY_ORDER_SQL = "t.priority_rank"

# The one order of workplans ("active work") every list uses — GET /workplans/, /orient, the offline
# brief: the explicit planning_order first (unordered last), then planning_priority (critical to low,
# none last), then id; repo and path only break ties between repos. docs/decisions.md says why.
WORKPLAN_ORDER_SQL = (
    "w.planning_order IS NULL, w.planning_order, CASE w.planning_priority "
    + " ".join(f"WHEN '{p}' THEN {i}" for i, p in enumerate(PRIORITIES))
    + f" ELSE {len(PRIORITIES)} END, w.id, w.repo, w.path"
)

TASK_COLUMNS = """t.key, t.id, t.repo, t.path, t.workplan_id, t.title, t.line, t.position, t.status,
    t.status_source, t.file_status, t.status_raw, t.priority, t.state_hub_task_id, t.assignee, t.depends_on,
    t.needs_human, t.intervention_note, t.blocking_reason, t.extra, w.status AS workplan_status,
    t.ready AS ready, w.state_hub_workstream_id AS workstream_uuid"""

WORKPLAN_COLUMNS = """w.key, w.id, w.repo, w.path, w.archived, w.type, w.title, w.domain, w.owner, w.topic_slug,
    w.status, w.status_source, w.file_status, w.status_raw, w.planning_priority, w.planning_order, w.created,
    w.updated, w.finished, w.state_hub_workstream_id, w.extra,
    (SELECT COUNT(*) FROM tasks c WHERE c.workplan_key = w.key) AS tasks_total,
    (SELECT COUNT(*) FROM tasks c WHERE c.workplan_key = w.key AND c.status = 'done') AS tasks_done"""


def task_dict(row: sqlite3.Row, *, with_body: bool = False) -> TaskView:
    """One task row as the API shape."""
    task: TaskView = {
        "id": row["id"],
        "state_hub_task_id": row["state_hub_task_id"],
        "workplan_id": row["workplan_id"],
        # The real TaskRead's workstream: the workplan's fleet UUID when known, else its file id (as decisions,
        # progress events and created tasks answer it; docs/compat.md).
        "workstream_id": row["workstream_uuid"] or row["workplan_id"],
        "repo": row["repo"],
        "title": row["title"],
        "status": row["status"],
        "status_source": row["status_source"],
        "file_status": row["file_status"],
        "status_raw": row["status_raw"],
        "priority": row["priority"],
        "assignee": row["assignee"],
        "depends_on": _json_list(row["depends_on"]),
        "needs_human": bool(row["needs_human"]),
        "intervention_note": row["intervention_note"],
        "blocking_reason": row["blocking_reason"],
        "ready": bool(row["ready"]),
        "path": row["path"],
        "line": row["line"],
        "extra": _json_object(row["extra"]),
    }
    if with_body:
        task["body"] = row["body"]
    return task


def _json_list(raw: str | None) -> list[Any]:
    return [] if not raw or raw == "[]" else list(json.loads(raw))


def _json_object(raw: str | None) -> dict[str, Any]:
    return {} if not raw or raw == "{}" else dict(json.loads(raw))


async def topic_fleet_ids(reader: Reader) -> dict[str, str]:
    """Topic slug -> the fleet UUID its workplans record (`topic_id` in frontmatter; the most common one, ties
    alphabetically, as GET /topics/{slug} answers in store/catalog.py). One query, not one per workplan."""
    rows = await reader.all(
        "SELECT topic_slug, lower(json_extract(extra, '$.topic_id')) AS uuid, COUNT(*) AS n FROM workplans"
        " WHERE topic_slug IS NOT NULL AND uuid IS NOT NULL GROUP BY topic_slug, uuid ORDER BY topic_slug, n DESC, uuid"
    )
    found: dict[str, str] = {}
    for row in rows:
        found.setdefault(row["topic_slug"], row["uuid"])
    return found


def workplan_topic_id(row: sqlite3.Row, topic_ids: Mapping[str, str]) -> str | None:
    """A workplan's `topic_id` as the real hub answers it: its topic's fleet UUID when recorded, else the slug."""
    own = json.loads(row["extra"] or "{}").get("topic_id")
    slug = row["topic_slug"]
    recorded = topic_ids.get(slug) if slug else None
    return recorded or (str(own).lower() if isinstance(own, str) and own else None) or slug


def workplan_dict(row: sqlite3.Row, topic_ids: Mapping[str, str] | None = None) -> WorkplanView:
    """One workplan row as the API shape (without its tasks); `topic_ids` from `topic_fleet_ids`."""
    return {
        "id": row["id"],
        "state_hub_workstream_id": row["state_hub_workstream_id"],
        "title": row["title"],
        "type": row["type"],
        "domain": row["domain"],
        "repo": row["repo"],
        "owner": row["owner"],
        "topic_slug": row["topic_slug"],
        "topic_id": workplan_topic_id(row, topic_ids or {}),
        "status": row["status"],
        "status_source": row["status_source"],
        "file_status": row["file_status"],
        "status_raw": row["status_raw"],
        "planning_priority": row["planning_priority"],
        "planning_order": row["planning_order"],
        "created": row["created"],
        "updated": row["updated"],
        "finished": row["finished"],
        "path": row["path"],
        "archived": bool(row["archived"]),
        "tasks_total": row["tasks_total"],
        "tasks_done": row["tasks_done"],
        "extra": json.loads(row["extra"] or "{}"),
    }


def _choose(rows: list[sqlite3.Row], kind: str, ident: str, repo: str | None) -> sqlite3.Row:
    if repo is not None:
        rows = [row for row in rows if row["repo"] == repo]
    if not rows:
        where = f" in repo {repo!r}" if repo else ""
        raise NotFound(f"no {kind} with id {ident!r}{where}")
    if len(rows) > 1:
        raise Ambiguous(
            f"{kind} id {ident!r} exists in {len(rows)} repos; add ?repo= to choose",
            [{"repo": row["repo"], "path": row["path"], "id": row["id"]} for row in rows],
        )
    return rows[0]


async def resolve_workplan_row(reader: Reader, ident: str, repo: str | None = None) -> sqlite3.Row:
    """The workplan for a file id or State Hub UUID; NotFound, or Ambiguous across repos."""
    rows = await reader.all(
        f"SELECT {WORKPLAN_COLUMNS}, w.body FROM workplans w WHERE w.id = ? OR w.state_hub_workstream_id = ?"
        " ORDER BY w.repo, w.path",
        (ident, ident.lower()),
    )
    return _choose(rows, "workplan", ident, repo)


async def resolve_task_row(reader: Reader, ident: str, repo: str | None = None) -> sqlite3.Row:
    """The task for a file id or State Hub UUID; NotFound, or Ambiguous across repos."""
    rows = await reader.all(
        f"SELECT {TASK_COLUMNS}, t.body, t.file_needs_human, t.file_intervention_note, t.file_blocking_reason"
        " FROM tasks t JOIN workplans w ON w.key = t.workplan_key"
        " WHERE t.id = ? OR t.state_hub_task_id = ? ORDER BY t.repo, t.path",
        (ident, ident.lower()),
    )
    return _choose(rows, "task", ident, repo)


async def list_workplans(
    reader: Reader,
    *,
    status: str | None = None,
    domain: str | None = None,
    repo: str | None = None,
    topic_slug: str | None = None,
    q: str | None = None,
    statuses: tuple[str, ...] = (),
    limit: int | None = None,
) -> list[WorkplanView]:
    """Workplans matching every given filter, in the one workplan order (WORKPLAN_ORDER_SQL)."""
    where: list[str] = []
    params: list[Any] = []
    for column, value in (("status", status), ("domain", domain), ("repo", repo), ("topic_slug", topic_slug)):
        if value is not None:
            where.append(f"w.{column} = ?")
            params.append(value)
    if statuses:
        where.append(f"w.status IN ({', '.join('?' for _ in statuses)})")
        params.extend(statuses)
    if q:
        where.append("w.rowid IN (SELECT rowid FROM workplans_fts WHERE workplans_fts MATCH ?)")
        params.append(fts_query(q))
    sql = f"SELECT {WORKPLAN_COLUMNS} FROM workplans w"
    if where:
        sql += " WHERE " + " AND ".join(where)
    sql += f" ORDER BY {WORKPLAN_ORDER_SQL}"
    if limit is not None:
        sql += " LIMIT ?"
        params.append(limit)
    topic_ids = await topic_fleet_ids(reader)
    if not q:
        return [workplan_dict(row, topic_ids) for row in await reader.all(sql, params)]
    async with search_budget(reader):
        rows = await reader.all(sql, params)
    return [workplan_dict(row, topic_ids) for row in rows]


async def workplan_index(reader: Reader) -> list[dict[str, Any]]:
    """A compact index of every workplan (id, title, status, repo, counts)."""
    rows = await reader.all(f"SELECT {WORKPLAN_COLUMNS} FROM workplans w ORDER BY w.id, w.repo")
    return [
        {
            "id": row["id"],
            "title": row["title"],
            "status": row["status"],
            "repo": row["repo"],
            "domain": row["domain"],
            "path": row["path"],
            "state_hub_workstream_id": row["state_hub_workstream_id"],
            "tasks_total": row["tasks_total"],
            "tasks_done": row["tasks_done"],
        }
        for row in rows
    ]


async def get_workplan(reader: Reader, ident: str, repo: str | None = None) -> WorkplanView:
    """One workplan with its tasks (file order) and its references in and out."""
    row = await resolve_workplan_row(reader, ident, repo)
    workplan = workplan_dict(row, await topic_fleet_ids(reader))
    workplan["body"] = row["body"]
    tasks = await reader.all(
        f"SELECT {TASK_COLUMNS}, t.body FROM tasks t JOIN workplans w ON w.key = t.workplan_key"
        " WHERE t.workplan_key = ? ORDER BY t.position",
        (row["key"],),
    )
    workplan["tasks"] = [task_dict(task, with_body=True) for task in tasks]
    refs = await reader.all(
        "SELECT source_id, target_id, kind, line FROM refs WHERE repo = ? AND path = ? ORDER BY line, target_id",
        (row["repo"], row["path"]),
    )
    workplan["references"] = [dict(ref) for ref in refs]
    incoming = await reader.all(
        "SELECT DISTINCT r.repo, r.path, r.source_id, r.kind FROM refs r"
        " WHERE (r.target_id = ? OR r.target_id LIKE ?) AND NOT (r.repo = ? AND r.path = ?)"
        " ORDER BY r.repo, r.path, r.source_id",
        (row["id"], row["id"] + "-%", row["repo"], row["path"]),
    )
    workplan["referenced_by"] = [dict(ref) for ref in incoming]
    return workplan


async def workplan_markdown(reader: Reader, ident: str, repo: str | None = None) -> tuple[str, str]:
    """(repo-root path, repo-relative path) of a workplan's file, for serving its markdown."""
    row = await resolve_workplan_row(reader, ident, repo)
    repo_row = await reader.one("SELECT path FROM repos WHERE slug = ?", (row["repo"],))
    if repo_row is None:
        raise NotFound(f"repo {row['repo']!r} of workplan {ident!r} is not registered")
    return repo_row["path"], row["path"]


def _task_filters(
    *,
    status: str | None = None,
    workplan_id: str | None = None,
    repo: str | None = None,
    domain: str | None = None,
    needs_human: bool | None = None,
    ready: bool | None = None,
    priority: str | None = None,
) -> tuple[str, list[Any]]:
    """The WHERE clause (possibly empty) and its parameters for the task filters."""
    where: list[str] = []
    params: list[Any] = []
    if status is not None:
        where.append("t.status = ?")
        params.append(status)
    if workplan_id is not None:
        where.append("(t.workplan_id = ? OR w.state_hub_workstream_id = ?)")
        params.extend([workplan_id, workplan_id.lower()])
    for column, value in (("t.repo", repo), ("w.domain", domain), ("t.priority", priority)):
        if value is not None:
            where.append(f"{column} = ?")
            params.append(value)
    if needs_human is not None:
        # A literal, not a parameter: only then can SQLite use the partial index on flagged tasks.
        where.append("t.needs_human = 1" if needs_human else "t.needs_human = 0")
    if ready is not None:
        where.append(READY_SQL if ready else "t.ready = 0")
    return (" WHERE " + " AND ".join(where)) if where else "", params


async def list_tasks(
    reader: Reader,
    *,
    status: str | None = None,
    workplan_id: str | None = None,
    repo: str | None = None,
    domain: str | None = None,
    needs_human: bool | None = None,
    ready: bool | None = None,
    priority: str | None = None,
    limit: int | None = None,
) -> list[TaskView]:
    """Tasks matching every given filter; ready tasks come by priority, the rest in file order."""
    where, params = _task_filters(
        status=status,
        workplan_id=workplan_id,
        repo=repo,
        domain=domain,
        needs_human=needs_human,
        ready=ready,
        priority=priority,
    )
    order = f"{PRIORITY_ORDER_SQL}, " if ready else ""
    sql = f"SELECT {TASK_COLUMNS} FROM tasks t JOIN workplans w ON w.key = t.workplan_key{where}"
    sql += f" ORDER BY {order}t.workplan_id, t.repo, t.position"
    if limit is not None:
        sql += " LIMIT ?"
        params.append(limit)
    return [task_dict(row) for row in await reader.all(sql, params)]


async def count_tasks(reader: Reader, **filters: Any) -> int:
    """How many tasks match the same filters as `list_tasks`."""
    where, params = _task_filters(**filters)
    join = " JOIN workplans w ON w.key = t.workplan_key" if "w." in where else ""
    row = await reader.one(f"SELECT COUNT(*) AS n FROM tasks t{join}{where}", params)
    return int(row["n"]) if row else 0


async def get_task(reader: Reader, ident: str, repo: str | None = None) -> TaskView:
    """One task with its body, where each value came from, its local write history and conflicts."""
    row = await resolve_task_row(reader, ident, repo)
    task = task_dict(row, with_body=True)
    target = f"task:{row['repo']}:{row['id']}"
    writes = await reader.all(
        "SELECT seq, field, value, observed_file, observed, agent, session_id, note, ts, state"
        " FROM local_writes WHERE target_key = ? ORDER BY seq",
        (target,),
    )
    history = [
        {
            "seq": w["seq"],
            "field": w["field"],
            "value": json.loads(w["value"]),
            "file_value_then": json.loads(w["observed_file"]),
            "previous": json.loads(w["observed"]),
            "agent": w["agent"],
            "session_id": w["session_id"],
            "note": w["note"],
            "ts": w["ts"],
            "state": w["state"],
        }
        for w in writes
    ]
    latest: dict[str, dict[str, Any]] = {}
    for entry in history:
        latest[entry["field"]] = entry
    task["sources"] = {
        name: ("local" if name in latest and latest[name]["state"] == "pending" else "file")
        for name in ("status", "needs_human", "intervention_note", "blocking_reason")
    }
    task["pending_local"] = {name: e["value"] for name, e in latest.items() if e["state"] == "pending"}
    file_values: Mapping[str, Any] = task
    task["conflicts"] = [
        {"field": name, "local": e["value"], "file": file_values[name]}
        for name, e in latest.items()
        if e["state"] == "conflict"
    ]
    task["history"] = history
    return task


# Bounds on free-text search (REST /search and /workplans?q=, MCP, dashboard, CLI): an FTS5 query's cost
# grows with the square of its prefix terms, and any web page can send a GET.
MAX_QUERY_CHARS = 256
MAX_QUERY_TERMS = 16


def fts_query(text: str) -> str:
    """A safe FTS5 query from free text: each word a prefix-matched quoted term, all required.

    BadRequest (naming `q`) past MAX_QUERY_CHARS characters or MAX_QUERY_TERMS words.
    """
    if len(text) > MAX_QUERY_CHARS:
        raise BadRequest(
            f"query parameter q: {len(text)} characters; a search takes at most {MAX_QUERY_CHARS}",
            {"q": f"at most {MAX_QUERY_CHARS} characters"},
        )
    words = [w for w in "".join(c if c.isalnum() else " " for c in text).split() if w]
    if len(words) > MAX_QUERY_TERMS:
        raise BadRequest(
            f"query parameter q: {len(words)} words; a search takes at most {MAX_QUERY_TERMS}",
            {"q": f"at most {MAX_QUERY_TERMS} words"},
        )
    return " ".join(f'"{w}"*' for w in words) or '""'


@asynccontextmanager
async def search_budget(reader: Reader) -> AsyncIterator[None]:
    """A search that outlasts the reader's time budget is stopped and refused, so it cannot hold the connection."""
    try:
        async with reader.time_budget():
            yield
    except sqlite3.OperationalError as exc:
        if "interrupted" not in str(exc):
            raise
        raise BadRequest(
            f"query parameter q: too expensive: the search was stopped at its {reader.budget_seconds:g} s budget; "
            "use fewer or longer words",
            {"q": "too expensive: use fewer or longer words"},
        ) from None
