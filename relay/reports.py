"""The typed answers of Journal.open, segments(), compact() and verify()."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True)
class SegmentInfo:
    """One segment file: its path, the seq range it holds (None when empty), size and times."""

    path: Path
    first_seq: int | None
    last_seq: int | None
    bytes: int
    mtime: float


@dataclass(frozen=True)
class OpenReport:
    """What opening found and repaired: records kept, the tail cut, lines quarantined."""

    records: int
    last_seq: int
    segments: int
    truncated_bytes: int  # torn / corrupt tail cut from the last segment (saved in the quarantine file)
    quarantined: int  # corrupt middle lines moved to the quarantine file by this open
    quarantined_total: int  # corrupt lines in the quarantine file, all opens together
    problems: list[str] = field(default_factory=list)  # one line each: segment@offset: reason -> action
    checked_bytes: int = 0  # bytes open decoded and checked line by line (the rest was covered by summaries)


@dataclass(frozen=True)
class CompactReport:
    """Which segments compaction removed, the bytes freed, and what remains."""

    removed: list[SegmentInfo]
    freed_bytes: int
    remaining_segments: int
    remaining_bytes: int


@dataclass(frozen=True)
class BadLineInfo:
    """A line that failed verification: segment file, byte offset, length and why."""

    segment: str
    offset: int
    length: int
    reason: str


@dataclass(frozen=True)
class VerifyReport:
    """A read-only full check: good lines, bad lines with offsets, seq gaps, an in-flight tail."""

    ok_lines: int
    first_seq: int | None
    last_seq: int | None
    segments: int
    bad_lines: list[BadLineInfo]
    gaps: list[tuple[int, int]]  # (seq before the gap, seq after it)
    tail_bytes: int  # an incomplete last line (a write in flight or a torn write), not counted as bad
    quarantined_total: int
    # closed segments whose summary (what open trusts instead of reading them) disagrees with their content
    summary_problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when there are no bad lines, no seq gaps and every summary matches its segment."""
        return not self.bad_lines and not self.gaps and not self.summary_problems
