"""Reading journal segments back: split into lines, verify each, classify good / bad / torn tail."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from relay.codec import BadLine, decode_line
from relay.fslayer import FileLayer

SEGMENT_NAME = re.compile(r"^(\d{20})\.jsonl$")


def segment_name(first_seq: int) -> str:
    """The file name of a segment whose first record has seq first_seq (names sort by seq)."""
    return f"{first_seq:020d}.jsonl"


@dataclass(frozen=True)
class BadSpan:
    """A stretch of bytes that is not a valid record: where it starts, the raw bytes, and why."""

    offset: int
    raw: bytes
    reason: str


@dataclass
class SegmentScan:
    """What one segment holds: counts and seq range of good lines, the bad spans, and the seq gaps."""

    good: int = 0
    first_seq: int | None = None
    last_seq: int | None = None
    last_id: str | None = None
    good_end: int = 0  # byte offset just past the last good line
    good_ranges: list[tuple[int, int]] = field(default_factory=list)
    bad: list[BadSpan] = field(default_factory=list)
    gaps: list[tuple[int, int]] = field(default_factory=list)


def iter_lines(data: bytes, start: int = 0) -> Iterator[tuple[int, bytes, bool]]:
    """(offset, line without its newline, whether it had a newline) for each line of data from start."""
    position = start
    length = len(data)
    while position < length:
        newline = data.find(b"\n", position)
        if newline == -1:
            yield position, data[position:], False
            return
        yield position, data[position:newline], True
        position = newline + 1


def check_line(line: bytes, complete: bool, after_seq: int) -> tuple[dict[str, Any] | None, str]:
    """The verified record of a line and "" or (None, why it is bad) given the previous good seq."""
    if not complete:
        return None, "incomplete line (no newline at the end)"
    try:
        record = decode_line(line)
    except BadLine as exc:
        return None, str(exc)
    seq = record.get("seq")
    if not isinstance(seq, int) or isinstance(seq, bool) or seq < 1:
        return None, "no valid seq field"
    if seq <= after_seq:
        return None, f"seq {seq} is not after the previous record's seq {after_seq} (duplicate or reordered)"
    return record, ""


def scan_segment(data: bytes, after_seq: int, start: int = 0) -> SegmentScan:
    """Classify every line of one segment from byte start; good seqs must strictly increase from after_seq."""
    scan = SegmentScan()
    previous = after_seq
    for offset, line, complete in iter_lines(data, start):
        record, reason = check_line(line, complete, previous)
        end = offset + len(line) + (1 if complete else 0)
        if record is None:
            scan.bad.append(BadSpan(offset, data[offset:end], reason))
            continue
        seq = record["seq"]
        if previous and seq != previous + 1:
            scan.gaps.append((previous, seq))
        previous = seq
        scan.good += 1
        scan.first_seq = seq if scan.first_seq is None else scan.first_seq
        scan.last_seq = seq
        record_id = record.get("id")
        scan.last_id = record_id if isinstance(record_id, str) else scan.last_id
        scan.good_end = end
        if scan.good_ranges and scan.good_ranges[-1][1] == offset:
            scan.good_ranges[-1] = (scan.good_ranges[-1][0], end)
        else:
            scan.good_ranges.append((offset, end))
    return scan


def cut_partial_line(fs: FileLayer, path: Path) -> None:
    """Truncate a torn, newline-less last line off an append-only file so the next append starts clean."""
    if not fs.exists(path):
        return
    data = fs.read(path)
    if data and not data.endswith(b"\n"):
        fs.truncate(path, data.rfind(b"\n") + 1)
        fs.fsync(path)
