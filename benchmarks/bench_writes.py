"""Durable HTTP writes against the same-stack floor, both measured in the same run (issue 18, item 2).

- devhub `POST /progress/` (validated, journaled with fsync, applied to the read model, answered)
  vs the floor: a minimal Litestar + uvicorn app in its own process (benchmarks/write_floor_app.py)
  that appends one JSON line and fsyncs per request — at 1 client and at 32 clients
- devhub at 32 clients vs devhub at 1 client (what group commit buys)

Both servers get the same client code: keep-alive `http.client` connections, one per thread, the
same body. The rounds alternate floor and devhub (1 client, then 32) and each figure is the median
of the rounds, so a burst of load on the shared machine hits both sides alike.
"""

from __future__ import annotations

import http.client
import json
import os
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from benchmarks.bench_daemon import Daemon, _copy_corpus
from benchmarks.common import figure

ROOT = Path(__file__).resolve().parents[1]
CLIENTS = 32
ROUNDS = 3


class FloorServer:
    """benchmarks/write_floor_app.py as its own process on a free loopback port."""

    def __init__(self, workdir: Path) -> None:
        workdir.mkdir(parents=True, exist_ok=True)
        self.file = workdir / "floor.jsonl"
        args = [sys.executable, "-m", "benchmarks.write_floor_app", "--port", "0", "--file", str(self.file)]
        self.proc = subprocess.Popen(args, cwd=ROOT, stdout=subprocess.PIPE, text=True)
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()  # blocks until it answers (or exits: then "")
        if not line.startswith("listening "):
            self.proc.kill()
            raise RuntimeError(f"the floor app did not start (exit {self.proc.wait()})")
        self.url = line.split()[1]

    def lines(self) -> int:
        return self.file.read_bytes().count(b"\n")

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def wait_until_idle(pid: int, *, busy_below: float = 0.05, window: float = 1.0, deadline: float = 120.0) -> float:
    """Wait until the process uses under `busy_below` of a core over a window (its start-up work is done).

    A freshly started daemon over the 1x corpus keeps a core busy for a while after it answers
    (watching 2,000 files, the first looks at every repo); writes measured meanwhile would measure
    that. Returns the seconds waited; gives up (and measures anyway) after `deadline`.
    """
    began = time.perf_counter()
    while time.perf_counter() - began < deadline:
        before = _cpu_seconds(pid)
        time.sleep(window)  # a sampling window, not a synchronisation
        if _cpu_seconds(pid) - before < busy_below * window:
            break
    return time.perf_counter() - began


def _body(client: int, index: int) -> bytes:
    return json.dumps({
        "summary": f"benchmark progress event {client}-{index}: parsed the workplan and updated three tasks",
        "event_type": "note",
        "author": "bench-agent",
    }).encode()


def write_rate(url: str, clients: int, per_client: int) -> float:
    """POST /progress/ answers per second from `clients` threads, each on its own keep-alive connection."""
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    errors: list[str] = []
    ready = threading.Barrier(clients + 1)

    def worker(number: int) -> None:
        conn = http.client.HTTPConnection(host, port, timeout=60)
        try:
            conn.connect()
            ready.wait()
            for index in range(per_client):
                conn.request("POST", "/progress/", body=_body(number, index),
                             headers={"Content-Type": "application/json"})
                response = conn.getresponse()
                text = response.read()
                if response.status != 201:
                    errors.append(f"{response.status}: {text[:300]!r}")
                    return
        finally:
            conn.close()

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(clients)]
    for thread in threads:
        thread.start()
    ready.wait()  # every connection is open: time only the writes
    began = time.perf_counter()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - began
    if errors:
        raise RuntimeError(f"a write failed: {errors[0]}")
    return clients * per_client / elapsed


Server = tuple[str, int]  # (url, pid)


def measure(
    devhub: Server, floor: Server, *, single: int, each: int, rounds: int
) -> tuple[dict[str, list[float]], dict[str, list[float]]]:
    """Alternating rounds: floor then devhub, at 1 client then at CLIENTS.

    Returns every rate of every round, and the server process's CPU time per write (µs) in each, net
    of its idle CPU: on a loaded machine the rates swing with the neighbours, the CPU a write costs less.
    """
    rates: dict[str, list[float]] = {"floor1": [], "devhub1": [], "floorN": [], "devhubN": []}
    cpu: dict[str, list[float]] = {name: [] for name in rates}
    write_rate(floor[0], 4, 20)  # warm both up: imports, first-use caches, the journal's first segment
    write_rate(devhub[0], 4, 20)
    # What each server burns doing nothing (devhub's watcher, follower, samplers); taken off each
    # round's CPU, or a slow round would charge a second of idle work to a few hundred writes.
    idle = {pid: _idle_cpu_per_second(pid) for _, pid in (devhub, floor)}
    plan = (("floor1", floor, 1, single), ("devhub1", devhub, 1, single),
            ("floorN", floor, CLIENTS, each), ("devhubN", devhub, CLIENTS, each))
    for _ in range(rounds):
        for name, (url, pid), clients, per_client in plan:
            before, began = _cpu_seconds(pid), time.perf_counter()
            rates[name].append(write_rate(url, clients, per_client))
            used = _cpu_seconds(pid) - before - idle[pid] * (time.perf_counter() - began)
            cpu[name].append(max(0.0, used) / (clients * per_client) * 1e6)
    return rates, cpu


def _idle_cpu_per_second(pid: int, seconds: float = 2.0) -> float:
    before = _cpu_seconds(pid)
    time.sleep(seconds)  # a sampling window, not a synchronisation
    return (_cpu_seconds(pid) - before) / seconds


def figures_of(rates: dict[str, list[float]], cpu: dict[str, list[float]]) -> list[dict[str, Any]]:
    median = {name: statistics.median(values) for name, values in rates.items()}
    floor_name = "minimal Litestar + uvicorn POST that appends one line and fsyncs, {} (same run)"
    found = [
        figure("POST /progress/ durable writes, 1 client, vs the same-stack floor", median["devhub1"], "writes/s",
               median["floor1"], floor_name.format("1 client"), ">= 0.8x floor",
               median["devhub1"] >= 0.8 * median["floor1"], better="higher"),
        figure(f"POST /progress/ durable writes, {CLIENTS} clients, vs the same-stack floor", median["devhubN"],
               "writes/s", median["floorN"], floor_name.format(f"{CLIENTS} clients"), ">= 0.8x floor",
               median["devhubN"] >= 0.8 * median["floorN"], better="higher"),
        figure(f"POST /progress/ durable writes, {CLIENTS} clients vs 1 client (group commit)", median["devhubN"],
               "writes/s", median["devhub1"], "devhub's own 1-client rate (same run)", ">= 1.5x floor",
               median["devhubN"] >= 1.5 * median["devhub1"], better="higher"),
        figure(f"floor app, {CLIENTS} clients vs 1 client (informational)", median["floorN"], "writes/s",
               median["floor1"], "the floor's own 1-client rate (same run)", "informational", True, better="higher"),
    ]
    cpu_median = {name: round(statistics.median(values)) for name, values in cpu.items()}
    for entry in found:
        entry["rounds"] = {name: [round(v, 1) for v in values] for name, values in rates.items()}
        entry["server_cpu_us_per_write"] = cpu_median
    return found


def run(workdir: Path, quick: bool) -> dict[str, Any]:
    repos, _files = _copy_corpus("quick" if quick else "1x", workdir / "corpus")
    daemon = Daemon(workdir / "hub", repos)
    try:
        floor = FloorServer(workdir / "floor")
        try:
            single, each = (150, 10) if quick else (1000, 40)
            settled = wait_until_idle(daemon.proc.pid)
            rates, cpu = measure((daemon.url, daemon.proc.pid), (floor.url, floor.proc.pid), single=single,
                                 each=each, rounds=1 if quick else ROUNDS)
            written = floor.lines()
        finally:
            floor.stop()
    finally:
        daemon.stop()
    expected = 80 + (1 if quick else ROUNDS) * (single + CLIENTS * each)
    if written != expected:
        raise RuntimeError(f"the floor app holds {written} lines, {expected} were acknowledged")
    print(json.dumps({k: [round(v) for v in vs] for k, vs in rates.items()}), file=sys.stderr)
    print(json.dumps({f"cpu_us_{k}": [round(v) for v in vs] for k, vs in cpu.items()}), file=sys.stderr)
    return {"figures": figures_of(rates, cpu), "daemon_settled_seconds": round(settled, 1)}
