"""The relay's small durable files: the cursor (last acknowledged seq) and the dead-letter store.

A corrupt cursor file loads as 0 with a warning: resending is harmless because
upstream is idempotent, while skipping ahead would lose writes.
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path
from typing import Any

from relay.codec import BadLine, decode_line, encode_line, iso_ms, now_ms
from relay.fslayer import FileLayer, OsFileLayer
from relay.scan import cut_partial_line, iter_lines

log = logging.getLogger(__name__)

MAX_RESPONSE_CHARS = 64 * 1024


class Cursor:
    """The relay position (last seq acknowledged upstream) in one small file, replaced atomically."""

    def __init__(self, path: Path, fs: FileLayer | None = None) -> None:
        self.path = Path(path)
        self._fs = fs or OsFileLayer()
        self._guard = threading.Lock()
        self.problem: str | None = None  # why the last load fell back to 0, if it did

    def load(self) -> int:
        """The stored seq; 0 when absent, and 0 with a warning (see `problem`) when unreadable."""
        self.problem = None
        if not self._fs.exists(self.path):
            return 0
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
        seq = record.get("seq")
        if not isinstance(seq, int) or isinstance(seq, bool) or seq < 0:
            return self._fallback(f"seq is not a non-negative integer: {seq!r}")
        return seq

    def _fallback(self, reason: str) -> int:
        self.problem = (
            f"relay cursor {self.path} is corrupt ({reason}); starting from 0 — pending writes are "
            "resent, which upstream idempotency makes harmless"
        )
        log.warning(self.problem)
        return 0

    def store(self, seq: int) -> None:
        """Persist seq atomically and durably: write a temp file, fsync, rename, fsync the directory."""
        if isinstance(seq, bool) or not isinstance(seq, int) or seq < 0:
            raise ValueError(f"a cursor is a non-negative integer, not {seq!r}")
        line = encode_line({"seq": seq, "updated": iso_ms(now_ms())})
        temporary = self.path.with_name(self.path.name + ".tmp")
        with self._guard:
            self._fs.makedirs(self.path.parent)
            self._fs.write_new(temporary, line)
            self._fs.fsync(temporary)
            self._fs.rename(temporary, self.path)
            self._fs.fsync_dir(self.path.parent)


class DeadLetters:
    """Append-only, fsynced JSON lines of envelopes upstream refused for good (status + response).

    An envelope the relay could not send at all (a local reason) has status None and the reason
    in `response_body`.
    """

    def __init__(self, path: Path, fs: FileLayer | None = None) -> None:
        self.path = Path(path)
        self._fs = fs or OsFileLayer()
        self._guard = threading.Lock()
        self._tail_checked = False

    def add(self, envelope: dict[str, Any], status: int | None, response_body: str) -> dict[str, Any]:
        """Durably record a refused envelope; returns the stored entry once it is on disk."""
        body = response_body
        if len(body) > MAX_RESPONSE_CHARS:
            body = body[:MAX_RESPONSE_CHARS] + f"… ({len(response_body) - MAX_RESPONSE_CHARS} chars cut)"
        entry = {"envelope": envelope, "status": status, "response_body": body, "at": iso_ms(now_ms())}
        try:
            line = encode_line(entry)
        except (ValueError, TypeError):  # e.g. a lone surrogate: it is dead *because* it cannot be encoded
            entry = _storable(entry) | {"escaped": True}
            line = encode_line(entry)
        with self._guard:
            self._fs.makedirs(self.path.parent)
            if not self._tail_checked:
                cut_partial_line(self._fs, self.path)  # a crash mid-add must not swallow the next entry
                self._tail_checked = True
            created = not self._fs.exists(self.path)
            self._fs.append(self.path, line)
            self._fs.fsync(self.path)
            if created:
                self._fs.fsync_dir(self.path.parent)
        return entry

    def list(self) -> list[dict[str, Any]]:
        """Every stored entry, oldest first (a torn last line from a crash is skipped)."""
        if not self._fs.exists(self.path):
            return []
        entries = []
        for offset, line, complete in iter_lines(self._fs.read(self.path)):
            if not complete:
                continue
            try:
                record = decode_line(line)
            except BadLine as exc:
                log.warning("dead letters %s@%d unreadable: %s", self.path, offset, exc)
                continue
            record.pop("crc", None)
            entries.append(record)
        return entries

    def __len__(self) -> int:
        return len(self.list())


def _storable(value: Any) -> Any:
    """`value` with what UTF-8 JSON cannot hold escaped: lone surrogates as \\udxxx, NaN and others as repr."""
    if isinstance(value, str):
        return value.encode("utf-8", "backslashreplace").decode("utf-8")
    if isinstance(value, dict):
        return {_storable(str(key)): _storable(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_storable(item) for item in value]
    if (
        value is None
        or isinstance(value, bool | int)
        or (isinstance(value, float) and value == value and abs(value) != float("inf"))
    ):
        return value
    return repr(value)
