"""The progress event the real hub writes for each task status change of a bulk status sync.

`POST /tasks/bulk-status-sync` writes one ProgressEvent per changed task, carrying the previous status
(state-hub api/routers/tasks.py @ 55e36bd). That event is the upstream's own side effect: devhub mirrors
it in the read model when the sync's task.patch envelopes are applied, and never relays it (the
upstream writes its own). The event is fixed at write time in the envelope's `record.status_event`, so
a rebuild from the journal gives the same event. The event_type and summary wording were not visible in
the public pages: "task_status_changed" and "Task <title>: <previous> -> <status>" are inferred (as the
strict stand-in in tests/support/strict_statehub.py answers; docs/compat.md).
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Mapping
from typing import Any

STATUS_EVENT_TYPE = "task_status_changed"  # inferred (docs/compat.md)
DEFAULT_AUTHOR = "custodian"  # the real bulk sync's default author [code]


def status_event(
    task: Mapping[str, Any],
    previous: str,
    status: str,
    *,
    author: str | None,
    session_id: str | None,
    event_id: str,
    now: str,
) -> dict[str, Any]:
    """The progress event for one task's change from `previous` to `status` (stored in the envelope)."""
    return {
        "id": event_id,
        "event_type": STATUS_EVENT_TYPE,
        "summary": f"Task {task['title']}: {previous} -> {status}",
        "author": author or DEFAULT_AUTHOR,
        "task_id": task["id"],
        "workplan_id": task["workplan_id"],
        "session_id": session_id,
        "detail": {"previous_status": previous, "status": status},
        "created_at": now,
    }


def apply_status_event(conn: sqlite3.Connection, envelope: Mapping[str, Any]) -> None:
    """Insert the status-change event a task.patch envelope of a bulk sync carries (none: nothing to do)."""
    if envelope.get("kind") != "task.patch":
        return
    event = (envelope.get("record") or {}).get("status_event")
    if not isinstance(event, dict):
        return
    conn.execute(
        "INSERT OR REPLACE INTO progress(id, seq, event_type, summary, author, workplan_id, task_id,"
        " session_id, detail, created_at, topic_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, NULL)",
        (
            event.get("id"),
            envelope["seq"],
            event.get("event_type"),
            event.get("summary"),
            event.get("author"),
            event.get("workplan_id"),
            event.get("task_id"),
            event.get("session_id"),
            json.dumps(event.get("detail") or {}, sort_keys=True, ensure_ascii=False),
            event.get("created_at"),
        ),
    )
