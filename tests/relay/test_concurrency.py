"""Many writer threads: every append lands exactly once, seqs are contiguous, fsyncs are shared."""

from __future__ import annotations

import itertools
import threading
from pathlib import Path
from typing import Any

from relay.journal import Journal
from tests.relay.helpers import CountingFileLayer, make_fields

THREADS = 32
APPENDS = 50


def test_concurrent_writers_share_fsyncs_and_lose_nothing(tmp_path: Path, counting_fs: CountingFileLayer) -> None:
    journal = Journal.open(tmp_path, fs=counting_fs, segment_bytes=64 * 1024)
    counting_fs.fsync_calls = 0
    results: dict[int, list[dict[str, Any]]] = {}
    errors: list[BaseException] = []
    start = threading.Barrier(THREADS)

    def writer(thread: int) -> None:
        try:
            start.wait()
            mine = []
            for number in range(APPENDS):
                fields = make_fields(thread * 1000 + number)
                if number % 10 == 9:
                    mine.extend(journal.append_many([fields, make_fields(thread * 1000 + number + 500)]))
                else:
                    mine.append(journal.append(fields))
            results[thread] = mine
        except BaseException as exc:  # surfaced by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == [] and len(results) == THREADS
    appended = sum(len(r) for r in results.values())
    assert appended == THREADS * (APPENDS + APPENDS // 10)
    for mine in results.values():
        seqs = [e["seq"] for e in mine]
        assert seqs == sorted(seqs)  # each thread sees its own writes in order
        pairs = [(a, b) for a, b in itertools.pairwise(mine) if b["body"]["n"] == a["body"]["n"] + 500]
        assert all(b["seq"] == a["seq"] + 1 for a, b in pairs)  # append_many stays consecutive
    fsyncs = counting_fs.fsync_calls
    assert fsyncs <= appended // 4, f"{fsyncs} fsyncs for {appended} appends: no group commit"
    journal.close()

    with Journal.open(tmp_path) as reopened:
        stored = list(reopened.records())
    assert [r["seq"] for r in stored] == list(range(1, appended + 1))
    by_id = {e["id"]: e for mine in results.values() for e in mine}
    assert len(by_id) == appended
    assert all(by_id[record["id"]] == record for record in stored)
