"""The daemon's log: written off the event loop, one line per refused request, one traceback per 500, bounded.

A bug has to be injected to get a 500 out of a healthy daemon: a `sitecustomize` module (on the daemon's
PYTHONPATH only) makes `GET /messages?to_agent=boom` raise deep inside the query, as a real bug would.
"""

from __future__ import annotations

import statistics
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support.daemon import RunningDaemon, devhub_env, run_cli, start_daemon
from tests.support.waiting import wait_for

FAULT = """
import devhub.store.activity as activity

_real_list_messages = activity.list_messages


async def _list_messages(reader, *, to_agent=None, **filters):
    if to_agent == "boom":
        raise RuntimeError("injected fault for the logging test")
    return await _real_list_messages(reader, to_agent=to_agent, **filters)


activity.list_messages = _list_messages
"""
FAILING = 60  # requests answering 500 in the burst
REFUSED = 20  # requests answering 400 in the burst
LOG_NAMES = {"daemon.log", "daemon.log.1", "daemon.log.2", "daemon.log.3"}


def _inject_fault(tmp_path: Path) -> dict[str, str]:
    folder = tmp_path / "inject"
    folder.mkdir()
    (folder / "sitecustomize.py").write_text(FAULT)
    return {"PYTHONPATH": str(folder)}


@pytest.fixture
def faulty(tmp_path: Path, workspace: list[Path]) -> Iterator[RunningDaemon]:
    running = start_daemon(tmp_path / "hub", workspace, env=_inject_fault(tmp_path))
    try:
        yield running
    finally:
        running.stop()


def _daemon_log(daemon: RunningDaemon) -> str:
    return "".join(
        (daemon.data_dir / name).read_text(errors="replace")
        for name in sorted(LOG_NAMES, reverse=True)
        if (daemon.data_dir / name).exists()
    )


def _health_seconds(client: httpx.Client) -> float:
    started = time.monotonic()
    assert client.get("/state/health").status_code == 200
    return time.monotonic() - started


def test_a_burst_of_failing_requests_leaves_health_fast_and_logs_each_once(faulty: RunningDaemon) -> None:
    with faulty.client() as client:
        assert client.get("/messages", params={"to_agent": "boom"}).status_code == 500  # the fault is in place
        baseline = statistics.median(_health_seconds(client) for _ in range(20))

    during: list[float] = []
    done = threading.Event()

    def probe() -> None:
        with faulty.client() as client:
            while not done.is_set():
                during.append(_health_seconds(client))

    def burst(path: str, params: dict[str, str], answers: list[int]) -> None:
        with faulty.client() as client:
            answers.append(client.get(path, params=params).status_code)

    answers: list[int] = []
    prober = threading.Thread(target=probe)
    prober.start()
    workers = [
        threading.Thread(target=burst, args=("/messages", {"to_agent": "boom"}, answers)) for _ in range(FAILING)
    ]
    workers += [threading.Thread(target=burst, args=("/tasks", {"status": "bogus"}, answers)) for _ in range(REFUSED)]
    try:
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join(timeout=60)
    finally:
        done.set()
        prober.join(timeout=60)

    assert during, "the probe answered at least once during the burst"
    # Generous on purpose (2 shared cores): rendering tracebacks on the event loop took seconds here.
    assert max(during) < max(1.5, 25 * baseline), (baseline, sorted(during)[-5:])
    assert sorted(answers) == [400] * REFUSED + [500] * FAILING

    # Every 500 logs its traceback once; every refusal is one line; no terminal decoration in the file.
    wait_for(
        lambda: _daemon_log(faulty).count("Traceback (most recent call last)") >= FAILING + 1,
        timeout=20,
        what="the 500s to reach daemon.log",
    )
    wait_for(lambda: _daemon_log(faulty).count("refused GET /tasks") >= REFUSED, timeout=20, what="the refusals")
    text = _daemon_log(faulty)
    assert text.count("Traceback (most recent call last)") == FAILING + 1
    assert text.count("RuntimeError: injected fault for the logging test") == FAILING + 1
    refusals = [line for line in text.splitlines() if "refused GET /tasks" in line]
    assert len(refusals) == REFUSED
    assert all("400" in line and "status" in line for line in refusals), refusals[:3]
    assert "╭" not in text and "│" not in text  # plain lines, not a terminal renderer's boxes


def test_the_log_rotates_within_its_bound(tmp_path: Path, workspace: list[Path]) -> None:
    bound = 4096
    hub = start_daemon(tmp_path / "hub", workspace, env={**_inject_fault(tmp_path), "DEVHUB_LOG_MAX_BYTES": str(bound)})
    try:
        with hub.client() as client:
            for n in range(300):
                assert client.get("/tasks", params={"priority": f"p{n}"}).status_code == 400
            assert client.get("/messages", params={"to_agent": "boom"}).status_code == 500
            assert client.get("/tasks", params={"priority": "last-one"}).status_code == 400
        wait_for(
            lambda: "last-one" in (hub.data_dir / "daemon.log").read_text(errors="replace"),
            timeout=20,
            what="the last refusal in the current daemon.log",
        )
        names = {p.name for p in hub.data_dir.iterdir() if p.name.startswith("daemon.log")}
        assert names == LOG_NAMES  # rotated through every backup, and never more files than that
        sizes = {name: (hub.data_dir / name).stat().st_size for name in names}
        assert all(size <= bound for size in sizes.values()), sizes
        assert "p0'" not in _daemon_log(hub)  # the oldest lines were dropped with the oldest file
    finally:
        hub.stop()


@pytest.mark.parametrize(
    ("name", "value"),
    [("DEVHUB_LOG_MAX_BYTES", "0"), ("DEVHUB_LOG_MAX_BYTES", "5MB"), ("DEVHUB_SEARCH_BUDGET_MS", "0")],
)
def test_a_bad_bound_is_refused_at_start(tmp_path: Path, workspace: list[Path], name: str, value: str) -> None:
    env = devhub_env(tmp_path / "d", tmp_path / "c", {name: value})
    done = run_cli("up", "--port", "0", "--no-relay", *map(str, workspace), env=env, timeout=30)
    assert done.returncode == 2 and name in done.stderr and repr(value) in done.stderr


def test_a_detached_daemon_writes_each_line_once(tmp_path: Path, workspace: list[Path]) -> None:
    env = devhub_env(tmp_path / "d", tmp_path / "c")
    started = run_cli("up", "--port", "0", "--no-relay", "--detach", *map(str, workspace), env=env)
    assert started.returncode == 0, started.stderr
    url = started.stdout.split(", ")[1].split(" ")[0]
    try:
        assert httpx.get(url + "/tasks", params={"status": "detached-bogus"}).status_code == 400
        log_path = tmp_path / "d" / "daemon.log"
        wait_for(lambda: "detached-bogus" in log_path.read_text(), timeout=20, what="the refusal in daemon.log")
        assert log_path.read_text().count("detached-bogus") == 1  # stderr and the log file are one file here
    finally:
        assert run_cli("down", env=env).returncode == 0
