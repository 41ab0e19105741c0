"""The read model's schema, created through sqlite-utils; bump SCHEMA_VERSION on any change.

A database with another version is not migrated: it is rebuilt from files and the
journal (files are the truth, the database is derived).
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

SCHEMA_VERSION = 12

# Columns per table, in a fixed order (the order is part of the byte-for-byte dump).
TABLES: dict[str, tuple[dict[str, Any], str | tuple[str, ...]]] = {
    "meta": ({"key": str, "value": str}, "key"),
    "repos": (
        {
            "slug": str,
            "path": str,
            "remote": str,
            "branch": str,
            "head": str,
            "dirty": int,
            "is_git": int,
            "has_workplans": int,
        },
        "slug",
    ),
    # The fingerprint cache (ADR-003): a file whose size and mtime are unchanged is not re-read.
    "files": (
        {"key": str, "repo": str, "path": str, "size": int, "mtime_ns": int, "sha256": str, "workplan_key": str},
        "key",
    ),
    "workplans": (
        {
            "key": str,
            "id": str,
            "repo": str,
            "path": str,
            "archived": int,
            "type": str,
            "title": str,
            "domain": str,
            "repo_field": str,
            "owner": str,
            "topic_slug": str,
            "file_status": str,
            "status_raw": str,
            "status_line": int,
            "status": str,
            "status_source": str,
            "planning_priority": str,
            "planning_order": int,
            "created": str,
            "updated": str,
            "finished": str,
            "state_hub_workstream_id": str,
            "extra": str,
            "body": str,
            # The text before the first task: what the workplan's own search entry indexes.
            "intro": str,
        },
        "key",
    ),
    "tasks": (
        {
            "key": str,
            "id": str,
            "repo": str,
            "path": str,
            "workplan_key": str,
            "workplan_id": str,
            "title": str,
            "line": int,
            "position": int,
            "file_status": str,
            "status_raw": str,
            "status_line": int,
            "priority": str,
            "state_hub_task_id": str,
            "assignee": str,
            "depends_on": str,
            "file_needs_human": int,
            "file_intervention_note": str,
            "file_blocking_reason": str,
            # Effective values: the file with the journal's local writes on top (the overlay).
            "status": str,
            "status_source": str,
            "needs_human": int,
            "intervention_note": str,
            "blocking_reason": str,
            "ready": int,  # materialised by store.ready whenever a change can affect it
            "priority_rank": int,  # critical 0 … low 3, none 4: lets "ready by priority" use an index
            "body": str,
            "extra": str,
        },
        "key",
    ),
    "task_deps": ({"task_key": str, "depends_on": str}, ("task_key", "depends_on")),
    "refs": (
        {"repo": str, "path": str, "source_id": str, "target_id": str, "kind": str, "line": int},
        ("repo", "path", "source_id", "target_id", "kind"),
    ),
    "problems": (
        {"repo": str, "path": str, "line": int, "severity": str, "code": str, "message": str},
        ("repo", "path", "line", "code", "message"),
    ),
    # Every local write to a task or workplan field, in journal order (the status history).
    "local_writes": (
        {
            "seq": int,
            "target": str,
            "target_key": str,
            "field": str,
            "value": str,
            "observed_file": str,
            "observed": str,
            "agent": str,
            "session_id": str,
            "note": str,
            "ts": str,
            "state": str,
        },
        ("seq", "target_key", "field"),
    ),
    "progress": (
        {
            "id": str,
            "seq": int,
            "event_type": str,
            "summary": str,
            "author": str,
            "workplan_id": str,
            "task_id": str,
            "session_id": str,
            "detail": str,
            "topic_id": str,
            "created_at": str,
        },
        "id",
    ),
    "messages": (
        {
            "id": str,
            "seq": int,
            "from_agent": str,
            "to_agent": str,
            "subject": str,
            "body": str,
            "thread_id": str,
            "created_at": str,
            "read_at": str,
            "archived_at": str,
        },
        "id",
    ),
    # Idempotency-Key -> the original answer; derived from the journal like everything else.
    "idempotency": (
        {"key": str, "body_hash": str, "seq": int, "status_code": int, "response": str, "created_at": str},
        "key",
    ),
    # -- decisions and token events (journal-only records; store/decisions.py, store/token_events.py) --
    "decisions": (
        {
            "id": str,
            "seq": int,
            "title": str,
            "description": str,
            "context": str,
            "options": str,
            "decision_type": str,
            "status": str,
            "category": str,
            "topic_id": str,
            "topic_slug": str,
            "workplan_id": str,
            "workplan_repo": str,
            "state_hub_workstream_id": str,
            "deadline": str,
            "rationale": str,
            "decided_by": str,
            "resolved_at": str,
            "author": str,
            "session_id": str,
            "created_at": str,
            "updated_at": str,
        },
        "id",
    ),
    "token_events": (
        {
            "id": str,
            "seq": int,
            "task_id": str,
            "workplan_id": str,
            "repo": str,
            "state_hub_task_id": str,
            "state_hub_workstream_id": str,
            "repo_id": str,
            "tokens_in": int,
            "tokens_out": int,
            "workplan_tokens_in": int,
            "workplan_tokens_out": int,
            "model": str,
            "agent": str,
            "session_id": str,
            "note": str,
            "ref_type": str,
            "ref_id": str,
            "measurement_kind": str,
            "source_provider": str,
            "source_id": str,
            "source_path": str,
            "source_created_at": str,
            "parser_version": str,
            "ingested_at": str,
            "confidence": float,
            "cached_input_tokens": int,
            "reasoning_output_tokens": int,
            "raw_total_tokens": int,
            "raw_metadata": str,
            "origin": str,
            "created_at": str,
            "updated_at": str,
        },
        "id",
    ),
    # -- creating work offline --
    # Tasks and workplans created through the hub (store/created.py), materialised as rows while no file holds them.
    "created": (
        {
            "kind": str,
            "repo": str,
            "id": str,
            "seq": int,
            "workplan_id": str,
            "path": str,
            "fields": str,
            "created_at": str,
        },
        ("kind", "repo", "id"),
    ),
    # Workplan dependencies added or removed through the hub (store/dependency_writes.py); the latest per pair wins.
    "dependency_writes": (
        {
            "repo": str,
            "from_id": str,
            "to_id": str,
            "seq": int,
            "action": str,
            "description": str,
            "created_at": str,
        },
        ("repo", "from_id", "to_id"),
    ),
    # -- fleet snapshot --
    # A fleet message (known from the fleet snapshot, not written here) marked read or archived here:
    # the local write laid on top of the snapshot's copy (store/message_marks.py), derived from the journal.
    "fleet_message_marks": ({"id": str, "read_at": str, "archived_at": str}, "id"),
    # A fleet decision (known from the fleet snapshot, not written here) resolved or patched here: the changed
    # fields and the whole decision after them, as JSON, laid on top of the snapshot's copy
    # (store/decision_marks.py), derived from the journal.
    "fleet_decision_marks": ({"id": str, "changes": str, "decision": str, "updated_at": str}, "id"),
}

INDEXES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("workplans", ("id",)),
    ("workplans", ("state_hub_workstream_id",)),
    ("workplans", ("repo",)),
    ("tasks", ("id",)),
    ("tasks", ("state_hub_task_id",)),
    ("tasks", ("workplan_key", "position")),
    ("tasks", ("workplan_key", "status")),  # covers the done/total counts of every workplan listing
    ("tasks", ("status", "workplan_id", "repo", "position")),  # filtered listings come out in order
    ("tasks", ("ready", "priority_rank")),
    ("tasks", ("id", "status")),
    ("tasks", ("id", "repo")),
    ("workplans", ("id", "repo")),
    ("tasks", ("repo",)),
    ("task_deps", ("depends_on",)),
    ("files", ("repo", "path")),
    ("refs", ("target_id",)),
    ("problems", ("repo", "path")),
    ("local_writes", ("target_key", "field", "seq")),
    ("progress", ("created_at",)),
    ("progress", ("task_id",)),
    ("messages", ("to_agent",)),
    # -- decisions and token events --
    ("decisions", ("decision_type", "status")),
    ("decisions", ("topic_slug",)),
    ("token_events", ("measurement_kind", "source_provider", "source_id")),
    ("token_events", ("task_id",)),
    ("token_events", ("created_at",)),
    ("messages", ("thread_id",)),
    ("progress", ("topic_id",)),
)

FTS_COLUMNS: dict[str, tuple[str, ...]] = {
    "workplans": ("title", "intro"),
    "tasks": ("title", "body"),
    "progress": ("summary",),
}


def connect(path: Path | str, *, read_only: bool = False) -> sqlite3.Connection:
    """A connection tuned for the read model (WAL; durability comes from the journal, not SQLite)."""
    if read_only:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, check_same_thread=False)
    else:
        conn = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None)
        conn.execute("PRAGMA journal_mode=WAL")
        # NORMAL in WAL never corrupts; a lost last transaction is re-applied from the journal.
        conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute("PRAGMA busy_timeout=5000")
    conn.execute("PRAGMA cache_size=-16000")
    conn.row_factory = sqlite3.Row
    return conn


def stored_version(conn: sqlite3.Connection) -> int | None:
    """The schema version recorded in the database, or None when it has none."""
    try:
        row = conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
    except sqlite3.DatabaseError:
        return None
    return int(row[0]) if row else None


def create_schema(conn: sqlite3.Connection) -> None:
    """Create every table, index and FTS5 index on an empty database."""
    import sqlite_utils

    db = sqlite_utils.Database(conn)
    for name, (columns, pk) in TABLES.items():
        db[name].create(columns, pk=pk, not_null=None, if_not_exists=True)  # type: ignore[union-attr]
    for table, cols in INDEXES:
        db[table].create_index(cols, if_not_exists=True)  # type: ignore[union-attr]
    # Few tasks are flagged: a partial index finds them without the planner weighing 24k zeros.
    conn.execute(
        "CREATE INDEX IF NOT EXISTS idx_tasks_flagged ON tasks(workplan_id, repo, position) WHERE needs_human = 1"
    )
    enable_fts(conn)
    conn.execute("INSERT OR REPLACE INTO meta(key, value) VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),))


def enable_fts(conn: sqlite3.Connection) -> None:
    """Create the FTS5 indexes (filled from the rows already there) and the triggers that keep them current."""
    import sqlite_utils

    db = sqlite_utils.Database(conn)
    for table, cols in FTS_COLUMNS.items():
        db[table].enable_fts(cols, fts_version="FTS5", create_triggers=True, tokenize="porter")  # type: ignore[union-attr]


def disable_fts(conn: sqlite3.Connection) -> None:
    """Drop the FTS5 indexes and triggers: a cold build inserts faster and indexes once at the end."""
    import sqlite_utils

    db = sqlite_utils.Database(conn)
    for table in FTS_COLUMNS:
        db[table].disable_fts()  # type: ignore[union-attr]


def open_database(path: Path) -> sqlite3.Connection:
    """Open (or create) the read model; a missing, corrupt or other-version file is started afresh."""
    path.parent.mkdir(parents=True, exist_ok=True)
    conn: sqlite3.Connection | None = None
    try:
        conn = connect(path)
        if stored_version(conn) == SCHEMA_VERSION:
            return conn
    except sqlite3.DatabaseError:
        pass
    if conn is not None:
        conn.close()
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    conn = connect(path)
    create_schema(conn)
    return conn
