"""The write buffer and the relay: durable journal, cursor, dead letters; imports nothing from devhub."""

from relay.cursor import Cursor, DeadLetters
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

__all__ = [
    "CompactReport",
    "CorruptJournal",
    "Cursor",
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
    "RelayError",
    "SegmentInfo",
    "StorageFull",
    "VerifyReport",
]
