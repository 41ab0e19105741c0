"""The read model against a journal that changed while the daemon was stopped (real daemons, real files).

The model records the seq and envelope id it last applied; a journal that no longer holds
them (torn or cut tail, deleted folder, an older or another copy) makes the next start
rebuild from files + journal, so a new write is never hidden behind an "already applied" seq
and a write the journal lost does not stay visible.
"""

from __future__ import annotations

import shutil
import sqlite3
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.support.daemon import RunningDaemon, start_daemon
from tests.support.repos import make_workspace
from tests.support.waiting import wait_for


def _segments(journal: Path) -> list[Path]:
    return sorted(journal.glob("*.jsonl"))


def _lines(journal: Path) -> list[bytes]:
    return [line for segment in _segments(journal) for line in segment.read_bytes().splitlines(keepends=True)]


def _rewrite(journal: Path, lines: list[bytes]) -> None:
    """Put `lines` back as the journal's only segment (its name is the first seq's)."""
    segments = _segments(journal)
    for segment in segments[1:]:
        segment.unlink()
    segments[0].write_bytes(b"".join(lines))


def _torn_last_line(journal: Path, _older: Path) -> None:
    lines = _lines(journal)
    _rewrite(journal, [*lines[:-1], lines[-1][: len(lines[-1]) // 2]])


def _last_two_lines_dropped(journal: Path, _older: Path) -> None:
    _rewrite(journal, _lines(journal)[:-2])


def _folder_deleted(journal: Path, _older: Path) -> None:
    shutil.rmtree(journal)


def _older_copy_restored(journal: Path, older: Path) -> None:
    shutil.rmtree(journal)
    shutil.copytree(older, journal)


def _log_text(daemon: RunningDaemon) -> str:
    """The daemon's log with rich's line wrapping undone."""
    return " ".join(daemon.log().split())


def _summaries(daemon: RunningDaemon) -> set[str]:
    response = daemon.get("/progress/", params={"limit": 500})
    assert response.status_code == 200, response.text
    return {event["summary"] for event in response.json()}


@pytest.mark.parametrize(
    ("cut", "survivors"),
    [
        (_torn_last_line, {"first", "second"}),
        (_last_two_lines_dropped, {"first"}),
        (_folder_deleted, set()),
        (_older_copy_restored, {"first"}),
    ],
    ids=["torn-last-line", "last-lines-dropped", "folder-deleted", "older-copy"],
)
def test_a_journal_that_ends_before_the_read_model_makes_it_rebuild(
    tmp_path: Path, workspace: list[Path], cut: Callable[[Path, Path], None], survivors: set[str]
) -> None:
    hub = start_daemon(tmp_path / "hub", workspace)
    journal = hub.data_dir / "journal"
    older = tmp_path / "older-journal"
    try:
        assert hub.request("POST", "/progress/", json={"summary": "first"}).status_code == 201
        hub.stop()
        shutil.copytree(journal, older, ignore=shutil.ignore_patterns("LOCK"))
        hub = start_daemon(tmp_path / "hub", workspace)
        for summary in ("second", "third"):
            assert hub.request("POST", "/progress/", json={"summary": summary}).status_code == 201
        assert _summaries(hub) == {"first", "second", "third"}
    finally:
        hub.stop()
    cut(journal, older)
    hub = start_daemon(tmp_path / "hub", workspace)
    try:
        assert _summaries(hub) == survivors  # what the journal lost is gone from the model too
        assert hub.request("POST", "/progress/", json={"summary": "after"}).status_code == 201
        assert _summaries(hub) == survivors | {"after"}  # the new write shows although it reuses a seq
        assert "rebuilding it from files + journal" in _log_text(hub)
        verify = hub.cli("verify", "--json")
        assert verify.returncode == 0, verify.stdout
    finally:
        hub.stop()


def test_another_journal_with_as_many_envelopes_is_told_apart_by_envelope_id(tmp_path: Path) -> None:
    """Same seqs, other envelopes (a journal from elsewhere): only the envelope id can tell."""
    workspace = make_workspace(tmp_path / "ws", ["the-custodian"])
    other = start_daemon(tmp_path / "other", workspace)
    try:
        for summary in ("elsewhere-1", "elsewhere-2"):
            assert other.request("POST", "/progress/", json={"summary": summary}).status_code == 201
    finally:
        other.stop()
    hub = start_daemon(tmp_path / "hub", workspace)
    try:
        for summary in ("here-1", "here-2"):
            assert hub.request("POST", "/progress/", json={"summary": summary}).status_code == 201
    finally:
        hub.stop()
    journal = hub.data_dir / "journal"
    shutil.rmtree(journal)
    shutil.copytree(other.data_dir / "journal", journal, ignore=shutil.ignore_patterns("LOCK"))
    hub = start_daemon(tmp_path / "hub", workspace)
    try:
        assert _summaries(hub) == {"elsewhere-1", "elsewhere-2"}
        assert hub.request("POST", "/progress/", json={"summary": "here-3"}).status_code == 201
        assert "here-3" in _summaries(hub)
        assert "the journal holds envelope" in _log_text(hub)
    finally:
        hub.stop()


def test_the_cli_without_a_daemon_also_rebuilds(tmp_path: Path, workspace: list[Path]) -> None:
    """`devhub` commands that sync the model themselves apply the same check."""
    hub = start_daemon(tmp_path / "hub", workspace)
    try:
        for summary in ("first", "second"):
            assert hub.request("POST", "/progress/", json={"summary": summary}).status_code == 201
    finally:
        hub.stop()
    _last_two_lines_dropped(hub.data_dir / "journal", tmp_path)
    verify = hub.cli("verify", "--json")
    assert verify.returncode == 0, verify.stdout
    conn = sqlite3.connect(f"file:{hub.data_dir / 'readmodel.sqlite'}?mode=ro", uri=True)
    try:
        assert conn.execute("SELECT COUNT(*) FROM progress").fetchone()[0] == 0
    finally:
        conn.close()


def _delete_database(data_dir: Path) -> None:
    for suffix in ("", "-wal", "-shm"):
        Path(f"{data_dir / 'readmodel.sqlite'}{suffix}").unlink(missing_ok=True)


def _delete_main_file_only(data_dir: Path) -> None:
    (data_dir / "readmodel.sqlite").unlink()


def _replace_with_garbage(data_dir: Path) -> None:
    _delete_database(data_dir)
    (data_dir / "readmodel.sqlite").write_bytes(b"not a database at all" * 100)


@pytest.mark.parametrize(
    "damage",
    [_delete_database, _delete_main_file_only, _replace_with_garbage],
    ids=["db-wal-shm-deleted", "db-deleted", "replaced-by-garbage"],
)
def test_a_database_deleted_while_running_is_rebuilt_without_a_restart(
    daemon: RunningDaemon, damage: Callable[[Path], None]
) -> None:
    task = "CUST-WP-0054-T05"
    assert daemon.request("PATCH", f"/tasks/{task}", json={"status": "progress"}).status_code == 200
    assert daemon.request("POST", "/progress/", json={"summary": "before"}).status_code == 201
    damage(daemon.data_dir)
    answers = []

    def recovered() -> bool:
        got = daemon.get(f"/tasks/{task}")
        answers.append(got.status_code)
        return got.status_code == 200 and got.json()["status"] == "progress"

    wait_for(recovered, timeout=15, what="reads to recover after the database was deleted")
    assert daemon.request("POST", "/progress/", json={"summary": "after"}).status_code == 201
    assert _summaries(daemon) == {"before", "after"}
    assert set(answers) <= {200, 503}, answers  # a rebuild in progress is a 503, never a 500
    status = daemon.cli("status")
    assert status.returncode == 0 and "tasks: " in status.stdout, status.stdout + status.stderr
    assert daemon.get("/state/daemon").json()["read_model"]["state"] == "ok"
    verify = daemon.cli("verify", "--json")
    assert verify.returncode == 0, verify.stdout


def test_a_write_right_after_the_deletion_is_applied_and_readable(daemon: RunningDaemon) -> None:
    """The write that meets the vanished file first: saved, and visible once the model is rebuilt."""
    _delete_database(daemon.data_dir)
    posted = daemon.request("POST", "/progress/", json={"summary": "first after deletion"})
    assert posted.status_code == 201, posted.text
    wait_for(lambda: "first after deletion" in _summaries(daemon), timeout=15, what="the write to be readable")
