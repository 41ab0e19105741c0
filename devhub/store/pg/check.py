"""What `devhub fleet db check` reads from the fleet database: server, schema version, head, replicas, replication."""

from __future__ import annotations

import time
from typing import Any

from devhub.store.pg.migrations import schema_version


def inspect_database(conn: Any) -> dict[str, Any]:
    """Server version, round-trip time, schema version, the newest seq, each replica's position and the
    streaming replication state (standbys of this server, or this server's own replay delay if it is one)."""
    started = time.perf_counter()
    conn.execute("SELECT 1").fetchone()
    latency_ms = (time.perf_counter() - started) * 1000
    server_version = conn.execute("SHOW server_version").fetchone()[0]
    version = schema_version(conn)
    standby = bool(conn.execute("SELECT pg_is_in_recovery()").fetchone()[0])
    result: dict[str, Any] = {
        "server_version": server_version,
        "latency_ms": round(latency_ms, 2),
        "schema_version": version,
        "standby": standby,
        "head_seq": None,
        "replicas": [],
        "standbys": [],
        "replay_delay_seconds": None,
    }
    if standby:
        delay = conn.execute("SELECT extract(epoch FROM now() - pg_last_xact_replay_timestamp())").fetchone()[0]
        result["replay_delay_seconds"] = None if delay is None else round(float(delay), 3)
    else:
        result["standbys"] = [
            {"name": name, "state": state, "replay_lag_seconds": None if lag is None else round(float(lag), 3)}
            for name, state, lag in conn.execute(
                "SELECT application_name, state, extract(epoch FROM replay_lag) FROM pg_stat_replication"
                " ORDER BY application_name"
            ).fetchall()
        ]
    if _exists(conn, "devhub_head"):
        result["head_seq"] = int(conn.execute("SELECT seq FROM devhub_head").fetchone()[0])
    if _exists(conn, "devhub_replicas"):
        result["replicas"] = [
            {
                "node": node,
                "version": code,
                "applied_seq": int(applied),
                "seen_seconds_ago": round(float(age), 1),
            }
            for node, code, applied, age in conn.execute(
                "SELECT node, version, applied_seq, extract(epoch FROM now() - seen_at) FROM devhub_replicas"
                " ORDER BY node"
            ).fetchall()
        ]
    return result


def _exists(conn: Any, table: str) -> bool:
    return bool(conn.execute("SELECT to_regclass(%s) IS NOT NULL", (table,)).fetchone()[0])
