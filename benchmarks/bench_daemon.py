"""The running daemon, measured over HTTP, each figure next to a floor from the same run.

- a saved file visible in GET /tasks/{id}: p95 at 2,000 and 16,000 files vs the raw watchfiles event latency
- GET /tasks/?status=progress and GET /orient: p95 vs a trivial route on the same server
- daemon RSS with 24k tasks vs a bare interpreter that imported the same packages
- `devhub status` and `devhub --help` wall time vs `python -c pass`
- durable writes (POST /progress/): 1 client vs a bare write+fsync loop; 32 clients vs 1 client and vs a
  SQLite outbox with synchronous=FULL (the fleet State Hub edge relay's design)
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import httpx

from benchmarks.bench_journal import bare_fsync_rate, sqlite_outbox_rate
from benchmarks.common import figure, percentile
from benchmarks.corpus import SCALES, ensure_corpus

ROOT = Path(__file__).resolve().parents[1]
CLIENTS = 32
_STATUS_LINE = re.compile(r"^(status:\s*)(\w+)\s*$", re.MULTILINE)


def _env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DEVHUB_")}
    env.update({"DEVHUB_DATA_DIR": str(home / "data"), "DEVHUB_CONFIG_DIR": str(home / "config"),
                "DEVHUB_JOURNAL_MAX_BYTES": str(2**31)})
    return env


class Daemon:
    """A real `devhub up` on a free port over a copy of a corpus."""

    def __init__(self, home: Path, repos: list[Path]) -> None:
        self.home = home
        self.env = _env(home)
        home.mkdir(parents=True, exist_ok=True)
        log = open(home / "daemon.log", "ab")  # noqa: SIM115 - the child owns it
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "devhub", "up", "--port", "0", "--no-relay", *map(str, repos)],
            env=self.env, stdout=log, stderr=log, cwd=ROOT,
        )
        deadline = time.monotonic() + 600
        info = home / "data" / "daemon.json"
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError((home / "daemon.log").read_text()[-2000:])
            if info.exists():
                data = json.loads(info.read_text())
                if data.get("pid") == self.proc.pid:
                    try:
                        if httpx.get(data["url"] + "/state/health", timeout=2).status_code == 200:
                            self.url = data["url"]
                            return
                    except httpx.HTTPError:
                        pass
            time.sleep(0.05)
        raise RuntimeError("daemon did not start")

    def rss_mb(self) -> float:
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
        return float("nan")

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=60)


def _copy_corpus(scale_name: str, dest: Path) -> tuple[list[Path], list[Path]]:
    corpus = ensure_corpus(SCALES[scale_name])
    shutil.copytree(corpus.root, dest)
    repos = [dest / r.slug for r in corpus.repos()]
    files = [dest / p.relative_to(corpus.root) for p in corpus.files()]
    return repos, files


def _flip(path: Path) -> tuple[str, str]:
    """Flip the first task's status between todo and wait; returns (task id, new status)."""
    text = path.read_text()
    task_id = re.search(r"^id:\s*(\S+-T\d+)\s*$", text, re.MULTILINE)
    match = _STATUS_LINE.search(text, task_id.end() if task_id else 0)
    assert task_id and match
    new = "wait" if match.group(2) != "wait" else "todo"
    path.write_text(text[: match.start(2)] + new + text[match.end(2) :])
    return task_id.group(1).strip('"'), new


def save_to_visible(daemon: Daemon, files: list[Path], samples: int) -> list[float]:
    """Seconds from a file write to GET /tasks/{id} showing the new status."""
    latencies = []
    with httpx.Client(base_url=daemon.url, timeout=10) as client:
        for index in range(samples):
            path = files[(index * 7919) % len(files)]
            began = time.perf_counter()
            task_id, status = _flip(path)
            while client.get(f"/tasks/{task_id}").json().get("status") != status:
                if time.perf_counter() - began > 10:
                    raise RuntimeError(f"{task_id} never showed {status}")
            latencies.append(time.perf_counter() - began)
            time.sleep(0.05)  # let the watcher settle so samples don't batch together
    return latencies


def raw_watch_latency(folder: Path, samples: int) -> list[float]:
    """Seconds from a write to watchfiles reporting it (same step/debounce as the daemon): the floor."""
    import watchfiles

    stop = threading.Event()
    seen = threading.Event()

    def watch() -> None:
        for _changes in watchfiles.watch(folder, debounce=200, step=5, stop_event=stop, rust_timeout=100,
                                         yield_on_timeout=False):
            seen.set()

    thread = threading.Thread(target=watch, daemon=True)
    thread.start()
    time.sleep(0.5)  # the watcher's first snapshot
    probe = folder / "zz-watch-probe.md"
    latencies = []
    for index in range(samples):
        seen.clear()
        began = time.perf_counter()
        probe.write_text(f"probe {index}\n")
        if not seen.wait(10):
            raise RuntimeError("watchfiles reported nothing")
        latencies.append(time.perf_counter() - began)
        time.sleep(0.05)
    stop.set()
    probe.unlink()
    thread.join(5)
    return latencies


def route_p95(daemon: Daemon, path: str, samples: int) -> float:
    timings = []
    with httpx.Client(base_url=daemon.url, timeout=30) as client:
        client.get(path)
        for _ in range(samples):
            began = time.perf_counter()
            assert client.get(path).status_code == 200
            timings.append(time.perf_counter() - began)
    return percentile(timings, 95)


def post_rate(daemon: Daemon, clients: int, per_client: int) -> float:
    """Durable POST /progress/ answers per second with `clients` concurrent keep-alive clients."""
    errors: list[str] = []

    def worker(number: int) -> None:
        with httpx.Client(base_url=daemon.url, timeout=60) as client:
            for index in range(per_client):
                body = {"summary": f"benchmark progress event {number}-{index}: parsed the workplan and updated"
                                   " three tasks", "event_type": "note", "author": "bench-agent"}
                response = client.post("/progress/", json=body)
                if response.status_code != 201:
                    errors.append(response.text)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(clients)]
    began = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - began
    if errors:
        raise RuntimeError(errors[0])
    return clients * per_client / elapsed


def _wall(args: list[str], env: dict[str, str], runs: int) -> float:
    timings = []
    for _ in range(runs):
        began = time.perf_counter()
        subprocess.run(args, env=env, capture_output=True, check=False, cwd=ROOT)
        timings.append(time.perf_counter() - began)
    return sorted(timings)[len(timings) // 2]


def _import_floor_rss_mb() -> float:
    code = ("import litestar, uvicorn, aiosqlite, sqlite_utils, watchfiles, yaml, jinja2, httpx;"
            "print([l for l in open('/proc/self/status') if l.startswith('VmRSS')][0].split()[1])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    return int(out.strip()) / 1024


def run(workdir: Path, quick: bool) -> dict[str, Any]:
    scale = "quick" if quick else "1x"
    samples = 15 if quick else 60
    repos, files = _copy_corpus(scale, workdir / "corpus")
    daemon = Daemon(workdir / "hub", repos)
    figures: list[dict[str, Any]] = []
    try:
        floor = percentile(raw_watch_latency(workdir / "corpus" / repos[0].name / "workplans", samples), 95)
        visible = percentile(save_to_visible(daemon, files, samples), 95)
        figures.append(figure(f"saved file visible via GET /tasks/{{id}}, p95, {len(files)} files", visible * 1000,
                              "ms", floor * 1000, "raw watchfiles event latency p95", "p95 <= 100 ms",
                              visible <= 0.1))
        trivial = route_p95(daemon, "/state/health", 200)
        for path in ("/tasks/?status=progress", "/orient"):
            p95 = route_p95(daemon, path, 200)
            figures.append(figure(f"GET {path} p95", p95 * 1000, "ms", trivial * 1000, "GET /state/health p95",
                                  "p95 <= 20 ms", p95 <= 0.02))
        rss = daemon.rss_mb()
        figures.append(figure(f"daemon RSS with {len(files) * 12} tasks", rss, "MB", _import_floor_rss_mb(),
                              "interpreter with the same packages imported", "<= 150 MB", rss <= 150))
        python = _wall([sys.executable, "-c", "pass"], daemon.env, 5)
        for args, name in ((["status"], "devhub status"), (["--help"], "devhub --help")):
            wall = _wall([sys.executable, "-m", "devhub", *args], daemon.env, 5)
            figures.append(figure(f"{name} wall time", wall, "s", python, "python -c pass", "<= 0.3 s", wall <= 0.3))
        per_client = 40 if quick else 300
        single = post_rate(daemon, 1, per_client)
        lines = [json.dumps({"summary": "x" * 400, "n": n}).encode() + b"\n" for n in range(per_client)]
        bare = bare_fsync_rate(workdir / "bare", lines)
        figures.append(figure("POST /progress/ durable writes, 1 client", single, "writes/s", bare,
                              "bare write+fsync loop", ">= 0.7x floor", single >= 0.7 * bare, better="higher"))
        many = post_rate(daemon, CLIENTS, max(4, per_client // 8))
        figures.append(figure(f"POST /progress/ durable writes, {CLIENTS} clients", many, "writes/s", single,
                              "the 1-client rate", ">= 5x floor", many >= 5 * single, better="higher"))
        outbox = sqlite_outbox_rate(workdir / "outbox", CLIENTS, max(4, per_client // 8))
        figures.append(figure(f"POST /progress/, {CLIENTS} clients vs SQLite outbox", many, "writes/s", outbox,
                              "SQLite outbox, synchronous=FULL, 32 threads", ">= 2x floor", many >= 2 * outbox,
                              better="higher"))
    finally:
        daemon.stop()
    if not quick:
        big_repos, big_files = _copy_corpus("8x", workdir / "corpus8")
        big = Daemon(workdir / "hub8", big_repos)
        try:
            visible = percentile(save_to_visible(big, big_files, samples), 95)
            figures.append(figure(f"saved file visible via GET /tasks/{{id}}, p95, {len(big_files)} files",
                                  visible * 1000, "ms", floor * 1000, "raw watchfiles event latency p95",
                                  "p95 <= 100 ms, same as at 2,000 files", visible <= 0.1))
            rss = big.rss_mb()
            figures.append(figure(f"daemon RSS with {len(big_files) * 12} tasks", rss, "MB", _import_floor_rss_mb(),
                                  "interpreter with the same packages imported", "informational (8x corpus)", True))
        finally:
            big.stop()
    return {"figures": figures}
