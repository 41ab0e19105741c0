"""`PgJournal`: the fleet's accepted writes in PostgreSQL, with the journal's interface (append, records, last_seq).

Writes are group-committed (store/pg/group_commit.py): the writes that queued while this
replica's previous transaction was in flight share the next one. In it, every write claims its
Idempotency-Key in `devhub_idempotency` and the id it creates in `devhub_created_ids` (unique
keys, claimed in sorted order; a key or id committed earlier fails that write alone — `KeyTaken`
with the first answer, or `IdTaken` — and leaves it out), then ONE statement takes the batch's
seqs from `devhub_head` (a row lock held to the commit, so seqs commit in order and without
gaps), inserts the envelopes, records the keys' seqs and NOTIFYs; commit. Only a commit that
returned is acknowledged; a failed transaction is `FleetDatabaseError` for every write of it
(503, nothing acknowledged, the relay retries with the same keys).
"""

from __future__ import annotations

import json
import logging
import os
import time
import uuid
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC
from typing import Any

from devhub.errors import FleetDatabaseError, IdTaken, ValidationFailed
from devhub.store.idempotency import IdempotencyRecord, KeyTaken
from devhub.store.pg.connect import open_pool, safe_url
from devhub.store.pg.created_ids import claimed_object, created_id_claim
from devhub.store.pg.group_commit import GroupCommitter, PendingWrite
from devhub.store.pg.migrations import migrate

log = logging.getLogger("devhub.store.pg")

CHANNEL = "devhub_writes"  # NOTIFY payload: the last seq of the committed write
ENVELOPE_VERSION = 1
RECORDS_BATCH = 1000
HEAD_WAIT_SECONDS = 1.0  # a read asks for the head first: it must not hang on a database that is away
ISO_MS = 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'
REPORT_EVERY_SECONDS = 1.0  # how often, at most, a busy replica records its position (idle: every 5 s)
PURGE_EVERY_SECONDS = 600  # how often a replica deletes expired Idempotency-Keys (and once at open)
PURGE_BATCH = 5000  # rows per DELETE transaction: a big backlog never holds long locks


@dataclass(frozen=True)
class OpenReport:
    """What the hub logs at open (a file journal may quarantine corrupt lines; a database never does)."""

    quarantined: int = 0
    schema_version: int = 0


def _envelope_id() -> str:
    """A time-ordered unique id (48-bit ms time + 80 random bits), as the hub's record ids are."""
    raw = (time.time_ns() // 1_000_000).to_bytes(6, "big") + os.urandom(10)
    return str(uuid.UUID(bytes=raw))


def _dump(value: Any) -> str:
    return json.dumps(value, sort_keys=True, ensure_ascii=False)


class PgJournal:
    """The shared journal of every fleet replica on one database."""

    shared = True  # other processes append too: a gap below a new seq is another replica's write

    def __init__(self, pool: Any, *, url: str, node: str, retention_seconds: int, schema_version: int) -> None:
        self._pool = pool
        self.url = safe_url(url)
        self.node = node
        self._retention = retention_seconds
        self._last_seen = 0
        self._size_seen = 0
        self._purge_due = 0.0
        self._report_due = 0.0
        self._group = GroupCommitter(self._commit_batch)
        self.open_report = OpenReport(schema_version=schema_version)

    @classmethod
    def open(cls, url: str, *, node: str, retention_seconds: int, max_connections: int = 8) -> PgJournal:
        """Connect, apply missing migrations (refusing a newer schema), and return the journal."""
        import psycopg

        try:
            with psycopg.connect(url, autocommit=True, connect_timeout=10) as conn:
                version = migrate(conn, safe_url(url))
                row = conn.execute("SELECT seq FROM devhub_head").fetchone()
        except psycopg.Error as exc:
            raise FleetDatabaseError(f"the fleet database {safe_url(url)} cannot be reached: {exc}") from exc
        pool = open_pool(url, max_size=max_connections)
        journal = cls(pool, url=url, node=node, retention_seconds=retention_seconds, schema_version=version)
        journal._last_seen = int(row[0]) if row else 0
        try:
            journal.purge_expired_keys(now=True)
        except FleetDatabaseError as exc:  # the next periodic pass tries again; serving need not wait for it
            log.warning("%s", exc.detail)
        return journal

    def _failed(self, doing: str, exc: Exception) -> FleetDatabaseError:
        return FleetDatabaseError(f"the fleet database {self.url} failed while {doing}: {exc}")

    # -- the journal interface the hub uses -------------------------------------------------------------

    @property
    def last_seq(self) -> int:
        """The newest seq this hub has seen committed (its own writes, every read's catch-up, every NOTIFY).

        Never a query: status pages read it on the event loop, which must not wait on the network.
        """
        return self._last_seen

    @property
    def size_bytes(self) -> int:
        """The size of `devhub_writes` with its indexes, as of this hub's last report (at least every 5 s)."""
        return self._size_seen

    def head(self, wait_seconds: float = HEAD_WAIT_SECONDS) -> int:
        """The newest committed seq; FleetDatabaseError when the database cannot be asked within `wait_seconds`."""
        try:
            with self._pool.connection(timeout=wait_seconds) as conn:
                seq = int(conn.execute("SELECT seq FROM devhub_head").fetchone()[0])
        except Exception as exc:
            raise self._failed("reading the head", exc) from exc
        self._last_seen = max(self._last_seen, seq)
        return seq

    def append(self, fields: Mapping[str, Any]) -> dict[str, Any]:
        return self.append_many([fields])[0]

    def append_many(self, fields_list: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
        """Commit the envelopes of one write (and its idempotency record), in this replica's next batch, or raise.

        Returns once the transaction holding them committed. Raises `KeyTaken` (the key was committed
        first, elsewhere), `IdTaken` (a created id was), `ValidationFailed` (the database refused this
        write's data) for this write alone, and `FleetDatabaseError` when the batch's transaction failed.
        """
        envelopes = self._group.submit(fields_list)
        self._last_seen = max(self._last_seen, envelopes[-1]["seq"])
        return envelopes

    @property
    def group_commit_counts(self) -> tuple[int, int]:
        """(transactions, writes) this replica has committed or tried: writes/transactions is the batching."""
        return self._group.batches, self._group.writes

    @property
    def queued_writes(self) -> int:
        """Writes waiting for this replica's next transaction (the batch in flight not counted)."""
        return self._group.queued

    def _commit_batch(self, batch: list[PendingWrite]) -> None:
        """One transaction for every write of `batch`: claim keys and ids, take the seqs, insert, NOTIFY, commit.

        Each write claims its Idempotency-Key and created id; one that lost a claim gets its outcome
        (KeyTaken / IdTaken) and is left out. The common case claims the whole batch in the
        transaction's first statement. When that fails (a write whose data the database refuses) or
        some write won one claim and lost the other (its win must be undone), the transaction is
        rolled back — nothing else was in it yet — and run again with each write claimed in a
        savepoint of its own, so one bad write fails alone.
        """
        import psycopg

        for pending in batch:
            pending.extra["drafts"] = [_drafted(fields) for fields in pending.drafts]
            pending.extra["claim"] = created_id_claim(pending.drafts[-1])
        try:
            with self._pool.connection() as conn:
                try:
                    with conn.transaction():
                        accepted = self._claim_together(conn, batch)
                        if accepted:
                            self._insert(conn, accepted)
                except (_MixedClaims, psycopg.DataError, psycopg.IntegrityError):
                    with conn.transaction():
                        accepted = self._claim_each(conn, batch)
                        if accepted:
                            self._insert(conn, accepted)
        except Exception as exc:
            raise self._failed("saving a write (it was NOT saved; retry with the same Idempotency-Key)", exc) from exc
        for pending in accepted:  # only now: acknowledged means committed
            pending.succeed(pending.extra["drafts"])

    def _claim_together(self, conn: Any, batch: list[PendingWrite]) -> list[PendingWrite]:
        keyed = [p for p in batch if p.key is not None]
        claiming = [p for p in batch if p.extra["claim"] is not None]
        responses = [p.drafts[-1]["response"] for p in keyed]
        won_keys, won_claims = conn.execute(
            """
            WITH keyed AS (
                INSERT INTO devhub_idempotency (key, body_hash, status_code, response, seq)
                SELECT key, body_hash, status_code, response, 0
                FROM unnest(%(keys)s::text[], %(hashes)s::text[], %(statuses)s::int[], %(responses)s::text[])
                     AS k(key, body_hash, status_code, response)
                ORDER BY key  -- every writer claims in key order: two batches cannot deadlock on keys
                ON CONFLICT (key) DO UPDATE SET body_hash = excluded.body_hash, status_code = excluded.status_code,
                    response = excluded.response, seq = excluded.seq, created_at = now()
                WHERE devhub_idempotency.created_at < now() - make_interval(secs => %(retention)s)
                RETURNING key
            ), created AS (
                INSERT INTO devhub_created_ids (claim, write_id)
                SELECT claim, write_id FROM unnest(%(claims)s::text[], %(write_ids)s::text[]) AS c(claim, write_id)
                ORDER BY claim
                ON CONFLICT (claim) DO NOTHING
                RETURNING claim
            )
            SELECT ARRAY(SELECT key FROM keyed), ARRAY(SELECT claim FROM created),
                   cardinality(%(envelopes)s::jsonb[])  -- the database must take every envelope: checked here
            """,
            {
                "keys": [p.key for p in keyed],
                "hashes": [p.drafts[-1]["request"]["hash"] for p in keyed],
                "statuses": [r["status"] for r in responses],
                "responses": [_dump(r["body"]) for r in responses],
                "retention": self._retention,
                "claims": [p.extra["claim"] for p in claiming],
                "write_ids": [p.extra["drafts"][-1]["id"] for p in claiming],
                "envelopes": [_dump(d) for p in batch for d in p.extra["drafts"]],
            },
        ).fetchone()[:2]
        held = {
            id(p): (p.key is None or p.key in won_keys, p.extra["claim"] is None or p.extra["claim"] in won_claims)
            for p in batch
        }
        if any(key_held != claim_held for key_held, claim_held in held.values()):
            raise _MixedClaims  # that write's won claim must be undone: per write, in savepoints
        accepted = []
        for pending in batch:
            key_held, claim_held = held[id(pending)]
            if key_held and claim_held:
                accepted.append(pending)
            elif not key_held:
                assert pending.key is not None
                pending.fail(_key_taken(conn, pending.key))
            else:
                pending.fail(_id_taken(pending.extra["claim"]))
        return accepted

    def _claim_each(self, conn: Any, batch: list[PendingWrite]) -> list[PendingWrite]:
        import psycopg

        refused: set[int] = set()
        for pending in sorted(batch, key=lambda p: (p.key is None, p.key or "")):  # key order, as together
            if pending.done:
                refused.add(id(pending))
                continue
            try:
                with conn.transaction():  # a savepoint per write: a refused one rolls back alone
                    if pending.key is not None:
                        request, response = pending.drafts[-1]["request"], pending.drafts[-1]["response"]
                        self._claim_key(conn, pending.key, request["hash"], response, 0)
                    if pending.extra["claim"] is not None:
                        _claim_created_id(conn, pending.extra["claim"], pending.extra["drafts"][-1]["id"])
                    conn.execute(
                        "SELECT cardinality(%s::jsonb[])", ([_dump(d) for d in pending.extra["drafts"]],)
                    ).fetchone()
            except (KeyTaken, IdTaken) as exc:
                pending.fail(exc)
                refused.add(id(pending))
            except (psycopg.DataError, psycopg.IntegrityError) as exc:
                pending.fail(
                    ValidationFailed(
                        f"the fleet database refused this write's data: {exc}; it was NOT saved",
                        {"body": f"refused by the fleet database: {exc}"},
                    )
                )
                refused.add(id(pending))
        return [p for p in batch if id(p) not in refused]

    def _insert(self, conn: Any, accepted: list[PendingWrite]) -> None:
        """In ONE statement: take the batch's seqs from `devhub_head`, insert the envelopes, set the keys' seqs,
        NOTIFY.

        The head-row lock is held from that statement to the commit, so every other writer in the fleet
        waits for it: taking it last, in a single round trip, keeps the wait to one statement plus the
        commit's WAL flush, and a batch pays that once for all its writes. Locks are always taken keys
        and ids first, head last, so two writers cannot deadlock on the head.
        """
        drafts = [draft for pending in accepted for draft in pending.extra["drafts"]]
        keyed_keys, keyed_offsets = [], []
        offset = 0
        for pending in accepted:
            offset += len(pending.extra["drafts"])
            if pending.key is not None:
                keyed_keys.append(pending.key)
                keyed_offsets.append(offset)  # the key's seq is its write's last envelope's
        base, ts = conn.execute(
            f"""
            WITH head AS (
                UPDATE devhub_head SET seq = seq + %(n)s
                RETURNING seq - %(n)s AS base, to_char(now() AT TIME ZONE 'UTC', '{ISO_MS}') AS ts
            ), written AS (
                INSERT INTO devhub_writes (seq, id, ts, kind, idempotency_key, envelope, node)
                SELECT head.base + r.ord, r.id, head.ts, r.kind, r.key,
                       r.envelope || jsonb_build_object('seq', head.base + r.ord, 'ts', head.ts), %(node)s
                FROM head, unnest(%(ids)s::text[], %(kinds)s::text[], %(keys)s::text[], %(envelopes)s::jsonb[])
                     WITH ORDINALITY AS r(id, kind, key, envelope, ord)
                RETURNING seq
            ), keyed AS (
                UPDATE devhub_idempotency SET seq = head.base + k.ord
                FROM head, unnest(%(claimed)s::text[], %(claimed_at)s::bigint[]) AS k(key, ord)
                WHERE devhub_idempotency.key = k.key
                RETURNING devhub_idempotency.key
            )
            SELECT base, ts, pg_notify(%(channel)s, (base + %(n)s)::text) FROM head
            """,
            {
                "n": len(drafts),
                "node": self.node,
                "ids": [d["id"] for d in drafts],
                "kinds": [d["kind"] for d in drafts],
                "keys": [d.get("idempotency_key") or d["id"] for d in drafts],
                "envelopes": [_dump(d) for d in drafts],
                "claimed": keyed_keys,
                "claimed_at": keyed_offsets,
                "channel": CHANNEL,
            },
        ).fetchone()[:2]
        for offset, draft in enumerate(drafts, start=1):
            draft.update(seq=base + offset, ts=ts)

    def _claim_key(self, conn: Any, key: str, digest: str, response: Mapping[str, Any], seq: int) -> None:
        """Take `key` for this write, or raise KeyTaken with the first answer (expired keys are taken over).

        A concurrent transaction holding the same key makes this INSERT wait for its outcome, so two
        replicas given one key at once commit one effect and both answer the first response.
        """
        claimed = conn.execute(
            "INSERT INTO devhub_idempotency (key, body_hash, status_code, response, seq)"
            " VALUES (%s, %s, %s, %s, %s)"
            " ON CONFLICT (key) DO UPDATE SET body_hash = excluded.body_hash, status_code = excluded.status_code,"
            " response = excluded.response, seq = excluded.seq, created_at = now()"
            " WHERE devhub_idempotency.created_at < now() - make_interval(secs => %s)"
            " RETURNING key",
            (key, digest, response["status"], _dump(response["body"]), seq, self._retention),
        ).fetchone()
        if claimed is None:
            raise _key_taken(conn, key)

    def purge_expired_keys(self, *, now: bool = False) -> int:
        """Delete Idempotency-Keys past the retention (at most every PURGE_EVERY_SECONDS unless `now`): how many.

        Keeps `devhub_idempotency` bounded by the writes of the retention window. An expired key is
        answered as a new write anyway (and taken over when reused), so deleting it changes no answer.
        Replicas may purge at once: locked rows are skipped, not waited for.
        """
        if not now and time.monotonic() < self._purge_due:
            return 0
        self._purge_due = time.monotonic() + PURGE_EVERY_SECONDS
        purged = 0
        try:
            with self._pool.connection() as conn:
                while True:
                    with conn.transaction():
                        count = conn.execute(
                            "DELETE FROM devhub_idempotency WHERE key IN (SELECT key FROM devhub_idempotency"
                            " WHERE created_at < now() - make_interval(secs => %s)"
                            " ORDER BY created_at LIMIT %s FOR UPDATE SKIP LOCKED)",
                            (self._retention, PURGE_BATCH),
                        ).rowcount
                    purged += count
                    if count < PURGE_BATCH:
                        break
        except Exception as exc:
            raise self._failed("purging expired Idempotency-Keys", exc) from exc
        if purged:
            log.info("fleet database: purged %s Idempotency-Key(s) older than %ss", purged, self._retention)
        return purged

    def find_key(self, key: str) -> IdempotencyRecord | None:
        """The committed answer for `key` (expired ones included: the caller judges the age)."""
        try:
            with self._pool.connection() as conn:
                return _find_key(conn, key)
        except Exception as exc:
            raise self._failed("looking up an Idempotency-Key", exc) from exc

    def records(self, after_seq: int = 0) -> Iterator[dict[str, Any]]:
        """Every committed envelope after `after_seq`, in seq order (read in batches; no connection held between)."""
        cursor = after_seq
        while True:
            try:
                with self._pool.connection() as conn:
                    rows = conn.execute(
                        "SELECT envelope FROM devhub_writes WHERE seq > %s ORDER BY seq LIMIT %s",
                        (cursor, RECORDS_BATCH),
                    ).fetchall()
            except Exception as exc:
                raise self._failed("reading writes", exc) from exc
            for (envelope,) in rows:
                self._last_seen = max(self._last_seen, envelope["seq"])
                yield envelope
            if len(rows) < RECORDS_BATCH:
                return
            cursor = rows[-1][0]["seq"]

    def report_applied(self, applied_seq: int, version: str, started_at: float) -> None:
        """Record how far this replica's read model is (best effort: it feeds `fleet db check`), and note the
        size of the writes table for status pages; at most every REPORT_EVERY_SECONDS."""
        from datetime import datetime

        if time.monotonic() < self._report_due:
            return  # reported under a second ago: a busy fleet need not report every batch (silence reports too)
        self._report_due = time.monotonic() + REPORT_EVERY_SECONDS
        started = datetime.fromtimestamp(started_at, UTC)
        try:
            with self._pool.connection() as conn:
                self._size_seen = int(conn.execute("SELECT pg_total_relation_size('devhub_writes')").fetchone()[0])
                conn.execute(
                    "INSERT INTO devhub_replicas (node, applied_seq, version, started_at, seen_at)"
                    " VALUES (%s, %s, %s, %s, now()) ON CONFLICT (node) DO UPDATE SET"
                    " applied_seq = excluded.applied_seq, version = excluded.version,"
                    " started_at = excluded.started_at, seen_at = now()",
                    (self.node, applied_seq, version, started),
                )
        except Exception as exc:
            log.debug("fleet database: could not record this replica's position: %s", exc)

    def close(self) -> None:
        self._pool.close()


class _MixedClaims(Exception):
    """A write of the batch won one of its claims and lost the other: claim the batch again, write by write."""


def _drafted(fields: Mapping[str, Any]) -> dict[str, Any]:
    draft = dict(fields)
    draft.update(v=ENVELOPE_VERSION, id=_envelope_id())
    return draft


def _key_taken(conn: Any, key: str) -> KeyTaken:
    record = _find_key(conn, key)
    assert record is not None  # the conflict means the row is there, committed
    return KeyTaken(key, record)


def _claim_created_id(conn: Any, claim: str, write_id: str) -> None:
    """Take a created id for this write, or raise IdTaken (a concurrent claim waits for the other's outcome)."""
    taken = conn.execute(
        "INSERT INTO devhub_created_ids (claim, write_id) VALUES (%s, %s)"
        " ON CONFLICT (claim) DO NOTHING RETURNING claim",
        (claim, write_id),
    ).fetchone()
    if taken is None:
        raise _id_taken(claim)


def _id_taken(claim: str) -> IdTaken:
    return IdTaken(
        f"{claimed_object(claim)} was just created through another fleet replica; this write was NOT saved "
        "(it is retried with the next free id; if this persists, retry the request)"
    )


def _find_key(conn: Any, key: str) -> IdempotencyRecord | None:
    row = conn.execute(
        f"SELECT body_hash, status_code, response, to_char(created_at AT TIME ZONE 'UTC', '{ISO_MS}')"
        " FROM devhub_idempotency WHERE key = %s",
        (key,),
    ).fetchone()
    if row is None:
        return None
    return IdempotencyRecord(row[0], int(row[1]), row[2], row[3])


def read_writes(url: str, after_seq: int = 0) -> Iterator[dict[str, Any]]:
    """Every committed envelope after `after_seq`, on a connection of its own (the CLI's rebuild and verify,
    with no hub running)."""
    import psycopg

    try:
        with psycopg.connect(url, autocommit=True, connect_timeout=10) as conn:
            cursor = after_seq
            while True:
                rows = conn.execute(
                    "SELECT envelope FROM devhub_writes WHERE seq > %s ORDER BY seq LIMIT %s", (cursor, RECORDS_BATCH)
                ).fetchall()
                for (envelope,) in rows:
                    yield envelope
                if len(rows) < RECORDS_BATCH:
                    return
                cursor = rows[-1][0]["seq"]
    except psycopg.Error as exc:
        raise FleetDatabaseError(f"the fleet database {safe_url(url)} cannot be read: {exc}") from exc
