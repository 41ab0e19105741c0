"""The read model: deterministic builds, the fingerprint cache, schema versions, collisions, overlay."""

from __future__ import annotations

import asyncio
import os
import sqlite3
from pathlib import Path

from devhub.registry import Repo, inspect_repo
from devhub.store import activity, queries
from devhub.store.reader import Reader
from devhub.store.schema import SCHEMA_VERSION
from devhub.store.writer import ReadModelWriter, rebuild
from tests.support.repos import make_repo_from, make_workspace

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"


def _repos(paths: list[Path]) -> list[Repo]:
    return [inspect_repo(p).repo for p in paths]


def _dump(db: Path) -> list[str]:
    conn = sqlite3.connect(db)
    try:
        return list(conn.iterdump())
    finally:
        conn.close()


def _query(db: Path, fn):  # type: ignore[no-untyped-def]
    async def run():  # type: ignore[no-untyped-def]
        reader = await Reader.open(db)
        try:
            return await fn(reader)
        finally:
            await reader.close()

    return asyncio.run(run())


JOURNAL = [
    {
        "seq": 1,
        "id": "e1",
        "ts": "2026-11-29T10:00:00.000Z",
        "kind": "task.patch",
        "target": {"kind": "task", "repo": "the-custodian", "id": "CUST-WP-0054-T05"},
        "body": {"status": "progress"},
        "observed": {
            "status": "todo",
            "file": {"status": "todo", "needs_human": False, "intervention_note": None, "blocking_reason": None},
        },
    },
    {
        "seq": 2,
        "id": "e2",
        "ts": "2026-11-29T10:00:01.000Z",
        "kind": "progress",
        "target": {"kind": "progress"},
        "record": {"id": "p-1", "created_at": "2026-11-29T10:00:01.000Z"},
        "body": {"summary": "started the move", "event_type": "note", "task_id": "CUST-WP-0054-T05"},
    },
]


def test_two_builds_of_the_same_input_dump_identically(tmp_path: Path) -> None:
    """Same files + same journal => the same read model, byte for byte in a dump (SPEC §1)."""
    repos = _repos(make_workspace(tmp_path / "ws"))
    rebuild(tmp_path / "a.sqlite", repos, JOURNAL)
    rebuild(tmp_path / "b.sqlite", repos, JOURNAL)
    first, second = _dump(tmp_path / "a.sqlite"), _dump(tmp_path / "b.sqlite")
    assert first == second
    assert any("CUST-WP-0054-T10" in line for line in first)
    assert any("started the move" in line for line in first)


def test_restart_reparses_only_changed_files(tmp_path: Path) -> None:
    repos = _repos(make_workspace(tmp_path / "ws"))
    db = tmp_path / "rm.sqlite"
    with ReadModelWriter(db) as writer:
        cold = writer.sync(repos)
    assert cold.parsed == cold.seen > 5
    with ReadModelWriter(db) as writer:
        warm = writer.sync(repos)
    assert warm.parsed == 0 and warm.unchanged == cold.seen
    target = next(r for r in repos if r.slug == "the-custodian").root / "workplans"
    changed = sorted(target.glob("CUST-WP-0054-*.md"))[0]
    changed.write_text(changed.read_text().replace("status: todo", "status: progress", 1))
    touched_only = sorted(target.glob("CUST-WP-0011-*.md"))[0]
    stat = touched_only.stat()
    os.utime(touched_only, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10_000_000))  # same bytes, new mtime
    with ReadModelWriter(db) as writer:
        after = writer.sync(repos)
    assert after.parsed == 1  # the hash saves the touched-but-identical file from a re-parse
    assert after.changed_workplan_keys == {f"the-custodian:workplans/{changed.name}"}


def test_schema_version_mismatch_rebuilds_instead_of_crashing(tmp_path: Path) -> None:
    repos = _repos(make_workspace(tmp_path / "ws", ["the-custodian"]))
    db = tmp_path / "rm.sqlite"
    with ReadModelWriter(db) as writer:
        writer.sync(repos)
    conn = sqlite3.connect(db)
    conn.execute("UPDATE meta SET value = '0' WHERE key = 'schema_version'")
    conn.execute("CREATE TABLE leftover_from_old_version (x)")
    conn.commit()
    conn.close()
    with ReadModelWriter(db) as writer:
        report = writer.sync(repos)
        assert report.parsed == report.seen  # everything read afresh
        version = writer.conn.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()[0]
        tables = {r[0] for r in writer.conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert version == str(SCHEMA_VERSION) and "leftover_from_old_version" not in tables


def test_corrupt_database_file_is_rebuilt(tmp_path: Path) -> None:
    repos = _repos(make_workspace(tmp_path / "ws", ["state-hub"]))
    db = tmp_path / "rm.sqlite"
    db.write_bytes(b"this is not a sqlite database" * 100)
    with ReadModelWriter(db) as writer:
        assert writer.sync(repos).parsed > 0


def test_duplicate_ids_across_repos_are_both_kept_and_reported(tmp_path: Path) -> None:
    paths = [make_repo_from(FIXTURES / "collision" / name, tmp_path / name) for name in ("repo-a", "repo-b")]
    repos = _repos(paths)
    db = tmp_path / "rm.sqlite"
    rebuild(db, repos, [])
    index = _query(db, queries.workplan_index)
    assert sorted((w["id"], w["repo"]) for w in index if w["id"] == "INFRA-WP-0003") == [
        ("INFRA-WP-0003", "repo-a"),
        ("INFRA-WP-0003", "repo-b"),
    ]
    problems = _query(db, activity.list_problems)
    codes = {(p["code"], p["repo"]) for p in problems}
    assert ("duplicate-workplan-id-across-repos", "repo-a") in codes
    assert ("duplicate-workplan-id-across-repos", "repo-b") in codes
    try:
        _query(db, lambda r: queries.get_workplan(r, "INFRA-WP-0003"))
    except Exception as exc:  # Ambiguous: 409 listing both candidates
        assert getattr(exc, "status", None) == 409
        assert {c["repo"] for c in exc.extra["candidates"]} == {"repo-a", "repo-b"}  # type: ignore[attr-defined]
    else:
        raise AssertionError("an ambiguous id must not pick one repo silently")
    chosen = _query(db, lambda r: queries.get_workplan(r, "INFRA-WP-0003", "repo-b"))
    assert chosen["repo"] == "repo-b"


def test_ready_follows_the_rule(tmp_path: Path) -> None:
    repos = _repos(make_workspace(tmp_path / "ws"))
    db = tmp_path / "rm.sqlite"
    rebuild(db, repos, [])
    tasks = {t["id"]: t for t in _query(db, queries.list_tasks)}
    workplans = {w["id"]: w for w in _query(db, queries.list_workplans)}
    for task in tasks.values():
        deps_settled = all(tasks.get(d, {}).get("status") in ("done", "cancel") for d in task["depends_on"])
        expected = (
            task["status"] == "todo"
            and workplans[task["workplan_id"]]["status"] in ("active", "ready")
            and deps_settled
        )
        assert task["ready"] == expected, task["id"]
    assert any(t["ready"] for t in tasks.values()) and any(
        t["status"] == "todo" and not t["ready"] for t in tasks.values()
    )


def test_overlay_holds_then_reconciles_or_conflicts(tmp_path: Path) -> None:
    repos = _repos(make_workspace(tmp_path / "ws", ["the-custodian"]))
    db = tmp_path / "rm.sqlite"
    envelope = JOURNAL[0]  # T05: todo -> progress, made while the file said todo
    path = repos[0].root / "workplans" / "CUST-WP-0054-workstation-independence.md"
    original = path.read_text()
    with ReadModelWriter(db) as writer:
        writer.sync(repos)
        writer.apply([envelope])
    task = _query(db, lambda r: queries.get_task(r, "CUST-WP-0054-T05"))
    assert (task["status"], task["status_source"], task["pending_local"]) == (
        "progress",
        "local",
        {"status": "progress"},
    )
    # The file catches up (a writeback or a pull): the write is reconciled.
    path.write_text(original.replace("id: CUST-WP-0054-T05\nstatus: todo", "id: CUST-WP-0054-T05\nstatus: progress"))
    with ReadModelWriter(db) as writer:
        writer.sync(repos)
    task = _query(db, lambda r: queries.get_task(r, "CUST-WP-0054-T05"))
    assert (task["status"], task["status_source"], task["conflicts"]) == ("progress", "file", [])
    # The file moves somewhere else: the file wins, and the disagreement is listed.
    path.write_text(original.replace("id: CUST-WP-0054-T05\nstatus: todo", "id: CUST-WP-0054-T05\nstatus: cancel"))
    with ReadModelWriter(db) as writer:
        writer.sync(repos)
    task = _query(db, lambda r: queries.get_task(r, "CUST-WP-0054-T05"))
    assert task["status"] == "cancel" and task["conflicts"] == [
        {"field": "status", "local": "progress", "file": "cancel"}
    ]
    conflicts = _query(db, activity.list_conflicts)
    assert [(c["id"], c["local_value"], c["file_value_now"]) for c in conflicts] == [
        ("CUST-WP-0054-T05", "progress", "cancel")
    ]
