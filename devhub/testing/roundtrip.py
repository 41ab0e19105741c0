"""`devhub fleet accept --dev-roundtrip`: a fresh dev hub buffers writes offline, a fleet hub appears, and the
relay must deliver every write to it exactly once, in order, unprompted.

Two real daemons run as subprocesses on free loopback ports in a temporary directory; nothing of the
user's own data or configuration is touched. The report is a dict (see `run_dev_roundtrip`).
"""

from __future__ import annotations

import shutil
import socket
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from devhub.daemon.spawn import DaemonExited, DaemonProcess, DaemonSilent, spawn_daemon
from devhub.errors import FleetError

if TYPE_CHECKING:
    import httpx

    from devhub.settings import Settings

DEFAULT_WRITES = 100
DEFAULT_BACKOFF_CAP = 1.0
DRAIN_TIMEOUT_SECONDS = 60.0
START_TIMEOUT_SECONDS = 60.0
# The relay probes within the cap; the slack covers the probe itself, a daemon under CI load and our polling.
RESUME_SLACK_SECONDS = 3.0
POLL_SECONDS = 0.02
# Back and forth between the open statuses: the status canon refuses reopening a done or cancelled task.
TASK_WALK = ("progress", "todo")
OPEN_STATUSES = ("wait", "todo", "progress")
MAX_TASKS = 5
LOG_TAIL_LINES = 20

T = TypeVar("T")


class RoundtripUnusable(FleetError):
    """The round trip could not run (no fixtures, a busy port, a daemon that did not start): exit 2."""

    title = "Round trip could not run"


@dataclass
class Check:
    """One verdict of the round trip: what was required, what was observed."""

    name: str
    holds: bool
    observed: str
    required: str

    def as_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "verdict": "pass" if self.holds else "fail",
            "observed": self.observed,
            "required": self.required,
        }


@dataclass
class SpawnedHub:
    """A named daemon of the round trip: its process, URL and log."""

    name: str
    process: DaemonProcess
    url: str

    @property
    def log_path(self) -> Path:
        return self.process.log_path

    def log_tail(self) -> str:
        if not self.log_path.exists():
            return "(no log)"
        lines = self.process.log_since_start().splitlines()
        return "\n".join(lines[-LOG_TAIL_LINES:]) or "(empty log)"

    def stop(self, timeout: float = 20.0) -> int:
        """SIGTERM, wait for the graceful stop (kill after `timeout`); the exit code."""
        return self.process.stop(timeout)


@dataclass
class Write:
    """One planned write: a task status change or a progress event, with its idempotency key."""

    key: str
    kind: str  # "task" | "progress"
    task: dict[str, Any]
    status: str = ""
    summary: str = ""


@dataclass
class RoundtripRun:
    """The state of one round trip while it runs; `report()` turns it into the JSON report."""

    config: Settings
    root: Path
    writes: int
    backoff_cap: float
    drain_timeout: float
    checks: list[Check] = field(default_factory=list)
    timings: dict[str, float | None] = field(default_factory=dict)
    counts: dict[str, Any] = field(default_factory=dict)
    hubs: list[SpawnedHub] = field(default_factory=list)
    settings: dict[str, Any] = field(default_factory=dict)

    def check(self, name: str, holds: bool, observed: str, required: str) -> None:
        self.checks.append(Check(name, holds, observed, required))

    def report(self) -> dict[str, Any]:
        failed = [c.name for c in self.checks if not c.holds]
        return {
            "title": "Dev round-trip: offline dev hub, then the upstream returns",
            "verdict": "fail" if failed else "pass",
            "failed": failed,
            "checks": [c.as_json() for c in self.checks],
            "timings": self.timings,
            "counts": self.counts,
            "settings": self.settings,
        }


def run_dev_roundtrip(
    config: Settings,
    *,
    writes: int = DEFAULT_WRITES,
    backoff_cap: float = DEFAULT_BACKOFF_CAP,
    keep: bool = False,
    dev_port: int | None = None,
    fleet_port: int | None = None,
    drain_timeout: float = DRAIN_TIMEOUT_SECONDS,
    fleet_database: str | None = None,
) -> dict[str, Any]:
    """Run the round trip for real and return its report; RoundtripUnusable (exit 2) when it could not run."""
    import httpx

    from devhub.cli.demo import FIXTURES

    if writes < 1:
        raise RoundtripUnusable(f"--writes must be at least 1, got {writes}")
    if backoff_cap <= 0:
        raise RoundtripUnusable(f"--backoff-cap must be positive seconds, got {backoff_cap}")
    if not (FIXTURES / "repos").is_dir():
        raise RoundtripUnusable(
            f"fixture repos not found at {FIXTURES / 'repos'}: --dev-roundtrip serves fixtures/repos "
            "from a devhub checkout (install it editable, or run it from the source tree)"
        )
    fleet_env = _fleet_database_env(fleet_database)
    root = Path(tempfile.mkdtemp(prefix="devhub-roundtrip-"))
    run = RoundtripRun(config, root, writes, backoff_cap, drain_timeout)
    try:
        _execute(run, FIXTURES, dev_port, fleet_port, fleet_env)
    except (OSError, httpx.HTTPError) as exc:  # a hub stopped answering mid-run, or a disk problem
        tails = "\n".join(f"-- {hub.name} hub log ends:\n{hub.log_tail()}" for hub in run.hubs)
        raise RoundtripUnusable(f"the round trip broke off: {type(exc).__name__}: {exc}\n{tails}") from exc
    finally:
        codes = {hub.name: hub.stop() for hub in run.hubs}
        if len(codes) == 2:
            run.check(
                "both hubs stop gracefully",
                all(code == 0 for code in codes.values()),
                ", ".join(f"{name} exit {code}" for name, code in codes.items()),
                "SIGTERM -> exit 0",
            )
        if keep:
            run.settings["workdir"] = str(root)
        else:
            shutil.rmtree(root, ignore_errors=True)
    return run.report()


def _fleet_database_env(url: str | None) -> dict[str, str]:
    """The fleet hub's environment for `--fleet-database` (in its environment, so the password stays off its
    command line); the database must be empty, since the checks count what the fleet journaled."""
    if url is None:
        return {}
    from devhub.service.fleet_db import check_database

    report = check_database(url)
    if not report["reachable"] or report["error"]:
        raise RoundtripUnusable(f"--fleet-database {report['url']}: {report['error']}")
    if report["head_seq"]:
        raise RoundtripUnusable(
            f"--fleet-database {report['url']} already holds {report['head_seq']} writes; the round trip counts "
            "what the fleet journals, so give it an empty database (CREATE DATABASE …)"
        )
    return {"DEVHUB_DATABASE_URL": url}


def _execute(
    run: RoundtripRun, fixtures: Path, dev_port: int | None, fleet_port: int | None, fleet_env: Mapping[str, str]
) -> None:
    import httpx

    from devhub.cli.demo import build_demo_workspace

    dev_port, fleet_port = _choose_ports(dev_port, fleet_port)
    fleet_url = f"http://127.0.0.1:{fleet_port}"
    dev_repos = build_demo_workspace(run.root / "dev-workspace", fixtures)
    fleet_repos = build_demo_workspace(run.root / "fleet-workspace", fixtures)
    run.settings.update(
        writes=run.writes,
        backoff_cap_seconds=run.backoff_cap,
        drain_timeout_seconds=run.drain_timeout,
        dev_url=f"http://127.0.0.1:{dev_port}",
        fleet_url=fleet_url,
        workdir=None,
        fleet_store="postgresql" if fleet_env else "journal",
    )

    # 1. A fresh dev hub, its upstream down.
    started = time.monotonic()
    dev = _spawn(
        run,
        "dev",
        dev_port,
        ["--role", "dev", "--upstream", fleet_url],
        dev_repos,
        {"DEVHUB_RELAY_BACKOFF_CAP": str(run.backoff_cap)},
    )
    with (
        httpx.Client(base_url=dev.url, timeout=10.0) as dev_http,
        httpx.Client(base_url=fleet_url, timeout=10.0) as fleet_http,
    ):
        _wait_healthy(dev, START_TIMEOUT_SECONDS)
        run.timings["offline_ready_seconds"] = round(time.monotonic() - started, 3)

        # 2. Writes made offline, buffered in the journal.
        plan = _plan_writes(dev_http, run.writes)
        began = time.monotonic()
        accepted = _make_writes(run, dev_http, plan)
        run.timings["writes_seconds"] = round(time.monotonic() - began, 3)
        _check_buffered(run, dev_http, accepted)

        # 3. The upstream returns: a fleet-role hub on the port the dev hub relays to.
        spawned = time.monotonic()
        fleet = _spawn(run, "fleet", fleet_port, ["--role", "fleet", "--no-relay"], fleet_repos, fleet_env)
        _wait_healthy(fleet, START_TIMEOUT_SECONDS)
        back = time.monotonic()
        run.timings["upstream_ready_seconds"] = round(back - spawned, 3)

        # 4. The relay drains on its own; then everything is compared on the fleet.
        _watch_delivery(run, dev_http, fleet_http, len(accepted), back)
        _verify_fleet(run, dev_http, fleet_http, accepted)


def _choose_ports(dev_port: int | None, fleet_port: int | None) -> tuple[int, int]:
    """Two distinct loopback ports; the fleet's must be free, since the run starts with the upstream down."""
    from devhub.daemon.ports import port_owner

    held: list[socket.socket] = []
    try:

        def free() -> int:
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.bind(("127.0.0.1", 0))
            held.append(sock)  # kept bound until both are chosen, so the two differ
            port: int = sock.getsockname()[1]
            return port

        chosen_dev = dev_port if dev_port is not None else free()
        chosen_fleet = fleet_port if fleet_port is not None else free()
    finally:
        for sock in held:
            sock.close()
    if chosen_dev == chosen_fleet:
        raise RoundtripUnusable(f"--dev-port and --fleet-port must differ (both {chosen_dev})")
    if fleet_port is not None:
        probe = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            probe.bind(("127.0.0.1", fleet_port))
        except OSError as exc:
            owner = port_owner(fleet_port)
            raise RoundtripUnusable(
                f"fleet port {fleet_port} is not free ({exc.strerror}{', held by ' + owner if owner else ''}): "
                "the round trip starts with the upstream down"
            ) from exc
        finally:
            probe.close()
    return chosen_dev, chosen_fleet


def _child_env(config: Settings, data_dir: Path, config_dir: Path, extra: Mapping[str, str]) -> dict[str, str]:
    # The user's DEVHUB_* settings (token, upstream, data dir, port) must not leak into the throwaway hubs.
    env = {k: v for k, v in config.env.items() if not k.startswith("DEVHUB_")}
    env.update({"DEVHUB_DATA_DIR": str(data_dir), "DEVHUB_CONFIG_DIR": str(config_dir), "PYTHONUNBUFFERED": "1"})
    env.update(extra)
    return env


def _spawn(
    run: RoundtripRun, name: str, port: int, args: list[str], repos: list[Path], extra_env: Mapping[str, str]
) -> SpawnedHub:
    home = run.root / name
    data_dir, config_dir = home / "data", home / "config"
    data_dir.mkdir(parents=True)
    env = _child_env(run.config, data_dir, config_dir, extra_env)
    up = ["up", "--port", str(port), *args, *map(str, repos)]
    process = spawn_daemon(up, data_dir=data_dir, log_path=home / "daemon.log", env=env, cwd=home)
    hub = SpawnedHub(name, process, f"http://127.0.0.1:{port}")
    run.hubs.append(hub)
    return hub


def _wait_healthy(hub: SpawnedHub, timeout: float) -> None:
    """Wait until the hub answers GET /state/health; RoundtripUnusable with the log tail if it dies or stalls."""
    try:
        hub.process.wait_until_answering(timeout, poll=POLL_SECONDS)
    except DaemonExited as exited:
        raise RoundtripUnusable(
            f"the {hub.name} hub exited with {exited.code} during start-up; its log ({hub.log_path}) ends:\n"
            + hub.log_tail()
        ) from None
    except DaemonSilent:
        raise RoundtripUnusable(
            f"the {hub.name} hub did not answer GET /state/health within {timeout:.0f}s; its log ends:\n"
            + hub.log_tail()
        ) from None


def _plan_writes(dev_http: httpx.Client, total: int) -> list[Write]:
    """Alternate progress events and task status changes walking a few open tasks between progress and todo."""
    tasks = [
        t
        for t in dev_http.get("/tasks", params={"limit": 100_000}).json()
        if t.get("state_hub_task_id") and t.get("status") in OPEN_STATUSES
    ]
    tasks.sort(key=lambda t: (t["repo"], t["id"]))
    if not tasks:
        raise RoundtripUnusable("no open fixture task has a state_hub_task_id, so no task write could be relayed")
    tasks = tasks[:MAX_TASKS]
    run_id = uuid.uuid4().hex[:8]
    plan: list[Write] = []
    visits: Counter[str] = Counter()
    for index in range(total):
        key = f"roundtrip-{run_id}-{index:05d}"
        task = tasks[(index // 2) % len(tasks)]
        if index % 2 == 0:
            plan.append(Write(key, "progress", task, summary=f"roundtrip {run_id} #{index:05d}"))
        else:
            status = TASK_WALK[visits[task["id"]] % len(TASK_WALK)]
            visits[task["id"]] += 1
            plan.append(Write(key, "task", task, status=status))
    return plan


def _make_writes(run: RoundtripRun, dev_http: httpx.Client, plan: list[Write]) -> list[Write]:
    accepted: list[Write] = []
    refused: list[str] = []
    for write in plan:
        headers = {"Idempotency-Key": write.key}
        if write.kind == "progress":
            body = {"summary": write.summary, "event_type": "note", "task_id": write.task["id"]}
            answer = dev_http.post("/progress/", json=body, headers=headers)
        else:
            answer = dev_http.patch(
                f"/tasks/{write.task['id']}",
                params={"repo": write.task["repo"]},
                json={"status": write.status},
                headers=headers,
            )
        if answer.is_success:
            accepted.append(write)
        else:
            refused.append(f"{write.key}: {answer.status_code} {answer.text[:200]}")
    run.counts.update(
        writes=len(plan),
        accepted=len(accepted),
        progress_events=sum(w.kind == "progress" for w in accepted),
        task_patches=sum(w.kind == "task" for w in accepted),
        tasks=len({w.task["id"] for w in plan}),
    )
    run.check(
        "offline hub accepts every write",
        not refused,
        f"{len(accepted)}/{len(plan)} accepted" + (f"; first refusal {refused[0]}" if refused else ""),
        "every write 2xx",
    )
    return accepted


def _check_buffered(run: RoundtripRun, dev_http: httpx.Client, accepted: list[Write]) -> None:
    """GET /relay must show the writes pending, none held, and the relay offline."""

    def buffered() -> dict[str, Any] | None:
        status: dict[str, Any] = dev_http.get("/relay").json()
        # The oldest-pending age is filled on the relay's next offline probe, at most one cap away.
        ready = status["pending"] == len(accepted) and status.get("oldest_pending_age_seconds") is not None
        return status if ready else None

    status = _poll(buffered, run.backoff_cap + 5.0) or dev_http.get("/relay").json()
    run.counts["pending_offline"] = status["pending"]
    run.counts["held_offline"] = status["held"]
    run.counts["oldest_pending_age_seconds"] = status.get("oldest_pending_age_seconds")
    holds = status["state"] == "offline" and status["pending"] == len(accepted) and status["held"] == 0
    run.check(
        "writes buffered while the upstream is down",
        holds,
        f"state {status['state']}, pending {status['pending']}, held {status['held']}",
        f"state offline, pending {len(accepted)}, held 0",
    )


def _watch_delivery(
    run: RoundtripRun, dev_http: httpx.Client, fleet_http: httpx.Client, expected: int, back: float
) -> None:
    """Time, from the upstream's return, the fleet's first and last journaled write and the dev relay's drain."""
    deadline = back + run.drain_timeout
    first = last = drained = None
    relay: dict[str, Any] = {}
    while time.monotonic() < deadline and (last is None or drained is None):
        now = time.monotonic()
        if last is None:
            journaled = fleet_http.get("/state/daemon").json()["journal"]["last_seq"]
            if journaled > 0 and first is None:
                first = now - back
            if journaled >= expected:
                last = now - back
        relay = dev_http.get("/relay").json()
        if drained is None and relay["pending"] == 0 and relay["held"] == 0:
            drained = now - back
        time.sleep(POLL_SECONDS)
    run.timings.update(
        first_delivery_seconds=_rounded(first), last_delivery_seconds=_rounded(last), drained_seconds=_rounded(drained)
    )
    bound = run.backoff_cap + RESUME_SLACK_SECONDS
    run.check(
        "relay resumes unprompted within the backoff cap",
        first is not None and first <= bound,
        "no delivery" if first is None else f"first delivery {first:.3f}s after the upstream answered",
        f"<= cap {run.backoff_cap:g}s + {RESUME_SLACK_SECONDS:g}s slack",
    )
    run.check(
        "relay drains",
        drained is not None,
        f"pending {relay.get('pending')}, held {relay.get('held')}"
        + (f" after {drained:.3f}s" if drained is not None else f" at the {run.drain_timeout:g}s deadline"),
        "pending 0, held 0",
    )


def _verify_fleet(run: RoundtripRun, dev_http: httpx.Client, fleet_http: httpx.Client, accepted: list[Write]) -> None:
    relay = dev_http.get("/relay").json()
    run.counts.update(delivered=relay["delivered"], dead_letters=relay["dead_letters"], retries=relay["retries"])
    run.settings["last_success"] = relay["last_success"]
    run.check(
        "no dead letters",
        relay["dead_letters"] == 0,
        f"{relay['dead_letters']} dead letters"
        + (f"; last error {relay['last_error']}" if relay["dead_letters"] else ""),
        "0",
    )
    journaled = fleet_http.get("/state/daemon").json()["journal"]["last_seq"]
    run.counts["fleet_journaled"] = journaled
    run.check(
        "fleet journaled each write once",
        journaled == len(accepted),
        f"{journaled} writes journaled",
        f"{len(accepted)}",
    )
    fleet_seq = _verify_progress(run, fleet_http, accepted)
    fleet_seq.update(_verify_tasks(run, fleet_http, accepted))
    _verify_order(run, accepted, fleet_seq)


def _verify_progress(run: RoundtripRun, fleet_http: httpx.Client, accepted: list[Write]) -> dict[str, int]:
    """Each progress event written is on the fleet exactly once; returns write key -> fleet journal seq."""
    written = {w.summary: w.key for w in accepted if w.kind == "progress"}
    prefix = next(iter(written)).rsplit("#", 1)[0] if written else "\0"
    events = [
        e for e in fleet_http.get("/progress/", params={"limit": 10_000}).json() if str(e["summary"]).startswith(prefix)
    ]
    seen = Counter(str(e["summary"]) for e in events)
    duplicates = sorted(s for s, n in seen.items() if n > 1)
    missing = sorted(set(written) - set(seen))
    extra = sorted(set(seen) - set(written))
    run.counts.update(progress_on_fleet=len(events), duplicates=len(duplicates), missing=len(missing))
    wrong = duplicates + missing + extra
    run.check(
        "progress events arrive exactly once",
        not wrong,
        f"{len(events)} on the fleet, {len(duplicates)} duplicated, {len(missing)} missing, {len(extra)} unknown"
        + (f"; e.g. {wrong[0]!r}" if wrong else ""),
        f"each of the {len(written)} written exactly once",
    )
    # The earliest copy counts for the order check when there are duplicates.
    return {written[e["summary"]]: e["seq"] for e in sorted(events, key=lambda e: -e["seq"]) if e["summary"] in written}


def _verify_tasks(run: RoundtripRun, fleet_http: httpx.Client, accepted: list[Write]) -> dict[str, int]:
    """Each task's status history on the fleet is the statuses written, in order; returns write key -> seq."""
    per_task: dict[str, list[Write]] = {}
    for write in accepted:
        if write.kind == "task":
            per_task.setdefault(write.task["id"], []).append(write)
    fleet_seq: dict[str, int] = {}
    mismatches = []
    for task_id, writes in sorted(per_task.items()):
        answer = fleet_http.get(f"/tasks/{task_id}", params={"repo": writes[0].task["repo"]})
        if not answer.is_success:
            mismatches.append(f"{task_id}: HTTP {answer.status_code}")
            continue
        task = answer.json()
        history = [h for h in task["history"] if h["field"] == "status"]
        statuses = [h["value"] for h in history]
        if task["status"] != writes[-1].status or statuses != [w.status for w in writes]:
            mismatches.append(f"{task_id} is {task['status']} after {statuses}, written {[w.status for w in writes]}")
        fleet_seq.update({w.key: h["seq"] for w, h in zip(writes, history, strict=False)})
    run.check(
        "task statuses on the fleet",
        not mismatches,
        f"{len(per_task) - len(mismatches)}/{len(per_task)} tasks match" + (f"; {mismatches[0]}" if mismatches else ""),
        "each task's status history = the statuses written, ending with the last",
    )
    return fleet_seq


def _verify_order(run: RoundtripRun, accepted: list[Write], fleet_seq: dict[str, int]) -> None:
    """The fleet stamps its own times at arrival, so order means: fleet journal seqs rise in write order —
    per task (its status changes and the progress events naming it together). The relay sends writes to
    different tasks side by side (issue 18, docs/relay.md "Concurrency"), so across tasks it promises no order."""
    absent = sum(fleet_seq.get(w.key) is None for w in accepted)
    per_task: dict[tuple[str, str], list[Write]] = {}
    for write in accepted:
        per_task.setdefault((str(write.task.get("repo")), str(write.task["id"])), []).append(write)
    late: tuple[Write, Write] | None = None
    for writes in per_task.values():
        seqs = [fleet_seq.get(w.key) or 0 for w in writes]
        index = next((i for i in range(1, len(seqs)) if seqs[i] <= seqs[i - 1]), None)
        if index is not None:
            late = (writes[index - 1], writes[index])
            break
    in_order = late is None and absent == 0
    if in_order:
        observed = f"fleet seqs rise in write order for each of {len(per_task)} tasks"
    elif absent:
        observed = f"{absent} writes not found on the fleet"
    else:
        assert late is not None
        earlier, later = late
        observed = (
            f"task {later.task['id']}: write {later.key} got fleet seq {fleet_seq.get(later.key)}, "
            f"after its earlier write {earlier.key} with seq {fleet_seq.get(earlier.key)}"
        )
    run.check(
        "each task's writes applied in write order",
        in_order,
        observed,
        "fleet journal seq order = write order per task, its progress events and status changes alike",
    )


def _poll(condition: Callable[[], T | None], timeout: float) -> T | None:
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value is not None or time.monotonic() >= deadline:
            return value
        time.sleep(POLL_SECONDS)


def _rounded(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds, 3)
