"""Parallel parsing: a build on worker processes dumps byte for byte like a serial one, and leaves none behind."""

from __future__ import annotations

import sqlite3
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from benchmarks.corpus import SCALES, generate
from devhub.registry import Repo, inspect_repo
from devhub.store import parallel
from devhub.store.writer import ReadModelWriter, rebuild
from tests.store.test_readmodel import JOURNAL as READ_MODEL_JOURNAL
from tests.support.repos import make_workspace
from tests.support.waiting import wait_for

JOURNAL = READ_MODEL_JOURNAL[:1]  # one local status write, the same envelope the read-model tests use


def _dump(db: Path) -> list[str]:
    conn = sqlite3.connect(db)
    try:
        return list(conn.iterdump())
    finally:
        conn.close()


@pytest.fixture
def workers(monkeypatch: pytest.MonkeyPatch) -> list[parallel._Worker]:
    """Every parse worker started during the test; small chunks so even a small corpus takes many."""
    started: list[parallel._Worker] = []
    real_init = parallel._Worker.__init__

    def init(self: parallel._Worker) -> None:
        real_init(self)
        started.append(self)
        # Wait for it to say it is ready (or to die): otherwise, on a busy machine, the writer may parse
        # a small corpus all by itself before any worker gets a chunk, and the test would prove nothing.
        wait_for(lambda: self.ready.is_set() or not self.alive, timeout=60, what="a parse worker to start")

    monkeypatch.setattr(parallel._Worker, "__init__", init)
    monkeypatch.setattr(parallel, "POOL_THRESHOLD", 0)
    monkeypatch.setattr(parallel, "CHUNK_FILES", 3)
    return started


def _fixture_repos(tmp_path: Path) -> list[Repo]:
    return [inspect_repo(p).repo for p in make_workspace(tmp_path / "ws")]


def _generated_repos(tmp_path: Path) -> list[Repo]:
    manifest = generate(SCALES["quick"], tmp_path / "corpus")
    return [inspect_repo(tmp_path / "corpus" / r["slug"]).repo for r in manifest["repos"]]


@pytest.mark.parametrize("corpus", [_fixture_repos, _generated_repos], ids=["fixtures", "generated"])
def test_a_parallel_build_dumps_like_a_serial_one(
    tmp_path: Path, workers: list[parallel._Worker], corpus: Callable[[Path], list[Repo]]
) -> None:
    repos = corpus(tmp_path)
    rebuild(tmp_path / "serial.sqlite", repos, JOURNAL, parse_workers=0)
    assert workers == []
    rebuild(tmp_path / "parallel.sqlite", repos, JOURNAL, parse_workers=2)
    assert len(workers) == 2
    serial, parallel_dump = _dump(tmp_path / "serial.sqlite"), _dump(tmp_path / "parallel.sqlite")
    assert serial == parallel_dump
    assert sum(line.startswith('INSERT INTO "tasks"') for line in serial) > 30


def test_no_worker_outlives_the_build(tmp_path: Path, workers: list[parallel._Worker]) -> None:
    with ReadModelWriter(tmp_path / "rm.sqlite", parse_workers=2) as writer:
        writer.sync(_fixture_repos(tmp_path))
        assert writer.parse_workers_started == 2
        assert [w.process.returncode for w in workers] == [0, 0]  # exited (cleanly) before sync returned
        assert not any(thread.is_alive() for w in workers for thread in w._threads)


def test_small_syncs_never_start_workers(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(self: parallel._Worker) -> None:
        raise AssertionError("a small sync started a parse worker")

    monkeypatch.setattr(parallel._Worker, "__init__", refuse)
    repos = _fixture_repos(tmp_path)
    with ReadModelWriter(tmp_path / "rm.sqlite", parse_workers=2) as writer:
        assert writer.sync(repos).parsed > 5  # the fixture corpus: far below the threshold
        repo = repos[0]
        changed = sorted((repo.root / "workplans").glob("*.md"))[0]
        changed.write_text(changed.read_text() + "\nedited\n")
        report = writer.sync_paths(repo, [f"workplans/{changed.name}"])  # the watcher's path
        assert report.parsed == 1 and writer.parse_workers_started == 0


# A worker that says it is ready, then: reads part of its first request and dies / answers garbage /
# answers the wrong number of files. Each time the writer parses those files itself: same dump.
_BAD_WORKERS = {
    "dies": "sys.stdin.buffer.read(3)",
    "garbage": (
        "sys.stdin.buffer.read(8); out.write(struct.pack('!Q', 5) + b'junk!'); out.flush(); sys.stdin.buffer.read()"
    ),
    "wrong-count": (
        "n = struct.unpack('!Q', sys.stdin.buffer.read(8))[0]; sys.stdin.buffer.read(n); body = pickle.dumps([]);"
        " out.write(struct.pack('!Q', len(body)) + body); out.flush()"
    ),
}


@pytest.mark.parametrize("behaviour", sorted(_BAD_WORKERS))
def test_a_failing_worker_falls_back_to_parsing_in_process(
    tmp_path: Path,
    workers: list[parallel._Worker],
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    behaviour: str,
) -> None:
    boot = (
        "import pickle, struct, sys; out = sys.stdout.buffer; out.write(struct.pack('!Q', 0)); out.flush(); "
        + _BAD_WORKERS[behaviour]
    )
    monkeypatch.setattr(parallel, "_BOOT", boot)
    repos = _fixture_repos(tmp_path)
    rebuild(tmp_path / "serial.sqlite", repos, JOURNAL, parse_workers=0)
    rebuild(tmp_path / "parallel.sqlite", repos, JOURNAL, parse_workers=2)
    assert len(workers) == 2
    assert _dump(tmp_path / "serial.sqlite") == _dump(tmp_path / "parallel.sqlite")
    assert all(w.process.returncode is not None for w in workers)
    if behaviour != "dies":  # a worker that just ends is not worth a warning; a wrong answer is
        assert "parse worker" in caplog.text


def test_workers_that_cannot_start_leave_the_build_to_this_process(
    tmp_path: Path, workers: list[parallel._Worker], monkeypatch: pytest.MonkeyPatch
) -> None:
    repos = _fixture_repos(tmp_path)
    rebuild(tmp_path / "serial.sqlite", repos, JOURNAL, parse_workers=0)
    monkeypatch.setattr(sys, "executable", str(tmp_path / "no-such-python"))
    with ReadModelWriter(tmp_path / "parallel.sqlite", parse_workers=2) as writer:
        writer.sync(repos)
        writer.apply(JOURNAL)
        assert writer.parse_workers_started == 0
    assert _dump(tmp_path / "serial.sqlite") == _dump(tmp_path / "parallel.sqlite")
