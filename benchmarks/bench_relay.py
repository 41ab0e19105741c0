"""The relay, measured between two real daemons on loopback, each figure next to floors from the same run.

- drain: N pending envelopes (the relay's own mix, made offline: single status changes, progress
  events naming a task, and bulk status syncs) relayed to a fleet-role hub, in envelopes/s, against
  two floors measured in the same run on the same upstream path, one bare call per envelope (what
  the relay sends for it alone: PATCH /tasks/{uuid}, POST /progress/), each with a fresh
  Idempotency-Key:
    * sequential: one keep-alive connection, one call after the other;
    * 8 connections: the same calls split over 8 keep-alive connections at once — the most the
      upstream ingests here (issue 18).
  Targets: >= 0.9x the 8-connection floor, and >= 2x the sequential floor where the upstream is
  not the limit (the 8-connection floor says whether it is: below 2x the sequential floor, it is).
  The drain is measured twice: as configured (bulk syncs go upstream as one call each), and with
  DEVHUB_RELAY_BULK=0 (concurrency alone: one call per envelope, the floors' own calls).
- resume: the upstream comes back -> first envelope delivered with no new write, in seconds, vs
  the backoff cap. Target <= cap + 1 s.

Both hubs reach each other through tests/support/faultproxy.py (pass-through while measuring),
which is what lets the upstream "go away" and "come back" on a fixed port.
"""

from __future__ import annotations

import os
import shutil
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import httpx

from benchmarks.common import figure, log
from tests.support.daemon import RunningDaemon, start_daemon
from tests.support.faultproxy import FaultProxy
from tests.support.repos import FIXTURE_REPOS, make_repo_from

REPO = "the-custodian"
WORKPLAN = "BENCH-WP-0001"
TASK_COUNT = 64
CYCLE = 20  # envelopes per cycle of the mix: 8 single PATCHes, 4 progress events, one bulk sync of 8
CONNECTIONS = 8


def _task(index: int) -> tuple[str, str]:
    """The bench task's file id and its fleet UUID (the same on both hubs: read from the same file)."""
    task_id = f"{WORKPLAN}-T{index + 1:02d}"
    return task_id, str(uuid.uuid5(uuid.NAMESPACE_URL, f"devhub-bench/{task_id}"))


def _workplan_text() -> str:
    blocks = [
        f"## Task: Bench task {index + 1}\n\n```task\nid: {task_id}\nstatus: todo\npriority: medium\n"
        f'state_hub_task_id: "{task_uuid}"\n```\n'
        for index, (task_id, task_uuid) in enumerate(_task(i) for i in range(TASK_COUNT))
    ]
    front = (
        f"---\nid: {WORKPLAN}\ntype: workplan\ntitle: \"Relay bench\"\ndomain: infotech\nrepo: {REPO}\n"
        f"status: active\nowner: bench\ntopic_slug: custodian\n"
        f'state_hub_workstream_id: "{uuid.uuid5(uuid.NAMESPACE_URL, "devhub-bench/" + WORKPLAN)}"\n---\n\n'
        f"# {WORKPLAN} - Relay bench\n\n"
    )
    return front + "\n".join(blocks)


def _workspace(root: Path) -> list[Path]:
    """The custodian fixture plus a workplan of TASK_COUNT tasks with UUIDs, as a committed git repo."""
    source = root / "source"
    shutil.copytree(FIXTURE_REPOS / REPO, source)
    (source / "workplans" / f"{WORKPLAN}-relay-bench.md").write_text(_workplan_text(), encoding="utf-8")
    return [make_repo_from(source, root / REPO)]


class Mix:
    """The relay's mix, in journal order: what the dev hub is asked to write, and the bare call per envelope."""

    def __init__(self, count: int, tag: str) -> None:
        self.tag = tag
        self.writes: list[tuple[str, str, dict[str, Any]]] = []  # method, path, body (to the dev hub)
        self.calls: list[tuple[str, str, dict[str, Any]]] = []  # one bare upstream call per envelope
        self._changes = [0] * TASK_COUNT
        self._next_task = 0
        while len(self.calls) < count:
            for _ in range(8):
                self._patch()
            for _ in range(4):
                self._progress()
            self._bulk(8)
        del self.calls[count:]
        self.envelopes = len(self.calls)

    def _take(self) -> int:
        index = self._next_task % TASK_COUNT
        self._next_task += 1
        return index

    def _status(self, index: int) -> str:
        self._changes[index] += 1
        return "progress" if self._changes[index] % 2 else "todo"

    def _patch(self) -> None:
        index = self._take()
        task_id, task_uuid = _task(index)
        status = self._status(index)
        self.writes.append(("PATCH", f"/tasks/{task_id}", {"status": status}))
        self.calls.append(("PATCH", f"/tasks/{task_uuid}", {"status": status}))

    def _progress(self) -> None:
        index = self._take()
        task_id, task_uuid = _task(index)
        summary = f"{self.tag} note {len(self.calls)}"
        self.writes.append(("POST", "/progress/", {"summary": summary, "task_id": task_id}))
        self.calls.append(("POST", "/progress/", {"summary": summary, "task_id": task_uuid}))

    def _bulk(self, size: int) -> None:
        updates = []
        for _ in range(size):
            index = self._take()
            task_id, task_uuid = _task(index)
            status = self._status(index)
            updates.append({"task_id": task_id, "status": status})
            self.calls.append(("PATCH", f"/tasks/{task_uuid}", {"status": status}))
        self.writes.append(("POST", "/tasks/bulk-status-sync", {"updates": updates, "author": self.tag}))


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


def _call_all(base_url: str, calls: list[tuple[str, str, dict[str, Any]]], key_prefix: str) -> None:
    with httpx.Client(base_url=base_url, timeout=30, trust_env=False) as client:
        for index, (method, path, body) in enumerate(calls):
            answer = client.request(method, path, json=body, headers={"Idempotency-Key": f"{key_prefix}-{index}"})
            answer.raise_for_status()


def floor_rate(base_url: str, mix: Mix, connections: int, tag: str) -> float:
    """Bare upstream calls/s for the mix (one per envelope, fresh keys) over `connections` keep-alive connections."""
    shares = [mix.calls[start::connections] for start in range(connections)]
    failures: list[BaseException] = []

    def work(share: list[tuple[str, str, dict[str, Any]]], index: int) -> None:
        try:
            _call_all(base_url, share, f"floor-{tag}-{index}")
        except BaseException as exc:  # reported below: a floor that failed is no floor
            failures.append(exc)

    threads = [threading.Thread(target=work, args=(share, index)) for index, share in enumerate(shares)]
    start = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - start
    if failures:
        raise RuntimeError(f"the {connections}-connection floor failed: {failures[0]!r}")
    return len(mix.calls) / elapsed


def _offline_writes(dev: RunningDaemon, mix: Mix) -> None:
    with httpx.Client(base_url=dev.url, timeout=60, trust_env=False) as client:
        for method, path, body in mix.writes:
            answer = client.request(method, path, json=body)
            if answer.status_code >= 300:
                raise RuntimeError(f"{method} {path} answered {answer.status_code}: {answer.text[:300]}")


def drain_rate(dev: RunningDaemon, fleet: RunningDaemon, proxy: FaultProxy, mix: Mix) -> tuple[float, int]:
    """Envelopes/s from `relay now` with the mix pending to nothing pending (all acknowledged); and the calls made."""
    proxy.set_mode("refuse")
    with httpx.Client(timeout=10, trust_env=False) as client:
        _offline_writes(dev, mix)
        _wait(lambda: (s := _relay(dev, client))["state"] == "offline" and s["pending"] >= mix.envelopes, 60,
              f"the relay to be offline with {mix.envelopes} pending")
        pending = _relay(dev, client)["pending"]
        sent_before = _relay(dev, client)["sent"]
        before = _fleet_seq(fleet, client)
        proxy.set_mode("pass")
        start = time.monotonic()
        client.post(f"{dev.url}/relay/now", json={})
        try:
            end = _wait(lambda: _relay(dev, client)["pending"] == 0, 1800, "the drain", interval=0.2)
        except RuntimeError as exc:  # say where it stood: slow, or stuck
            state = _relay(dev, client)
            raise RuntimeError(f"{exc}; relay: {state['state']}, {state['pending']} pending, "
                               f"{state['delivered']} delivered, last error {state['last_error']!r}") from exc
        arrived = _fleet_seq(fleet, client) - before
        if arrived != pending:
            raise RuntimeError(f"the fleet journaled {arrived} writes for {pending} relayed envelopes")
        calls = _relay(dev, client)["sent"] - sent_before
        return pending / (end - start), calls


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
    # BENCH_RELAY_ENVELOPES: another scale, e.g. on a machine too loaded for 10,000 in reasonable time.
    count = int(os.environ.get("BENCH_RELAY_ENVELOPES") or (500 if quick else 10_000))
    cap = 1.0 if quick else 5.0
    samples = 1 if quick else 3
    env = {"DEVHUB_JOURNAL_MAX_BYTES": str(2**31)}
    fleet = start_daemon(workdir / "fleet", _workspace(workdir / "fleet-ws"), role="fleet", env=env, timeout=120)
    proxy = FaultProxy(int(fleet.url.rsplit(":", 1)[1]))
    dev_env = {**env, "DEVHUB_RELAY_BACKOFF_CAP": str(cap)}
    devs = {
        "bulk": start_daemon(workdir / "dev", _workspace(workdir / "dev-ws"), args=("--upstream", proxy.url),
                             env=dev_env, timeout=120),
        "single": start_daemon(workdir / "dev-single", _workspace(workdir / "dev-single-ws"),
                               args=("--upstream", proxy.url), env={**dev_env, "DEVHUB_RELAY_BULK": "0"},
                               timeout=120),
    }
    try:
        floor_mix = Mix(count, "floor")
        log(f"bench_relay: floors, {count} bare calls of the relay's mix through the proxy (1 and {CONNECTIONS} conns)")
        sequential = floor_rate(proxy.url, floor_mix, 1, "seq")
        parallel = floor_rate(proxy.url, floor_mix, CONNECTIONS, "par")
        drains: dict[str, tuple[float, int]] = {}
        for name, dev in devs.items():
            log(f"bench_relay: drain of {count} envelopes ({name})")
            drains[name] = drain_rate(dev, fleet, proxy, Mix(count, f"drain-{name}"))
        resumes = []
        for index in range(samples):
            log(f"bench_relay: resume sample {index + 1}/{samples} (cap {cap}s)")
            resumes.append(resume_seconds(devs["bulk"], fleet, proxy, cap))
    finally:
        for dev in devs.values():
            dev.stop()
        proxy.close()
        fleet.stop()
    upstream_limited = parallel < 2 * sequential
    limit_note = (
        f"upstream is the limit: {CONNECTIONS} connections ingest only {parallel / sequential:.2f}x one"
        if upstream_limited else "upstream not the limit"
    )
    figures = []
    for name, label in (("bulk", "bulk syncs as one call"), ("single", "DEVHUB_RELAY_BULK=0, one call per envelope")):
        rate, calls = drains[name]
        extra = {"upstream_calls": calls, "envelopes": count, "mix": "8 PATCH, 4 progress, 1 bulk sync of 8 per 20"}
        figures.append(figure(
            f"relay drain of {count} pending envelopes ({label}) vs {CONNECTIONS} connections", rate, "envelopes/s",
            parallel, f"bare calls/s of the same mix, one per envelope, {CONNECTIONS} keep-alive connections",
            ">= 0.9x floor", rate >= 0.9 * parallel, better="higher", **extra))
        figures.append(figure(
            f"relay drain of {count} pending envelopes ({label}) vs sequential", rate, "envelopes/s", sequential,
            "bare calls/s of the same mix, one per envelope, one keep-alive connection",
            f">= 2x floor where the upstream is not the limit ({limit_note})",
            rate >= 2 * sequential or (upstream_limited and rate >= 0.9 * parallel), better="higher",
            upstream_limited=upstream_limited, **extra))
    worst = max(resumes)
    figures.append(figure("upstream back -> first envelope delivered (no new write)", worst, "s", cap,
                          f"backoff cap ({cap:g}s)", "<= cap + 1 s", worst <= cap + 1.0, samples=resumes))
    return {"figures": figures, "floors": {"sequential": sequential, f"{CONNECTIONS}_connections": parallel}}
