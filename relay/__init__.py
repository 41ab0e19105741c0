"""The write buffer and the relay: durable journal, position, dead letters, status; imports nothing from devhub."""

from relay.dead_letters import DeadLetter, DeadLetters
from relay.errors import (
    CorruptJournal,
    DiskFull,
    JournalError,
    JournalFull,
    JournalLocked,
    JournalReadOnly,
    RelayError,
    StorageFull,
)
from relay.fslayer import FileLayer, OsFileLayer
from relay.journal import Journal
from relay.reports import CompactReport, OpenReport, SegmentInfo, VerifyReport
from relay.status import RelayActivity, RelayQueue, RelayState, RelayStatus

__all__ = [
    "CompactReport",
    "CorruptJournal",
    "DeadLetter",
    "DeadLetters",
    "DiskFull",
    "FileLayer",
    "Journal",
    "JournalError",
    "JournalFull",
    "JournalLocked",
    "JournalReadOnly",
    "OpenReport",
    "OsFileLayer",
    "RelayActivity",
    "RelayError",
    "RelayQueue",
    "RelayState",
    "RelayStatus",
    "SegmentInfo",
    "StorageFull",
    "VerifyReport",
]
