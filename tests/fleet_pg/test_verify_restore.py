"""Exact-count restore for a fleet hub on PostgreSQL: `devhub verify` rebuilds from files + the database's writes,
so its counts before a backup and after a restore of it can be compared, and a lossy restore shows."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import psycopg

from tests.fleet_pg.helpers import TASK, start_replica
from tests.support.daemon import RunningDaemon, devhub_env, run_cli
from tests.support.repos import make_workspace


def verify(hub: RunningDaemon, database: str) -> dict[str, Any]:
    env = devhub_env(hub.data_dir, hub.config_dir, {"DEVHUB_DATABASE_URL": database, "DEVHUB_PROFILE": "fleet"})
    done = run_cli("verify", "--json", env=env, check=True)
    report: dict[str, Any] = json.loads(done.stdout)
    return report


def counts(report: dict[str, Any]) -> dict[str, int]:
    return {c["what"]: c["live"] for c in report["counts"]}


def copy_database(url: str, name: str) -> str:
    """A restore, as far as the fleet can tell: a new database holding the backed-up one's rows."""
    parts = urlsplit(url)
    with psycopg.connect(urlunsplit(parts._replace(path="/postgres")), autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name} TEMPLATE {parts.path.lstrip('/')}")
    return urlunsplit(parts._replace(path=f"/{name}"))


def test_verify_counts_match_after_a_restore_and_a_lossy_restore_shows(tmp_path: Path, pg_url: str) -> None:
    repos = make_workspace(tmp_path / "ws", ["the-custodian"])
    hub = start_replica(tmp_path, repos, pg_url, "a")
    try:
        with hub.client() as client:
            for index in range(3):
                assert client.post("/progress/", json={"summary": f"backup {index}"}).status_code == 201
        hub.stop()
        early_backup = copy_database(pg_url, f"{urlsplit(pg_url).path.lstrip('/')}_early")
        hub = start_replica(tmp_path, repos, pg_url, "a")
        with hub.client() as client:
            assert client.post("/progress/", json={"summary": "backup 3"}).status_code == 201
            assert client.patch(f"/tasks/{TASK}", json={"status": "blocked", "blocking_reason": "x"}).status_code == 200
    finally:
        hub.stop()

    before = verify(hub, pg_url)
    assert before["drift"] == [] and counts(before)["progress events"] == 4 and counts(before)["local writes"] >= 1
    restored = copy_database(pg_url, f"{urlsplit(pg_url).path.lstrip('/')}_restored")
    after = verify(hub, restored)
    assert after["drift"] == [] and counts(after) == counts(before)  # exact-count restore

    lossy = verify(hub, early_backup)  # a backup older than the last writes: the counts say so
    assert counts(lossy)["progress events"] == 3 and counts(lossy) != counts(before)
