"""Fleet replicas on one PostgreSQL database, as real daemon subprocesses."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.support.daemon import RunningDaemon, start_daemon

TASK = "CUST-WP-0054-T05"  # a task of the-custodian fixture repo, served by every replica


def start_replica(home: Path, repos: list[Path], database: str, name: str, **kwargs: Any) -> RunningDaemon:
    """A fleet-role hub with its own data dir, keeping its authoritative state in `database`."""
    return start_daemon(home / name, repos, role="fleet", args=("--no-relay", "--database", database), **kwargs)


def progress_ids(hub: RunningDaemon, prefix: str) -> list[str]:
    events = hub.get("/progress/", params={"limit": 10000}).json()
    return sorted(e["id"] for e in events if str(e["summary"]).startswith(prefix))


def journal_last_seq(hub: RunningDaemon) -> int:
    seq: int = hub.get("/state/daemon").json()["journal"]["last_seq"]
    return seq
