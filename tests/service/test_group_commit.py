"""Group commit at the hub (service/commit_queue.py + Hub._commit_batch): a real Hub, journal and read model."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from devhub.service.commit_queue import CommitQueue
from devhub.service.hub import Hub
from devhub.service.writes import WriteContext
from devhub.settings import load_settings
from devhub.store.activity import list_progress


def _hub(tmp_path: Path) -> Hub:
    return Hub(load_settings({"DEVHUB_DATA_DIR": str(tmp_path / "data"), "DEVHUB_CONFIG_DIR": str(tmp_path / "cfg")}))


def _spy_batches(hub: Hub) -> list[int]:
    """Record the size of every batch the hub hands the journal (calls straight through)."""
    from relay.journal import Journal

    journal = hub.journal
    assert isinstance(journal, Journal)
    sizes: list[int] = []
    real = journal.append_each

    def counting(requests: Sequence[Sequence[Any]]) -> Any:
        sizes.append(len(requests))
        return real(requests)

    journal.append_each = counting  # type: ignore[method-assign]
    return sizes


def test_concurrent_writes_share_a_batch_and_each_is_readable_when_answered(tmp_path: Path) -> None:
    async def scenario() -> None:
        hub = _hub(tmp_path)
        await hub.start(serve=False)
        try:
            sizes = _spy_batches(hub)

            async def write(n: int) -> dict[str, Any]:
                outcome = await hub.writes.add_progress({"summary": f"event {n}"}, WriteContext())
                seen = {e["summary"] for e in await hub.read(lambda r: list_progress(r, limit=1000))}
                assert f"event {n}" in seen  # read your write, at the moment of the answer
                return outcome.body

            answers = await asyncio.gather(*(write(n) for n in range(32)))
            assert sum(sizes) == 32
            assert len(sizes) <= 8, f"batches {sizes}: concurrent writes were not committed together"
            events = await hub.read(lambda r: list_progress(r, limit=1000))
            assert sorted(e["summary"] for e in events) == sorted(a["summary"] for a in answers)
            seqs = sorted(e["seq"] for e in events)
            assert seqs == list(range(1, 33))
        finally:
            await hub.stop()

    asyncio.run(scenario())


def test_a_write_journaled_past_the_fast_path_is_applied_in_seq_order(tmp_path: Path) -> None:
    """An envelope appended outside the batch (another writer) leaves a gap; the batch waits for it."""

    async def scenario() -> None:
        hub = _hub(tmp_path)
        await hub.start(serve=False)
        try:
            first = await hub.writes.add_progress({"summary": "first"}, WriteContext())
            drafts = [hub.writes._draft("progress", "POST", "/progress/", {"summary": "beside"}, WriteContext(),
                                        target={"kind": "progress"}, record={"id": "beside-1", "created_at": "x"})]
            await hub._append(drafts)  # journaled, not applied: seq 2 is a gap for the next batch
            await hub.writes.add_progress({"summary": "third"}, WriteContext())
            events = await hub.read(lambda r: list_progress(r, limit=100))
            assert sorted((e["seq"], e["summary"]) for e in events) == [(1, "first"), (2, "beside"), (3, "third")]
            assert first.body["summary"] == "first"
        finally:
            await hub.stop()

    asyncio.run(scenario())


def test_the_queue_batches_what_arrives_during_a_commit_and_gives_each_its_own_outcome() -> None:
    async def scenario() -> None:
        batches: list[list[int]] = []
        gate = asyncio.Event()

        async def commit(items: list[int]) -> list[int | Exception]:
            batches.append(items)
            if len(batches) == 1:
                await gate.wait()  # the first batch is "in flight" while the rest queue up
            return [ValueError(f"odd {i}") if i % 2 else i * 10 for i in items]

        queue: CommitQueue[int, int] = CommitQueue(commit)
        first = asyncio.ensure_future(queue.submit(0))
        while not batches:
            await asyncio.sleep(0)
        rest = [asyncio.ensure_future(queue.submit(n)) for n in range(1, 9)]
        await asyncio.sleep(0)
        gate.set()
        assert await first == 0
        results = await asyncio.gather(*rest, return_exceptions=True)
        assert batches == [[0], [1, 2, 3, 4, 5, 6, 7, 8]]
        assert [r if isinstance(r, int) else str(r) for r in results] == [
            "odd 1", 20, "odd 3", 40, "odd 5", 60, "odd 7", 80
        ]

    asyncio.run(scenario())


def test_a_failing_commit_fails_its_batch_only_and_the_queue_keeps_going() -> None:
    async def scenario() -> None:
        calls = 0

        async def commit(items: list[str]) -> list[str | Exception]:
            nonlocal calls
            calls += 1
            if calls == 1:
                raise RuntimeError("disk on fire")
            return [item.upper() for item in items]

        queue: CommitQueue[str, str] = CommitQueue(commit)
        with pytest.raises(RuntimeError, match="disk on fire"):
            await queue.submit("a")
        assert await queue.submit("b") == "B"

    asyncio.run(scenario())
