"""Calls on the wire at once: which units are in flight, and which objects they hold.

A *unit* is what one upstream call carries: one envelope, or a run of envelopes the hub sends as
one call (a bulk status sync; `relay_link` decides which runs qualify). Each unit names the
objects its envelopes touch (its *keys*: a task, a workplan, a message thread, a decision). Two
units sharing a key are never on the wire together, and the forwarder starts them in seq order,
so each object's writes reach the upstream in the order they were made while unrelated writes
travel side by side.

An attempt's outcome is an `Attempt`; the forwarder applies it on its own loop (the counters, the
position, the failure bookkeeping never change under a running call).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import Counter
from collections.abc import Awaitable, Hashable, Iterable
from dataclasses import dataclass
from typing import Any, Literal

from relay.upstream import Answer, UpstreamRequest

AttemptKind = Literal["ack", "refused", "retry", "pause", "offline", "unsendable"]


@dataclass(frozen=True)
class Unit:
    """One upstream call: its envelopes (in seq order), the request, and the objects it touches."""

    members: tuple[dict[str, Any], ...]
    request: UpstreamRequest
    keys: frozenset[Hashable]
    batched: bool = False  # several envelopes in one call (a bulk status sync)

    @property
    def head(self) -> dict[str, Any]:
        """The first envelope: the one failures and `stuck` name."""
        return self.members[0]

    @property
    def seqs(self) -> tuple[int, ...]:
        return tuple(int(member["seq"]) for member in self.members)


@dataclass(frozen=True)
class Attempt:
    """What one call came to: `sent` is False when nothing went out (it could not be built or authorised)."""

    kind: AttemptKind
    answer: Answer | None = None
    detail: str = ""
    sent: bool = True


class Flight:
    """The units on the wire, each an asyncio task, and a count of the keys they hold."""

    def __init__(self) -> None:
        self._tasks: dict[asyncio.Task[Attempt], Unit] = {}
        self._keys: Counter[Hashable] = Counter()
        self._seqs: set[int] = set()

    def __len__(self) -> int:
        return len(self._tasks)

    def busy(self, keys: Iterable[Hashable]) -> bool:
        """True when a unit on the wire touches one of these objects."""
        return any(self._keys[key] for key in keys)

    def carries(self, seq: int) -> bool:
        return seq in self._seqs

    def start(self, unit: Unit, call: Awaitable[Attempt]) -> None:
        task: asyncio.Task[Attempt] = asyncio.ensure_future(call)
        self._tasks[task] = unit
        self._keys.update(unit.keys)
        self._seqs.update(unit.seqs)

    async def landed(self, *, every: bool = False) -> list[tuple[Unit, Attempt]]:
        """Wait for the next call (every=True: every call) to finish; the finished units in seq order.

        An exception inside a call (a bug) is raised here, after its unit left the flight.
        """
        if not self._tasks:
            return []
        done, _ = await asyncio.wait(
            self._tasks, return_when=asyncio.ALL_COMPLETED if every else asyncio.FIRST_COMPLETED
        )
        finished = []
        for task in done:
            unit = self._tasks.pop(task)
            self._keys.subtract(unit.keys)
            self._keys += Counter()  # drop the zero counts
            self._seqs.difference_update(unit.seqs)
            finished.append((unit, task))
        finished.sort(key=lambda pair: pair[0].seqs[0])
        return [(unit, task.result()) for unit, task in finished]

    async def abandon(self) -> None:
        """Cancel every call still on the wire (a stop or an error): each is resent later with its key."""
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(BaseException):
                await task
        self._tasks.clear()
        self._keys.clear()
        self._seqs.clear()
