"""`devhub fleet accept --dev-roundtrip`, run for real: two daemons, offline writes, the relay's delivery."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.fleet.conftest import ROOT, CliRun

BACKOFF_CAP = 0.5
RESUME_SLACK = 3.0  # the command's own bound is cap + 3 s; the test holds it to the same
CHECKS = {
    "offline hub accepts every write",
    "writes buffered while the upstream is down",
    "relay resumes unprompted within the backoff cap",
    "relay drains",
    "no dead letters",
    "fleet journaled each write once",
    "progress events arrive exactly once",
    "task statuses on the fleet",
    "each task's writes applied in write order",
    "both hubs stop gracefully",
}


def roundtrip(tmp_path: Path, *args: str, timeout: float = 90) -> CliRun:
    """Run `devhub fleet accept --dev-roundtrip ARGS` with TMPDIR in `tmp_path`, so leftovers are visible."""
    tmp = tmp_path / "tmp"
    tmp.mkdir(exist_ok=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith("DEVHUB_")}
    env.update(
        {
            "DEVHUB_CONFIG_DIR": str(tmp_path / "config"),
            "DEVHUB_DATA_DIR": str(tmp_path / "data"),
            "TMPDIR": str(tmp),
            "COLUMNS": "200",
        }
    )
    proc = subprocess.run(
        [sys.executable, "-m", "devhub", "fleet", "accept", "--dev-roundtrip", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    return CliRun(proc.returncode, proc.stdout, proc.stderr)


def leftovers(tmp_path: Path) -> list[Path]:
    return sorted((tmp_path / "tmp").glob("devhub-roundtrip-*"))


def journal(home: Path) -> dict[str, Any]:
    """`devhub journal show --json --limit 0` on a kept hub's data directory."""
    env = {**os.environ, "DEVHUB_DATA_DIR": str(home / "data"), "DEVHUB_CONFIG_DIR": str(home / "config")}
    proc = subprocess.run(
        [sys.executable, "-m", "devhub", "journal", "show", "--json", "--limit", "0"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    shown: dict[str, Any] = json.loads(proc.stdout)
    return shown


def refused(url: str) -> bool:
    try:
        httpx.get(url + "/state/health", timeout=2.0)
    except httpx.ConnectError:
        return True
    return False


@pytest.fixture
def busy_port() -> Iterator[int]:
    """A loopback port with a listener on it (not a devhub)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    sock.listen(1)
    try:
        yield sock.getsockname()[1]
    finally:
        sock.close()


def test_offline_writes_reach_the_fleet_exactly_once_in_order(tmp_path: Path) -> None:
    done = roundtrip(tmp_path, "--json", "--backoff-cap", str(BACKOFF_CAP))
    assert done.code == 0, done.stdout + done.stderr
    report = done.json()

    assert report["verdict"] == "pass" and report["failed"] == []
    assert {c["name"] for c in report["checks"]} == CHECKS
    assert all(c["verdict"] == "pass" for c in report["checks"]), report["checks"]

    counts = report["counts"]
    assert counts["writes"] == counts["accepted"] == 100
    assert counts["progress_events"] == 50 and counts["task_patches"] == 50 and counts["tasks"] >= 1
    assert counts["pending_offline"] == 100 and counts["held_offline"] == 0
    assert counts["oldest_pending_age_seconds"] > 0
    assert counts["progress_on_fleet"] == 50 and counts["duplicates"] == 0 and counts["missing"] == 0
    assert counts["fleet_journaled"] == 100 and counts["delivered"] == 100 and counts["dead_letters"] == 0

    timings = report["timings"]
    for name in (
        "offline_ready_seconds",
        "writes_seconds",
        "upstream_ready_seconds",
        "first_delivery_seconds",
        "last_delivery_seconds",
        "drained_seconds",
    ):
        # Deliveries are timed from the moment the fleet answered; the relay may have delivered the first
        # write before the harness's first poll, so a delivery time may round to 0.0 — never below.
        assert isinstance(timings[name], float) and timings[name] >= 0, (name, timings)
    assert timings["offline_ready_seconds"] > 0 and timings["upstream_ready_seconds"] > 0
    assert timings["first_delivery_seconds"] <= BACKOFF_CAP + RESUME_SLACK
    assert timings["first_delivery_seconds"] <= timings["last_delivery_seconds"]

    settings = report["settings"]
    assert settings["backoff_cap_seconds"] == BACKOFF_CAP and settings["last_success"]
    # Both daemons are gone and the temporary directory with them.
    assert refused(settings["dev_url"]) and refused(settings["fleet_url"])
    assert settings["workdir"] is None and leftovers(tmp_path) == []


def test_table_output_and_keep(tmp_path: Path) -> None:
    done = roundtrip(tmp_path, "--writes", "9", "--backoff-cap", str(BACKOFF_CAP), "--keep")
    assert done.code == 0, done.stdout + done.stderr
    assert "9 writes (5 progress events, 4 task status changes" in done.stdout
    assert "upstream answering -> first write on the fleet" in done.stdout
    assert "ROUND TRIP HOLDS: all 10 checks pass" in done.stdout
    [kept] = leftovers(tmp_path)
    assert f"kept {kept}" in done.stdout
    assert (kept / "dev" / "daemon.log").is_file() and (kept / "fleet" / "daemon.log").is_file()

    # Independently of the command's own checks: the fleet journaled the dev journal's keys, once each, in order
    # per task (the relay sends different tasks' writes side by side), and the dev relay's cursor covers them all.
    dev, fleet = journal(kept / "dev"), journal(kept / "fleet")
    dev_keys = [r["idempotency_key"] for r in sorted(dev["records"], key=lambda r: r["seq"])]
    fleet_keys = [r["idempotency_key"] for r in sorted(fleet["records"], key=lambda r: r["seq"])]
    assert len(dev_keys) == 9 and sorted(fleet_keys) == sorted(dev_keys) and len(set(fleet_keys)) == 9
    task_of = {r["idempotency_key"]: _task_named(r) for r in dev["records"]}
    for task in set(task_of.values()):
        assert [k for k in fleet_keys if task_of[k] == task] == [k for k in dev_keys if task_of[k] == task], task
    assert dev["pending"] == 0 and dev["cursor"] == 9


def test_a_busy_dev_port_exits_2_with_the_daemon_log(tmp_path: Path, busy_port: int) -> None:
    done = roundtrip(tmp_path, "--dev-port", str(busy_port), "--backoff-cap", str(BACKOFF_CAP))
    assert done.code == 2, done.stdout + done.stderr
    assert done.stdout == ""
    assert "error: the dev hub exited with" in done.stderr and "during start-up" in done.stderr
    assert f"port {busy_port} on 127.0.0.1 is already in use" in done.stderr  # quoted from the daemon's log
    assert leftovers(tmp_path) == []


def test_a_busy_fleet_port_exits_2_because_the_upstream_must_start_down(tmp_path: Path, busy_port: int) -> None:
    done = roundtrip(tmp_path, "--fleet-port", str(busy_port))
    assert done.code == 2, done.stdout + done.stderr
    assert f"error: fleet port {busy_port} is not free" in done.stderr
    assert "starts with the upstream down" in done.stderr
    assert leftovers(tmp_path) == []


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--writes", "0"), "Invalid value for '--writes'"),
        (("--spec", "x.yaml"), "--dev-roundtrip takes no --spec or --evidence"),
        (("--dev-port", "5000", "--fleet-port", "5000"), "--dev-port and --fleet-port must differ"),
    ],
)
def test_bad_usage_exits_2(tmp_path: Path, args: tuple[str, ...], message: str) -> None:
    done = roundtrip(tmp_path, *args)
    assert done.code == 2, done.stdout + done.stderr
    assert message in done.stderr
    assert leftovers(tmp_path) == []


def test_without_dev_roundtrip_spec_is_required_and_its_options_refused(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "devhub", "fleet", "accept"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=30,
        env={**os.environ, "DEVHUB_CONFIG_DIR": str(tmp_path)},
    )
    assert proc.returncode == 2
    assert "--spec is required (or run --dev-roundtrip)" in proc.stderr
    stray = subprocess.run(
        [sys.executable, "-m", "devhub", "fleet", "accept", "--spec", "x.yaml", "--writes", "5"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=30,
        env={**os.environ, "DEVHUB_CONFIG_DIR": str(tmp_path)},
    )
    assert stray.returncode == 2
    assert "--writes: only with --dev-roundtrip" in stray.stderr


def _task_named(record: dict[str, Any]) -> str:
    """The task a round-trip write is about: a status change's target, a progress event's task_id."""
    return str((record.get("target") or {}).get("id") or (record.get("body") or {}).get("task_id"))
