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
from typing import Any, TypedDict

from devhub.store.reader import Reader

MARKED_KINDS = frozenset({"decision.patch", "decision.resolve"})


class DecisionMark(TypedDict):
    """What was done here to a fleet decision: the changed fields, and the whole decision after them.

    `decision` (the snapshot's copy when the change was made, the changes on top) still answers
    `GET /decisions/{id}` and a second resolve (409) after a refreshed snapshot no longer lists the
    decision, because the fleet resolved it (a pending-only copy forgets resolved ones).
    """

    changes: dict[str, Any]
    decision: dict[str, Any] | None


def apply_fleet_decision_mark(conn: sqlite3.Connection, envelope: Mapping[str, Any]) -> None:
    """Record a patch or resolve of a decision this read model does not hold (the overlay calls it)."""
    if envelope.get("kind") not in MARKED_KINDS:
        return
    decision_id = (envelope.get("target") or {}).get("id")
    if not decision_id or conn.execute("SELECT 1 FROM decisions WHERE id = ?", (decision_id,)).fetchone():
        return  # a decision written here: apply_decision updated its row
    record = envelope.get("record") or {}
    changes = dict(record.get("changes") or {})
    if not changes:
        return
    found = conn.execute("SELECT changes, decision FROM fleet_decision_marks WHERE id = ?", (decision_id,)).fetchone()
    earlier = json.loads(found[0]) if found and found[0] else {}
    base = record.get("fleet_decision") or (json.loads(found[1]) if found and found[1] else None)
    decision = None if base is None else {**base, **{k: v for k, v in changes.items() if k in base}}
    conn.execute(
        "INSERT OR REPLACE INTO fleet_decision_marks(id, changes, decision, updated_at) VALUES (?, ?, ?, ?)",
        (decision_id, _dump({**earlier, **changes}), _dump(decision), changes.get("updated_at")),  # later wins
    )


def _dump(value: Any) -> str | None:
    return None if value is None else json.dumps(value, sort_keys=True, ensure_ascii=False)


async def fleet_decision_marks(reader: Reader) -> dict[str, DecisionMark]:
    """Every local change to a fleet decision, by the fleet's decision id."""
    rows = await reader.all("SELECT id, changes, decision FROM fleet_decision_marks")
    return {
        row["id"]: {
            "changes": json.loads(row["changes"] or "{}"),
            "decision": json.loads(row["decision"]) if row["decision"] else None,
        }
        for row in rows
    }
