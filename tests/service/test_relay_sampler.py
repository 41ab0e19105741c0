"""The relay sampler samples soon after the queue changes, announces each sample, and stays bounded."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

from devhub.service.events import EventBus
from devhub.service.relay_samples import SAMPLE_EVENT, RelaySampler
from relay.status import RelayStatus


class Journal:
    """A stand-in journal: `records(after)` like relay.journal's, grown by the test (the sampler reads only it)."""

    def __init__(self) -> None:
        self.lines: list[dict[str, Any]] = []

    def append(self) -> None:
        self.lines.append({"seq": len(self.lines) + 1, "ts": "2026-12-01T00:00:00.000Z"})

    def records(self, after: int) -> list[dict[str, Any]]:
        return [line for line in self.lines if line["seq"] > after]


async def _next_sample(queue: asyncio.Queue[dict[str, Any]], timeout: float = 5.0) -> dict[str, Any]:
    """The next `relay-sample` event on the bus (other kinds are skipped)."""
    deadline = time.monotonic() + timeout
    while True:
        event = await asyncio.wait_for(queue.get(), timeout=max(0.01, deadline - time.monotonic()))
        if event["kind"] == SAMPLE_EVENT and not event.get("echo"):
            return event


def test_a_write_is_sampled_soon_and_change_samples_replace_each_other(tmp_path: Path) -> None:
    journal = Journal()
    events = EventBus()
    disabled = RelayStatus(state="disabled", reason="no upstream")
    # A long interval: every sample after the first below comes from a change, not from the clock.
    sampler = RelaySampler(tmp_path, lambda: disabled, lambda: journal, 3600, events=events, change_gap=0.05)

    async def scenario() -> list[dict[str, Any]]:
        watch = events.subscribe()
        running = asyncio.create_task(sampler.run())
        try:
            first = await _next_sample(watch)
            assert first["pending"] == 0
            depths = []
            for _ in range(3):
                journal.append()
                events.publish("write", seqs=[len(journal.lines)], kinds=["task.patch"])
                depths.append((await _next_sample(watch))["pending"])
            assert depths == [1, 2, 3], "each write is sampled with the depth it left"
            events.publish("files", repo="r", paths=["a.md"])  # a file sync does not move the queue
            events.publish(SAMPLE_EVENT, ts="x", echo=True)  # nor does a sample (no feedback loop)
            journal.append()
            events.publish("relay", state="online")
            assert (await _next_sample(watch))["pending"] == 4
            return await asyncio.to_thread(sampler.history, 1)
        finally:
            running.cancel()
            await asyncio.gather(running, return_exceptions=True)
            events.unsubscribe(watch)

    try:
        stored = asyncio.run(scenario())
    finally:
        sampler.close()
    # The regular sample, and one change sample: each change sample replaced the one before it.
    assert [s["pending"] for s in stored] == [0, 4]
    assert events.subscriber_count == 0, "the sampler unsubscribes when it stops"


def test_writes_within_the_gap_cost_one_sample(tmp_path: Path) -> None:
    journal = Journal()
    events = EventBus()
    disabled = RelayStatus(state="disabled", reason="no upstream")
    sampler = RelaySampler(tmp_path, lambda: disabled, lambda: journal, 3600, events=events, change_gap=1.0)

    async def scenario() -> None:
        watch = events.subscribe()
        running = asyncio.create_task(sampler.run())
        try:
            await _next_sample(watch)
            for _ in range(5):  # five writes spread over half the gap (load, not synchronisation)
                journal.append()
                events.publish("write", seqs=[len(journal.lines)], kinds=["progress.create"])
                await asyncio.sleep(0.1)
            assert (await _next_sample(watch))["pending"] == 5, "the gap collects the writes into one sample"
            journal.append()
            events.publish("write", seqs=[len(journal.lines)], kinds=["progress.create"])
            assert (await _next_sample(watch))["pending"] == 6, "no second sample of the same burst came between"
        finally:
            running.cancel()
            await asyncio.gather(running, return_exceptions=True)

    try:
        asyncio.run(scenario())
    finally:
        sampler.close()
