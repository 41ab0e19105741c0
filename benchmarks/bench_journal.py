"""Journal write throughput, each figure next to a floor measured in the same run on the same disk.

- 1 thread vs a bare write(line)+fsync loop over the same line bytes (target ≥ 0.7×)
- 32 threads vs the 1-thread journal rate (group commit; target ≥ 5×)
- 32 threads vs a SQLite outbox (one INSERT per transaction, WAL, synchronous=FULL,
  one connection per thread, the same payloads; target ≥ 2×)
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import statistics
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from relay.journal import Journal

THREADS = 32


def _fields(number: int) -> dict[str, Any]:
    """A realistic POST /progress/ envelope's caller fields."""
    return {
        "idempotency_key": f"bench-{number:08d}",
        "method": "POST",
        "path": "/progress/",
        "body": {
            "summary": f"benchmark progress event {number}: parsed the workplan and updated three tasks",
            "event_type": "note",
            "author": "bench-agent",
            "task_id": "CUST-WP-0054-T05",
        },
        "origin": {"agent": "bench-agent", "host": "laptop", "repo": "the-custodian", "session": "s-1"},
        "observed": {"status": "progress"},
    }


def _fresh(directory: Path) -> Path:
    shutil.rmtree(directory, ignore_errors=True)
    directory.mkdir(parents=True)
    return directory


def _in_threads(count: int, per_thread: int, work: Callable[[int, int], object]) -> float:
    """Run work(thread, i) per_thread times in each of count threads; appends per second."""
    start = threading.Barrier(count + 1)
    errors: list[BaseException] = []

    def body(thread: int) -> None:
        try:
            start.wait()
            for index in range(per_thread):
                work(thread, index)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=body, args=(n,)) for n in range(count)]
    for thread in threads:
        thread.start()
    start.wait()
    began = time.perf_counter()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - began
    if errors:
        raise errors[0]
    return count * per_thread / elapsed


def journal_rate(directory: Path, threads: int, per_thread: int) -> tuple[float, list[bytes]]:
    """Appends/s of a fresh journal; also returns the lines it wrote (for the bare floor)."""
    journal = Journal.open(_fresh(directory))
    try:
        rate = _in_threads(threads, per_thread, lambda t, i: journal.append(_fields(t * 1_000_000 + i)))
    finally:
        journal.close()
    lines = b"".join(p.read_bytes() for p in sorted(directory.glob("*.jsonl"))).splitlines(keepends=True)
    return rate, lines


def bare_fsync_rate(directory: Path, lines: list[bytes]) -> float:
    """Writes/s of the floor: write(line) then fsync, in a loop, on a plain append-only file."""
    path = _fresh(directory) / "bare.log"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    try:
        began = time.perf_counter()
        for line in lines:
            os.write(fd, line)
            os.fsync(fd)
        return len(lines) / (time.perf_counter() - began)
    finally:
        os.close(fd)


def sqlite_outbox_rate(directory: Path, threads: int, per_thread: int) -> float:
    """Rows/s of a SQLite outbox: each write one INSERT in its own transaction, WAL, synchronous=FULL."""
    path = _fresh(directory) / "outbox.sqlite"
    setup = sqlite3.connect(path)
    setup.execute("PRAGMA journal_mode=WAL")
    setup.execute("CREATE TABLE outbox (seq INTEGER PRIMARY KEY AUTOINCREMENT, key TEXT UNIQUE, envelope TEXT)")
    setup.commit()
    setup.close()
    connections = []
    for _ in range(threads):
        connection = sqlite3.connect(path, check_same_thread=False, timeout=60, isolation_level=None)
        connection.execute("PRAGMA synchronous=FULL")
        connections.append(connection)

    def insert(thread: int, index: int) -> None:
        fields = _fields(thread * 1_000_000 + index)
        connection = connections[thread]
        connection.execute("BEGIN IMMEDIATE")
        connection.execute(
            "INSERT INTO outbox (key, envelope) VALUES (?, ?)", (fields["idempotency_key"], json.dumps(fields))
        )
        connection.execute("COMMIT")

    try:
        return _in_threads(threads, per_thread, insert)
    finally:
        for connection in connections:
            connection.close()


def _figure(name: str, value: float, floor: float, floor_name: str, target: float) -> dict[str, Any]:
    ratio = value / floor if floor else 0.0
    return {
        "name": name,
        "value": round(value, 1),
        "unit": "appends/s",
        "floor": round(floor, 1),
        "floor_name": floor_name,
        "ratio": round(ratio, 3),
        "target": f">= {target}x",
        "met": ratio >= target,
    }


def run(workdir: Path, quick: bool) -> dict[str, Any]:
    """Measure the journal figures in workdir; quick=True is a few hundred appends per figure."""
    single_n = 300 if quick else 3000
    per_thread = 10 if quick else 100
    repeats = 1 if quick else 3
    single, bare, many, outbox = [], [], [], []
    for _ in range(repeats):
        rate, lines = journal_rate(workdir / "journal-1", 1, single_n)
        single.append(rate)
        bare.append(bare_fsync_rate(workdir / "bare", lines))
        many.append(journal_rate(workdir / "journal-32", THREADS, per_thread)[0])
        outbox.append(sqlite_outbox_rate(workdir / "sqlite", THREADS, per_thread))
    single_rate, bare_rate = statistics.median(single), statistics.median(bare)
    many_rate, outbox_rate = statistics.median(many), statistics.median(outbox)
    return {
        "figures": [
            _figure("journal append, 1 thread", single_rate, bare_rate, "bare write+fsync loop, same lines", 0.7),
            _figure("journal append, 32 threads", many_rate, single_rate, "journal append, 1 thread", 5.0),
            _figure(
                "journal append, 32 threads vs SQLite outbox",
                many_rate,
                outbox_rate,
                "SQLite outbox, 32 threads, WAL, synchronous=FULL, one INSERT per transaction",
                2.0,
            ),
        ]
    }


if __name__ == "__main__":
    import sys
    import tempfile

    with tempfile.TemporaryDirectory() as scratch:
        print(json.dumps(run(Path(scratch), quick="--quick" in sys.argv), indent=2))
