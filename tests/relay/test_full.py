"""Full disk and full journal: the write is refused clearly, nothing acknowledged is touched, appends resume."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from relay.errors import DiskFull, JournalFull, StorageFull
from relay.journal import Journal
from relay.simfs import CrashSimFileLayer
from tests.relay.helpers import make_fields

DIRECTORY = Path("/sim/journal")


def test_enospc_mid_write_is_disk_full_and_the_partial_line_is_cut() -> None:
    fs = CrashSimFileLayer()
    journal = Journal.open(DIRECTORY, fs=fs)
    acked = [journal.append(make_fields(i)) for i in range(5)]
    segment = DIRECTORY / "00000000000000000001.jsonl"
    before = fs.read(segment)
    fs.capacity = fs.used_bytes() + 50  # the next line starts, then the disk fills up
    with pytest.raises(DiskFull, match=r"disk holding the journal .* is full") as caught:
        journal.append(make_fields(5))
    assert isinstance(caught.value, StorageFull) and caught.value.status == 507
    with pytest.raises(DiskFull):
        journal.append_many([make_fields(6), make_fields(7)])
    assert fs.read(segment) == before  # the partial line was truncated away
    assert list(journal.records()) == acked
    fs.capacity = None
    resumed = journal.append(make_fields(8))
    assert resumed["seq"] == 6
    fs.crash()
    with Journal.open(DIRECTORY, fs=fs) as reopened:
        assert list(reopened.records()) == [*acked, resumed]
        assert reopened.open_report.truncated_bytes == 0


def test_enospc_while_starting_a_new_segment_leaves_no_stray_file() -> None:
    fs = CrashSimFileLayer()
    journal = Journal.open(DIRECTORY, fs=fs, segment_bytes=500)
    acked = [journal.append(make_fields(i)) for i in range(2)]
    names = fs.listdir(DIRECTORY)
    fs.capacity = fs.used_bytes() + 10
    with pytest.raises(DiskFull):
        journal.append(make_fields(2, summary_length=300))
    assert fs.listdir(DIRECTORY) == names
    fs.capacity = None
    acked.append(journal.append(make_fields(3)))
    assert [e["seq"] for e in acked] == [1, 2, 3]
    fs.crash()
    with Journal.open(DIRECTORY, fs=fs) as reopened:
        assert list(reopened.records()) == acked


def test_journal_full_refuses_with_advice_and_compaction_makes_room(tmp_path: Path) -> None:
    journal = Journal.open(tmp_path, max_bytes=6000, segment_bytes=1500)
    acked: list[dict[str, Any]] = []
    with pytest.raises(JournalFull) as caught:
        while True:
            acked.append(journal.append(make_fields(len(acked))))
    message = str(caught.value)
    assert "full" in message and "6000" in message and "compact" in message and "DEVHUB_JOURNAL_MAX_BYTES" in message
    assert journal.size_bytes <= 6000
    with pytest.raises(JournalFull):
        journal.append_many([make_fields(1), make_fields(2)])
    assert list(journal.records()) == acked
    assert journal.last_seq == acked[-1]["seq"]

    nothing = journal.compact(relayed_through_seq=0, older_than_seconds=0)
    assert nothing.removed == []  # nothing relayed yet: nothing may go
    report = journal.compact(relayed_through_seq=acked[-1]["seq"], older_than_seconds=0)
    assert report.removed and report.freed_bytes > 0
    assert journal.segments()[-1].last_seq == acked[-1]["seq"]  # the active segment always stays
    after = journal.append(make_fields(1000))
    assert after["seq"] == acked[-1]["seq"] + 1
    journal.close()
    with Journal.open(tmp_path, max_bytes=6000, segment_bytes=1500) as reopened:
        assert reopened.append(make_fields(1001))["seq"] == after["seq"] + 1  # seqs never reused


def test_compaction_keeps_unrelayed_and_young_segments(tmp_path: Path) -> None:
    fs = CrashSimFileLayer()
    with Journal.open(DIRECTORY, fs=fs, segment_bytes=700) as journal:
        acked = [journal.append(make_fields(i)) for i in range(12)]
        segments = journal.segments()
        assert len(segments) >= 4
        assert journal.compact(relayed_through_seq=12, older_than_seconds=3600).removed == []  # too young
        for segment in segments:
            fs.set_mtime(segment.path, 0.0)
        relayed = segments[1].last_seq
        assert relayed is not None
        report = journal.compact(relayed_through_seq=relayed, older_than_seconds=3600)
        assert [s.path for s in report.removed] == [segments[0].path, segments[1].path]
        assert [r["seq"] for r in journal.records()] == list(range(relayed + 1, 13))
        assert [r["seq"] for r in journal.records(after_seq=relayed)] == [e["seq"] for e in acked[relayed:]]
    fs.crash()
    with Journal.open(DIRECTORY, fs=fs) as reopened:
        assert reopened.last_seq == 12 and reopened.verify().ok


def test_open_on_a_full_disk_still_cuts_a_torn_tail() -> None:
    fs = CrashSimFileLayer()
    with Journal.open(DIRECTORY, fs=fs) as journal:
        acked = [journal.append(make_fields(i)) for i in range(3)]
    segment = DIRECTORY / "00000000000000000001.jsonl"
    fs.append(segment, b'{"body":{"summary":"half a li')
    fs.fsync(segment)
    fs.capacity = fs.used_bytes()
    with Journal.open(DIRECTORY, fs=fs) as journal:
        assert list(journal.records()) == acked
        assert any("torn tail not saved" in problem for problem in journal.open_report.problems)
        fs.capacity = None
        assert journal.append(make_fields(3))["seq"] == 4
