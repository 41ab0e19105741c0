"""Workplan dependencies: the files' `## Dependencies` sections, with dependencies added or removed through the hub.

A file's dependency is a `dependencies` reference (workplan -> workplan, store.refs). A local
add or remove is recorded from its journal envelope in `dependency_writes` (the latest write
of a pair wins) and applied on top of the files when read, so the effective list is always a
function of files + journal. A dependency's id is its prerequisite workplan's id: a pair is
unique, as upstream, so `(workplan, prerequisite)` names one edge.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping
from typing import Any

from devhub.store.reader import Reader

DEPENDENCY_KINDS = frozenset({"dependency.create", "dependency.delete"})


def record_dependency_write(conn: sqlite3.Connection, envelope: Mapping[str, Any]) -> None:
    """Remember one dependency.create / dependency.delete envelope (the latest per pair wins)."""
    record = envelope.get("record") or {}
    conn.execute(
        "INSERT OR REPLACE INTO dependency_writes(repo, from_id, to_id, seq, action, description, created_at)"
        " VALUES (?, ?, ?, ?, ?, ?, ?)",
        (
            record["repo"],
            record["from_id"],
            record["to_id"],
            envelope["seq"],
            "add" if envelope.get("kind") == "dependency.create" else "remove",
            record.get("description"),
            record.get("created_at") or envelope.get("ts"),
        ),
    )


async def _file_pairs(reader: Reader, repo: str, from_id: str) -> dict[str, int]:
    rows = await reader.all(
        "SELECT r.target_id, MIN(r.line) AS line FROM refs r JOIN workplans w ON w.repo = r.repo AND w.path = r.path"
        " WHERE r.repo = ? AND r.source_id = ? AND r.kind = 'dependencies' AND w.id = ?"
        " GROUP BY r.target_id ORDER BY MIN(r.line)",
        (repo, from_id, from_id),
    )
    return {row["target_id"]: row["line"] for row in rows}


async def list_dependencies(reader: Reader, repo: str, from_id: str) -> list[dict[str, Any]]:
    """The effective dependencies of one workplan: the file's, plus local adds, minus local removes."""
    in_file = await _file_pairs(reader, repo, from_id)
    writes = {
        row["to_id"]: row
        for row in await reader.all(
            "SELECT * FROM dependency_writes WHERE repo = ? AND from_id = ? ORDER BY seq", (repo, from_id)
        )
    }
    found: list[dict[str, Any]] = []
    for to_id in [*in_file, *(to for to in writes if to not in in_file)]:
        write = writes.get(to_id)
        if write is not None and write["action"] == "remove":
            continue
        prerequisite = await reader.one(
            "SELECT id, title, status, state_hub_workstream_id FROM workplans WHERE id = ? ORDER BY repo, path LIMIT 1",
            (to_id,),
        )
        found.append(
            {
                "id": to_id,
                "from_workstream_id": from_id,
                "to_workstream_id": to_id,
                "workplan_id": from_id,
                "depends_on_id": to_id,
                "description": write["description"] if write is not None else None,
                "to_title": prerequisite["title"] if prerequisite is not None else None,
                "to_status": prerequisite["status"] if prerequisite is not None else None,
                "to_state_hub_workstream_id": prerequisite["state_hub_workstream_id"] if prerequisite else None,
                "source": "file" if to_id in in_file else "local",
                "line": in_file.get(to_id),
                "created_at": write["created_at"] if write is not None else None,
            }
        )
    return found


async def pending_dependency_writes(reader: Reader, repo: str | None = None) -> list[dict[str, Any]]:
    """Local adds the file does not hold yet and local removes the file still holds (what writeback edits)."""
    rows = await reader.all(
        "SELECT d.*, w.path FROM dependency_writes d JOIN workplans w ON w.repo = d.repo AND w.id = d.from_id"
        " JOIN files f ON f.workplan_key = w.key WHERE (? IS NULL OR d.repo = ?) ORDER BY d.seq",
        (repo, repo),
    )
    pending = []
    for row in rows:
        in_file = row["to_id"] in await _file_pairs(reader, row["repo"], row["from_id"])
        if (row["action"] == "add") != in_file:
            pending.append(dict(row))
    return pending
