"""The relay queue over time: a sample of its depth and oldest pending age every interval, kept a day.

The hub starts one `RelaySampler` while it serves; `GET /relay/history` and the dashboard's queue
chart read what it stored (devhub.store.relay_samples). Without a running relay nothing is ever
acknowledged, so the depth is the journal's whole length — the same number the overview shows.
"""

from __future__ import annotations

import asyncio
import logging
import math
import sqlite3
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from devhub.service.events import EventBus
from devhub.service.records_time import RelaySample
from devhub.store.relay_samples import SAMPLES_FILE, RelaySamples
from relay.errors import JournalError
from relay.status import RelayStatus

log = logging.getLogger("devhub.relay_samples")

DEFAULT_SAMPLE_SECONDS = 60.0
MIN_SAMPLE_SECONDS = 0.5  # DEVHUB_RELAY_SAMPLE_SECONDS=0 must not spin
HISTORY_HOURS_MAX = 24
CHANGE_SAMPLE_GAP_SECONDS = 5.0  # a change is charted within this long, and bursts cost one sample
QUEUE_EVENTS = frozenset({"write", "relay"})  # the hub events after which the queue may look different
SAMPLE_EVENT = "relay-sample"  # published after each stored sample (the dashboard's charts refresh on it)


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


def _drain(changes: asyncio.Queue[dict[str, Any]] | None) -> None:
    while changes is not None and not changes.empty():
        changes.get_nowait()


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
    """Takes a sample at start and then every `interval` seconds until cancelled; and, between those, soon
    after the queue changes (a write journaled, a relay state change or acknowledgement), so an open
    dashboard's queue charts move live.

    A change sample is taken at most every `change_gap` seconds (a burst of writes becomes one sample), and
    each one replaces the previous change sample of the same interval: at most two rows per interval, so the
    file's row bound (two days at one a minute) still covers the whole day however busy the hub is. After
    every stored sample the hub's event bus carries a `relay-sample` event (the pages with queue charts
    refresh on it).
    """

    def __init__(
        self,
        data_dir: Path,
        status: Callable[[], RelayStatus],
        journal: Callable[[], Any],
        interval: float,
        *,
        events: EventBus | None = None,
        change_gap: float = CHANGE_SAMPLE_GAP_SECONDS,
    ) -> None:
        self.samples = RelaySamples(data_dir / SAMPLES_FILE)
        self.interval = max(interval, MIN_SAMPLE_SECONDS)
        self.change_gap = min(max(change_gap, 0.0), self.interval)
        self._status = status
        self._journal = journal
        self._events = events
        self._backlog = JournalBacklog()

    def sample(self, replacing: str | None = None) -> RelaySample:
        """Measure the queue now and store it, in place of the sample at `replacing` if given (blocking:
        reads the journal when no relay runs)."""
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
        self.samples.record(ts, now, status.state, pending, age, replacing=replacing)
        return {"ts": ts, "state": status.state, "pending": pending, "oldest_pending_age_seconds": age}

    async def run(self) -> None:
        changes = self._events.subscribe() if self._events is not None else None
        try:
            await self._sample_loop(changes)
        finally:
            if changes is not None and self._events is not None:
                self._events.unsubscribe(changes)

    async def _sample_loop(self, changes: asyncio.Queue[dict[str, Any]] | None) -> None:
        next_regular = time.monotonic()
        last_sample = -math.inf
        change_row: str | None = None  # this interval's change sample, replaced by the next one
        while True:
            if time.monotonic() >= next_regular:
                await self._take()
                last_sample, change_row = time.monotonic(), None
                next_regular = last_sample + self.interval
                continue
            if not await self._queue_changed(changes, until=next_regular):
                continue
            await asyncio.sleep(max(0.0, last_sample + self.change_gap - time.monotonic()))  # rate limit
            if time.monotonic() >= next_regular:
                continue  # the regular sample is due: it measures this change too
            _drain(changes)  # the changes during the gap are measured by this one sample
            change_row = await self._take(replacing=change_row)
            last_sample = time.monotonic()

    async def _queue_changed(self, changes: asyncio.Queue[dict[str, Any]] | None, *, until: float) -> bool:
        """Wait until an event that can move the queue arrives (True) or `until` (monotonic) passes (False)."""
        while (left := until - time.monotonic()) > 0:
            if changes is None:
                await asyncio.sleep(left)
                return False
            try:
                # asyncio.timeout, not wait_for: 3.11's wait_for can swallow a cancel when an event is ready
                async with asyncio.timeout(left):
                    event = await changes.get()
            except TimeoutError:
                return False
            if event.get("kind") in QUEUE_EVENTS:
                return True
        return False

    async def _take(self, replacing: str | None = None) -> str | None:
        """One stored sample and its `relay-sample` event. Answers the stored sample's ts; when it could not be
        stored, the ts it was to replace (that row is still there, so the next change sample replaces it)."""
        try:
            taken = await asyncio.to_thread(self.sample, replacing)
        except (sqlite3.Error, OSError) as exc:  # a full disk must not stop the hub; the chart shows a gap
            log.warning("relay sample not stored: %s", exc)
            return replacing
        if self._events is not None:
            self._events.publish(SAMPLE_EVENT, **taken)
        return taken["ts"]

    def history(self, hours: int) -> list[dict[str, Any]]:
        return self.samples.since(time.time() - hours * 3600)

    def close(self) -> None:
        self.samples.close()
