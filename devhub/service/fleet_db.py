"""`devhub fleet db check`: can the fleet database be reached, is its schema this devhub's, how far behind are replicas.

Lag is counted in writes, not seconds: a replica's lag is the number of writes committed to
PostgreSQL (by any replica) that its read model had not applied when it last reported (it reports
after every catch-up, and at least every 5 s while it runs). A replica silent for longer than
GONE_SECONDS is listed as gone (stopped or killed), not as lagging. For a server with streaming
standbys (e.g. a CNPG cluster's replicas) their replay lag is shown too; that is PostgreSQL's own
replication, which a fleet hub never reads from.
"""

from __future__ import annotations

from typing import Any, TypedDict

GONE_SECONDS = 30.0  # six missed reports


class ReplicaLag(TypedDict):
    node: str  # host:port:data dir of the fleet hub process
    version: str  # its devhub version
    applied_seq: int
    lag_writes: int  # committed writes its read model had not applied at its last report
    seen_seconds_ago: float
    gone: bool


class DatabaseCheck(TypedDict):
    url: str  # without its password
    reachable: bool
    error: str | None
    server_version: str | None
    latency_ms: float | None
    schema_version: int | None
    code_schema_version: int
    head_seq: int | None  # the newest committed write
    replicas: list[ReplicaLag]
    max_lag_writes: int | None  # over the replicas not gone
    standby: bool | None
    standbys: list[dict[str, Any]]
    replay_delay_seconds: float | None
    problems: list[str]
    exit_code: int  # 0 all well; 1 unreachable, or a schema that is not this devhub's


def check_database(url: str) -> DatabaseCheck:
    """Connect once and report; never raises for a database problem (it is in `problems`, exit code 1)."""
    import psycopg

    from devhub.store.pg.check import inspect_database
    from devhub.store.pg.connect import CONNECT_TIMEOUT_SECONDS, safe_url
    from devhub.store.pg.migrations import CODE_VERSION

    report: DatabaseCheck = {
        "url": safe_url(url),
        "reachable": False,
        "error": None,
        "server_version": None,
        "latency_ms": None,
        "schema_version": None,
        "code_schema_version": CODE_VERSION,
        "head_seq": None,
        "replicas": [],
        "max_lag_writes": None,
        "standby": None,
        "standbys": [],
        "replay_delay_seconds": None,
        "problems": [],
        "exit_code": 1,
    }
    try:
        conn = psycopg.connect(url, autocommit=True, connect_timeout=CONNECT_TIMEOUT_SECONDS)
    except psycopg.Error as exc:
        report["error"] = str(exc).strip()
        report["problems"].append(f"cannot connect: {report['error']}")
        return report
    try:
        with conn:
            found = inspect_database(conn)
    except psycopg.Error as exc:
        report["reachable"] = True
        report["error"] = str(exc).strip()
        report["problems"].append(f"connected, but the database cannot be read: {report['error']}")
        return report
    report["reachable"] = True
    report["server_version"] = found["server_version"]
    report["latency_ms"] = found["latency_ms"]
    report["schema_version"] = found["schema_version"]
    report["head_seq"] = found["head_seq"]
    report["standby"] = found["standby"]
    report["standbys"] = found["standbys"]
    report["replay_delay_seconds"] = found["replay_delay_seconds"]
    head = found["head_seq"] or 0
    for replica in found["replicas"]:
        report["replicas"].append(
            ReplicaLag(
                node=replica["node"],
                version=replica["version"],
                applied_seq=replica["applied_seq"],
                lag_writes=max(0, head - replica["applied_seq"]),
                seen_seconds_ago=replica["seen_seconds_ago"],
                gone=replica["seen_seconds_ago"] > GONE_SECONDS,
            )
        )
    live = [r["lag_writes"] for r in report["replicas"] if not r["gone"]]
    report["max_lag_writes"] = max(live) if live else None
    version = found["schema_version"]
    if version == 0:
        report["problems"].append("no devhub schema yet: a fleet hub started on it creates it")
    elif version > CODE_VERSION:
        report["problems"].append(
            f"schema version {version} is newer than this devhub's {CODE_VERSION}: upgrade devhub here"
        )
    elif version < CODE_VERSION:
        report["problems"].append(
            f"schema version {version} is older than this devhub's {CODE_VERSION}: a hub of this version migrates it"
        )
    report["exit_code"] = 1 if report["problems"] else 0
    return report
