"""Tasks and workplans created through the hub (not yet in any file): recorded from the journal, served as rows.

Files are the truth, so a created item lives in the `created` table (derived from its journal
envelope like every write) and is *materialised* as an ordinary `tasks` / `workplans` row
while no file holds its id: every read (lists, details, search, ready) sees it at once. When
writeback puts it into a file, the file's row (same id, same key) takes its place and the
created row is no longer materialised — there is never a duplicate. Every state is a function
of the files and the journal, so a rebuild gives the same rows.
"""

from __future__ import annotations

import json
import re
import sqlite3
from collections.abc import Mapping
from typing import Any

from devhub.model import PRIORITIES
from devhub.store.reader import Reader
from devhub.store.rows import task_key, workplan_key

TASK_NUMBER = re.compile(r"-T(\d+)$")
WORKPLAN_ID = re.compile(r"^([A-Z][A-Z0-9]*)-WP-(\d+)$")


def _dump(value: Any) -> str:
    return json.dumps(value, sort_keys=True, ensure_ascii=False)


def workplan_path(workplan_id: str, slug: str) -> str:
    """Where a created workplan's file goes: workplans/<ID>-<slug>.md (the convention)."""
    return f"workplans/{workplan_id}-{slug}.md"


CREATE_KINDS = frozenset({"task.create", "workplan.create"})


def record_created(conn: sqlite3.Connection, envelope: Mapping[str, Any]) -> None:
    """Remember one task.create / workplan.create envelope (`materialise` then gives it a row)."""
    record = envelope.get("record") or {}
    kind = "task" if envelope.get("kind") == "task.create" else "workplan"
    conn.execute(
        "INSERT OR REPLACE INTO created(kind, repo, id, seq, workplan_id, path, fields, created_at)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        (
            kind,
            record["repo"],
            record["id"],
            envelope["seq"],
            record.get("workplan_id"),
            record.get("path"),
            _dump(record.get("fields") or {}),
            record.get("created_at") or envelope.get("ts"),
        ),
    )


def materialise(conn: sqlite3.Connection) -> tuple[set[str], set[str]]:
    """Give every created item no file holds a row (workplans first, then tasks).

    Returns the workplan keys and task ids it added, for the caller's ready refresh.

    Runs after every file sync and every create: a file sync of a workplan drops all its rows,
    the created tasks among them, and this puts back those the file still does not hold.
    """
    workplan_keys: set[str] = set()
    for row in conn.execute(
        "SELECT c.* FROM created c WHERE c.kind = 'workplan'"
        " AND NOT EXISTS (SELECT 1 FROM workplans w WHERE w.repo = c.repo AND w.id = c.id) ORDER BY c.seq"
    ).fetchall():
        workplan_keys.add(_insert_workplan(conn, row))
    added: set[str] = set()
    for row in conn.execute(
        "SELECT c.* FROM created c WHERE c.kind = 'task'"
        " AND NOT EXISTS (SELECT 1 FROM tasks t WHERE t.repo = c.repo AND t.id = c.id) ORDER BY c.seq"
    ).fetchall():
        if _insert_task(conn, row):
            added.add(row["id"])
    return workplan_keys, added


def _insert_workplan(conn: sqlite3.Connection, row: sqlite3.Row) -> str:
    fields = json.loads(row["fields"])
    key = workplan_key(row["repo"], row["path"])
    extra = {name: fields[name] for name in ("description", "due_date", "topic_id", "slug") if fields.get(name)}
    extra["created_locally"] = True
    conn.execute(
        "INSERT OR REPLACE INTO workplans(key, id, repo, path, archived, type, title, domain, repo_field, owner,"
        " topic_slug, file_status, status_raw, status_line, status, status_source, planning_priority,"
        " planning_order, created, updated, finished, state_hub_workstream_id, extra, body, intro)"
        " VALUES (?, ?, ?, ?, 0, 'workplan', ?, ?, ?, ?, ?, ?, ?, NULL, ?, 'local', ?, ?, ?, ?, NULL, NULL, ?, ?, ?)",
        (
            key,
            row["id"],
            row["repo"],
            row["path"],
            fields.get("title"),
            fields.get("domain"),
            row["repo"],
            fields.get("owner"),
            fields.get("topic_slug"),
            fields.get("status"),
            fields.get("status"),
            fields.get("status"),
            fields.get("planning_priority"),
            fields.get("planning_order"),
            fields.get("created"),
            fields.get("created"),
            _dump(extra),
            fields.get("description") or "",
            fields.get("description") or "",
        ),
    )
    return key


def _insert_task(conn: sqlite3.Connection, row: sqlite3.Row) -> bool:
    parent = conn.execute(
        "SELECT key, path FROM workplans WHERE repo = ? AND id = ? ORDER BY path LIMIT 1",
        (row["repo"], row["workplan_id"]),
    ).fetchone()
    if parent is None:
        return False  # its workplan file went away: the task waits for it to come back
    fields = json.loads(row["fields"])
    position = conn.execute(
        "SELECT COALESCE(MAX(position), -1) + 1 FROM tasks WHERE workplan_key = ?", (parent["key"],)
    ).fetchone()[0]
    priority = fields.get("priority")
    extra = {name: fields[name] for name in ("description", "due_date") if fields.get(name)}
    extra["created_locally"] = True
    conn.execute(
        "INSERT OR REPLACE INTO tasks(key, id, repo, path, workplan_key, workplan_id, title, line, position,"
        " file_status, status_raw, status_line, priority, state_hub_task_id, assignee, depends_on,"
        " file_needs_human, file_intervention_note, file_blocking_reason, status, status_source, needs_human,"
        " intervention_note, blocking_reason, ready, priority_rank, body, extra)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, NULL, ?, ?, ?, NULL, ?, NULL, ?, '[]', 0, NULL, NULL, ?, 'local', 0, NULL,"
        " NULL, 0, ?, ?, ?)",
        (
            task_key(parent["key"], row["id"]),
            row["id"],
            row["repo"],
            parent["path"],
            parent["key"],
            row["workplan_id"],
            fields.get("title"),
            position,
            fields.get("status"),
            fields.get("status"),
            priority,
            fields.get("assignee"),
            fields.get("status"),
            PRIORITIES.index(priority) if priority in PRIORITIES else len(PRIORITIES),
            fields.get("description") or "",
            _dump(extra),
        ),
    )
    return True


# -- id assignment (readers) -------------------------------------------------------------------------


async def next_task_id(reader: Reader, repo: str, workplan_id: str) -> str:
    """The next free `<WP-ID>-Tnn` of a workplan: above every task number its file or earlier creates used."""
    rows = await reader.all(
        "SELECT id FROM tasks WHERE repo = ? AND workplan_id = ?"
        " UNION SELECT id FROM created WHERE kind = 'task' AND repo = ? AND workplan_id = ?",
        (repo, workplan_id, repo, workplan_id),
    )
    numbers = [int(match.group(1)) for row in rows if (match := TASK_NUMBER.search(row["id"]))]
    return f"{workplan_id}-T{max(numbers, default=0) + 1:02d}"


async def workplan_prefixes(reader: Reader, repo: str) -> list[str]:
    """The `<PREFIX>` of the repo's `<PREFIX>-WP-nnnn` ids, most used first."""
    rows = await reader.all(
        "SELECT id FROM workplans WHERE repo = ? UNION SELECT id FROM created WHERE kind = 'workplan' AND repo = ?",
        (repo, repo),
    )
    counts: dict[str, int] = {}
    for row in rows:
        match = WORKPLAN_ID.match(row["id"])
        if match:
            counts[match.group(1)] = counts.get(match.group(1), 0) + 1
    return sorted(counts, key=lambda prefix: (-counts[prefix], prefix))


async def next_workplan_id(reader: Reader, prefix: str) -> str:
    """The next free `<PREFIX>-WP-nnnn`, above every id with that prefix in any repo (ids are fleet-wide)."""
    pattern = f"{prefix}-WP-%"
    rows = await reader.all(
        "SELECT id FROM workplans WHERE id LIKE ? UNION SELECT id FROM created WHERE kind = 'workplan' AND id LIKE ?",
        (pattern, pattern),
    )
    numbers = [
        int(match.group(2)) for row in rows if (match := WORKPLAN_ID.match(row["id"])) and match.group(1) == prefix
    ]
    return f"{prefix}-WP-{max(numbers, default=0) + 1:04d}"


async def repos_for_topic(reader: Reader, topic: str) -> list[str]:
    """Registered repos whose workplans name this topic (slug), or the repo of that slug itself."""
    rows = await reader.all(
        "SELECT DISTINCT repo FROM workplans WHERE topic_slug = ? ORDER BY repo",
        (topic,),
    )
    found = [row["repo"] for row in rows]
    if not found and await reader.one("SELECT 1 FROM repos WHERE slug = ?", (topic,)) is not None:
        found = [topic]
    return found


async def registered_repos(reader: Reader) -> list[str]:
    return [row["slug"] for row in await reader.all("SELECT slug FROM repos ORDER BY slug")]


async def repo_domain(reader: Reader, repo: str) -> str | None:
    """The domain most of the repo's workplans name (a new workplan inherits it)."""
    row = await reader.one(
        "SELECT domain FROM workplans WHERE repo = ? AND domain IS NOT NULL GROUP BY domain"
        " ORDER BY COUNT(*) DESC, domain LIMIT 1",
        (repo,),
    )
    return row["domain"] if row is not None else None


async def created_items(reader: Reader, repo: str | None = None) -> list[dict[str, Any]]:
    """Every created item no file holds yet (what writeback puts into files), oldest first."""
    rows = await reader.all(
        "SELECT c.kind, c.repo, c.id, c.seq, c.workplan_id, c.path, c.fields, c.created_at FROM created c"
        " WHERE (? IS NULL OR c.repo = ?) AND CASE c.kind"
        "  WHEN 'task' THEN NOT EXISTS (SELECT 1 FROM tasks t WHERE t.repo = c.repo AND t.id = c.id"
        "   AND t.line IS NOT NULL)"
        "  ELSE NOT EXISTS (SELECT 1 FROM files f JOIN workplans w ON w.key = f.workplan_key"
        "   WHERE w.repo = c.repo AND w.id = c.id) END"
        " ORDER BY c.seq",
        (repo, repo),
    )
    items = []
    for row in rows:
        effective = await reader.one(
            f"SELECT status FROM {'tasks' if row['kind'] == 'task' else 'workplans'} WHERE repo = ? AND id = ?",
            (row["repo"], row["id"]),
        )
        items.append(
            dict(row)
            | {"fields": json.loads(row["fields"]), "status": effective["status"] if effective is not None else None}
        )
    return items


async def workplan_file_path(reader: Reader, repo: str, workplan_id: str) -> str | None:
    """The file (or, for a created workplan, the planned file) a workplan's tasks go into."""
    row = await reader.one(
        "SELECT path FROM workplans WHERE repo = ? AND id = ? ORDER BY path LIMIT 1", (repo, workplan_id)
    )
    return row["path"] if row is not None else None
