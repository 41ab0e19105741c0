"""The dead-letter store: envelopes the upstream refused for good, or that could not be sent at all."""

from __future__ import annotations

import builtins
import logging
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from relay.codec import BadLine, decode_line, encode_line, iso_ms, now_ms
from relay.fslayer import FileLayer, OsFileLayer
from relay.scan import cut_partial_line, iter_lines

log = logging.getLogger(__name__)

MAX_RESPONSE_CHARS = 64 * 1024
DEAD_LETTERS_FILE = "dead_letters.jsonl"  # in the relay directory, next to the position file


@dataclass(frozen=True)
class DeadLetter:
    """One refused envelope: the envelope, the upstream's status (None: never sent), its answer or the reason, when."""

    envelope: dict[str, Any]
    status: int | None
    response_body: str
    at: str | None

    @property
    def envelope_id(self) -> str | None:
        found = self.envelope.get("id")
        return found if isinstance(found, str) else None

    @classmethod
    def from_entry(cls, entry: dict[str, Any]) -> DeadLetter:
        """The typed form of one stored line (as `DeadLetters.list` returns it)."""
        envelope = entry.get("envelope")
        status = entry.get("status")
        return cls(
            envelope=envelope if isinstance(envelope, dict) else {},
            status=status if isinstance(status, int) and not isinstance(status, bool) else None,
            response_body=str(entry.get("response_body", "")),
            at=entry.get("at") if isinstance(entry.get("at"), str) else None,
        )


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

    def entries(self) -> builtins.list[DeadLetter]:
        """Every stored entry, typed, oldest first."""
        return [DeadLetter.from_entry(entry) for entry in self.list()]

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
