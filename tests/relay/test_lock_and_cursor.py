"""One writer per journal (flock), and the relay's small atomic files: cursor and dead letters."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest

from relay.dead_letters import DeadLetters
from relay.errors import JournalLocked
from relay.journal import Journal
from relay.position import PositionFile
from relay.simfs import CrashSimFileLayer, PowerCut
from tests.relay.helpers import make_fields

ROOT = Path(__file__).resolve().parents[2]
HOLDER = r"""
import sys
from pathlib import Path
from relay.journal import Journal
from relay.position import PositionFile
journal = Journal.open(Path(sys.argv[1]))
print("locked", flush=True)
sys.stdin.read()
"""


def test_a_second_process_gets_journal_locked_naming_the_holder(tmp_path: Path) -> None:
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(tmp_path)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline() == b"locked\n"
        with pytest.raises(JournalLocked) as caught:
            Journal.open(tmp_path)
        assert caught.value.pid == holder.pid
        assert f"pid {holder.pid}" in str(caught.value)
        reader = Journal.open(tmp_path, read_only=True)  # snapshot readers never need the lock
        assert reader.last_seq == 0
    finally:
        assert holder.stdin is not None
        holder.stdin.close()
        holder.wait(timeout=10)
    with Journal.open(tmp_path) as journal:  # released when the holder exited
        journal.append(make_fields(1))


def test_a_second_open_in_the_same_process_is_refused_until_close(tmp_path: Path) -> None:
    first = Journal.open(tmp_path)
    with pytest.raises(JournalLocked):
        Journal.open(tmp_path)
    first.close()
    Journal.open(tmp_path).close()


def test_cursor_round_trip_and_absent_is_zero(tmp_path: Path) -> None:
    cursor = PositionFile(tmp_path / "relay" / "cursor")
    assert cursor.load().watermark == 0 and cursor.problem is None
    cursor.store((41, ()))
    cursor.store((42, ()))
    assert PositionFile(tmp_path / "relay" / "cursor").load().watermark == 42
    assert sorted(os.listdir(tmp_path / "relay")) == ["cursor"]
    with pytest.raises(ValueError, match="non-negative"):
        cursor.store((-1, ()))


def test_cursor_store_is_atomic_under_a_power_cut_at_every_step() -> None:
    path = Path("/sim/data/relay/cursor")
    budget = 0
    while True:
        fs = CrashSimFileLayer()
        PositionFile(path, fs).store((5, ()))
        fs.cut_power_after(budget)
        try:
            PositionFile(path, fs).store((9, ()))
            finished = True
        except PowerCut:
            finished = False
        fs.cut_power_after(None)
        fs.crash()
        cursor = PositionFile(path, fs)
        value = cursor.load().watermark
        assert value == (9 if finished else value) and value in (5, 9), f"power cut after {budget} calls"
        assert cursor.problem is None
        if finished:
            assert value == 9  # a completed store is durable
            break
        budget += 1
    assert budget >= 4  # write, fsync, rename, directory fsync were each interrupted


@pytest.mark.parametrize("content", [b"", b"garbage\n", b'{"seq":7,"crc":"00000000"}\n', b"\xff\xfe"])
def test_a_corrupt_cursor_loads_as_zero_with_a_warning(
    tmp_path: Path, content: bytes, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "cursor"
    path.write_bytes(content)
    cursor = PositionFile(path)
    with caplog.at_level(logging.WARNING):
        assert cursor.load().watermark == 0
    assert cursor.problem is not None and str(path) in cursor.problem and "resent" in cursor.problem
    assert str(path) in caplog.text
    cursor.store((3, ()))
    assert cursor.load().watermark == 3 and cursor.problem is None


def test_dead_letters_are_durable_and_survive_a_torn_entry() -> None:
    fs = CrashSimFileLayer()
    path = Path("/sim/data/relay/dead_letters.jsonl")
    letters = DeadLetters(path, fs)
    envelope = {"seq": 3, "id": "abc", "method": "PATCH", "path": "/tasks/x", "body": {"status": "bogus"}}
    letters.add(envelope, 422, '{"detail": "bad status"}')
    fs.append(path, b'{"envelope": {"seq": 4')  # a crash in the middle of the next add
    fs.fsync(path)
    fs.crash()
    again = DeadLetters(path, fs)
    assert [(e["envelope"], e["status"]) for e in again.list()] == [(envelope, 422)]
    again.add({**envelope, "seq": 5}, 400, "x" * 100_000)
    fs.crash()
    entries = DeadLetters(path, fs).list()
    assert [e["envelope"]["seq"] for e in entries] == [3, 5]
    assert len(entries[1]["response_body"]) < 70_000 and "chars cut" in entries[1]["response_body"]
