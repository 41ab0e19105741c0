"""Versioned migrations at start, a newer schema refused, `devhub fleet db check`, and live updates across replicas."""

from __future__ import annotations

import contextlib
import json
import queue
import threading
from pathlib import Path
from typing import Any

import httpx
import psycopg

from devhub.store.pg.migrations import CODE_VERSION
from tests.fleet_pg.helpers import start_replica
from tests.support.daemon import devhub_env, run_cli
from tests.support.faultproxy import free_port
from tests.support.repos import make_workspace
from tests.support.waiting import wait_for


def db_check(tmp_path: Path, url: str) -> tuple[int, dict[str, Any]]:
    env = devhub_env(tmp_path / "cli-data", tmp_path / "cli-config")
    done = run_cli("fleet", "db", "check", "--database", url, "--json", env=env)
    return done.returncode, json.loads(done.stdout)


def test_a_fresh_database_is_migrated_at_start_and_the_check_reports_version_and_lag(
    tmp_path: Path, pg_url: str
) -> None:
    code, before = db_check(tmp_path, pg_url)
    assert (code, before["reachable"], before["schema_version"]) == (1, True, 0)
    assert "no devhub schema yet" in before["problems"][0]

    hub = start_replica(tmp_path, make_workspace(tmp_path / "ws", ["the-custodian"]), pg_url, "a")
    try:
        with hub.client() as client:
            for index in range(3):
                assert client.post("/progress/", json={"summary": f"check {index}"}).status_code == 201
        code, report = wait_for(
            lambda: (r := db_check(tmp_path, pg_url))[1]["replicas"] and r[1]["replicas"][0]["applied_seq"] == 3 and r,
            timeout=30,
            what="the replica to report its position",
        )
        assert code == 0, report
        assert (report["schema_version"], report["code_schema_version"]) == (CODE_VERSION, CODE_VERSION)
        assert report["head_seq"] == 3 and report["max_lag_writes"] == 0
        assert report["replicas"][0]["gone"] is False
        with psycopg.connect(pg_url) as conn:
            versions = [row[0] for row in conn.execute("SELECT version FROM devhub_schema_migrations ORDER BY 1")]
        assert versions == list(range(1, CODE_VERSION + 1))
    finally:
        hub.stop()
    env = devhub_env(tmp_path / "cli-data", tmp_path / "cli-config")
    human = run_cli("fleet", "db", "check", "--database", pg_url, env=env)
    assert human.returncode == 0 and f"version {CODE_VERSION} (this devhub: {CODE_VERSION})" in human.stdout


def test_an_unreachable_database_is_exit_1_with_the_reason(tmp_path: Path) -> None:
    code, report = db_check(tmp_path, f"postgresql://devhub@127.0.0.1:{free_port()}/nothing")
    assert code == 1 and report["reachable"] is False and "connect" in report["problems"][0]


def test_a_database_newer_than_the_code_refuses_to_start_naming_both_versions(tmp_path: Path, pg_url: str) -> None:
    newer = CODE_VERSION + 1
    with psycopg.connect(pg_url) as conn:
        conn.execute(
            "CREATE TABLE devhub_schema_migrations (version integer PRIMARY KEY, name text NOT NULL,"
            " applied_at timestamptz NOT NULL DEFAULT now())"
        )
        conn.execute("INSERT INTO devhub_schema_migrations (version, name) VALUES (%s, 'from the future')", (newer,))
    env = devhub_env(tmp_path / "data", tmp_path / "config")
    repo = make_workspace(tmp_path / "ws", ["the-custodian"])[0]
    done = run_cli("up", "--role", "fleet", "--port", "0", "--database", pg_url, str(repo), env=env, timeout=60)
    assert done.returncode == 2, (done.stdout, done.stderr)
    assert f"schema version {newer}" in done.stderr and f"(version {CODE_VERSION})" in done.stderr, done.stderr
    assert "Traceback" not in done.stderr
    code, report = db_check(tmp_path, pg_url)
    assert code == 1 and "newer than this devhub" in report["problems"][0]


def test_database_is_for_the_fleet_role_only(tmp_path: Path, pg_url: str) -> None:
    env = devhub_env(tmp_path / "data", tmp_path / "config")
    done = run_cli("up", "--role", "dev", "--port", "0", "--database", pg_url, env=env, timeout=60)
    assert done.returncode == 2 and "only a fleet hub" in done.stderr, done.stderr
    bad = run_cli("up", "--role", "fleet", "--database", "mysql://x", env=env, timeout=60)
    assert bad.returncode == 2 and "--database: not a postgresql:// connection URL" in bad.stderr, bad.stderr
    secret = run_cli("up", "--role", "fleet", "--database", "mysql://me:hunter2@db/x", env=env, timeout=60)
    assert "hunter2" not in secret.stderr and "me:***@db" in secret.stderr, secret.stderr


def test_a_write_on_one_replica_is_pushed_live_to_the_others_event_stream(tmp_path: Path, pg_url: str) -> None:
    """B hears of A's writes through NOTIFY, with no read made on B: each within 2 s, well inside the 5 s
    idle pass that would otherwise deliver them (three in a row rule out a lucky idle pass)."""
    repos = make_workspace(tmp_path / "ws", ["the-custodian"])
    a = start_replica(tmp_path, repos, pg_url, "a")
    b = start_replica(tmp_path, repos, pg_url, "b")
    events: queue.Queue[dict[str, Any]] = queue.Queue()
    opened = threading.Event()

    def listen() -> None:
        timeout = httpx.Timeout(5, read=30)
        with (
            contextlib.suppress(httpx.HTTPError),
            httpx.Client(base_url=b.url, timeout=timeout) as client,
            client.stream("GET", "/ui/events") as stream,
        ):
            heard = 0
            for line in stream.iter_lines():
                opened.set()
                if line.startswith("data:") and '"write"' in line:
                    events.put(json.loads(line[5:]))
                    heard += 1
                    if heard == 3:
                        return  # closes the stream before the hubs stop

    try:
        threading.Thread(target=listen, daemon=True).start()
        assert opened.wait(10), "the event stream did not open"
        with a.client() as client:
            for seq in (1, 2, 3):
                assert client.post("/progress/", json={"summary": f"live {seq}"}).status_code == 201
                event = events.get(timeout=2.0)
                assert (event["kinds"], event["seqs"]) == (["progress"], [seq]), event
    finally:
        a.stop()
        b.stop()
