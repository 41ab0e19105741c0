"""Decisions in the read model: applied from journal envelopes, listed and looked up.

A decision exists only in the journal (no file holds it), so its row is exactly what the
envelopes say: `decision` inserts the row the write computed, `decision.patch` and
`decision.resolve` update it. A resolve also leaves a `decision_resolved` progress event, as
the fleet State Hub writes one when it resolves a decision.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Mapping
from typing import Any

from devhub.store.reader import Reader

DECISION_KINDS = frozenset({"decision", "decision.patch", "decision.resolve"})
# A blocking decision is a pending one still open or escalated (the fleet dashboard's definition).
BLOCKING_STATUSES = ("open", "escalated")
DECISION_LIMIT_DEFAULT = 100
DECISION_LIMIT_MAX = 10_000

# Row columns, in the order of the `decisions` table (store/schema.py).
COLUMNS = (
    "id",
    "seq",
    "title",
    "description",
    "context",
    "options",
    "decision_type",
    "status",
    "category",
    "topic_id",
    "topic_slug",
    "workplan_id",
    "workplan_repo",
    "state_hub_workstream_id",
    "deadline",
    "rationale",
    "decided_by",
    "resolved_at",
    "author",
    "session_id",
    "created_at",
    "updated_at",
)
_JSON_COLUMNS = frozenset({"options"})


def _dump(value: Any) -> str | None:
    return None if value is None else json.dumps(value, sort_keys=True, ensure_ascii=False)


def apply_decision(conn: sqlite3.Connection, envelope: Mapping[str, Any]) -> None:
    """Apply one decision envelope (any other kind is left alone)."""
    kind = envelope.get("kind")
    if kind not in DECISION_KINDS:
        return
    record = envelope.get("record") or {}
    if kind == "decision":
        row = dict(record.get("decision") or {})
        row["seq"] = envelope["seq"]
        values = [_dump(row.get(c)) if c in _JSON_COLUMNS else row.get(c) for c in COLUMNS]
        conn.execute(
            f"INSERT OR REPLACE INTO decisions({', '.join(COLUMNS)}) VALUES ({', '.join('?' for _ in COLUMNS)})",
            values,
        )
        return
    decision_id = (envelope.get("target") or {}).get("id")
    changes = dict(record.get("changes") or {})
    if changes:
        names = [c for c in changes if c in COLUMNS and c not in ("id", "seq")]
        values = [_dump(changes[c]) if c in _JSON_COLUMNS else changes[c] for c in names]
        assignments = ", ".join(f"{c} = ?" for c in names)
        conn.execute(f"UPDATE decisions SET {assignments} WHERE id = ?", [*values, decision_id])
    event = record.get("progress")
    if kind == "decision.resolve" and isinstance(event, dict):
        conn.execute(
            "INSERT OR REPLACE INTO progress(id, seq, event_type, summary, author, workplan_id, task_id,"
            " session_id, detail, created_at) VALUES (?, ?, ?, ?, ?, ?, NULL, ?, ?, ?)",
            (
                event.get("id"),
                envelope["seq"],
                event.get("event_type"),
                event.get("summary"),
                event.get("author"),
                event.get("workplan_id"),
                event.get("session_id"),
                _dump(event.get("detail") or {}),
                event.get("created_at"),
            ),
        )


def decision_view(values: Mapping[str, Any]) -> dict[str, Any]:
    """The REST shape of one decision (DecisionRead's fields, plus devhub's topic_slug and workplan ids)."""
    return {
        "id": values["id"],
        "title": values["title"],
        "description": values["description"],
        "context": values["context"],
        "options": values["options"],
        "decision_type": values["decision_type"],
        "status": values["status"],
        "category": values["category"],
        "topic_id": values["topic_id"],
        "topic_slug": values["topic_slug"],
        "workstream_id": values["state_hub_workstream_id"] or values["workplan_id"],
        "workplan_id": values["workplan_id"],
        "deadline": values["deadline"],
        "rationale": values["rationale"],
        "decided_by": values["decided_by"],
        "resolved_at": values["resolved_at"],
        "author": values["author"],
        "session_id": values["session_id"],
        "created_at": values["created_at"],
        "updated_at": values["updated_at"],
    }


def decision_dict(row: sqlite3.Row) -> dict[str, Any]:
    values = {c: row[c] for c in COLUMNS}
    values["options"] = json.loads(row["options"]) if row["options"] is not None else None
    return decision_view(values)


async def decision_row(reader: Reader, decision_id: str) -> dict[str, Any] | None:
    """The stored columns of one decision (options decoded), for a write to build on."""
    row = await reader.one("SELECT * FROM decisions WHERE id = ?", (decision_id.lower(),))
    if row is None:
        return None
    values = {c: row[c] for c in COLUMNS}
    values["options"] = json.loads(row["options"]) if row["options"] is not None else None
    return values


async def get_decision(reader: Reader, decision_id: str) -> dict[str, Any] | None:
    row = await reader.one("SELECT * FROM decisions WHERE id = ?", (decision_id.lower(),))
    return decision_dict(row) if row is not None else None


async def topic_exists(reader: Reader, slug: str) -> bool:
    """Topics are the workplans' frontmatter `topic_slug`: a slug exists while some workplan names it."""
    return await reader.one("SELECT 1 FROM workplans WHERE topic_slug = ? LIMIT 1", (slug,)) is not None


async def list_decisions(
    reader: Reader,
    *,
    decision_type: str | None = None,
    topic: str | None = None,
    domain: str | None = None,
    status: str | None = None,
    blocking: bool = False,
    limit: int | None = DECISION_LIMIT_DEFAULT,
) -> list[dict[str, Any]]:
    """Decisions by deadline (none last), then oldest first.

    `topic` matches the topic slug or the fleet topic UUID a decision was recorded with (a decision
    recorded against a workplan carries that workplan's topic slug). `domain` matches decisions whose
    topic or workplan belongs to a workplan of that domain.
    """
    where: list[str] = []
    params: list[Any] = []
    if decision_type is not None:
        where.append("decision_type = ?")
        params.append(decision_type)
    if status is not None:
        where.append("status = ?")
        params.append(status)
    if blocking:
        where.append(f"status IN ({', '.join('?' for _ in BLOCKING_STATUSES)})")
        params.extend(BLOCKING_STATUSES)
    if topic is not None:
        where.append("(topic_slug = ? OR lower(topic_id) = ?)")
        params.extend([topic, topic.lower()])
    if domain is not None:
        where.append(
            "(topic_slug IN (SELECT topic_slug FROM workplans WHERE domain = ? AND topic_slug IS NOT NULL)"
            " OR EXISTS (SELECT 1 FROM workplans w WHERE w.id = decisions.workplan_id"
            " AND w.repo = decisions.workplan_repo AND w.domain = ?))"
        )
        params.extend([domain, domain])
    sql = "SELECT * FROM decisions"
    if where:
        sql += " WHERE " + " AND ".join(where)
    sql += " ORDER BY deadline IS NULL, deadline, created_at, seq"
    if limit is not None:
        sql += " LIMIT ?"
        params.append(limit)
    return [decision_dict(row) for row in await reader.all(sql, params)]


async def pending_decisions(
    reader: Reader, topic: str | None = None, domain: str | None = None
) -> list[dict[str, Any]]:
    """The blocking decisions: pending and still open or escalated, by deadline (for summaries)."""
    return await list_decisions(reader, decision_type="pending", topic=topic, domain=domain, blocking=True, limit=None)
