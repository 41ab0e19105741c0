"""Fleet decision marks rebuilt from the journal: a change to a fleet-only decision is kept, a local one is not."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

from devhub.registry import inspect_repo
from devhub.store.writer import rebuild
from tests.support.repos import make_workspace

FLEET_ID = "0b6f3a52-1c1e-4a57-9d3b-6f7f2f0c9a10"
LOCAL_ID = "6e2d4c11-8f0a-4b7e-a1c9-2b3d4e5f6a70"
FLEET_COPY = {"id": FLEET_ID, "title": "Pick the fleet database", "status": "open", "decision_type": "pending"}


def _envelope(seq: int, kind: str, ident: str, changes: dict[str, Any], **record: Any) -> dict[str, Any]:
    return {
        "seq": seq,
        "id": f"e{seq}",
        "ts": f"2026-12-01T10:00:0{seq}.000Z",
        "kind": kind,
        "target": {"kind": "decision", "id": ident, "repo": None, "fleet": ident == FLEET_ID},
        "body": {},
        "record": {"changes": changes, **record},
    }


def test_a_fleet_decisions_patch_then_resolve_merge_into_one_mark_and_a_local_decision_gets_none(
    tmp_path: Path,
) -> None:
    repos = [inspect_repo(p).repo for p in make_workspace(tmp_path / "ws", ["the-custodian"])]
    local_row = {"id": LOCAL_ID, "title": "Local", "decision_type": "pending", "status": "open"}
    journal = [
        _envelope(1, "decision.patch", FLEET_ID, {"deadline": "2030-01-01"}, fleet_decision=FLEET_COPY),
        _envelope(2, "decision.resolve", FLEET_ID, {"status": "resolved", "decision_type": "made"}),
        {**_envelope(3, "decision", LOCAL_ID, {}), "record": {"id": LOCAL_ID, "decision": local_row}},
        _envelope(4, "decision.resolve", LOCAL_ID, {"status": "resolved"}),
    ]
    db = tmp_path / "rm.sqlite"
    rebuild(db, repos, journal)
    conn = sqlite3.connect(db)
    try:
        rows = conn.execute("SELECT id, changes, decision FROM fleet_decision_marks").fetchall()
        assert [row[0] for row in rows] == [FLEET_ID]
        assert json.loads(rows[0][1]) == {"deadline": "2030-01-01", "status": "resolved", "decision_type": "made"}
        # The copy taken with the first change, every later change on top (deadline is not in the copy's keys).
        assert json.loads(rows[0][2]) == FLEET_COPY | {"status": "resolved", "decision_type": "made"}
        assert conn.execute("SELECT status FROM decisions WHERE id = ?", (LOCAL_ID,)).fetchone() == ("resolved",)
    finally:
        conn.close()
