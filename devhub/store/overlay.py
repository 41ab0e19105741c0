"""Journal -> read model: apply accepted writes on top of the file state (the overlay).

A local write to a field holds while the file still says what it said when the write
was made. Once the file's value changes, the file wins: if it now agrees with the
local value the write is `reconciled`, otherwise the pair is a `conflict` that the hub
lists instead of choosing silently. An older write of a field with a newer one is
`superseded`. Every state is a function of the files and the journal alone, so a rebuild
gives the same states as a model that saw the writes one by one.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Mapping
from typing import Any

from devhub.store.created import record_created
from devhub.store.decision_marks import apply_fleet_decision_mark
from devhub.store.decisions import apply_decision
from devhub.store.dependency_writes import DEPENDENCY_KINDS, record_dependency_write
from devhub.store.message_marks import apply_fleet_mark
from devhub.store.position import AppliedPosition
from devhub.store.status_events import apply_status_event
from devhub.store.token_events import apply_token_event

TASK_FIELDS: tuple[str, ...] = ("status", "needs_human", "intervention_note", "blocking_reason")
WORKPLAN_FIELDS: tuple[str, ...] = ("status",)


def task_target(repo: str, task_id: str) -> str:
    return f"task:{repo}:{task_id}"


def workplan_target(repo: str, workplan_id: str) -> str:
    return f"workplan:{repo}:{workplan_id}"


def _dump(value: Any) -> str:
    return json.dumps(value, sort_keys=True, ensure_ascii=False)


def _record_field_writes(
    conn: sqlite3.Connection, envelope: Mapping[str, Any], target: str, target_key: str, fields: Iterable[str]
) -> None:
    body = envelope.get("body") or {}
    observed = envelope.get("observed") or {}
    file_values = observed.get("file") or {}
    origin = envelope.get("origin") or {}
    for name in fields:
        if name not in body:
            continue
        conn.execute(
            "INSERT OR REPLACE INTO local_writes(seq, target, target_key, field, value, observed_file, observed,"
            " agent, session_id, note, ts, state) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'pending')",
            (
                envelope["seq"],
                target,
                target_key,
                name,
                _dump(body[name]),
                _dump(file_values.get(name)),
                _dump(observed.get(name)),
                origin.get("agent"),
                origin.get("session"),
                # Journals written before the note was validated may hold any JSON there; one such
                # envelope must not stop every later one from applying.
                body.get("note") if isinstance(body.get("note"), str) else None,
                envelope.get("ts"),
            ),
        )


def apply_envelope(conn: sqlite3.Connection, envelope: Mapping[str, Any]) -> set[str]:
    """Apply one journal envelope to the read model; returns the overlay targets it touched."""
    kind = envelope.get("kind")
    body: Mapping[str, Any] = envelope.get("body") or {}
    target = envelope.get("target") or {}
    touched: set[str] = set()
    if kind == "task.patch":
        key = task_target(target["repo"], target["id"])
        _record_field_writes(conn, envelope, "task", key, TASK_FIELDS)
        touched.add(key)
    elif kind == "workplan.patch":
        key = workplan_target(target["repo"], target["id"])
        _record_field_writes(conn, envelope, "workplan", key, WORKPLAN_FIELDS)
        touched.add(key)
    elif kind == "progress":
        record = envelope.get("record") or {}
        conn.execute(
            "INSERT OR REPLACE INTO progress(id, seq, event_type, summary, author, workplan_id, task_id,"
            " session_id, detail, created_at, topic_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                record.get("id") or envelope["id"],
                envelope["seq"],
                body.get("event_type") or "note",
                body.get("summary"),
                body.get("author"),
                body.get("workplan_id"),
                body.get("task_id"),
                body.get("session_id"),
                _dump(body.get("detail") or {}),
                record.get("created_at") or envelope.get("ts"),
                body.get("topic_id"),
            ),
        )
    elif kind == "message":
        record = envelope.get("record") or {}
        conn.execute(
            "INSERT OR REPLACE INTO messages(id, seq, from_agent, to_agent, subject, body, thread_id,"
            " created_at, read_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, NULL)",
            (
                record.get("id") or envelope["id"],
                envelope["seq"],
                body.get("from_agent"),
                body.get("to_agent"),
                body.get("subject"),
                body.get("body"),
                body.get("thread_id"),
                record.get("created_at") or envelope.get("ts"),
            ),
        )
    elif kind == "message.read":
        conn.execute(
            "UPDATE messages SET read_at = ? WHERE id = ? AND read_at IS NULL",
            ((envelope.get("record") or {}).get("read_at") or envelope.get("ts"), target["id"]),
        )
    elif kind in ("task.create", "workplan.create"):
        record_created(conn, envelope)  # the writer materialises it (store/created.py); no field overlay
    elif kind in DEPENDENCY_KINDS:
        record_dependency_write(conn, envelope)
    elif kind == "message.archive":
        conn.execute(
            "UPDATE messages SET archived_at = ? WHERE id = ? AND archived_at IS NULL",
            ((envelope.get("record") or {}).get("archived_at") or envelope.get("ts"), target["id"]),
        )
    # -- decisions and token events --
    apply_decision(conn, envelope)
    apply_token_event(conn, envelope)
    apply_status_event(conn, envelope)  # a bulk status sync's per-change event (store/status_events.py)
    apply_fleet_mark(conn, envelope)  # -- fleet snapshot --: a read/archive of a fleet message (store/message_marks.py)
    apply_fleet_decision_mark(conn, envelope)  # a resolve/patch of a fleet decision (store/decision_marks.py)
    response = envelope.get("response")
    request = envelope.get("request")
    if request and response is not None:
        conn.execute(
            "INSERT OR REPLACE INTO idempotency(key, body_hash, seq, status_code, response, created_at)"
            " VALUES (?, ?, ?, ?, ?, ?)",
            (
                request["key"],
                request["hash"],
                envelope["seq"],
                response["status"],
                _dump(response["body"]),
                envelope.get("ts"),
            ),
        )
    conn.executemany(
        "INSERT OR REPLACE INTO meta(key, value) VALUES (?, ?)",
        [("applied_seq", str(envelope["seq"])), ("applied_id", str(envelope.get("id") or ""))],
    )
    return touched


def applied_seq(conn: sqlite3.Connection) -> int:
    """The last journal seq applied to this database (0 for a fresh one)."""
    return applied_position(conn).seq


def applied_position(conn: sqlite3.Connection) -> AppliedPosition:
    """The seq and envelope id of the last journal envelope applied to this database."""
    rows = dict(conn.execute("SELECT key, value FROM meta WHERE key IN ('applied_seq', 'applied_id')").fetchall())
    return AppliedPosition(int(rows.get("applied_seq") or 0), rows.get("applied_id") or None)


def _latest_writes(conn: sqlite3.Connection, target_key: str) -> dict[str, sqlite3.Row]:
    """The newest write of each field of one target: an index seek per field, whatever the history length.

    Every older write of the field is marked `superseded`: only the newest one is compared with
    the file, and an older one's state must not depend on when it was last looked at (a live
    model refreshes after each write, a rebuild once after all of them).
    """
    latest = {}
    for name in TASK_FIELDS if target_key.startswith("task:") else WORKPLAN_FIELDS:
        row = conn.execute(
            "SELECT * FROM local_writes WHERE target_key = ? AND field = ? ORDER BY seq DESC LIMIT 1",
            (target_key, name),
        ).fetchone()
        if row is not None:
            latest[name] = row
            conn.execute(
                "UPDATE local_writes SET state = 'superseded'"
                " WHERE target_key = ? AND field = ? AND seq < ? AND state != 'superseded'",
                (target_key, name, row["seq"]),
            )
    return latest


def _resolve(file_value: Any, write: sqlite3.Row) -> tuple[Any, str, str]:
    """(effective value, source, state) for one field given the file's value and the latest write."""
    local = json.loads(write["value"])
    observed_file = json.loads(write["observed_file"])
    if file_value == observed_file:
        if local == file_value:
            return file_value, "file", "reconciled"
        return local, "local", "pending"
    if file_value == local:
        return file_value, "file", "reconciled"
    return file_value, "file", "conflict"


def refresh_targets(conn: sqlite3.Connection, target_keys: Iterable[str]) -> None:
    """Recompute effective values (and write states) for the given overlay targets."""
    for target_key in sorted(set(target_keys)):
        kind, repo, ident = target_key.split(":", 2)
        writes = _latest_writes(conn, target_key)
        if kind == "task":
            _refresh_task(conn, target_key, repo, ident, writes)
        else:
            _refresh_workplan(conn, target_key, repo, ident, writes)


def _set_state(conn: sqlite3.Connection, write: sqlite3.Row, state: str) -> None:
    if write["state"] != state:
        conn.execute(
            "UPDATE local_writes SET state = ? WHERE seq = ? AND target_key = ? AND field = ?",
            (state, write["seq"], write["target_key"], write["field"]),
        )


def _await_return(conn: sqlite3.Connection, writes: Mapping[str, sqlite3.Row]) -> None:
    """A target no file holds any more: its writes wait (`pending`) for it to come back."""
    for write in writes.values():
        _set_state(conn, write, "pending")


def _refresh_task(
    conn: sqlite3.Connection, target_key: str, repo: str, task_id: str, writes: Mapping[str, sqlite3.Row]
) -> None:
    rows = conn.execute(
        "SELECT key, file_status, file_needs_human, file_intervention_note, file_blocking_reason"
        " FROM tasks WHERE repo = ? AND id = ?",
        (repo, task_id),
    ).fetchall()
    if not rows:
        _await_return(conn, writes)
    for row in rows:
        file_values = {
            "status": row["file_status"],
            "needs_human": bool(row["file_needs_human"]),
            "intervention_note": row["file_intervention_note"],
            "blocking_reason": row["file_blocking_reason"],
        }
        effective = dict(file_values)
        status_source = "file"
        for name, write in writes.items():
            value, source, state = _resolve(file_values[name], write)
            effective[name] = value
            _set_state(conn, write, state)
            if name == "status":
                status_source = source
        conn.execute(
            "UPDATE tasks SET status = ?, status_source = ?, needs_human = ?, intervention_note = ?,"
            " blocking_reason = ? WHERE key = ?",
            (
                effective["status"],
                status_source,
                int(bool(effective["needs_human"])),
                effective["intervention_note"],
                effective["blocking_reason"],
                row["key"],
            ),
        )


def _refresh_workplan(
    conn: sqlite3.Connection, target_key: str, repo: str, workplan_id: str, writes: Mapping[str, sqlite3.Row]
) -> None:
    write = writes.get("status")
    rows = conn.execute(
        "SELECT key, file_status FROM workplans WHERE repo = ? AND id = ?", (repo, workplan_id)
    ).fetchall()
    if not rows:
        _await_return(conn, writes)
    for row in rows:
        status, source = row["file_status"], "file"
        if write is not None:
            status, source, state = _resolve(row["file_status"], write)
            _set_state(conn, write, state)
        conn.execute("UPDATE workplans SET status = ?, status_source = ? WHERE key = ?", (status, source, row["key"]))


def targets_for_workplans(
    conn: sqlite3.Connection, workplan_keys: Iterable[str], left_task_ids: Iterable[str] = ()
) -> set[str]:
    """Overlay targets with local writes whose rows live in (or just left) the given workplan files.

    A task that left its file has no row to refresh; its writes stay in local_writes, wait as
    `pending`, and apply again if the task comes back.
    """
    candidates: set[str] = set()
    repos = sorted({wp_key.split(":", 1)[0] for wp_key in workplan_keys})
    candidates |= {task_target(repo, task_id) for repo in repos for task_id in left_task_ids}
    # A workplan whose file went away (few workplans carry local writes).
    for (target_key,) in conn.execute("SELECT DISTINCT target_key FROM local_writes WHERE target = 'workplan'"):
        _, repo, ident = target_key.split(":", 2)
        gone = not conn.execute("SELECT 1 FROM workplans WHERE repo = ? AND id = ?", (repo, ident)).fetchone()
        if repo in repos and gone:
            candidates.add(target_key)
    for wp_key in sorted(set(workplan_keys)):
        repo = wp_key.split(":", 1)[0]
        candidates |= {
            task_target(repo, row[0]) for row in conn.execute("SELECT id FROM tasks WHERE workplan_key = ?", (wp_key,))
        }
        candidates |= {
            workplan_target(repo, row[0]) for row in conn.execute("SELECT id FROM workplans WHERE key = ?", (wp_key,))
        }
    return {
        target
        for target in candidates
        if conn.execute("SELECT 1 FROM local_writes WHERE target_key = ? LIMIT 1", (target,)).fetchone()
    }


def all_targets(conn: sqlite3.Connection) -> set[str]:
    return {row[0] for row in conn.execute("SELECT DISTINCT target_key FROM local_writes")}
