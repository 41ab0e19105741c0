"""The relay, measured between two real daemons on loopback, each figure next to a floor from the same run.

- drain: N pending envelopes (task status changes made offline) relayed to a fleet-role hub, in
  envelopes/s, vs the same number of bare PATCH /tasks/{uuid} calls to the same hub over the same
  path with one httpx client (the upstream's own cost per write is in both). Target >= 500/s.
- resume: the upstream comes back -> first envelope delivered with no new write, in seconds, vs
  the backoff cap. Target <= cap + 1 s.

Both hubs reach each other through tests/support/faultproxy.py (pass-through while measuring),
which is what lets the upstream "go away" and "come back" on a fixed port.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import httpx

from benchmarks.common import figure, log
from tests.support.daemon import RunningDaemon, start_daemon
from tests.support.faultproxy import FaultProxy
from tests.support.repos import make_workspace

TASKS = [
    ("CUST-WP-0054-T05", "e91db8d0-973d-4a31-b3c2-ca37fd002ec7"),
    ("CUST-WP-0054-T06", "f2c5dd4b-9af4-4e8c-8619-6814e7d1666e"),
    ("CUST-WP-0054-T07", "0eaf1961-a4e7-459e-b710-3e72042cdf50"),
    ("CUST-WP-0054-T08", "ede6713e-8552-469c-bfe5-b17b015e1809"),
]
STATUSES = ("progress", "done", "todo", "wait")
BULK = 100


def _wait(condition: Any, timeout: float, what: str, interval: float = 0.01) -> float:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return time.monotonic()
        time.sleep(interval)
    raise RuntimeError(f"timed out after {timeout}s waiting for {what}")


def _relay(dev: RunningDaemon, client: httpx.Client) -> dict[str, Any]:
    data: dict[str, Any] = client.get(f"{dev.url}/relay").json()
    return data


def _fleet_seq(fleet: RunningDaemon, client: httpx.Client) -> int:
    seq: int = client.get(f"{fleet.url}/state/daemon").json()["journal"]["last_seq"]
    return seq


def _offline_writes(dev: RunningDaemon, count: int, tag: str) -> None:
    """`count` task.patch envelopes through bulk status syncs (ordered, each a real change)."""
    with httpx.Client(base_url=dev.url, timeout=60) as client:
        done = 0
        while done < count:
            size = min(BULK, count - done)
            updates = [
                {"task_id": TASKS[(done + i) % len(TASKS)][0], "status": STATUSES[((done + i) // len(TASKS)) % 4]}
                for i in range(size)
            ]
            answer = client.post("/tasks/bulk-status-sync", json={"updates": updates, "author": tag})
            answer.raise_for_status()
            done += size


def bare_patch_rate(base_url: str, count: int) -> float:
    """PATCH /tasks/{uuid} calls per second with one httpx client and fresh Idempotency-Keys."""
    with httpx.Client(base_url=base_url, timeout=30, trust_env=False) as client:
        start = time.perf_counter()
        for index in range(count):
            _, uuid = TASKS[index % len(TASKS)]
            status = STATUSES[(index // len(TASKS)) % 4]
            answer = client.patch(f"/tasks/{uuid}", json={"status": status},
                                  headers={"Idempotency-Key": f"floor-{index}"})
            answer.raise_for_status()
        return count / (time.perf_counter() - start)


def drain_rate(dev: RunningDaemon, fleet: RunningDaemon, proxy: FaultProxy, count: int) -> float:
    """Envelopes/s from `relay now` with `count` pending to nothing pending (all acknowledged)."""
    proxy.set_mode("refuse")
    with httpx.Client(timeout=10, trust_env=False) as client:
        _offline_writes(dev, count, "bench-drain")
        _wait(lambda: (s := _relay(dev, client))["state"] == "offline" and s["pending"] >= count, 30,
              f"the relay to be offline with {count} pending")
        pending = _relay(dev, client)["pending"]
        before = _fleet_seq(fleet, client)
        proxy.set_mode("pass")
        start = time.monotonic()
        client.post(f"{dev.url}/relay/now", json={})
        end = _wait(lambda: _relay(dev, client)["pending"] == 0, 600, "the drain", interval=0.02)
        arrived = _fleet_seq(fleet, client) - before
        if arrived != pending:
            raise RuntimeError(f"the fleet journaled {arrived} writes for {pending} relayed envelopes")
        return pending / (end - start)


def resume_seconds(dev: RunningDaemon, fleet: RunningDaemon, proxy: FaultProxy, cap: float) -> float:
    """Seconds from the upstream coming back to the first envelope arriving, with no new write meanwhile."""
    proxy.set_mode("refuse")
    with httpx.Client(timeout=10, trust_env=False) as client:
        client.post(f"{dev.url}/progress/", json={"summary": "bench-resume"}).raise_for_status()
        _wait(lambda: _relay(dev, client)["state"] == "offline", 30, "the relay to go offline")
        time.sleep(cap * 2.5)  # let the probe backoff grow to its cap: the worst case we bound
        before = _fleet_seq(fleet, client)
        proxy.set_mode("pass")
        start = time.monotonic()
        end = _wait(lambda: _fleet_seq(fleet, client) > before, cap + 30, "the first envelope after the return")
        return end - start


def run(workdir: Path, quick: bool) -> dict[str, Any]:
    count = 500 if quick else 10_000
    cap = 1.0 if quick else 5.0
    samples = 1 if quick else 3
    env = {"DEVHUB_JOURNAL_MAX_BYTES": str(2**31)}
    fleet = start_daemon(workdir / "fleet", make_workspace(workdir / "fleet-ws", ["the-custodian"]), role="fleet",
                         env=env, timeout=120)
    proxy = FaultProxy(int(fleet.url.rsplit(":", 1)[1]))
    dev_env = {**env, "DEVHUB_RELAY_BACKOFF_CAP": str(cap)}
    dev = start_daemon(workdir / "dev", make_workspace(workdir / "dev-ws", ["the-custodian"]),
                       args=("--upstream", proxy.url), env=dev_env, timeout=120)
    try:
        log(f"bench_relay: floor, {count} bare PATCHes through the proxy")
        floor_rate = bare_patch_rate(proxy.url, count)
        log(f"bench_relay: drain of {count} envelopes")
        rate = drain_rate(dev, fleet, proxy, count)
        resumes = []
        for index in range(samples):
            log(f"bench_relay: resume sample {index + 1}/{samples} (cap {cap}s)")
            resumes.append(resume_seconds(dev, fleet, proxy, cap))
    finally:
        dev.stop()
        proxy.close()
        fleet.stop()
    worst = max(resumes)
    return {
        "figures": [
            figure(f"relay drain of {count} pending envelopes", rate, "envelopes/s", floor_rate,
                   "bare PATCH /tasks/{uuid} calls/s, one httpx client, same hub and path", ">= 500/s",
                   rate >= 500, better="higher"),
            figure("upstream back -> first envelope delivered (no new write)", worst, "s", cap,
                   f"backoff cap ({cap:g}s)", "<= cap + 1 s", worst <= cap + 1.0, samples=resumes),
        ]
    }
