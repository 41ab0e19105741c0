"""Versioned schema migrations for the fleet database, applied in order at start, never edited once released.

A new write kind needs no migration: its envelope is a `devhub_writes` row like any other. A
migration is for a new table, index or view (e.g. a typed view of a new kind for operators):
append `Migration(next_version, "what it adds", "SQL")` to MIGRATIONS.
"""

from __future__ import annotations

from contextlib import suppress
from dataclasses import dataclass
from typing import Any

from devhub.errors import FleetDatabaseError, SchemaTooNew
from devhub.store.pg.created_ids import CLAIM_SQL

MIGRATIONS_TABLE = "devhub_schema_migrations"
# Taken for the whole migration run, so replicas starting together migrate once, one after the other.
MIGRATION_LOCK = 0x64657668  # "devh"


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    sql: str


MIGRATIONS: tuple[Migration, ...] = (
    Migration(
        1,
        "accepted writes, their answers, replicas",
        """
        -- One row: the last seq handed out. Taking it (UPDATE ... RETURNING) is the last step before the
        -- rows are inserted, so seqs are gapless and commit in seq order: a replica that applied seq N
        -- has seen every write below N.
        CREATE TABLE devhub_head (
            singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
            seq bigint NOT NULL
        );
        INSERT INTO devhub_head (singleton, seq) VALUES (true, 0);

        -- Every accepted write: the envelope a dev hub's journal line would hold.
        CREATE TABLE devhub_writes (
            seq bigint PRIMARY KEY,
            id text NOT NULL UNIQUE,
            ts text NOT NULL,
            kind text NOT NULL,
            idempotency_key text NOT NULL,
            envelope jsonb NOT NULL,
            node text NOT NULL,
            committed_at timestamptz NOT NULL DEFAULT now()
        );
        CREATE INDEX devhub_writes_kind ON devhub_writes (kind, seq);

        -- The answer given to the first write with each Idempotency-Key, and the hash of its request.
        CREATE TABLE devhub_idempotency (
            key text PRIMARY KEY,
            body_hash text NOT NULL,
            status_code integer NOT NULL,
            response text NOT NULL,
            seq bigint NOT NULL,
            created_at timestamptz NOT NULL DEFAULT now()
        );
        CREATE INDEX devhub_idempotency_created ON devhub_idempotency (created_at);

        -- What each running replica has applied to its read model (the lag `devhub fleet db check` shows).
        CREATE TABLE devhub_replicas (
            node text PRIMARY KEY,
            applied_seq bigint NOT NULL,
            version text NOT NULL,
            started_at timestamptz NOT NULL,
            seen_at timestamptz NOT NULL
        );
        """,
    ),
    Migration(
        2,
        "typed views of the fleet-only records",
        """
        -- For operators and `psql`: the writes read as rows. The read model never reads these.
        CREATE VIEW devhub_progress AS
            SELECT seq, envelope->'record'->>'id' AS id, envelope->'body'->>'event_type' AS event_type,
                   envelope->'body'->>'summary' AS summary, envelope->'body'->>'author' AS author,
                   envelope->'body'->>'workplan_id' AS workplan_id, envelope->'body'->>'task_id' AS task_id,
                   envelope->'body'->>'session_id' AS session_id, envelope->'body'->'detail' AS detail,
                   envelope->'record'->>'created_at' AS created_at
            FROM devhub_writes WHERE kind = 'progress';
        CREATE VIEW devhub_messages AS
            SELECT w.seq, w.envelope->'record'->>'id' AS id, w.envelope->'body'->>'from_agent' AS from_agent,
                   w.envelope->'body'->>'to_agent' AS to_agent, w.envelope->'body'->>'subject' AS subject,
                   w.envelope->'body'->>'body' AS body, w.envelope->'body'->>'thread_id' AS thread_id,
                   w.envelope->'record'->>'created_at' AS created_at,
                   (SELECT min(r.envelope->'record'->>'read_at') FROM devhub_writes r
                     WHERE r.kind = 'message.read' AND r.envelope->'target'->>'id' = w.envelope->'record'->>'id')
                     AS read_at
            FROM devhub_writes w WHERE w.kind = 'message';
        CREATE VIEW devhub_status_writes AS
            SELECT seq, kind, envelope->'target'->>'repo' AS repo, envelope->'target'->>'id' AS target_id,
                   envelope->'body'->>'status' AS status, envelope->'origin'->>'agent' AS agent, ts
            FROM devhub_writes WHERE kind IN ('task.patch', 'workplan.patch');
        """,
    ),
    Migration(
        3,
        "fleet-unique ids of created objects",
        f"""
        -- One row per task, workplan, message or decision created through the fleet, inserted in the
        -- transaction of the write that creates it (store/pg/created_ids.py): two replicas cannot both
        -- accept one id. Kept for good (an id, once used, stays used); one short row per created object.
        CREATE TABLE devhub_created_ids (
            claim text PRIMARY KEY,
            write_id text NOT NULL,
            created_at timestamptz NOT NULL DEFAULT now()
        );
        INSERT INTO devhub_created_ids (claim, write_id, created_at)
            SELECT claim, id, committed_at FROM (SELECT id, committed_at, {CLAIM_SQL} AS claim FROM devhub_writes) w
            WHERE claim IS NOT NULL ORDER BY committed_at
            ON CONFLICT (claim) DO NOTHING;
        """,
    ),
)
CODE_VERSION = MIGRATIONS[-1].version


def schema_version(conn: Any) -> int:
    """The newest migration applied to this database (0 when none is, or the table does not exist)."""
    exists = conn.execute("SELECT to_regclass(%s) IS NOT NULL", (MIGRATIONS_TABLE,)).fetchone()[0]
    if not exists:
        return 0
    row = conn.execute(f"SELECT coalesce(max(version), 0) FROM {MIGRATIONS_TABLE}").fetchone()
    return int(row[0])


def refuse_if_newer(version: int, where: str) -> None:
    if version > CODE_VERSION:
        raise SchemaTooNew(
            f"the fleet database {where} has schema version {version}, newer than this devhub knows "
            f"(version {CODE_VERSION}): a newer devhub migrated it. Upgrade devhub on this machine; "
            "it will not write to a schema it does not know"
        )


def migrate(conn: Any, where: str) -> int:
    """Apply every migration the database lacks, in order, each in its own transaction; returns the version.

    `conn` is an autocommit connection; the session lock makes concurrent starts take turns.
    """
    conn.execute("SELECT pg_advisory_lock(%s)", (MIGRATION_LOCK,))
    try:
        conn.execute(
            f"CREATE TABLE IF NOT EXISTS {MIGRATIONS_TABLE} (version integer PRIMARY KEY, name text NOT NULL,"
            " applied_at timestamptz NOT NULL DEFAULT now())"
        )
        version = schema_version(conn)
        refuse_if_newer(version, where)
        for migration in MIGRATIONS:
            if migration.version <= version:
                continue
            with conn.transaction():
                conn.execute(migration.sql)
                conn.execute(
                    f"INSERT INTO {MIGRATIONS_TABLE} (version, name) VALUES (%s, %s)",
                    (migration.version, migration.name),
                )
            version = migration.version
        return version
    except SchemaTooNew:
        raise
    except Exception as exc:
        raise FleetDatabaseError(f"the fleet database {where} could not be migrated: {exc}") from exc
    finally:
        with suppress(Exception):  # a lost connection has released it already
            conn.execute("SELECT pg_advisory_unlock(%s)", (MIGRATION_LOCK,))
