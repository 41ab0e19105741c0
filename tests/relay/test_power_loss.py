"""Simulated power loss (CrashSimFileLayer): whatever was acknowledged survives, wherever the power goes."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import pytest

from relay.journal import Journal
from relay.simfs import CrashSimFileLayer, PowerCut
from tests.relay.helpers import make_fields

DIRECTORY = Path("/sim/journal")


def stored(fs: CrashSimFileLayer, **options: Any) -> list[dict[str, Any]]:
    with Journal.open(DIRECTORY, fs=fs, **options) as journal:
        return list(journal.records())


def test_the_simulator_drops_what_was_never_fsynced() -> None:
    fs = CrashSimFileLayer()
    fs.makedirs(DIRECTORY)
    fs.append(DIRECTORY / "entry-only", b"b")
    fs.fsync_dir(DIRECTORY)  # the entry is durable, its content never fsynced
    fs.append(DIRECTORY / "synced-data-only", b"a")
    fs.fsync(DIRECTORY / "synced-data-only")  # the content is durable, its directory entry is not
    fs.crash()
    assert fs.listdir(DIRECTORY) == ["entry-only"]
    assert fs.read(DIRECTORY / "entry-only") == b""


def test_acknowledged_records_survive_power_loss_across_segment_rollover() -> None:
    fs = CrashSimFileLayer()
    with Journal.open(DIRECTORY, fs=fs, segment_bytes=700) as journal:
        acked = [journal.append(make_fields(i)) for i in range(12)]
        acked += journal.append_many([make_fields(i) for i in range(12, 15)])
        assert len(journal.segments()) > 3
    fs.crash()
    assert stored(fs) == acked


def run_until_power_cut(fs: CrashSimFileLayer, budget: int, acked: list[dict[str, Any]]) -> bool:
    """Append (rolling segments) until the power is cut after `budget` mutating calls; True if it was."""
    fs.cut_power_after(budget)
    try:
        journal = Journal.open(DIRECTORY, fs=fs, segment_bytes=600)
        for number in range(8):
            if number % 3 == 2:
                acked += journal.append_many([make_fields(100 + number), make_fields(200 + number)])
            else:
                acked.append(journal.append(make_fields(100 + number)))
        journal.close()
    except PowerCut:
        return True
    finally:
        fs.cut_power_after(None)
    return False


@pytest.mark.parametrize("torn", [False, True])
def test_a_power_cut_before_any_single_call_loses_nothing_acknowledged(torn: bool) -> None:
    budget = 0
    rng = random.Random(7)
    while True:
        fs = CrashSimFileLayer()
        with Journal.open(DIRECTORY, fs=fs, segment_bytes=600) as journal:
            acked = [journal.append(make_fields(i)) for i in range(4)]
        fs.operations = 0
        cut = run_until_power_cut(fs, budget, acked)
        fs.crash(torn=rng if torn else None)
        records = stored(fs, segment_bytes=600)
        ids = [r["id"] for r in records]
        assert len(ids) == len(set(ids))
        positions = [ids.index(e["id"]) for e in acked if e["id"] in ids]
        assert len(positions) == len(acked), f"power cut after {budget} calls lost acknowledged records"
        assert positions == sorted(positions)
        assert all(records[ids.index(e["id"])] == e for e in acked)
        with Journal.open(DIRECTORY, fs=fs, segment_bytes=600) as journal:
            assert journal.append(make_fields(999))["seq"] == journal.last_seq == records[-1]["seq"] + 1
        if not cut:
            break  # the whole run fit in the budget: every cut point has been tried
        budget += 1
    assert budget > 20


def test_power_cut_between_quarantine_rewrite_and_directory_fsync() -> None:
    fs = CrashSimFileLayer()
    with Journal.open(DIRECTORY, fs=fs) as journal:
        acked = [journal.append(make_fields(i)) for i in range(5)]
    segment = DIRECTORY / "00000000000000000001.jsonl"
    data = bytearray(fs.read(segment))
    second = data.index(b"\n") + 20
    data[second] ^= 0x01
    fs.write_new(segment, bytes(data))
    fs.fsync(segment)
    expected = [e for e in acked if e["seq"] != 2]
    for budget in range(12):
        trial = CrashSimFileLayer()
        trial.makedirs(DIRECTORY)
        trial.append(segment, bytes(data))
        trial.fsync(segment)
        trial.fsync_dir(DIRECTORY)
        trial.cut_power_after(budget)
        try:
            Journal.open(DIRECTORY, fs=trial).close()
        except PowerCut:
            pass
        trial.cut_power_after(None)
        trial.crash()
        with Journal.open(DIRECTORY, fs=trial) as journal:
            assert list(journal.records()) == expected, f"power cut after {budget} calls"
            assert journal.open_report.quarantined_total >= 1
