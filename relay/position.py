"""The relay position: a low watermark (the cursor) plus the few seqs finished above it, in one atomic file.

Held envelopes mean delivery is not a simple prefix: seq 7 may wait for its task's
state_hub_task_id while 8..20 go out. So the position is

    seq          every envelope with seq <= this is finished (acknowledged or dead-lettered)
    done_above   the finished seqs greater than `seq` (small: the envelopes delivered past a hold)
    held         how many envelopes the relay's last pass held, and why (the first few): advisory,
                 so that `devhub relay status` can report them while no daemon runs

stored as one checksummed line at <data_dir>/relay/cursor. `devhub journal compact` removes
only segments at or below the watermark, whose every envelope is finished.

A corrupt file loads as 0 with a warning: resending is harmless because upstream is
idempotent, while skipping ahead would lose writes.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeGuard

from relay.codec import BadLine, decode_line, encode_line, iso_ms, now_ms
from relay.fslayer import FileLayer, OsFileLayer
from relay.scan import iter_lines

log = logging.getLogger(__name__)

POSITION_FILE = "cursor"  # in the relay directory (the name predates the done_above set)
HOLD_REASONS_KEPT = 20  # per-seq reasons stored and reported; the count is always exact


@dataclass(frozen=True)
class Holds:
    """What the relay's last pass held: how many envelopes, and why (seq -> reason; stored for the first few)."""

    count: int = 0
    reasons: Mapping[int, str] = field(default_factory=dict)

    @classmethod
    def of(cls, count: int, reasons: Mapping[int, str]) -> Holds:
        """The holds to store: the exact count and the reasons of the lowest `HOLD_REASONS_KEPT` seqs."""
        return cls(count, dict(sorted(reasons.items())[:HOLD_REASONS_KEPT]))


class Position:
    """The watermark and the finished seqs above it, advanced in memory and persisted atomically."""

    def __init__(
        self,
        watermark: int = 0,
        done_above: Iterable[int] = (),
        watermark_id: str | None = None,
        holds: Holds | None = None,
    ) -> None:
        self.watermark = watermark
        self.holds = holds or Holds()  # as stored by the last run; the running relay keeps its own
        # The id of the envelope at the watermark: lets a restart tell a journal that still holds
        # that envelope from one that hands the same seq to another (restored from an old copy).
        self.watermark_id = watermark_id
        self._ids: dict[int, str] = {}
        self.done_above = {seq for seq in done_above if seq > watermark}
        self._compact()

    def is_done(self, seq: int) -> bool:
        """True when the envelope with this seq was acknowledged or dead-lettered."""
        return seq <= self.watermark or seq in self.done_above

    def finish(self, seq: int, envelope_id: str | None = None) -> None:
        """Mark one seq finished and move the watermark over every contiguous finished seq."""
        if seq > self.watermark:
            self.done_above.add(seq)
            if envelope_id is not None:
                self._ids[seq] = envelope_id
            self._compact()

    def _compact(self) -> None:
        while self.watermark + 1 in self.done_above:
            self.watermark += 1
            self.done_above.discard(self.watermark)
            self.watermark_id = self._ids.pop(self.watermark, None)

    def snapshot(self) -> tuple[int, tuple[int, ...]]:
        """An immutable copy (watermark, sorted done_above) for persisting."""
        return self.watermark, tuple(sorted(self.done_above))


class PositionFile:
    """Reads and atomically replaces the position file (temp file, fsync, rename, fsync the directory)."""

    def __init__(self, path: Path, fs: FileLayer | None = None) -> None:
        self.path = Path(path)
        self._fs = fs or OsFileLayer()
        self._guard = threading.Lock()
        self.problem: str | None = None

    def load(self) -> Position:
        """The stored position; a missing or corrupt file loads as 0 (resending is harmless, skipping is not)."""
        self.problem = None
        if not self._fs.exists(self.path):
            return Position()
        try:
            data = self._fs.read(self.path)
        except OSError as exc:
            return self._fallback(f"cannot read it: {exc}")
        lines = list(iter_lines(data))
        if len(lines) != 1 or not lines[0][2]:
            return self._fallback("expected exactly one newline-terminated line")
        try:
            record = decode_line(lines[0][1])
        except BadLine as exc:
            return self._fallback(str(exc))
        watermark = record.get("seq")
        if not _is_seq(watermark):
            return self._fallback(f"seq is not a non-negative integer: {watermark!r}")
        above = record.get("done_above") or []
        valid = [s for s in above if _is_seq(s)] if isinstance(above, list) else []
        stored_id = record.get("id")
        return Position(watermark, valid, stored_id if isinstance(stored_id, str) else None, _holds(record))

    def _fallback(self, reason: str) -> Position:
        self.problem = (
            f"relay cursor {self.path} is corrupt ({reason}); starting from 0 — pending writes are "
            "resent, which upstream idempotency makes harmless"
        )
        log.warning(self.problem)
        return Position()

    def store(
        self,
        snapshot: tuple[int, tuple[int, ...]],
        before_rename: Callable[[], None] | None = None,
        watermark_id: str | None = None,
        holds: Holds | None = None,
    ) -> None:
        """Persist a snapshot durably; `before_rename` runs once the temp file is fsynced (a crash-test hook)."""
        watermark, done_above = snapshot
        if not _is_seq(watermark):
            raise ValueError(f"a cursor is a non-negative integer, not {watermark!r}")
        fields: dict[str, object] = {"seq": watermark, "done_above": list(done_above), "updated": iso_ms(now_ms())}
        if watermark_id is not None:
            fields["id"] = watermark_id
        if holds is not None and holds.count:
            fields["held"] = holds.count
            fields["held_reasons"] = [[seq, reason] for seq, reason in holds.reasons.items()]
        line = encode_line(fields)
        temporary = self.path.with_name(self.path.name + ".tmp")
        with self._guard:
            self._fs.makedirs(self.path.parent)
            self._fs.write_new(temporary, line)
            self._fs.fsync(temporary)
            if before_rename is not None:
                before_rename()
            self._fs.rename(temporary, self.path)
            self._fs.fsync_dir(self.path.parent)


def _is_seq(value: Any) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _holds(record: Mapping[str, Any]) -> Holds:
    """The stored holds; anything malformed reads as none (they are advisory)."""
    count = record.get("held")
    pairs = record.get("held_reasons")
    if not _is_seq(count) or not isinstance(pairs, list):
        return Holds()
    reasons = {
        pair[0]: pair[1]
        for pair in pairs
        if isinstance(pair, list) and len(pair) == 2 and _is_seq(pair[0]) and isinstance(pair[1], str)
    }
    return Holds(count, reasons)
