"""The fleet snapshot's own SQLite file: a read-only copy of fleet-only state, kept for offline reads.

Not the read model. The read model is derived from files and the journal and may be deleted and
rebuilt at any time; this file is derived from the fleet alone (devhub/service/fleet_snapshot.py
writes it after each refresh) and survives restarts and read-model rebuilds. Nothing here is ever
written from the journal: local writes are laid on top at read time.

Each row keeps the fleet's JSON document as it came (`doc`) plus the few columns the reads filter
and order on. One writer (the refresher's thread); reads open their own connection (WAL).
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from devhub.store.activity import message_filter_sql

SNAPSHOT_FILE = "fleet-snapshot.sqlite"
SNAPSHOT_SCHEMA_VERSION = 1

# The collections replaced wholesale on each refresh (the fleet has no `since` on their list routes).
WHOLE_COLLECTIONS = ("decisions", "topics", "domains", "repos", "workstreams")

_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT)",
    "CREATE TABLE IF NOT EXISTS messages (id TEXT PRIMARY KEY, created_at TEXT, to_agent TEXT, from_agent TEXT,"
    " thread_id TEXT, read INTEGER NOT NULL, archived INTEGER NOT NULL, doc TEXT NOT NULL)",
    "CREATE INDEX IF NOT EXISTS messages_created ON messages(created_at)",
    "CREATE INDEX IF NOT EXISTS messages_thread ON messages(thread_id)",
    "CREATE TABLE IF NOT EXISTS decisions (id TEXT PRIMARY KEY, position INTEGER, topic_id TEXT, doc TEXT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS topics (id TEXT PRIMARY KEY, position INTEGER, slug TEXT, doc TEXT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS domains (id TEXT PRIMARY KEY, position INTEGER, slug TEXT, doc TEXT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS repos (id TEXT PRIMARY KEY, position INTEGER, slug TEXT, doc TEXT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS workstreams (id TEXT PRIMARY KEY, position INTEGER, slug TEXT, doc TEXT NOT NULL)",
)


def _connect(path: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute("PRAGMA busy_timeout=5000")
    conn.row_factory = sqlite3.Row
    return conn


def canonical_json(doc: Mapping[str, Any]) -> str:
    """A document as stored: keys sorted, no spaces (so equal documents compare equal as text)."""
    return json.dumps(doc, sort_keys=True, separators=(",", ":"))


class SnapshotStore:
    """The snapshot file. Methods block (call them off the event loop); one lock serialises them."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        path.parent.mkdir(parents=True, exist_ok=True)
        self._conn = self._open()

    def _open(self) -> sqlite3.Connection:
        try:
            conn = _connect(self.path)
            version = conn.execute("PRAGMA user_version").fetchone()[0]
            if version not in (0, SNAPSHOT_SCHEMA_VERSION):
                raise sqlite3.DatabaseError(f"snapshot schema {version}")
            for statement in _SCHEMA:
                conn.execute(statement)
            conn.execute(f"PRAGMA user_version={SNAPSHOT_SCHEMA_VERSION}")
            return conn
        except sqlite3.DatabaseError:
            # Another version or a corrupt file: it is only a copy of the fleet, fetched again on the next refresh.
            for suffix in ("", "-wal", "-shm"):
                Path(f"{self.path}{suffix}").unlink(missing_ok=True)
            conn = _connect(self.path)
            for statement in _SCHEMA:
                conn.execute(statement)
            conn.execute(f"PRAGMA user_version={SNAPSHOT_SCHEMA_VERSION}")
            return conn

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    # -- writes (the refresher only) -----------------------------------------------------------------

    def replace_collection(self, name: str, docs: Sequence[Mapping[str, Any]], key: str = "id") -> None:
        """Replace one whole collection (decisions, topics, domains, repos, workstreams) in one transaction."""
        if name not in WHOLE_COLLECTIONS:
            raise ValueError(f"not a snapshot collection: {name}")
        extra = "topic_id" if name == "decisions" else "slug"
        rows = [
            (str(doc.get(key) or doc.get("slug")), position, doc.get(extra), canonical_json(doc))
            for position, doc in enumerate(docs)
            if doc.get(key) or doc.get("slug")
        ]
        with self._lock, self._conn:
            self._conn.execute("BEGIN")
            self._conn.execute(f"DELETE FROM {name}")
            self._conn.executemany(f"INSERT OR REPLACE INTO {name} VALUES (?, ?, ?, ?)", rows)

    def put_messages(self, docs: Iterable[Mapping[str, Any]], *, replace_all: bool, keep: int) -> int:
        """Store messages (normalised MessageView dicts); `replace_all` drops the ones not given. Then keep only
        the newest `keep` (the bound). Returns how many were dropped by the bound."""
        rows = [
            (
                doc["id"],
                doc.get("created_at"),
                doc.get("to_agent"),
                doc.get("from_agent"),
                doc.get("thread_id"),
                int(bool(doc.get("read"))),
                int(bool(doc.get("archived"))),
                canonical_json(doc),
            )
            for doc in docs
        ]
        with self._lock, self._conn:
            self._conn.execute("BEGIN")
            if replace_all:
                self._conn.execute("DELETE FROM messages")
            self._conn.executemany("INSERT OR REPLACE INTO messages VALUES (?, ?, ?, ?, ?, ?, ?, ?)", rows)
            dropped = self._conn.execute(
                "DELETE FROM messages WHERE id NOT IN (SELECT id FROM messages ORDER BY created_at DESC, id DESC"
                " LIMIT ?)",
                (keep,),
            ).rowcount
        return int(dropped)

    def stored_messages(self, ids: Sequence[str]) -> dict[str, str]:
        """The stored documents (as canonical JSON) of these message ids: to tell what a page changes."""
        if not ids:
            return {}
        marks = ", ".join("?" for _ in ids)
        with self._lock:
            rows = self._conn.execute(f"SELECT id, doc FROM messages WHERE id IN ({marks})", list(ids)).fetchall()
        return {row["id"]: row["doc"] for row in rows}

    def set_meta(self, values: Mapping[str, Any]) -> None:
        with self._lock, self._conn:
            self._conn.execute("BEGIN")
            self._conn.executemany(
                "INSERT OR REPLACE INTO meta VALUES (?, ?)", [(k, json.dumps(v)) for k, v in values.items()]
            )

    # -- reads -------------------------------------------------------------------------------------------

    def meta(self) -> dict[str, Any]:
        with self._lock:
            rows = self._conn.execute("SELECT key, value FROM meta").fetchall()
        return {row["key"]: json.loads(row["value"]) for row in rows}

    def counts(self) -> dict[str, int]:
        with self._lock:
            return {
                name: int(self._conn.execute(f"SELECT COUNT(*) FROM {name}").fetchone()[0])
                for name in ("messages", *WHOLE_COLLECTIONS)
            }

    def messages(
        self,
        *,
        to_agent: str | None = None,
        from_agent: str | None = None,
        unread_only: bool = False,
        include_archived: bool = False,
        limit: int | None = None,
    ) -> list[dict[str, Any]]:
        """Messages newest first, filtered like GET /messages/ (local marks are applied by the caller)."""
        where, params = message_filter_sql(
            to_agent,
            from_agent,
            unread="read = 0" if unread_only else None,
            unarchived="archived = 0" if not include_archived else None,
        )
        sql = "SELECT doc FROM messages" + where + " ORDER BY created_at DESC, id DESC"
        if limit is not None:
            sql += " LIMIT ?"
            params.append(limit)
        with self._lock:
            return [json.loads(row["doc"]) for row in self._conn.execute(sql, params).fetchall()]

    def message(self, message_id: str) -> dict[str, Any] | None:
        with self._lock:
            row = self._conn.execute("SELECT doc FROM messages WHERE id = ?", (message_id,)).fetchone()
        return None if row is None else dict(json.loads(row["doc"]))

    def thread(self, root_id: str) -> list[dict[str, Any]]:
        """The replies stored for a thread root, oldest first."""
        with self._lock:
            rows = self._conn.execute(
                "SELECT doc FROM messages WHERE thread_id = ? ORDER BY created_at, id", (root_id,)
            ).fetchall()
        return [json.loads(row["doc"]) for row in rows]

    def collection(self, name: str) -> list[dict[str, Any]]:
        """A whole collection in the fleet's order."""
        if name not in WHOLE_COLLECTIONS:
            raise ValueError(f"not a snapshot collection: {name}")
        with self._lock:
            rows = self._conn.execute(f"SELECT doc FROM {name} ORDER BY position").fetchall()
        return [json.loads(row["doc"]) for row in rows]

    def topic_id(self, slug: str) -> str | None:
        """The fleet UUID of a topic named by its slug (held writes that name a topic by slug)."""
        with self._lock:
            row = self._conn.execute("SELECT id FROM topics WHERE slug = ?", (slug,)).fetchone()
        return None if row is None else str(row["id"])
