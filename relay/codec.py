"""One checksummed JSON line per record, plus time-ordered ids and ISO timestamps.

A line is the compact, key-sorted JSON of the record without "crc", with
`,"crc":"xxxxxxxx"` spliced in before the closing brace, then a newline. The
crc is the zlib CRC-32 (hex, 8 digits) of the line's bytes before `,"crc":`,
so a reader checks it without re-serialising anything, and "crc" is always the
last key on the line.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import os
import random
import re
import time
import zlib
from collections.abc import Mapping
from typing import Any, NamedTuple

_random = random.Random(int.from_bytes(os.urandom(16), "big"))
_ENCODER = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
_CRC_SUFFIX = re.compile(rb',"crc":"([0-9a-f]{8})"\}$')
CRC_SUFFIX_LENGTH = len(b',"crc":"00000000"}')


class PreparedRecord(NamedTuple):
    """A record's JSON split around the journal-owned keys, so the writer only splices id, seq and ts in."""

    before_id: bytes
    before_seq: bytes
    before_ts: bytes
    after_ts: bytes


# The journal splices id, seq and ts into a caller's pre-serialised record; these stand in for them.
_SPLICED = ("id", "seq", "ts")
_MARKS = {key: "\x00" + key for key in _SPLICED}
_MARK_TEXT = tuple(f'"{key}":"\\u0000{key}"' for key in _SPLICED)


def prepare_record(fields: Mapping[str, Any]) -> PreparedRecord:
    """Serialise a caller's fields (str keys, none of id/seq/ts/v/crc) once, in the caller's thread."""
    text = _ENCODER.encode({**fields, **_MARKS, "v": 1})
    if all(text.count(mark) == 1 for mark in _MARK_TEXT):
        before_id, rest = text.split(_MARK_TEXT[0])
        before_seq, rest = rest.split(_MARK_TEXT[1])
        before_ts, after_ts = rest.split(_MARK_TEXT[2])
        pieces = [before_id, before_seq, before_ts, after_ts[:-1]]
    else:  # a caller value holds a marker verbatim: build the same text key by key instead
        pieces, current = [], "{"
        for index, key in enumerate(sorted([*fields, *_SPLICED, "v"])):
            current += "," if index else ""
            if key in _MARKS:
                pieces.append(current)
                current = ""
            else:
                current += f"{_ENCODER.encode(key)}:{_ENCODER.encode(1 if key == 'v' else fields[key])}"
        pieces.append(current)
    return PreparedRecord(*(piece.encode("utf-8") for piece in pieces))


def finish_line(prepared: PreparedRecord, record_id: bytes, seq: int, timestamp: bytes) -> bytes:
    """The checksummed line of a prepared record with its id, seq and ts (same bytes as encode_line)."""
    prefix = b'%s"id":"%s"%s"seq":%d%s"ts":"%s"%s' % (
        prepared.before_id,
        record_id,
        prepared.before_seq,
        seq,
        prepared.before_ts,
        timestamp,
        prepared.after_ts,
    )
    return b'%s,"crc":"%08x"}\n' % (prefix, zlib.crc32(prefix))


class BadLine(ValueError):
    """A line that is not a valid checksummed record; the message says which check failed."""


def encode_line(record: Mapping[str, Any]) -> bytes:
    """The newline-terminated, checksummed line for a JSON object without a "crc" key."""
    body = _ENCODER.encode(record).encode("utf-8")
    if not body.startswith(b"{") or body == b"{}":
        raise ValueError("a journal record must be a non-empty JSON object")
    prefix = body[:-1]
    return b'%s,"crc":"%08x"}\n' % (prefix, zlib.crc32(prefix))


def decode_line(line: bytes) -> dict[str, Any]:
    """The record of one line (without its newline), checksum verified; BadLine otherwise."""
    match = _CRC_SUFFIX.search(line)
    if match is None:
        raise BadLine("no checksum at the end of the line (torn or not a journal line)")
    prefix = line[:-CRC_SUFFIX_LENGTH]
    if f"{zlib.crc32(prefix):08x}".encode() != match.group(1):
        raise BadLine("checksum mismatch")
    try:
        record = json.loads(line)
    except ValueError as exc:
        raise BadLine(f"not valid JSON: {exc}") from None
    if not isinstance(record, dict):
        raise BadLine("not a JSON object")
    return record


class IdClock:
    """Issues unique, strictly increasing ids: 12 hex digits of ms time, then 20 of random/counter."""

    def __init__(self) -> None:
        self._last_ms = 0
        self._last_tail = 0

    def observe(self, last_id: str) -> None:
        """Continue after an id read back from disk, so ids stay increasing across restarts."""
        try:
            ms, tail = int(last_id[:12], 16), int(last_id[12:], 16)
        except ValueError:
            return
        if (ms, tail) > (self._last_ms, self._last_tail):
            self._last_ms, self._last_tail = ms, tail

    def next(self, now_ms: int) -> str:
        """The next id; within one millisecond (or if the clock steps back) the tail counts up."""
        if now_ms > self._last_ms:
            self._last_ms = now_ms
            # 79 random bits leave room to count up within the 80-bit tail.
            self._last_tail = _random.getrandbits(79)
        else:
            self._last_tail += 1
        return f"{self._last_ms:012x}{self._last_tail:020x}"


def now_ms() -> int:
    """Wall-clock time in whole milliseconds since the epoch."""
    return time.time_ns() // 1_000_000


@functools.lru_cache(maxsize=4)
def _iso_second(second: int) -> str:
    return dt.datetime.fromtimestamp(second, tz=dt.UTC).strftime("%Y-%m-%dT%H:%M:%S")


def iso_ms(ms: int) -> str:
    """ISO-8601 UTC with milliseconds and a Z, e.g. 2026-08-01T12:00:00.123Z."""
    return f"{_iso_second(ms // 1000)}.{ms % 1000:03d}Z"
