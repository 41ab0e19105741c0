"""Opening a journal directory: trust closed segments' summaries, scan the rest, cut a torn tail, quarantine.

A closed segment with a valid summary (relay.summary) is not read at all; every
other segment is read and checked line by line, except the prefix of the active
(last) segment that its checkpoint summary covers (checked by one CRC-32).

Never refuses to start because of bad content: every bad byte is saved in
quarantine.jsonl (fsynced) before it is removed from a segment, so nothing is
silently dropped.
"""

from __future__ import annotations

import base64
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from relay.codec import BadLine, decode_line, encode_line, iso_ms, now_ms
from relay.errors import JournalError
from relay.fslayer import FileLayer
from relay.reports import OpenReport
from relay.scan import SEGMENT_NAME, BadSpan, SegmentScan, cut_partial_line, iter_lines, scan_segment
from relay.summary import (
    SUMMARY_NAME,
    SegmentSummary,
    load_prefix_summary,
    load_summary,
    summary_path,
    write_summary,
)

QUARANTINE_NAME = "quarantine.jsonl"
CORRUPT_LINE = "corrupt-line"
TORN_TAIL = "torn-tail"


@dataclass
class Segment:
    """The journal's live view of one segment file (mutated only by the writer)."""

    path: Path
    name_seq: int
    first_seq: int | None
    last_seq: int | None
    bytes: int
    dir_synced: bool = True
    records: int = 0  # good records in it (what its summary records)
    crc: int = 0  # zlib CRC-32 of its whole content, kept up to date by the writer
    last_id: str | None = None
    # False when open trusted its summary instead of reading it: a bad line found later is bit rot
    # that open would have quarantined, so readers skip it (and the next open quarantines it).
    verified: bool = True
    summarised: int = 0  # bytes its summary file covers (0: none written by us)

    def summary(self) -> SegmentSummary | None:
        """The summary to write when this segment is closed (None while it holds no record)."""
        if self.first_seq is None or self.last_seq is None or not self.records:
            return None
        return SegmentSummary(
            self.path.name, self.bytes, self.crc, self.first_seq, self.last_seq, self.records, self.last_id
        )


@dataclass
class Recovered:
    """The state a journal starts from after open."""

    segments: list[Segment]
    last_seq: int
    last_id: str | None
    report: OpenReport


def quarantine_entry(kind: str, segment: str, span: BadSpan) -> dict[str, Any]:
    """The record saved for a removed span: where it was, why, and its raw bytes (base64 and escaped)."""
    return {
        "kind": kind,
        "segment": segment,
        "offset": span.offset,
        "length": len(span.raw),
        "reason": span.reason,
        "raw_base64": base64.b64encode(span.raw).decode("ascii"),
        "raw_text": span.raw.decode("utf-8", "backslashreplace"),
        "quarantined_at": iso_ms(now_ms()),
    }


def read_quarantine(fs: FileLayer, directory: Path) -> list[dict[str, Any]]:
    """Every readable entry of the quarantine file (a torn last entry is skipped)."""
    path = directory / QUARANTINE_NAME
    if not fs.exists(path):
        return []
    entries = []
    for _, line, complete in iter_lines(fs.read(path)):
        if not complete:
            continue
        try:
            entries.append(decode_line(line))
        except BadLine:
            continue
    return entries


def count_corrupt(entries: list[dict[str, Any]]) -> int:
    """How many quarantine entries are corrupt middle lines (torn tails are not counted)."""
    return sum(1 for entry in entries if entry.get("kind") == CORRUPT_LINE)


def _save_quarantine(fs: FileLayer, directory: Path, entries: list[dict[str, Any]]) -> None:
    path = directory / QUARANTINE_NAME
    cut_partial_line(fs, path)
    created = not fs.exists(path)
    fs.append(path, b"".join(encode_line(entry) for entry in entries))
    fs.fsync(path)
    fs.close(path)
    if created:
        fs.fsync_dir(directory)


def _rewrite(fs: FileLayer, directory: Path, path: Path, data: bytes) -> None:
    temporary = path.with_name(path.name + ".tmp")
    fs.write_new(temporary, data)
    fs.fsync(temporary)
    fs.rename(temporary, path)
    fs.fsync_dir(directory)


def segment_files(fs: FileLayer, directory: Path) -> list[tuple[int, Path]]:
    """(name seq, path) of every segment file, in seq order."""
    found = []
    for name in fs.listdir(directory):
        match = SEGMENT_NAME.match(name)
        if match:
            found.append((int(match.group(1)), directory / name))
    return sorted(found)


def _scan_after(data: bytes, prefix: SegmentSummary) -> SegmentScan:
    """The scan of a segment whose first prefix.size bytes its summary vouches for: decode only the rest."""
    scan = scan_segment(data, prefix.last_seq, start=prefix.size)
    scan.good += prefix.records
    scan.first_seq = prefix.first_seq
    if scan.last_seq is None:
        scan.last_seq, scan.last_id = prefix.last_seq, prefix.last_id
    scan.last_id = scan.last_id or prefix.last_id
    scan.good_end = max(scan.good_end, prefix.size)
    if scan.good_ranges and scan.good_ranges[0][0] == prefix.size:
        scan.good_ranges[0] = (0, scan.good_ranges[0][1])
    else:
        scan.good_ranges.insert(0, (0, prefix.size))
    return scan


def _remove_orphan_summaries(fs: FileLayer, directory: Path, names: set[str], segments: set[str]) -> None:
    """Remove summaries whose segment is gone (compaction removes the segment first)."""
    orphans = [n for n in names if SUMMARY_NAME.match(n) and n.removesuffix(".summary") + ".jsonl" not in segments]
    for name in orphans:
        fs.remove(directory / name)
    if orphans:
        fs.fsync_dir(directory)


def recover(fs: FileLayer, directory: Path, *, read_only: bool) -> Recovered:
    """Scan and (unless read_only) repair the directory; the journal continues from the result."""
    if not read_only:
        for name in fs.listdir(directory):
            if name.endswith(".tmp"):  # an interrupted rewrite; the original is still in place
                fs.remove(directory / name)
    files = segment_files(fs, directory)
    names = set(fs.listdir(directory))
    if not read_only:
        _remove_orphan_summaries(fs, directory, names, {path.name for _, path in files})
    segments: list[Segment] = []
    problems: list[str] = []
    last_seq = 0
    last_id: str | None = None
    records = truncated = quarantined = burned = checked = 0
    for index, (name_seq, path) in enumerate(files):
        is_last = index == len(files) - 1
        has_summary = summary_path(path).name in names
        if has_summary and not is_last:
            trusted = load_summary(fs, path, last_seq)
            if trusted is not None:
                records += trusted.records
                last_seq = trusted.last_seq
                last_id = trusted.last_id or last_id
                segments.append(
                    Segment(
                        path,
                        name_seq,
                        trusted.first_seq,
                        trusted.last_seq,
                        trusted.size,
                        records=trusted.records,
                        crc=trusted.crc,
                        last_id=trusted.last_id,
                        verified=False,
                        summarised=trusted.size,
                    )
                )
                continue
        data = fs.read(path)
        prefix = load_prefix_summary(fs, path, data, last_seq) if has_summary and is_last else None
        scan = scan_segment(data, last_seq) if prefix is None else _scan_after(data, prefix)
        checked += len(data) - (prefix.size if prefix is not None else 0)
        middle = [s for s in scan.bad if not (is_last and s.offset >= scan.good_end)]
        tail = [s for s in scan.bad if is_last and s.offset >= scan.good_end]
        for span in middle:
            problems.append(f"{path.name}@{span.offset}: {span.reason} -> quarantined")
        tail_bytes = len(data) - scan.good_end if tail else 0
        if tail:
            problems.append(f"{path.name}@{scan.good_end}: {tail[0].reason} -> cut {tail_bytes} bytes")
            # A torn write never reaches its newline; a complete line that fails its checks was
            # written whole, maybe acknowledged and relayed: its seq must never be handed out again.
            burned = data[scan.good_end :].count(b"\n")
            if burned:
                problems.append(
                    f"{path.name}@{scan.good_end}: {burned} complete line(s) cut; their seqs are not reused"
                )
        keep_size = len(data)
        if (middle or tail) and not read_only:
            entries = [quarantine_entry(CORRUPT_LINE, path.name, s) for s in middle]
            if tail:
                torn = BadSpan(scan.good_end, data[scan.good_end :], tail[0].reason)
                entries.append(quarantine_entry(TORN_TAIL, path.name, torn))
            try:
                _save_quarantine(fs, directory, entries)
            except OSError as exc:
                if middle:
                    raise JournalError(
                        f"cannot move {len(middle)} corrupt line(s) of {path} to {QUARANTINE_NAME}: {exc}; "
                        "free some disk space and open the journal again"
                    ) from exc
                # Only a tail after the last valid record: cutting it loses nothing acknowledged.
                problems.append(f"{path.name}@{scan.good_end}: torn tail not saved to {QUARANTINE_NAME}: {exc}")
            if middle:
                if has_summary and prefix is None:
                    fs.remove(summary_path(path))  # stale; made durable by the rewrite's directory fsync
                    has_summary = False
                kept = b"".join(data[start:end] for start, end in scan.good_ranges)
                _rewrite(fs, directory, path, kept)
                keep_size = len(kept)
                data = kept
            else:
                fs.truncate(path, scan.good_end)
                fs.fsync(path)
                keep_size = scan.good_end
                data = data[: scan.good_end]
        quarantined += len(middle)
        truncated += tail_bytes
        records += scan.good
        if scan.last_seq is not None:
            last_seq = scan.last_seq
            last_id = scan.last_id or last_id
        if not read_only and scan.good == 0:
            fs.remove(path)  # nothing left in it; the next write starts a fresh segment
            if fs.exists(summary_path(path)):
                fs.remove(summary_path(path))  # the next segment may reuse the name
            fs.fsync_dir(directory)
            continue
        segment = Segment(
            path,
            name_seq,
            scan.first_seq,
            scan.last_seq,
            keep_size,
            records=scan.good,
            crc=zlib.crc32(data),  # what is on disk now (read_only: unchanged)
            last_id=scan.last_id,
            summarised=prefix.size if prefix is not None else 0,
        )
        segments.append(segment)
        summary = segment.summary()
        # (the fsync_dir below makes it durable)
        if (
            not is_last
            and not read_only
            and summary is not None
            and write_summary(fs, directory, summary, sync_dir=False)
        ):
            segment.summarised = segment.bytes
    last_seq += burned
    if not read_only:
        # A killed process may have left the newest entries and lines only in the page cache;
        # make them durable now so nothing readers see here can vanish and have its seq reused.
        fs.fsync_dir(directory)
        if segments:
            fs.fsync(segments[-1].path)
    quarantine_total = count_corrupt(read_quarantine(fs, directory))
    report = OpenReport(
        records=records,
        last_seq=last_seq,
        segments=len(segments),
        truncated_bytes=truncated,
        quarantined=quarantined,
        quarantined_total=quarantine_total if not read_only else quarantine_total + quarantined,
        problems=problems,
        checked_bytes=checked,
    )
    return Recovered(segments, last_seq, last_id, report)
