"""Group commit on a real PostgreSQL: writes queued behind a replica's transaction share the next one, and a write
refused inside a batch fails alone (store/pg/group_commit.py, PgJournal._commit_batch).

The batch window is made deterministic by holding the head row from the test's own transaction: the
leader's transaction blocks on it, the other writes queue meanwhile, and releasing the row lets them
commit together.
"""

from __future__ import annotations

import contextlib
import threading
import uuid
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest

from devhub.errors import FleetDatabaseError, IdTaken, ValidationFailed
from devhub.store.idempotency import KeyTaken
from devhub.store.pg.journal import PgJournal
from tests.support.waiting import wait_for

RETENTION = 14 * 24 * 3600


def progress(summary: str, key: str | None = None) -> dict[str, Any]:
    """A write's envelope draft as `Writes` hands it to the journal (a keyed one carries its answer and request)."""
    draft: dict[str, Any] = {
        "kind": "progress",
        "method": "POST",
        "path": "/progress/",
        "body": {"summary": summary},
        "target": {"kind": "progress"},
        "observed": {},
        "record": {"id": str(uuid.uuid4()), "created_at": "2026-12-02T00:00:00.000Z"},
        "origin": {"agent": "test"},
        "idempotency_key": key or str(uuid.uuid4()),
        "response": {"status": 201, "body": {"summary": summary}},
    }
    if key is not None:
        draft["request"] = {"key": key, "hash": f"hash of {summary}"}
    return draft


def message(message_id: str, key: str) -> dict[str, Any]:
    draft = progress(f"message {message_id}", key)
    draft.update(kind="message", path="/messages/", record={"id": message_id, "created_at": "2026-12-02T00:00:00.000Z"})
    return draft


@pytest.fixture
def journal(pg_url: str) -> Iterator[PgJournal]:
    opened = PgJournal.open(pg_url, node="test", retention_seconds=RETENTION)
    try:
        yield opened
    finally:
        opened.close()


@contextlib.contextmanager
def head_row_held(url: str) -> Iterator[psycopg.Connection[Any]]:
    """Another fleet writer's transaction holding the head row: every replica's next commit waits for it."""
    with psycopg.connect(url) as conn:
        conn.execute("SELECT seq FROM devhub_head FOR UPDATE")
        try:
            yield conn
        finally:
            conn.rollback()


def blocked_on_head(url: str) -> list[int]:
    """Backends of this database waiting for a lock while taking the head row (a batch in flight).

    Asked on a connection of its own: a transaction sees one snapshot of pg_stat_activity.
    """
    with psycopg.connect(url, autocommit=True) as conn:
        return [
            row[0]
            for row in conn.execute(
                "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'"
                " AND query LIKE %s",
                ("%UPDATE devhub_head%",),
            )
        ]


class Sender:
    """Appends writes on threads of their own, as the hub's journal threads do; keeps each one's outcome."""

    def __init__(self, journal: PgJournal) -> None:
        self.journal = journal
        self.outcomes: dict[str, Any] = {}
        self.threads: list[threading.Thread] = []

    def send(self, name: str, draft: dict[str, Any]) -> None:
        def run() -> None:
            try:
                self.outcomes[name] = self.journal.append(draft)
            except Exception as exc:
                self.outcomes[name] = exc

        thread = threading.Thread(target=run, name=f"append-{name}")
        thread.start()
        self.threads.append(thread)

    def join(self) -> dict[str, Any]:
        for thread in self.threads:
            thread.join(timeout=30)
        assert not any(thread.is_alive() for thread in self.threads), "an append never returned"
        return self.outcomes


def one_batch_behind_a_held_head(journal: PgJournal, url: str, drafts: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """A lone write becomes the leader and blocks on the held head row; `drafts` queue meanwhile, then commit."""
    sender = Sender(journal)
    with head_row_held(url):
        sender.send("leader", progress("the leader"))
        wait_for(lambda: blocked_on_head(url), what="the leader's transaction to wait for the head row")
        for name, draft in drafts.items():
            sender.send(name, draft)
        wait_for(lambda: journal.queued_writes == len(drafts), what="every write to queue behind the leader")
    outcomes = sender.join()
    assert isinstance(outcomes.pop("leader"), dict)
    return outcomes


def transactions_of(url: str, seqs: list[int]) -> int:
    """How many transactions committed these writes' rows (xmin is the inserting transaction)."""
    with psycopg.connect(url) as conn:
        row = conn.execute("SELECT count(DISTINCT xmin::text) FROM devhub_writes WHERE seq = ANY(%s)", (seqs,))
        return int(row.fetchone()[0])  # type: ignore[index]


def test_writes_queued_behind_a_transaction_share_the_next_one_and_a_taken_key_answers_the_original(
    journal: PgJournal, pg_url: str
) -> None:
    original = journal.append(progress("first use of k-dup", "k-dup"))
    before = journal.group_commit_counts
    drafts = {f"w{index}": progress(f"batched {index}", f"k-{index}") for index in range(6)}
    drafts["dup"] = progress("second use of k-dup", "k-dup")

    outcomes = one_batch_behind_a_held_head(journal, pg_url, drafts)

    taken = outcomes.pop("dup")
    assert isinstance(taken, KeyTaken) and taken.record.response == '{"summary": "first use of k-dup"}'
    seqs = sorted(envelope["seq"] for envelope in outcomes.values())
    assert seqs == list(range(original["seq"] + 2, original["seq"] + 8))  # after the leader's, gapless
    assert transactions_of(pg_url, seqs) == 1  # six writes, one transaction
    transactions, writes = journal.group_commit_counts
    assert (transactions - before[0], writes - before[1]) == (2, 8)  # the leader alone, then everyone queued
    with psycopg.connect(pg_url) as conn:
        stored = dict(conn.execute("SELECT key, seq FROM devhub_idempotency").fetchall())
    assert stored["k-dup"] == original["seq"]
    assert all(stored[f"k-{index}"] == outcomes[f"w{index}"]["seq"] for index in range(6))


def test_a_write_refused_inside_a_batch_fails_alone(journal: PgJournal, pg_url: str) -> None:
    journal.append(progress("first use of k-dup", "k-dup"))
    taken_id = str(uuid.uuid4())
    with psycopg.connect(pg_url) as conn:  # as if another replica had created this message already
        conn.execute(
            "INSERT INTO devhub_created_ids (claim, write_id) VALUES (%s, 'elsewhere')", (f"message:{taken_id}",)
        )
    drafts = {f"w{index}": progress(f"batched {index}", f"k-{index}") for index in range(4)}
    drafts["refused"] = progress("holds \x00 a NUL the database refuses", "k-refused")
    drafts["taken-id"] = message(taken_id, "k-taken-id")
    drafts["fresh-id"] = message(str(uuid.uuid4()), "k-fresh-id")
    drafts["dup"] = progress("second use of k-dup", "k-dup")

    outcomes = one_batch_behind_a_held_head(journal, pg_url, drafts)

    assert isinstance(outcomes.pop("refused"), ValidationFailed)
    assert isinstance(outcomes.pop("taken-id"), IdTaken)
    assert isinstance(outcomes.pop("dup"), KeyTaken)
    seqs = [envelope["seq"] for envelope in outcomes.values()]
    assert len(seqs) == 5 and transactions_of(pg_url, seqs) == 1
    with psycopg.connect(pg_url) as conn:
        keys = {row[0] for row in conn.execute("SELECT key FROM devhub_idempotency")}
        claims = {row[0] for row in conn.execute("SELECT claim FROM devhub_created_ids")}
        summaries = [row[0] for row in conn.execute("SELECT envelope->'body'->>'summary' FROM devhub_writes")]
    # the refused writes left nothing behind: their keys are free for a corrected retry
    assert "k-refused" not in keys and "k-taken-id" not in keys
    assert {"k-fresh-id", "k-0", "k-3"} <= keys
    assert f"message:{drafts['fresh-id']['record']['id']}" in claims
    assert len(summaries) == 2 + 5 and not any("NUL" in s or "second use" in s for s in summaries)
    retried = journal.append(progress("holds no NUL now", "k-refused"))
    assert retried["seq"] == max(seqs) + 1


def test_a_failed_batch_transaction_fails_every_write_in_it_and_saves_none(journal: PgJournal, pg_url: str) -> None:
    sender = Sender(journal)
    with head_row_held(pg_url) as holder:
        sender.send("leader", progress("the leader", "k-leader"))
        leader = wait_for(lambda: blocked_on_head(pg_url), what="the leader's transaction to wait for the head row")
        for index in range(4):
            sender.send(f"w{index}", progress(f"batched {index}", f"k-{index}"))
        wait_for(lambda: journal.queued_writes == 4, what="every write to queue behind the leader")
        holder.execute("SELECT pg_terminate_backend(%s)", (leader[0],))  # the database drops the leader's session
        batch = wait_for(
            lambda: [pid for pid in blocked_on_head(pg_url) if pid != leader[0]], what="the next batch to take the head"
        )
        holder.execute("SELECT pg_terminate_backend(%s)", (batch[0],))
    outcomes = sender.join()
    assert all(isinstance(outcome, FleetDatabaseError) for outcome in outcomes.values()), outcomes
    with psycopg.connect(pg_url) as conn:
        assert conn.execute("SELECT count(*) FROM devhub_writes").fetchone() == (0,)
        assert conn.execute("SELECT count(*) FROM devhub_idempotency").fetchone() == (0,)
    assert journal.append(progress("after the failure", "k-0"))["seq"] == 1  # the retry is a first write


def test_expired_idempotency_keys_are_purged_and_fresh_ones_kept(journal: PgJournal, pg_url: str) -> None:
    journal.append(progress("old", "k-old"))
    journal.append(progress("new", "k-new"))
    with psycopg.connect(pg_url) as conn:
        conn.execute(
            "UPDATE devhub_idempotency SET created_at = now() - make_interval(secs => %s) WHERE key = 'k-old'",
            (RETENTION + 60,),
        )
    assert journal.purge_expired_keys() == 0  # opening purged a moment ago: not due yet
    assert journal.purge_expired_keys(now=True) == 1
    with psycopg.connect(pg_url) as conn:
        assert [row[0] for row in conn.execute("SELECT key FROM devhub_idempotency")] == ["k-new"]
        assert conn.execute("SELECT count(*) FROM devhub_writes").fetchone() == (2,)  # the writes stay
    assert journal.find_key("k-old") is None
    assert journal.append(progress("old key, new write", "k-old"))["seq"] == 3
