"""One PostgreSQL cluster per test session (per xdist worker), a fresh database per test."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.fleet_pg.helpers import start_replica
from tests.support.daemon import RunningDaemon
from tests.support.postgres import PgCluster, throwaway_cluster
from tests.support.repos import make_workspace


@pytest.fixture(scope="session")
def pg_cluster() -> Iterator[PgCluster]:
    with throwaway_cluster() as cluster:
        yield cluster


@pytest.fixture
def pg_url(pg_cluster: PgCluster) -> str:
    return pg_cluster.create_database()


@pytest.fixture
def replicas(tmp_path: Path, pg_url: str) -> Iterator[tuple[RunningDaemon, RunningDaemon]]:
    """Two fleet replicas on one fresh database, over one workspace (stopped after the test)."""
    repos = make_workspace(tmp_path / "ws", ["the-custodian"])
    first = start_replica(tmp_path, repos, pg_url, "a")
    try:
        second = start_replica(tmp_path, repos, pg_url, "b")
    except BaseException:
        first.stop()
        raise
    try:
        yield first, second
    finally:
        first.stop()
        second.stop()
