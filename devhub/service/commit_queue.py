"""Group commit on the event loop: writes that arrive while a batch is being committed go in the next one.

One batch is in flight at a time. A lone writer's batch holds just its own write and starts at once
(no waiting for company); under load each batch takes everything that queued up meanwhile, so one
thread hand-off, one fsync and one read-model transaction serve many requests (service/hub.py).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

Item = TypeVar("Item")
Result = TypeVar("Result")

# A bound on one batch keeps one flush (and the answers waiting on it) short under a flood.
MAX_BATCH = 256


class CommitQueue(Generic[Item, Result]):
    """Runs `commit(items)` for batches of submitted items; each submitter gets its own outcome."""

    def __init__(self, commit: Callable[[list[Item]], Awaitable[list[Result | Exception]]]) -> None:
        self._commit = commit
        self._waiting: list[tuple[Item, asyncio.Future[Result]]] = []
        self._draining: asyncio.Task[None] | None = None

    async def submit(self, item: Item) -> Result:
        """Commit `item` in the next batch; its result, or the exception the batch gave it."""
        future: asyncio.Future[Result] = asyncio.get_running_loop().create_future()
        self._waiting.append((item, future))
        if self._draining is None:
            self._draining = asyncio.create_task(self._drain(), name="devhub-commit-queue")
        return await future

    async def _drain(self) -> None:
        batch: list[tuple[Item, asyncio.Future[Result]]] = []
        try:
            while self._waiting:
                batch, self._waiting = self._waiting[:MAX_BATCH], self._waiting[MAX_BATCH:]
                outcomes: list[Result | Exception]
                try:
                    outcomes = await self._commit([item for item, _ in batch])
                except Exception as exc:  # the whole batch failed: every writer in it hears why
                    outcomes = [exc] * len(batch)
                for (_, future), outcome in zip(batch, outcomes, strict=True):
                    if future.done():  # its request was cancelled; the write itself still happened
                        continue
                    if isinstance(outcome, Exception):
                        future.set_exception(outcome)
                    else:
                        future.set_result(outcome)
                batch = []
        finally:
            self._draining = None
            # Cancelled (the hub stops): nobody is left waiting on an answer that will not come.
            for _, future in batch + self._waiting:
                if not future.done():
                    future.cancel()
            self._waiting = []
