"""One PostgreSQL cluster per test session (per xdist worker), a fresh database per test."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.postgres import PgCluster, throwaway_cluster


@pytest.fixture(scope="session")
def pg_cluster() -> Iterator[PgCluster]:
    with throwaway_cluster() as cluster:
        yield cluster


@pytest.fixture
def pg_url(pg_cluster: PgCluster) -> str:
    return pg_cluster.create_database()
