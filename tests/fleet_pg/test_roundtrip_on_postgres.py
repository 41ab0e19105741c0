"""`devhub fleet accept --dev-roundtrip --fleet-database …`: the offline-then-reconnect round trip into a fleet
hub on PostgreSQL, judged by the same checks as the journal-backed fleet."""

from __future__ import annotations

import json
from pathlib import Path

import psycopg

from tests.fleet.test_roundtrip import CHECKS, roundtrip


def test_the_dev_roundtrip_passes_into_a_fleet_hub_on_postgresql(tmp_path: Path, pg_url: str) -> None:
    done = roundtrip(
        tmp_path, "--writes", "20", "--backoff-cap", "0.5", "--fleet-database", pg_url, "--json", timeout=180
    )
    report = json.loads(done.stdout)
    assert done.code == 0, (done.stdout[-3000:], done.stderr[-3000:])
    assert report["verdict"] == "pass" and {c["name"] for c in report["checks"]} == CHECKS
    assert report["settings"]["fleet_store"] == "postgresql"
    with psycopg.connect(pg_url) as conn:  # what the fleet accepted is in PostgreSQL, each write once
        kinds = dict(conn.execute("SELECT kind, count(*) FROM devhub_writes GROUP BY kind").fetchall())
        keys = conn.execute("SELECT count(*) FROM devhub_idempotency").fetchone()[0]
    assert sum(kinds.values()) == 20 and set(kinds) == {"progress", "task.patch"}
    assert keys == 20  # every relayed write came with its key, held with its body hash


def test_the_roundtrip_refuses_a_database_that_already_holds_writes(tmp_path: Path, pg_url: str) -> None:
    for run in ("one", "two"):
        (tmp_path / run).mkdir()
    first = roundtrip(tmp_path / "one", "--writes", "2", "--fleet-database", pg_url, "--json", timeout=180)
    assert first.code == 0, first.stderr[-2000:]
    again = roundtrip(tmp_path / "two", "--writes", "2", "--fleet-database", pg_url, timeout=60)
    assert again.code == 2 and "already holds 2 writes" in again.stderr, (again.stdout, again.stderr)
