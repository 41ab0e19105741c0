"""Group commit: writes that arrive while this replica's transaction is in flight go into the next one, together.

Every fleet write takes the head row (the gapless seq) and waits for one WAL flush at commit, so a
transaction per write caps the whole fleet at one commit per flush. Batching writes that queue up
meanwhile pays one head-row lock and one flush per batch instead. It costs a lone write nothing:
with nothing in flight, the first caller commits at once.

Leader/follower: a caller queues its write; if no batch is in flight it becomes the leader, takes
everything queued (up to `max_batch`) and commits it on its own thread, then hands over to the
next waiter. Each write's outcome (its envelopes, or the exception it alone raised, or the
batch's failure) is set before anyone waits on it, so every caller answers only after the
commit that holds its write returned.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

MAX_BATCH = 64  # writes per transaction: bounds a batch's statement size and a failed batch's blast radius


@dataclass(eq=False)
class PendingWrite:
    """One caller's write (the envelopes of one request) and, once its batch is done, its outcome."""

    drafts: Sequence[Mapping[str, Any]]
    envelopes: list[dict[str, Any]] | None = None
    error: BaseException | None = None
    done: bool = False
    extra: dict[str, Any] = field(default_factory=dict)  # what the committer works out per write

    @property
    def key(self) -> str | None:
        request = self.drafts[-1].get("request")
        return request["key"] if request and self.drafts[-1].get("response") is not None else None

    def succeed(self, envelopes: list[dict[str, Any]]) -> None:
        self.envelopes, self.done = envelopes, True

    def fail(self, error: BaseException) -> None:
        self.error, self.done = error, True


class GroupCommitter:
    """Runs `commit_batch` on batches of pending writes, one batch at a time per process."""

    def __init__(self, commit_batch: Callable[[list[PendingWrite]], None], *, max_batch: int = MAX_BATCH) -> None:
        self._commit_batch = commit_batch
        self._max_batch = max_batch
        self._queue: list[PendingWrite] = []
        self._busy = False
        self._cond = threading.Condition()
        self.batches = 0  # transactions run, and the writes in them: what `fleet db check` / tests can observe
        self.writes = 0

    @property
    def queued(self) -> int:
        """Writes waiting for the next batch (the one in flight not counted)."""
        with self._cond:
            return len(self._queue)

    def submit(self, drafts: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
        """Commit `drafts` (in this or a following batch); their envelopes, or the exception for this write."""
        pending = PendingWrite(drafts)
        with self._cond:
            self._queue.append(pending)
        while True:
            with self._cond:
                while self._busy and not pending.done:
                    self._cond.wait()
                if pending.done:
                    break
                self._busy = True
                batch, self._queue = self._queue[: self._max_batch], self._queue[self._max_batch :]
            self._lead(batch)
        if pending.error is not None:
            raise pending.error
        assert pending.envelopes is not None
        return pending.envelopes

    def _lead(self, batch: list[PendingWrite]) -> None:
        try:
            self._commit_batch(batch)
        except BaseException as exc:  # the transaction failed: every write of it that has no outcome yet fails
            for pending in batch:
                if not pending.done:
                    pending.fail(exc)
        finally:
            for pending in batch:  # a committer that forgot one is a bug: say so rather than hang its caller
                if not pending.done:
                    pending.fail(RuntimeError("group commit left a write without an outcome"))
            with self._cond:
                self.batches += 1
                self.writes += len(batch)
                self._busy = False
                self._cond.notify_all()
