"""In-process change notifications (file synced, write applied, relay state) for live views."""

from __future__ import annotations

import asyncio
import itertools
from typing import Any


class EventBus:
    """Fan-out of small change events to any number of async subscribers (SSE streams)."""

    def __init__(self, queue_size: int = 256) -> None:
        self._subscribers: set[asyncio.Queue[dict[str, Any]]] = set()
        self._queue_size = queue_size
        self._ids = itertools.count(1)

    def publish(self, kind: str, **data: Any) -> None:
        """Deliver an event to every subscriber; a subscriber that fell behind loses the oldest."""
        event = {"id": next(self._ids), "kind": kind, **data}
        for queue in list(self._subscribers):
            if queue.full():
                try:
                    queue.get_nowait()
                except asyncio.QueueEmpty:
                    pass
            queue.put_nowait(event)

    def subscribe(self) -> asyncio.Queue[dict[str, Any]]:
        queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue(self._queue_size)
        self._subscribers.add(queue)
        return queue

    def unsubscribe(self, queue: asyncio.Queue[dict[str, Any]]) -> None:
        self._subscribers.discard(queue)

    @property
    def subscriber_count(self) -> int:
        return len(self._subscribers)
