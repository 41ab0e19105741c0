"""The idempotency index: the answer a write with a given Idempotency-Key was given."""

from __future__ import annotations

from dataclasses import dataclass

from devhub.store.reader import Reader


@dataclass(frozen=True, slots=True)
class IdempotencyRecord:
    """What was answered to the first write with a key (the response is the JSON text as stored)."""

    body_hash: str
    status_code: int
    response: str
    created_at: str | None


async def find_idempotency_record(reader: Reader, key: str) -> IdempotencyRecord | None:
    """The record of the write made with `key`, or None when the key was never used (or was forgotten)."""
    row = await reader.one("SELECT body_hash, status_code, response, created_at FROM idempotency WHERE key = ?", (key,))
    if row is None:
        return None
    return IdempotencyRecord(row["body_hash"], row["status_code"], row["response"], row["created_at"])


# -- fleet database --


class KeyTaken(Exception):
    """A shared store found the key already committed (by another request or replica): answer from `record`."""

    def __init__(self, key: str, record: IdempotencyRecord) -> None:
        super().__init__(f"Idempotency-Key {key!r} is already committed")
        self.key = key
        self.record = record
