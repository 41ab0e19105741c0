"""Local resolves and patches of fleet decisions: the writes laid on top of the fleet snapshot's copies.

A `decision.patch` / `decision.resolve` envelope naming a decision the read model does not hold (a
pending one the fleet snapshot showed) is recorded here by the overlay, as the changed fields, so the
change survives a read-model rebuild (it is replayed from the journal) while the snapshot itself stays
a pure copy of the fleet. The same design as fleet message marks (store/message_marks.py).
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Mapping
from typing import Any

from devhub.store.reader import Reader

MARKED_KINDS = frozenset({"decision.patch", "decision.resolve"})


def apply_fleet_decision_mark(conn: sqlite3.Connection, envelope: Mapping[str, Any]) -> None:
    """Record a patch or resolve of a decision this read model does not hold (the overlay calls it)."""
    if envelope.get("kind") not in MARKED_KINDS:
        return
    decision_id = (envelope.get("target") or {}).get("id")
    if not decision_id or conn.execute("SELECT 1 FROM decisions WHERE id = ?", (decision_id,)).fetchone():
        return  # a decision written here: apply_decision updated its row
    changes = dict((envelope.get("record") or {}).get("changes") or {})
    if not changes:
        return
    found = conn.execute("SELECT changes FROM fleet_decision_marks WHERE id = ?", (decision_id,)).fetchone()
    merged = {**(json.loads(found[0]) if found and found[0] else {}), **changes}  # later writes win per field
    conn.execute(
        "INSERT OR REPLACE INTO fleet_decision_marks(id, changes, updated_at) VALUES (?, ?, ?)",
        (decision_id, json.dumps(merged, sort_keys=True, ensure_ascii=False), changes.get("updated_at")),
    )


async def fleet_decision_marks(reader: Reader) -> dict[str, dict[str, Any]]:
    """Every local change to a fleet decision (its changed fields), by the fleet's decision id."""
    rows = await reader.all("SELECT id, changes FROM fleet_decision_marks")
    return {row["id"]: json.loads(row["changes"]) for row in rows if row["changes"]}
