"""A journal written before a field was validated still applies: one odd envelope never blocks the rest."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from devhub.registry import inspect_repo
from devhub.store.writer import rebuild
from tests.support.repos import make_workspace


def test_a_workplan_patch_with_a_non_text_note_applies_and_later_envelopes_follow(tmp_path: Path) -> None:
    repos = [inspect_repo(p).repo for p in make_workspace(tmp_path / "ws", ["the-custodian"])]
    journal = [
        {
            "seq": 1,
            "id": "e1",
            "ts": "2026-11-29T10:00:00.000Z",
            "kind": "workplan.patch",
            "target": {"kind": "workplan", "repo": "the-custodian", "id": "CUST-WP-0054"},
            "body": {"status": "active", "note": ["accepted before notes were validated"]},
            "observed": {"status": "active", "file": {"status": "active"}},
        },
        {
            "seq": 2,
            "id": "e2",
            "ts": "2026-11-29T10:00:01.000Z",
            "kind": "progress",
            "target": {"kind": "progress"},
            "record": {"id": "p-1", "created_at": "2026-11-29T10:00:01.000Z"},
            "body": {"summary": "written after the odd one"},
        },
    ]
    db = tmp_path / "rm.sqlite"
    rebuild(db, repos, journal)
    conn = sqlite3.connect(db)
    try:
        assert conn.execute("SELECT summary FROM progress").fetchall() == [("written after the odd one",)]
        assert conn.execute("SELECT field, value, note FROM local_writes").fetchall() == [("status", '"active"', None)]
    finally:
        conn.close()
