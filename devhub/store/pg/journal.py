"""`PgJournal`: the fleet's accepted writes in PostgreSQL, with the journal's interface (append, records, last_seq).

One write is one transaction: claim the Idempotency-Key in `devhub_idempotency` (a unique key; a
key taken earlier raises `KeyTaken` with the first answer and the transaction rolls back: no
effect), then in one statement take the next seqs from `devhub_head` (a row lock, held to the
commit, so seqs commit in order and without gaps), insert the envelopes, record the key's seq and
NOTIFY; commit. Only a commit
that returned is acknowledged; any failure is `FleetDatabaseError` (503, nothing acknowledged).
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

from devhub.errors import FleetDatabaseError
from devhub.store.idempotency import IdempotencyRecord, KeyTaken
from devhub.store.pg.connect import open_pool, safe_url
from devhub.store.pg.migrations import migrate

log = logging.getLogger("devhub.store.pg")

CHANNEL = "devhub_writes"  # NOTIFY payload: the last seq of the committed write
ENVELOPE_VERSION = 1
RECORDS_BATCH = 1000
HEAD_WAIT_SECONDS = 1.0  # a read asks for the head first: it must not hang on a database that is away
ISO_MS = 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'


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
        """Commit the envelopes of one write (and its idempotency record) in one transaction, or raise."""
        try:
            with self._pool.connection() as conn, conn.transaction():
                envelopes = self._insert(conn, fields_list)
        except (KeyTaken, FleetDatabaseError):
            raise
        except Exception as exc:
            raise self._failed("saving a write (it was NOT saved; retry with the same Idempotency-Key)", exc) from exc
        self._last_seen = max(self._last_seen, envelopes[-1]["seq"])
        return envelopes

    def _insert(self, conn: Any, fields_list: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
        """Claim the key (if any), then take the seqs, insert, set the key's seq and NOTIFY in ONE statement.

        The head-row lock is held from that statement to the commit, so every other writer in the fleet
        waits for it: taking it last, in a single round trip, keeps the wait to one statement plus the
        commit's WAL flush instead of every statement of the write and the hub's Python between them
        (bench_fleetpg measured backends mostly queued on the lock while its holder sat "idle in
        transaction"). Locks are always taken key first, head second, so two writers cannot deadlock.
        """
        request, response = fields_list[-1].get("request"), fields_list[-1].get("response")
        claimed: str | None = None
        if request and response is not None:
            claimed = request["key"]
            self._claim_key(conn, request["key"], request["hash"], response, 0)  # its seq is set below, under the head
        drafts = []
        for fields in fields_list:
            draft = dict(fields)
            draft.update(v=ENVELOPE_VERSION, id=_envelope_id())
            drafts.append(draft)
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
                UPDATE devhub_idempotency SET seq = (SELECT base + %(n)s FROM head) WHERE key = %(claimed)s
                RETURNING key
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
                "claimed": claimed,
                "channel": CHANNEL,
            },
        ).fetchone()[:2]
        envelopes = []
        for offset, draft in enumerate(drafts, start=1):
            draft.update(seq=base + offset, ts=ts)
            envelopes.append(draft)
        return envelopes

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
            record = _find_key(conn, key)
            assert record is not None  # the conflict means the row is there, committed
            raise KeyTaken(key, record)

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
        size of the writes table for status pages."""
        from datetime import datetime

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
