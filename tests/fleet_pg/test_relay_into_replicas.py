"""One dev hub's relay into two fleet replicas on one PostgreSQL, behind a round-robin balancer: exactly once,
through lost acknowledgements, a PostgreSQL restart and a replica killed -9."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.fleet_pg.helpers import TASK, journal_last_seq, progress_ids, start_replica
from tests.relay_e2e.helpers import start_dev, wait_drained, write_progress
from tests.support.daemon import RunningDaemon
from tests.support.faultproxy import FaultProxy
from tests.support.postgres import PgCluster
from tests.support.repos import make_workspace
from tests.support.roundrobin import RoundRobin
from tests.support.waiting import wait_for


@dataclass
class Fleet:
    a: RunningDaemon
    b: RunningDaemon
    balancer: RoundRobin
    proxy: FaultProxy  # between the dev hub and the balancer
    dev: RunningDaemon
    repos: list[Path]
    database: str


@pytest.fixture
def fleet(tmp_path: Path, pg_url: str) -> Iterator[Fleet]:
    repos = make_workspace(tmp_path / "ws", ["the-custodian"])
    started: list[RunningDaemon] = []
    try:
        a = start_replica(tmp_path, repos, pg_url, "a")
        started.append(a)
        b = start_replica(tmp_path, repos, pg_url, "b")
        started.append(b)
        with RoundRobin([a.port, b.port]) as balancer, FaultProxy(balancer.port) as proxy:
            dev = start_dev(tmp_path / "dev", make_workspace(tmp_path / "dev-ws", ["the-custodian"]), proxy.url)
            started.append(dev)
            yield Fleet(a, b, balancer, proxy, dev, repos, pg_url)
    finally:
        for hub in reversed(started):
            if hub.proc.poll() is None:
                hub.stop()


def test_the_relay_lands_exactly_once_across_two_replicas_through_lost_acknowledgements(fleet: Fleet) -> None:
    fleet.proxy.set_mode("drop", times=6)  # the fleet commits, the dev hub never hears: it resends elsewhere
    with fleet.dev.client() as dev:
        for index in range(30):
            write_progress(dev, f"rr: {index}")
            if index % 3 == 0:
                status = "progress" if index % 2 else "todo"  # the status canon: a done task would not reopen
                assert dev.patch(f"/tasks/{TASK}", json={"status": status}).status_code == 200
    status = wait_drained(fleet.dev, timeout=60)
    assert status["dead_letters"] == 0, status
    assert fleet.proxy.responses_lost >= 1  # some acknowledgements really were lost
    assert all(count > 0 for count in fleet.balancer.forwarded.values()), fleet.balancer.forwarded

    on_a, on_b = progress_ids(fleet.a, "rr:"), progress_ids(fleet.b, "rr:")
    assert len(on_a) == 30 and on_a == on_b  # every event once, the same on both replicas
    assert journal_last_seq(fleet.a) == journal_last_seq(fleet.b) == 40  # 30 events + 10 status writes, once each
    assert fleet.b.get(f"/tasks/{TASK}").json()["status"] == "progress"  # the last one written (index 27)


def test_a_postgres_restart_mid_relay_loses_no_acknowledged_write(fleet: Fleet, pg_cluster: PgCluster) -> None:
    with fleet.dev.client() as dev:
        for index in range(10):
            write_progress(dev, f"pgr: before {index}")
        wait_drained(fleet.dev, timeout=60)
        acknowledged = progress_ids(fleet.a, "pgr:")
        assert len(acknowledged) == 10

        pg_cluster.stop("immediate")  # a crash: only what was committed survives
        try:
            for index in range(10):
                write_progress(dev, f"pgr: during {index}")  # the dev hub accepts offline-style
            # The fleet answers 503 while its database is away; the relay keeps the writes and retries.
            wait_for(
                lambda: (s := fleet.dev.get("/relay").json())["pending"] > 0 and s["last_error"],
                timeout=30,
                what="the relay to meet the fleet's 503",
            )
            assert fleet.a.get("/state/health").status_code == 200  # the replicas keep answering
            assert len(progress_ids(fleet.b, "pgr:")) == 10  # reads answer from what was applied
        finally:
            pg_cluster.start()
    status = wait_drained(fleet.dev, timeout=90)
    assert status["dead_letters"] == 0, status
    after = progress_ids(fleet.b, "pgr:")
    assert set(acknowledged) <= set(after)
    assert len(after) == 20 and progress_ids(fleet.a, "pgr:") == after
    assert journal_last_seq(fleet.a) == 20


def test_a_replica_killed_the_other_keeps_serving_and_the_killed_one_catches_up(fleet: Fleet, tmp_path: Path) -> None:
    with fleet.dev.client() as dev:
        for index in range(6):
            write_progress(dev, f"kill: before {index}")
        wait_drained(fleet.dev, timeout=60)
        fleet.a.kill9()
        fleet.a.proc.wait(timeout=10)
        for index in range(6):
            write_progress(dev, f"kill: after {index}")
        wait_drained(fleet.dev, timeout=60)
    assert len(progress_ids(fleet.b, "kill:")) == 12
    with fleet.b.client() as b:
        assert b.post("/progress/", json={"summary": "kill: direct"}).status_code == 201

    # The killed replica comes back on its data dir and applies what the other accepted meanwhile.
    again = start_replica(tmp_path, fleet.repos, fleet.database, "a")
    try:
        assert len(progress_ids(again, "kill:")) == 13
    finally:
        again.stop()
