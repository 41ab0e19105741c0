"""Journal.append_each: a gathered batch of independent appends, one fsync, one outcome per request."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

from relay.errors import JournalFull
from relay.journal import Journal
from tests.relay.helpers import CountingFileLayer, make_fields


def test_a_batch_is_one_fsync_with_consecutive_seqs_in_request_order(
    tmp_path: Path, counting_fs: CountingFileLayer
) -> None:
    journal = Journal.open(tmp_path, fs=counting_fs)
    counting_fs.fsync_calls = 0
    outcomes = journal.append_each([[make_fields(1)], [make_fields(2), make_fields(3)], [make_fields(4)]])
    assert counting_fs.fsync_calls == 1
    assert all(isinstance(o, list) for o in outcomes)
    assert [[e["seq"] for e in o] for o in outcomes if isinstance(o, list)] == [[1], [2, 3], [4]]
    assert [[e["body"]["n"] for e in o] for o in outcomes if isinstance(o, list)] == [[1], [2, 3], [4]]
    journal.close()
    with Journal.open(tmp_path) as reopened:
        stored = list(reopened.records())
    assert [r["body"]["n"] for r in stored] == [1, 2, 3, 4]
    assert stored == [e for o in outcomes if isinstance(o, list) for e in o]


def test_a_request_that_cannot_be_stored_fails_alone(tmp_path: Path) -> None:
    journal = Journal.open(tmp_path)
    outcomes = journal.append_each([[make_fields(1)], [{"seq": 9, **make_fields(2)}], [make_fields(3)], []])
    assert isinstance(outcomes[1], ValueError) and "set by the journal" in str(outcomes[1])
    assert isinstance(outcomes[3], ValueError)
    assert [[e["body"]["n"] for e in o] for o in outcomes if isinstance(o, list)] == [[1], [3]]
    assert [r["body"]["n"] for r in journal.records()] == [1, 3]
    journal.close()


def test_a_request_past_the_size_bound_gets_journal_full_and_the_others_are_saved(tmp_path: Path) -> None:
    journal = Journal.open(tmp_path, max_bytes=6000, segment_bytes=1500)
    huge = make_fields(2, summary_length=7000)
    outcomes = journal.append_each([[make_fields(1)], [huge], [make_fields(3)]])
    assert isinstance(outcomes[1], JournalFull)
    assert [[e["seq"] for e in o] for o in outcomes if isinstance(o, list)] == [[1], [2]]  # no seq burned
    assert [r["body"]["n"] for r in journal.records()] == [1, 3]
    journal.close()


def test_batches_from_many_threads_interleave_with_single_appends_and_lose_nothing(
    tmp_path: Path, counting_fs: CountingFileLayer
) -> None:
    journal = Journal.open(tmp_path, fs=counting_fs, segment_bytes=16 * 1024)
    counting_fs.fsync_calls = 0
    results: dict[int, list[dict[str, Any]]] = {}
    errors: list[BaseException] = []
    start = threading.Barrier(8)

    def batcher(thread: int) -> None:
        try:
            start.wait()
            mine: list[dict[str, Any]] = []
            for round_ in range(30):
                base = thread * 10_000 + round_ * 10
                if thread % 2:
                    mine.append(journal.append(make_fields(base)))
                    continue
                for outcome in journal.append_each([[make_fields(base + i)] for i in range(3)]):
                    assert isinstance(outcome, list)
                    mine.extend(outcome)
            results[thread] = mine
        except BaseException as exc:  # surfaced by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=batcher, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == [] and len(results) == 8
    appended = sum(len(r) for r in results.values())
    assert appended == 4 * 30 * 3 + 4 * 30
    for thread, mine in results.items():
        seqs = [e["seq"] for e in mine]
        assert seqs == sorted(seqs)
        if thread % 2 == 0:  # a gathered batch is one flush: its seqs are consecutive
            assert all(mine[i + 2]["seq"] == mine[i]["seq"] + 2 for i in range(0, len(mine), 3))
    assert counting_fs.fsync_calls < 4 * 30 + 4 * 30  # fewer than one per call, let alone per record
    journal.close()
    with Journal.open(tmp_path) as reopened:
        stored = list(reopened.records())
    assert [r["seq"] for r in stored] == list(range(1, appended + 1))
    assert sorted(r["id"] for r in stored) == sorted(e["id"] for mine in results.values() for e in mine)
