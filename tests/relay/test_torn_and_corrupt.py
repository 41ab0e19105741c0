"""Crash leftovers and bit rot: a torn tail is cut at open, a corrupt middle line is quarantined."""

from __future__ import annotations

import base64
import json
import shutil
from pathlib import Path

import pytest

from relay.journal import Journal
from tests.relay.helpers import make_fields

SEGMENT = "00000000000000000001.jsonl"


def write_journal(directory: Path, count: int) -> bytes:
    """A one-segment journal of count records of varied sizes; returns the segment's bytes."""
    with Journal.open(directory) as journal:
        for number in range(1, count + 1):
            journal.append(make_fields(number, summary_length=number * 3))
    return (directory / SEGMENT).read_bytes()


def line_ends(data: bytes) -> list[int]:
    return [index + 1 for index, byte in enumerate(data) if byte == ord("\n")]


@pytest.mark.slow
def test_every_truncation_point_keeps_exactly_the_complete_records(fast_dir: Path) -> None:
    tmp_path = fast_dir
    original = write_journal(tmp_path / "original", 8)
    ends = line_ends(original)
    work = tmp_path / "work"
    for length in range(len(original) + 1):
        complete = sum(1 for end in ends if end <= length)
        shutil.rmtree(work, ignore_errors=True)
        work.mkdir()
        (work / SEGMENT).write_bytes(original[:length])
        with Journal.open(work) as journal:
            kept = [record["seq"] for record in journal.records()]
            assert kept == list(range(1, complete + 1)), f"cut at byte {length}"
            torn = length - (ends[complete - 1] if complete else 0)
            assert journal.open_report.truncated_bytes == torn, f"cut at byte {length}"
            assert journal.open_report.quarantined == 0
            assert journal.append(make_fields(99))["seq"] == complete + 1
        with Journal.open(work) as journal:
            assert [r["seq"] for r in journal.records()] == list(range(1, complete + 2)), f"cut at {length}"
            assert journal.verify().ok


def flip(data: bytes, position: int) -> bytes:
    flipped = bytearray(data)
    flipped[position] ^= 0x01
    return bytes(flipped)


@pytest.mark.slow
def test_a_flip_anywhere_in_a_middle_record_quarantines_only_that_record(fast_dir: Path) -> None:
    tmp_path = fast_dir
    original = write_journal(tmp_path / "original", 6)
    ends = line_ends(original)
    start, end = ends[2], ends[3]  # record 4
    work = tmp_path / "work"
    for position in range(start, end - 1):  # every byte but the newline itself
        shutil.rmtree(work, ignore_errors=True)
        work.mkdir()
        corrupt = flip(original, position)
        (work / SEGMENT).write_bytes(corrupt)
        with Journal.open(work) as journal:
            report = journal.open_report
            assert (report.quarantined, report.quarantined_total, report.truncated_bytes) == (1, 1, 0), position
            assert [r["seq"] for r in journal.records()] == [1, 2, 3, 5, 6], position
            assert journal.append(make_fields(7))["seq"] == 7
    (entry,) = [json.loads(line) for line in (work / "quarantine.jsonl").read_bytes().splitlines()]
    assert entry["kind"] == "corrupt-line"
    assert (entry["segment"], entry["offset"], entry["length"]) == (SEGMENT, start, end - start)
    assert base64.b64decode(entry["raw_base64"]) == corrupt[start:end]
    assert "checksum" in entry["reason"] or "JSON" in entry["reason"]


def test_quarantine_is_reported_by_verify_and_kept_across_opens(tmp_path: Path) -> None:
    original = write_journal(tmp_path, 6)
    ends = line_ends(original)
    (tmp_path / SEGMENT).write_bytes(flip(original, ends[1] + 10))  # inside record 3
    with Journal.open(tmp_path) as journal:
        assert journal.open_report.problems == [f"{SEGMENT}@{ends[1]}: checksum mismatch -> quarantined"]
        report = journal.verify()
        assert (report.ok_lines, report.gaps, report.bad_lines, report.quarantined_total) == (5, [(2, 4)], [], 1)
        assert not report.ok
    with Journal.open(tmp_path) as journal:
        assert (journal.open_report.quarantined, journal.open_report.quarantined_total) == (0, 1)


def test_a_flip_in_the_last_record_is_cut_as_torn(tmp_path: Path) -> None:
    """A complete last line that fails its checksum is cut, and its seq is never handed out again:
    it may have been acknowledged and relayed, and a relay cursor past it must not skip a new write."""
    original = write_journal(tmp_path, 5)
    ends = line_ends(original)
    (tmp_path / SEGMENT).write_bytes(flip(original, ends[3] + 5))
    with Journal.open(tmp_path) as journal:
        assert journal.open_report.truncated_bytes == ends[4] - ends[3]
        assert journal.open_report.quarantined == 0
        assert [r["seq"] for r in journal.records()] == [1, 2, 3, 4]
        assert journal.append(make_fields(9))["seq"] == 6
        assert [r["seq"] for r in journal.records()] == [1, 2, 3, 4, 6]
    (entry,) = [json.loads(line) for line in (tmp_path / "quarantine.jsonl").read_bytes().splitlines()]
    assert entry["kind"] == "torn-tail"  # saved, not silently dropped, but not counted as corruption


def test_duplicated_and_garbage_lines_are_quarantined_and_start_up_continues(tmp_path: Path) -> None:
    original = write_journal(tmp_path, 4)
    ends = line_ends(original)
    second_line = original[ends[0] : ends[1]]
    damaged = original[: ends[1]] + second_line + b"not json at all\n" + original[ends[1] :]
    (tmp_path / SEGMENT).write_bytes(damaged)
    with Journal.open(tmp_path) as journal:
        assert journal.open_report.quarantined == 2
        assert [r["seq"] for r in journal.records()] == [1, 2, 3, 4]
        assert journal.verify().ok
    assert (tmp_path / SEGMENT).read_bytes() == original
