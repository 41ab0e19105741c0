"""The relay queue's recent past: a small time series (depth, oldest pending age) in its own SQLite file.

Not in the read model on purpose: the read model is derived and is dropped and rebuilt from files
and journal whenever its schema changes, and these samples cannot be derived from anything. A lost
or unreadable samples file costs only the chart's past, so it is started afresh rather than repaired.
Bounded twice: rows older than `keep_seconds` are deleted on every insert, and at most `max_rows`
of the newest rows are kept (a short sampling interval cannot grow the file without bound).
"""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path
from typing import Any

SAMPLES_FILE = "relay-samples.sqlite"
KEEP_SECONDS = 24 * 3600
MAX_ROWS = 2 * 24 * 60  # two days' worth at one a minute

_CREATE = (
    "CREATE TABLE IF NOT EXISTS relay_samples ("
    " ts TEXT PRIMARY KEY, epoch REAL NOT NULL, state TEXT NOT NULL,"
    " pending INTEGER, oldest_pending_age_seconds REAL)"
)


class RelaySamples:
    """One connection, used from any thread under a lock (a sample a minute needs no more)."""

    def __init__(self, path: Path, *, keep_seconds: float = KEEP_SECONDS, max_rows: int = MAX_ROWS) -> None:
        self.path = path
        self.keep_seconds = keep_seconds
        self.max_rows = max_rows
        self._lock = threading.Lock()
        self._conn = self._open()

    def _open(self) -> sqlite3.Connection:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            return self._connect()
        except sqlite3.DatabaseError:  # corrupt: the samples are disposable, start again
            for suffix in ("", "-wal", "-shm"):
                Path(f"{self.path}{suffix}").unlink(missing_ok=True)
            return self._connect()

    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(str(self.path), check_same_thread=False, isolation_level=None)
        conn.row_factory = sqlite3.Row
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        conn.execute(_CREATE)
        return conn

    def record(
        self,
        ts: str,
        epoch: float,
        state: str,
        pending: int | None,
        oldest_pending_age_seconds: float | None,
        *,
        replacing: str | None = None,
    ) -> None:
        """Store one sample (in place of the sample at `replacing`, if given) and drop what falls outside
        the bounds."""
        with self._lock:
            if replacing is not None:
                self._conn.execute("DELETE FROM relay_samples WHERE ts = ?", (replacing,))
            self._conn.execute(
                "INSERT OR REPLACE INTO relay_samples(ts, epoch, state, pending, oldest_pending_age_seconds)"
                " VALUES (?, ?, ?, ?, ?)",
                (ts, epoch, state, pending, oldest_pending_age_seconds),
            )
            self._conn.execute("DELETE FROM relay_samples WHERE epoch < ?", (epoch - self.keep_seconds,))
            self._conn.execute(
                "DELETE FROM relay_samples WHERE ts NOT IN"
                " (SELECT ts FROM relay_samples ORDER BY epoch DESC LIMIT ?)",
                (self.max_rows,),
            )

    def since(self, epoch: float) -> list[dict[str, Any]]:
        """Samples taken at or after `epoch`, oldest first."""
        with self._lock:
            rows = self._conn.execute(
                "SELECT ts, state, pending, oldest_pending_age_seconds FROM relay_samples"
                " WHERE epoch >= ? ORDER BY epoch",
                (epoch,),
            ).fetchall()
        return [dict(row) for row in rows]

    def close(self) -> None:
        with self._lock:
            self._conn.close()
