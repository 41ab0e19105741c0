"""The relay position: a low watermark (the cursor) plus the few seqs finished above it, in one atomic file.

Held envelopes mean delivery is not a simple prefix: seq 7 may wait for its task's
state_hub_task_id while 8..20 go out. So the position is

    seq          every envelope with seq <= this is finished (acknowledged or dead-lettered)
    done_above   the finished seqs greater than `seq` (small: the envelopes delivered past a hold)

stored as one checksummed line at <data_dir>/relay/cursor. It is a superset of what
`relay.cursor.Cursor` writes, so `Cursor.load()` (used by `devhub journal show|compact`)
reads the same file and sees the watermark: compaction only removes segments whose
every envelope is finished.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from pathlib import Path

from relay.codec import BadLine, decode_line, encode_line, iso_ms, now_ms
from relay.cursor import Cursor
from relay.fslayer import FileLayer, OsFileLayer
from relay.scan import iter_lines


class Position:
    """The watermark and the finished seqs above it, advanced in memory and persisted atomically."""

    def __init__(self, watermark: int = 0, done_above: Iterable[int] = (), watermark_id: str | None = None) -> None:
        self.watermark = watermark
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
        cursor = Cursor(self.path, self._fs)
        watermark = cursor.load()
        self.problem = cursor.problem
        if watermark == 0 or not self._fs.exists(self.path):
            return Position(watermark)
        lines = list(iter_lines(self._fs.read(self.path)))
        try:
            record = decode_line(lines[0][1])
        except (BadLine, IndexError):
            return Position(watermark)
        above = record.get("done_above") or []
        valid = [s for s in above if isinstance(s, int) and not isinstance(s, bool)] if isinstance(above, list) else []
        stored_id = record.get("id")
        return Position(watermark, valid, stored_id if isinstance(stored_id, str) else None)

    def store(
        self,
        snapshot: tuple[int, tuple[int, ...]],
        before_rename: Callable[[], None] | None = None,
        watermark_id: str | None = None,
    ) -> None:
        """Persist a snapshot durably; `before_rename` runs once the temp file is fsynced (a crash-test hook)."""
        watermark, done_above = snapshot
        fields: dict[str, object] = {"seq": watermark, "done_above": list(done_above), "updated": iso_ms(now_ms())}
        if watermark_id is not None:
            fields["id"] = watermark_id
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
