"""Segment summaries: what open needs from a closed segment, written once so open need not re-read it.

A closed (rolled) segment never changes again except through open's own repair.
When the journal rolls to a new segment it writes `<first seq>.summary` next to
the closed `<first seq>.jsonl`: one checksummed line (relay.codec) holding the
segment's name, byte length, CRC-32 of its whole content, seq range, record count
and last id. It is written durably: a .tmp file, fsync, atomic rename, fsync of
the directory.

Open trusts a summary after a cheap check only: the summary's own checksum, its
name, the segment's current size equal to the recorded length, and a seq range
that continues the previous segment. Anything else (missing, torn, stale,
flipped) and open reads and checks that segment line by line as before, then
writes a fresh summary. The active (last) segment is always read in full, and a
summary left for it is removed first (it is going to change). `verify` reads
every byte and also checks each summary against the segment it describes.
"""

from __future__ import annotations

import re
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


def remove_summary(fs: FileLayer, directory: Path, segment: Path) -> None:
    """Remove a segment's summary (if any) durably, before the segment changes."""
    path = summary_path(segment)
    if fs.exists(path):
        fs.remove(path)
        fs.fsync_dir(directory)
