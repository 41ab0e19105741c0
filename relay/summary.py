"""Segment summaries: what open needs from a closed segment, written once so open need not re-read it.

A summary `<first seq>.summary` sits next to its segment `<first seq>.jsonl`:
one checksummed line (relay.codec) holding the segment's name, the length in
bytes it covers, the CRC-32 of those bytes, their seq range, record count and
last id. It is written durably: a .tmp file, fsync, atomic rename, fsync of the
directory. The journal writes one when it rolls to a new segment (covering the
whole closed segment), at every checkpoint of the active segment (each
`checkpoint_bytes` appended) and at close.

Closed segments: open trusts the summary after a cheap check only (the
summary's own checksum, its name, the segment's size equal to the covered
length, seqs after the previous segment's) and does not read the segment.
Anything else (missing, torn, stale, flipped, another segment's) and open reads
and checks that segment line by line as before, then writes a fresh summary.

The active (last) segment is always read, but only the lines after the prefix
its summary covers are decoded and checked one by one; the prefix is checked
with one CRC-32 over its bytes (fast) instead. `verify` reads and checks every
line of every segment and also checks each summary against its segment.
"""

from __future__ import annotations

import re
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from relay.codec import BadLine, decode_line, encode_line
from relay.fslayer import FileLayer

SUMMARY_VERSION = 1
SUMMARY_NAME = re.compile(r"^(\d{20})\.summary$")


def summary_path(segment: Path) -> Path:
    """The summary file of a segment: 00000000000000000001.jsonl -> 00000000000000000001.summary."""
    return segment.with_name(segment.name.removesuffix(".jsonl") + ".summary")


@dataclass(frozen=True)
class SegmentSummary:
    """What open rebuilds from one closed segment."""

    segment: str  # the segment's file name
    size: int  # the segment's length in bytes
    crc: int  # zlib CRC-32 of the segment's whole content
    first_seq: int
    last_seq: int
    records: int
    last_id: str | None

    def encode(self) -> bytes:
        """The summary file's content: one checksummed JSON line."""
        return encode_line(
            {
                "v": SUMMARY_VERSION,
                "segment": self.segment,
                "bytes": self.size,
                "crc32": f"{self.crc:08x}",
                "first_seq": self.first_seq,
                "last_seq": self.last_seq,
                "records": self.records,
                "last_id": self.last_id,
            }
        )


def _int(record: dict[str, Any], key: str) -> int | None:
    value = record.get(key)
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else None


def parse_summary(data: bytes) -> SegmentSummary | None:
    """The summary in a file's content, or None when it is torn, flipped or not a summary."""
    if not data.endswith(b"\n") or data.count(b"\n") != 1:
        return None
    try:
        record = decode_line(data[:-1])
    except BadLine:
        return None
    size, first, last, records = (_int(record, key) for key in ("bytes", "first_seq", "last_seq", "records"))
    segment, crc, last_id = record.get("segment"), record.get("crc32"), record.get("last_id")
    if record.get("v") != SUMMARY_VERSION or not isinstance(segment, str) or not isinstance(crc, str):
        return None
    if size is None or first is None or last is None or records is None or not re.fullmatch("[0-9a-f]{8}", crc):
        return None
    if not (1 <= first <= last and 1 <= records <= last - first + 1) or not (
        last_id is None or isinstance(last_id, str)
    ):
        return None
    return SegmentSummary(segment, size, int(crc, 16), first, last, records, last_id)


def load_summary(fs: FileLayer, segment: Path, after_seq: int) -> SegmentSummary | None:
    """The segment's summary if it can be trusted without reading the segment; None means: scan it.

    Cheap checks only: the summary's own checksum, that it names this segment, that the segment's
    size is the recorded one, and that its seqs start after the previous segment's last seq.
    """
    try:
        summary = parse_summary(fs.read(summary_path(segment)))
        if summary is None or summary.segment != segment.name:
            return None
        if fs.size(segment) != summary.size or summary.first_seq <= after_seq:
            return None
    except FileNotFoundError:
        return None
    return summary


def load_prefix_summary(fs: FileLayer, segment: Path, data: bytes, after_seq: int) -> SegmentSummary | None:
    """The active segment's summary if it describes a prefix of data (checked by its CRC-32), else None.

    The active segment only grows (open cuts and quarantines only after the last good line, which a
    trusted prefix ends before), so a summary written at a checkpoint stays true for its prefix.
    """
    try:
        summary = parse_summary(fs.read(summary_path(segment)))
    except FileNotFoundError:
        return None
    if summary is None or summary.segment != segment.name or summary.first_seq <= after_seq:
        return None
    if not 0 < summary.size <= len(data) or data[summary.size - 1] != 0x0A:
        return None
    if zlib.crc32(memoryview(data)[: summary.size]) != summary.crc:
        return None
    return summary


def write_summary(fs: FileLayer, directory: Path, summary: SegmentSummary, *, sync_dir: bool = True) -> bool:
    """Write a summary durably (tmp, fsync, rename, fsync the directory); False if the disk refused.

    A summary is an optimisation: failing to write one never fails the caller, the next open
    just reads that segment in full (and tries again).
    """
    target = directory / (summary.segment.removesuffix(".jsonl") + ".summary")
    temporary = target.with_name(target.name + ".tmp")
    try:
        fs.write_new(temporary, summary.encode())
        fs.fsync(temporary)
        fs.rename(temporary, target)
        if sync_dir:
            fs.fsync_dir(directory)
    except OSError:
        try:
            if fs.exists(temporary):
                fs.remove(temporary)
        except OSError:
            pass  # a leftover .tmp is removed at the next open
        return False
    return True
