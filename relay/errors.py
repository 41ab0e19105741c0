"""The relay package's own exception tree (relay imports nothing from devhub).

    RelayError                  base of every error the relay package raises on purpose
    ├── EnvelopeUnsendable      an envelope cannot become an HTTP request (encoding, serialising):
    │                           a local reason, so the forwarder dead-letters it and moves on
    ├── CredentialsUnusable     the token cannot be sent in a header: the relay pauses (auth_failed)
    ├── RouteUnavailable        routing needs something passing (the read model): retried, never dead
    └── JournalError            the journal could not do what was asked (message says why)
        ├── JournalLocked       another process holds directory/LOCK; `holder` describes it
        ├── JournalReadOnly     append/compact on a journal opened read_only=True
        ├── CorruptJournal      a line failed its checksum after open; `segment`, `offset`
        └── StorageFull (507)   a write was refused, nothing already acknowledged touched
            ├── JournalFull     the journal reached max_bytes
            └── DiskFull        the file system answered ENOSPC / EDQUOT

The devhub layer maps StorageFull to its HTTP 507 problem; `status` is there for it.
"""

from __future__ import annotations

from typing import Any


class RelayError(Exception):
    """Base of every error the relay package raises on purpose."""

    status: int = 500

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


class EnvelopeUnsendable(RelayError):
    """An envelope cannot be turned into an HTTP request (it cannot be encoded or serialised)."""


class CredentialsUnusable(RelayError):
    """The upstream token cannot be sent in an Authorization header (it is not visible ASCII)."""


class RouteUnavailable(RelayError):
    """Routing an envelope needs something that is passingly unavailable (e.g. the read model): try later."""


class JournalError(RelayError):
    """The journal could not do what was asked; the message says why and where."""


class JournalLocked(JournalError):
    """Another process (or open handle) holds the journal's LOCK file."""

    def __init__(self, directory: str, holder: dict[str, Any]) -> None:
        pid = holder.get("pid")
        who = f"pid {pid}" if pid else "an unknown process"
        host = holder.get("host")
        if host:
            who += f" on {host}"
        super().__init__(f"journal {directory} is locked by {who}")
        self.directory = directory
        self.holder = holder
        self.pid: int | None = pid if isinstance(pid, int) else None


class JournalReadOnly(JournalError):
    """A write or compaction was asked of a journal opened read_only=True."""


class CorruptJournal(JournalError):
    """A line failed verification after open (reopen the journal to quarantine it)."""

    def __init__(self, detail: str, segment: str, offset: int) -> None:
        super().__init__(detail)
        self.segment = segment
        self.offset = offset


class StorageFull(JournalError):
    """A write was refused for lack of room; nothing already acknowledged was touched."""

    status = 507


class JournalFull(StorageFull):
    """The journal reached its configured size bound (max_bytes)."""


class DiskFull(StorageFull):
    """The file system is out of space (ENOSPC) or over quota (EDQUOT)."""
