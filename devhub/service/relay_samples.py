"""The relay queue over time: a sample of its depth and oldest pending age every interval, kept a day.

The hub starts one `RelaySampler` while it serves; `GET /relay/history` and the dashboard's queue
chart read what it stored (devhub.store.relay_samples). Without a running relay nothing is ever
acknowledged, so the depth is the journal's whole length — the same number the overview shows.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from devhub.store.relay_samples import SAMPLES_FILE, RelaySamples
from relay.errors import JournalError
from relay.status import RelayStatus

log = logging.getLogger("devhub.relay_samples")

DEFAULT_SAMPLE_SECONDS = 60.0
MIN_SAMPLE_SECONDS = 0.5  # DEVHUB_RELAY_SAMPLE_SECONDS=0 must not spin
HISTORY_HOURS_MAX = 24


def seconds_since(timestamp: Any) -> float | None:
    """Seconds from an ISO timestamp (or epoch seconds / milliseconds) to now; None when it does not parse."""
    if isinstance(timestamp, int | float):
        return time.time() - (timestamp / 1000 if timestamp > 1e11 else timestamp)
    if isinstance(timestamp, str) and timestamp:
        try:
            moment = datetime.fromisoformat(timestamp.replace("Z", "+00:00"))
        except ValueError:
            return None
        return (datetime.now(UTC) - moment.astimezone(UTC)).total_seconds()
    return None


class JournalBacklog:
    """Counts journaled writes not yet relayed, incrementally (only new records are read each time)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._seen_seq = 0
        self._count = 0
        self._oldest_ts: Any = None

    def measure(self, journal: Any) -> tuple[int, Any]:
        """(count, oldest timestamp) of every record; valid while no relay acknowledges any of them."""
        with self._lock:
            if journal is None:
                return 0, None
            for record in journal.records(self._seen_seq):
                self._seen_seq = max(self._seen_seq, int(record["seq"]))
                self._count += 1
                if self._oldest_ts is None:
                    self._oldest_ts = record.get("ts")
            return self._count, self._oldest_ts


class RelaySampler:
    """Takes a sample at start and then every `interval` seconds until cancelled."""

    def __init__(
        self, data_dir: Path, status: Callable[[], RelayStatus], journal: Callable[[], Any], interval: float
    ) -> None:
        self.samples = RelaySamples(data_dir / SAMPLES_FILE)
        self.interval = max(interval, MIN_SAMPLE_SECONDS)
        self._status = status
        self._journal = journal
        self._backlog = JournalBacklog()

    def sample(self) -> dict[str, Any]:
        """Measure the queue now and store it (blocking: reads the journal when no relay runs)."""
        status = self._status()
        queue = status.queue
        if queue is not None:
            pending: int | None = queue.pending
            oldest = queue.oldest_pending_age_seconds
        else:
            try:
                pending, oldest_ts = self._backlog.measure(self._journal())
            except (JournalError, OSError) as exc:
                log.warning("relay sample: the journal could not be read: %s", exc)
                pending, oldest_ts = None, None
            oldest = seconds_since(oldest_ts) if pending else None
        now = time.time()
        ts = datetime.fromtimestamp(now, UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
        age = round(oldest, 3) if oldest is not None else None
        self.samples.record(ts, now, status.state, pending, age)
        return {"ts": ts, "state": status.state, "pending": pending, "oldest_pending_age_seconds": age}

    async def run(self) -> None:
        while True:
            try:
                await asyncio.to_thread(self.sample)
            except (sqlite3.Error, OSError) as exc:  # a full disk must not stop the hub; the chart shows a gap
                log.warning("relay sample not stored: %s", exc)
            await asyncio.sleep(self.interval)

    def history(self, hours: int) -> list[dict[str, Any]]:
        return self.samples.since(time.time() - hours * 3600)

    def close(self) -> None:
        self.samples.close()
