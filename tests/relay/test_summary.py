"""Segment summaries: open trusts a closed segment's summary after cheap checks, and falls back to reading it.

Every test compares the state an open rebuilt from summaries with the state a full read gives
(`verify` reads every byte and checks each summary against its segment).
"""

from __future__ import annotations

import random
import zlib
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from relay.journal import Journal
from relay.simfs import CrashSimFileLayer, PowerCut
from relay.summary import SegmentSummary, parse_summary, summary_path
from tests.relay.helpers import make_fields

DIRECTORY = Path("/sim/journal")
SEGMENT_BYTES = 700


class ReadCountingFs(CrashSimFileLayer):
    """The power-loss simulator, counting whole-file reads per file name."""

    def __init__(self) -> None:
        super().__init__()
        self.reads: Counter[str] = Counter()

    def read(self, path: Path) -> bytes:
        self.reads[path.name] += 1
        return super().read(path)

    def segment_reads(self) -> list[str]:
        return sorted(name for name in self.reads if name.endswith(".jsonl") and name[0].isdigit())


def fill(fs: CrashSimFileLayer, count: int, start: int = 0) -> list[dict[str, Any]]:
    with Journal.open(DIRECTORY, fs=fs, segment_bytes=SEGMENT_BYTES) as journal:
        return [journal.append(make_fields(number)) for number in range(start, start + count)]


def segment_names(fs: CrashSimFileLayer) -> list[str]:
    return [name for name in fs.listdir(DIRECTORY) if name.endswith(".jsonl") and name[0].isdigit()]


def summary_names(fs: CrashSimFileLayer) -> list[str]:
    return [name for name in fs.listdir(DIRECTORY) if name.endswith(".summary")]


def state(journal: Journal) -> tuple[Any, ...]:
    """Everything open rebuilds that later calls depend on."""
    report = journal.open_report
    segments = [(s.path.name, s.first_seq, s.last_seq, s.bytes) for s in journal.segments()]
    return (journal.last_seq, journal.size_bytes, report.records, report.segments, segments)


def full_read_state(fs: CrashSimFileLayer) -> tuple[Any, ...]:
    """The state of an open that reads every segment: summaries moved away for the time of the open."""
    saved = {name: fs.read(DIRECTORY / name) for name in summary_names(fs)}
    for name in saved:
        fs.remove(DIRECTORY / name)
    try:
        with Journal.open(DIRECTORY, fs=fs, read_only=True) as journal:
            return state(journal)
    finally:
        for name, data in saved.items():
            fs.write_new(DIRECTORY / name, data)


def test_closed_segments_are_summarised_and_open_reads_only_the_active_one() -> None:
    fs = ReadCountingFs()
    acked = fill(fs, 20)
    segments = segment_names(fs)
    assert len(segments) >= 5
    # every closed segment, and the active one too since the journal was closed cleanly
    assert summary_names(fs) == [name.replace(".jsonl", ".summary") for name in segments]
    expected = full_read_state(fs)
    fs.reads.clear()
    with Journal.open(DIRECTORY, fs=fs, segment_bytes=SEGMENT_BYTES) as journal:
        assert fs.segment_reads() == [segments[-1]]  # its summary's CRC-32 is checked
        assert journal.open_report.checked_bytes == 0
        assert state(journal) == expected
        assert list(journal.records()) == acked
        nxt = journal.append(make_fields(99))
        assert nxt["seq"] == acked[-1]["seq"] + 1 and nxt["id"] > acked[-1]["id"]
        report = journal.verify()
        assert report.ok and report.summary_problems == []


def test_a_summary_holds_the_segments_size_crc_seq_range_count_and_last_id() -> None:
    fs = CrashSimFileLayer()
    acked = fill(fs, 12)
    first = segment_names(fs)[0]
    summary = parse_summary(fs.read(summary_path(DIRECTORY / first)))
    assert isinstance(summary, SegmentSummary)
    data = fs.read(DIRECTORY / first)
    held = [e for e in acked if summary.first_seq <= e["seq"] <= summary.last_seq]

    assert (summary.segment, summary.size, summary.crc) == (first, len(data), zlib.crc32(data))
    assert (summary.first_seq, summary.records, summary.last_id) == (1, len(held), held[-1]["id"])
    assert data.count(b"\n") == summary.records


def _flip(data: bytes, position: int) -> bytes:
    flipped = bytearray(data)
    flipped[position] ^= 0x01
    return bytes(flipped)


def test_every_flipped_or_torn_summary_byte_falls_back_to_reading_the_segment() -> None:
    base = CrashSimFileLayer()
    fill(base, 12)
    first = segment_names(base)[0]
    summary_file = summary_path(DIRECTORY / first)
    original = base.read(summary_file)
    expected = full_read_state(base)
    damaged = [_flip(original, i) for i in range(len(original))] + [original[:n] for n in range(len(original))]
    damaged += [original + original, original.replace(b'"v":1', b'"v":2')]
    for bad in damaged:
        fs = ReadCountingFs()
        fill(fs, 12)
        genuine = fs.read(summary_file)  # ids and times differ from base's
        fs.write_new(summary_file, bad)
        fs.reads.clear()
        with Journal.open(DIRECTORY, fs=fs, segment_bytes=SEGMENT_BYTES) as journal:
            if parse_summary(bad) is None:
                assert first in fs.segment_reads(), bad
            assert state(journal) == expected, bad
            assert journal.verify().ok, bad
        assert fs.read(summary_file) == genuine, bad  # rewritten from a full read


def test_a_summary_that_does_not_fit_its_segment_is_not_trusted() -> None:
    fs = ReadCountingFs()
    fill(fs, 20)
    first, second = segment_names(fs)[:2]
    other = fs.read(summary_path(DIRECTORY / second))
    fs.write_new(summary_path(DIRECTORY / first), other)  # valid, but another segment's
    fs.reads.clear()
    with Journal.open(DIRECTORY, fs=fs, segment_bytes=SEGMENT_BYTES) as journal:
        assert first in fs.segment_reads()
        assert journal.verify().ok
    # a line appended to a closed segment (its size no longer matches): read, and the duplicate quarantined
    segment = DIRECTORY / first
    data = fs.read(segment)
    fs.append(segment, data[: data.index(b"\n") + 1])
    fs.reads.clear()
    with Journal.open(DIRECTORY, fs=fs, segment_bytes=SEGMENT_BYTES) as journal:
        assert first in fs.segment_reads()
        assert journal.open_report.quarantined == 1
        report = journal.verify()
        assert report.ok and report.summary_problems == []
    assert fs.read(segment) == data


def test_a_summary_whose_seqs_overlap_the_previous_segment_is_not_trusted() -> None:
    fs = ReadCountingFs()
    fill(fs, 20)
    first, second = segment_names(fs)[:2]
    path = summary_path(DIRECTORY / second)
    good = parse_summary(fs.read(path))
    assert good is not None
    lying = SegmentSummary(good.segment, good.size, good.crc, 1, good.last_seq, good.records, good.last_id)
    fs.write_new(path, lying.encode())
    fs.reads.clear()
    with Journal.open(DIRECTORY, fs=fs, segment_bytes=SEGMENT_BYTES) as journal:
        assert second in fs.segment_reads() and first not in fs.segment_reads()
        assert journal.verify().ok


def test_a_missing_summary_is_written_by_the_next_open() -> None:
    fs = ReadCountingFs()
    fill(fs, 20)
    names = summary_names(fs)
    for name in names:
        fs.remove(DIRECTORY / name)
    with Journal.open(DIRECTORY, fs=fs, segment_bytes=SEGMENT_BYTES):
        pass
    assert summary_names(fs) == names
    fs.crash()  # written durably
    assert summary_names(fs) == names
    fs.reads.clear()
    with Journal.open(DIRECTORY, fs=fs, segment_bytes=SEGMENT_BYTES, read_only=True) as journal:
        assert fs.segment_reads() == [segment_names(fs)[-1]]
        assert journal.verify().ok


def test_read_only_open_writes_and_removes_nothing() -> None:
    fs = CrashSimFileLayer()
    fill(fs, 20)
    fs.remove(DIRECTORY / summary_names(fs)[0])
    before = fs.describe()
    fs.operations = 0
    with Journal.open(DIRECTORY, fs=fs, read_only=True) as journal:
        assert journal.verify().ok
    assert fs.describe() == before and fs.operations == 0


def test_a_bit_flip_in_a_summarised_segment_is_skipped_reported_and_quarantined_at_the_next_open() -> None:
    fs = ReadCountingFs()
    acked = fill(fs, 20)
    first = segment_names(fs)[0]
    segment = DIRECTORY / first
    data = fs.read(segment)
    fs.write_new(segment, _flip(data, data.index(b"\n") + 30))  # inside record 2; the size is unchanged
    fs.reads.clear()
    with Journal.open(DIRECTORY, fs=fs, segment_bytes=SEGMENT_BYTES) as journal:
        assert first not in fs.segment_reads()  # trusted: the size matches
        report = journal.verify()
        assert [(bad.segment, bad.offset) for bad in report.bad_lines] == [(first, data.index(b"\n") + 1)]
        assert len(report.summary_problems) == 1 and "crc32" in report.summary_problems[0]
        assert not report.ok
        # readers never get the bad line, and never stop on it; the summary goes so the next open reads the segment
        assert [r["seq"] for r in journal.records()] == [e["seq"] for e in acked if e["seq"] != 2]
        assert not fs.exists(summary_path(segment))
    with Journal.open(DIRECTORY, fs=fs, segment_bytes=SEGMENT_BYTES) as journal:
        assert journal.open_report.quarantined == 1
        assert [r["seq"] for r in journal.records()] == [e["seq"] for e in acked if e["seq"] != 2]
        report = journal.verify()
        assert report.bad_lines == [] and report.summary_problems == []
    assert fs.exists(summary_path(segment))


def test_a_closed_segment_that_becomes_active_again_keeps_a_summary_true_for_its_prefix() -> None:
    fs = CrashSimFileLayer()
    acked = fill(fs, 20)
    last = segment_names(fs)[-1]
    fs.write_new(DIRECTORY / last, b'{"body":{"summary":"half a li')  # only a torn line: removed at open
    fs.fsync(DIRECTORY / last)
    kept = [e for e in acked if e["seq"] < int(last[:20])]
    with Journal.open(DIRECTORY, fs=fs, segment_bytes=SEGMENT_BYTES * 4) as journal:
        active = segment_names(fs)[-1]
        assert active != last
        more = [journal.append(make_fields(100 + n)) for n in range(3)]
        assert segment_names(fs)[-1] == active  # it grows again
    fs.crash()
    with Journal.open(DIRECTORY, fs=fs, segment_bytes=SEGMENT_BYTES) as journal:
        assert list(journal.records()) == kept + more
        assert journal.verify().ok


def test_another_segments_summary_on_the_active_segment_is_not_trusted() -> None:
    fs = CrashSimFileLayer()
    fill(fs, 20)
    first, *_, last = segment_names(fs)
    fs.write_new(summary_path(DIRECTORY / last), fs.read(summary_path(DIRECTORY / first)))
    expected = full_read_state(fs)
    with Journal.open(DIRECTORY, fs=fs, segment_bytes=SEGMENT_BYTES) as journal:
        assert journal.open_report.checked_bytes == fs.size(DIRECTORY / last)
        assert state(journal) == expected
    with Journal.open(DIRECTORY, fs=fs, segment_bytes=SEGMENT_BYTES) as journal:
        assert journal.open_report.checked_bytes == 0  # close wrote the true one
        assert journal.verify().ok


BIG_SEGMENT = 64 * 1024


def test_a_checkpoint_bounds_what_open_decodes_after_a_crash() -> None:
    fs = CrashSimFileLayer()
    journal = Journal.open(DIRECTORY, fs=fs, segment_bytes=BIG_SEGMENT, checkpoint_bytes=1000)
    acked = [journal.append(make_fields(n)) for n in range(40)]
    size = fs.size(DIRECTORY / segment_names(fs)[0])
    fs.crash()  # no close: only the checkpoints were written
    with Journal.open(DIRECTORY, fs=fs, segment_bytes=BIG_SEGMENT) as reopened:
        assert 0 < reopened.open_report.checked_bytes < 1000 + 400
        assert size > 5000
        assert list(reopened.records()) == acked
        assert reopened.verify().ok


def test_damage_after_the_checkpoint_is_handled_and_the_checkpoint_stays_true() -> None:
    fs = CrashSimFileLayer()
    journal = Journal.open(DIRECTORY, fs=fs, segment_bytes=BIG_SEGMENT, checkpoint_bytes=1500)
    acked = [journal.append(make_fields(n)) for n in range(12)]
    segment = DIRECTORY / segment_names(fs)[0]
    summary = parse_summary(fs.read(summary_path(segment)))
    assert summary is not None and summary.last_seq < 11
    fs.crash()
    data = fs.read(segment)
    ends = [i + 1 for i, byte in enumerate(data) if byte == 0x0A]
    victim = summary.last_seq + 1  # the first record after the checkpoint (not the last one)
    fs.write_new(segment, _flip(data, ends[victim - 2] + 12) + b'{"torn')
    fs.fsync(segment)
    with Journal.open(DIRECTORY, fs=fs, segment_bytes=BIG_SEGMENT) as reopened:
        report = reopened.open_report
        assert (report.quarantined, report.truncated_bytes) == (1, len(b'{"torn'))
        assert report.checked_bytes == len(data) + 6 - summary.size
        assert [r["seq"] for r in reopened.records()] == [e["seq"] for e in acked if e["seq"] != victim]
    assert parse_summary(fs.read(summary_path(segment))) is not None
    with Journal.open(DIRECTORY, fs=fs, segment_bytes=BIG_SEGMENT) as reopened:
        assert reopened.verify().bad_lines == []


def test_a_flip_inside_the_checkpointed_prefix_is_caught_by_its_crc() -> None:
    fs = CrashSimFileLayer()
    journal = Journal.open(DIRECTORY, fs=fs, segment_bytes=BIG_SEGMENT, checkpoint_bytes=1500)
    acked = [journal.append(make_fields(n)) for n in range(12)]
    fs.crash()
    segment = DIRECTORY / segment_names(fs)[0]
    data = fs.read(segment)
    fs.write_new(segment, _flip(data, data.index(b"\n") + 12))  # inside record 2
    fs.fsync(segment)
    with Journal.open(DIRECTORY, fs=fs, segment_bytes=BIG_SEGMENT) as reopened:
        assert reopened.open_report.checked_bytes == len(data)
        assert reopened.open_report.quarantined == 1
        assert [r["seq"] for r in reopened.records()] == [e["seq"] for e in acked if e["seq"] != 2]


def test_compaction_removes_the_summary_with_its_segment_and_open_removes_orphans() -> None:
    fs = CrashSimFileLayer()
    acked = fill(fs, 20)
    with Journal.open(DIRECTORY, fs=fs, segment_bytes=SEGMENT_BYTES) as journal:
        report = journal.compact(relayed_through_seq=acked[-1]["seq"], older_than_seconds=0)
        assert report.removed
        assert summary_names(fs) == [n.replace(".jsonl", ".summary") for n in segment_names(fs)]
    orphan = DIRECTORY / "00000000000000000001.summary"
    fs.write_new(orphan, b"left over\n")
    with Journal.open(DIRECTORY, fs=fs, segment_bytes=SEGMENT_BYTES) as journal:
        assert not fs.exists(orphan)
        assert journal.verify().ok


def _run_rolling(fs: CrashSimFileLayer, budget: int, acked: list[dict[str, Any]]) -> bool:
    fs.cut_power_after(budget)
    try:
        journal = Journal.open(DIRECTORY, fs=fs, segment_bytes=SEGMENT_BYTES * 2, checkpoint_bytes=300)
        for number in range(10):
            acked.append(journal.append(make_fields(100 + number, summary_length=120)))
        journal.close()
    except PowerCut:
        return True
    finally:
        fs.cut_power_after(None)
    return False


@pytest.mark.parametrize("torn", [False, True])
def test_a_power_cut_at_any_call_while_rolling_and_summarising_leaves_only_true_summaries(torn: bool) -> None:
    rng = random.Random(11)
    budget = 0
    while True:
        fs = CrashSimFileLayer()
        acked = fill(fs, 6)
        fs.operations = 0
        cut = _run_rolling(fs, budget, acked)
        fs.crash(torn=rng if torn else None)
        expected = full_read_state(fs)
        with Journal.open(DIRECTORY, fs=fs, segment_bytes=SEGMENT_BYTES) as journal:
            records = list(journal.records())
            ids = [r["id"] for r in records]
            assert all(e in records for e in acked), f"power cut after {budget} calls lost an acknowledged record"
            assert len(ids) == len(set(ids))
            report = journal.verify()
            assert report.summary_problems == [] and report.bad_lines == [], budget
            assert journal.append(make_fields(999))["seq"] == expected[0] + 1
        if not cut:
            break
        budget += 1
    assert budget > 30


def test_a_power_cut_at_any_call_while_open_writes_missing_summaries() -> None:
    base = CrashSimFileLayer()
    acked = fill(base, 20)
    segments = {name: base.read(DIRECTORY / name) for name in segment_names(base)}
    budget = 0
    while True:
        fs = CrashSimFileLayer()
        fs.makedirs(DIRECTORY)
        for name, data in segments.items():  # an old journal: segments, no summaries
            fs.append(DIRECTORY / name, data)
            fs.fsync(DIRECTORY / name)
        fs.fsync_dir(DIRECTORY)
        fs.cut_power_after(budget)
        try:
            Journal.open(DIRECTORY, fs=fs, segment_bytes=SEGMENT_BYTES).close()
            cut = False
        except PowerCut:
            cut = True
        fs.cut_power_after(None)
        fs.crash()
        with Journal.open(DIRECTORY, fs=fs, segment_bytes=SEGMENT_BYTES) as journal:
            assert list(journal.records()) == acked, budget
            report = journal.verify()
            assert report.ok, (budget, report)
        assert len(summary_names(fs)) == len(segments)  # the last one written by close
        if not cut:
            break
        budget += 1
    assert budget > len(segments)


def test_an_emptied_last_segment_goes_with_its_summary() -> None:
    fs = CrashSimFileLayer()
    fill(fs, 20)
    last = segment_names(fs)[-1]
    fs.write_new(DIRECTORY / last, b'{"body":{"summary":"half a li')  # only a torn line left in it
    fs.fsync(DIRECTORY / last)
    with Journal.open(DIRECTORY, fs=fs, segment_bytes=SEGMENT_BYTES) as journal:
        assert last not in segment_names(fs)
        assert not fs.exists(summary_path(DIRECTORY / last))
        assert journal.verify().ok
