"""Local reads and archives of fleet messages: the writes laid on top of the fleet snapshot's copies.

A `message.read` / `message.archive` envelope naming a message the read model does not hold (one
the fleet snapshot showed) is recorded here by the overlay, so the mark survives a read-model
rebuild (it is replayed from the journal) while the snapshot itself stays a pure copy of the fleet.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping
from typing import Any, TypedDict

from devhub.store.reader import Reader


class MessageMark(TypedDict):
    """What was done here to a fleet message: when it was read, when archived (None: not)."""

    read_at: str | None
    archived_at: str | None


def apply_fleet_mark(conn: sqlite3.Connection, envelope: Mapping[str, Any]) -> None:
    """Record a read or archive of a message this read model does not hold (the overlay calls it)."""
    kind = envelope.get("kind")
    if kind not in ("message.read", "message.archive"):
        return
    message_id = (envelope.get("target") or {}).get("id")
    if not message_id or conn.execute("SELECT 1 FROM messages WHERE id = ?", (message_id,)).fetchone():
        return  # a message written here: the overlay updated its row
    record = envelope.get("record") or {}
    column = "read_at" if kind == "message.read" else "archived_at"
    when = record.get(column) or envelope.get("ts")
    conn.execute(
        f"INSERT INTO fleet_message_marks(id, {column}) VALUES (?, ?)"
        f" ON CONFLICT(id) DO UPDATE SET {column} = COALESCE({column}, excluded.{column})",
        (message_id, when),
    )


async def fleet_message_marks(reader: Reader) -> dict[str, MessageMark]:
    """Every local mark of a fleet message, by the fleet's message id."""
    rows = await reader.all("SELECT id, read_at, archived_at FROM fleet_message_marks")
    return {row["id"]: {"read_at": row["read_at"], "archived_at": row["archived_at"]} for row in rows}
