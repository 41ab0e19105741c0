"""Journal write throughput, each figure next to a floor measured in the same run on the same disk.

- 1 thread vs a bare write(line)+fsync loop over the same line bytes (target ≥ 0.7×)
- 32 threads vs the 1-thread journal rate (group commit; target ≥ 5×)
- 32 threads vs a SQLite outbox (one INSERT per transaction, WAL, synchronous=FULL,
  one connection per thread, the same payloads; target ≥ 2×)
- Journal.open at the size bound (256 MiB: 31 full 8 MiB segments and a nearly full active one),
  after a clean close and after a crash (the active segment's last checkpoint 1 MiB back), vs
  stat-ing every file + reading the active segment (target ≤ 0.5 s); the open that reads every
  segment (before segment summaries) is reported next to it
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import statistics
import threading
import time
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

from benchmarks.common import figure, log
from relay.codec import IdClock, finish_line, iso_ms, now_ms, prepare_record
from relay.fslayer import OsFileLayer
from relay.journal import CHECKPOINT_BYTES, Journal
from relay.scan import segment_name
from relay.summary import SegmentSummary, parse_summary, summary_path, write_summary

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


SEGMENT_BYTES = 8 * 2**20
BOUND = 256 * 2**20


def fill_to_bound(directory: Path, bound: int) -> int:
    """Write segments straight to disk with the journal's own line writer until the next line would pass
    the bound (the last segment one line short of full); no summaries. Returns the records written."""
    prepared = [prepare_record(_fields(number)) for number in range(512)]
    clock = IdClock()
    ms = now_ms()
    timestamp = iso_ms(ms).encode("ascii")
    seq = total = 0
    chunk: list[bytes] = []
    size = 0
    first = 1
    while True:
        line = finish_line(prepared[seq % 512], clock.next(ms).encode("ascii"), seq + 1, timestamp)
        if total + size + len(line) > bound or size + len(line) > SEGMENT_BYTES:
            (directory / segment_name(first)).write_bytes(b"".join(chunk))
            total += size
            chunk, size, first = [], 0, seq + 1
            if total + len(line) > bound or total + SEGMENT_BYTES > bound:
                break
        chunk.append(line)
        size += len(line)
        seq += 1
    os.sync()
    return seq


def _floor_open(directory: Path) -> None:
    """The least an open can do: list the directory, stat every file, read the active segment."""
    names = sorted(os.listdir(directory))
    for name in names:
        os.stat(directory / name)
    segments = [name for name in names if name.endswith(".jsonl") and name[0].isdigit()]
    (directory / segments[-1]).read_bytes()


def _timed(action: Callable[[], object], repeats: int) -> float:
    samples = []
    for _ in range(repeats):
        began = time.perf_counter()
        action()
        samples.append(time.perf_counter() - began)
    return statistics.median(samples)


def _open_close(directory: Path, **options: Any) -> None:
    Journal.open(directory, max_bytes=BOUND, segment_bytes=SEGMENT_BYTES, **options).close()


def _crash_checkpoint(directory: Path) -> int:
    """Rewrite the active segment's summary as the last checkpoint before a crash would leave it:
    covering the segment up to the last line boundary at least CHECKPOINT_BYTES before its end."""
    active = sorted(directory.glob("*.jsonl"))[-1]
    full = parse_summary(summary_path(active).read_bytes())
    assert full is not None
    data = active.read_bytes()
    cut = data.rfind(b"\n", 0, len(data) - CHECKPOINT_BYTES) + 1
    prefix = data[:cut]
    records = prefix.count(b"\n")
    last_line = prefix[prefix.rfind(b"\n", 0, cut - 1) + 1 : cut]
    last_id = json.loads(last_line)["id"]
    summary = SegmentSummary(
        active.name, cut, zlib.crc32(prefix), full.first_seq, full.first_seq + records - 1, records, last_id
    )
    write_summary(OsFileLayer(), directory, summary)
    return len(data) - cut


def journal_open_figures(workdir: Path, quick: bool) -> list[dict[str, Any]]:
    """Open figures at the size bound; quick=True uses a 4-segment (32 MiB) journal."""
    bound = 4 * SEGMENT_BYTES if quick else BOUND
    repeats = 3 if quick else 5
    directory = _fresh(workdir / "journal-bound")
    records = fill_to_bound(directory, bound)
    size = sum(p.stat().st_size for p in directory.glob("*.jsonl"))
    segments = len(list(directory.glob("*.jsonl")))
    log(f"journal open: {records} records, {size / 2**20:.1f} MiB in {segments} segments")
    # Before segment summaries, every open read and checked every line (read-only: nothing written).
    full_read = _timed(lambda: _open_close(directory, read_only=True), 1)
    began = time.perf_counter()
    _open_close(directory)  # the first open: reads everything once and writes the closed segments' summaries
    first_open = time.perf_counter() - began
    _open_close(directory)  # ... and close() summarised the active segment
    floor = _timed(lambda: _floor_open(directory), repeats)
    clean = _timed(lambda: _open_close(directory), repeats)
    decoded = _crash_checkpoint(directory)
    checkpoint = summary_path(sorted(directory.glob("*.jsonl"))[-1])
    checkpoint_bytes = checkpoint.read_bytes()
    crash_samples = []
    for _ in range(repeats):
        began = time.perf_counter()
        journal = Journal.open(directory, max_bytes=BOUND, segment_bytes=SEGMENT_BYTES)
        crash_samples.append(time.perf_counter() - began)
        journal.close()  # untimed; it summarises the whole active segment, so put the checkpoint back
        checkpoint.write_bytes(checkpoint_bytes)
    after_crash = statistics.median(crash_samples)
    common = {
        "records": records,
        "journal_bytes": size,
        "segments": segments,
        "full_read_seconds": round(full_read, 3),
        "first_open_seconds": round(first_open, 3),
    }
    target = "<= 0.5 s"
    return [
        figure(
            "journal open at its size bound, after a clean close",
            clean,
            "s",
            floor,
            "list + stat every file, read the active segment",
            target,
            clean <= 0.5,
            speedup_vs_full_read=round(full_read / clean, 1) if clean else 0.0,
            **common,
        ),
        figure(
            "journal open at its size bound, after a crash (last checkpoint 1 MiB back)",
            after_crash,
            "s",
            floor,
            "list + stat every file, read the active segment",
            target,
            after_crash <= 0.5,
            decoded_bytes=decoded,
            speedup_vs_full_read=round(full_read / after_crash, 1) if after_crash else 0.0,
            **common,
        ),
    ]


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
            *journal_open_figures(workdir, quick),
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
