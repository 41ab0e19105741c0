"""The fleet snapshot's refresh (issue 16), each figure next to the floor of fetching the same JSON with httpx alone.

The strict State Hub stand-in (tests/support/strict_statehub.py, uvicorn on loopback, in a process of
its own) is seeded with
10,000 messages to one agent, 1,000 pending decisions and 500 topics (quick: 500 / 50 / 25). The
snapshot (devhub/service/fleet_snapshot.py) refreshes from it into its own SQLite file:

- full: every message query up to the bound, every collection, all stored. Target <= 2 s.
  Floor: the same GETs (same queries, concurrently, one httpx client), bodies parsed as JSON.
- incremental, nothing new: one page per message query and the pending decisions (the fleet's list
  routes take no `since`; topics, domains, repos and workstreams wait for the next full refresh),
  nothing rewritten. Target <= 50 ms. Floor: the same GETs with httpx alone.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx

from benchmarks.common import figure, log, median
from devhub.service.fleet_snapshot import PAGE, FleetSnapshot, collections_for

AGENT = "bench-agent"


def _seed(hub: Any, messages: int, decisions: int, topics: int) -> None:
    for n in range(topics):
        hub.seed_topic(f"topic-{n}", f"Topic {n}")
    for n in range(decisions):
        hub.seed_decision(f"Decision {n}")
    for n in range(messages):
        sender, receiver = ("orchestrator", AGENT) if n % 2 else (AGENT, "orchestrator")
        hub.seed_message(sender, receiver, f"subject {n}", f"body of message {n} " * 4)


def _requests(snapshot: FleetSnapshot, limit: int, full: bool) -> list[tuple[str, dict[str, Any]]]:
    """The GETs one refresh makes: its collections, then every message query with `limit`."""
    calls = [(path, dict(query)) for _, path, query in collections_for(full)]
    calls += [("/messages/", q | {"limit": str(limit)}) for q in snapshot._message_queries()]
    return calls


async def _fetch_alone(client: httpx.AsyncClient, calls: list[tuple[str, dict[str, Any]]]) -> float:
    """The floor: the same GETs, concurrently, with one httpx client; every body parsed as JSON."""
    started = time.perf_counter()
    answers = await asyncio.gather(*(client.get(path, params=query) for path, query in calls))
    for answer in answers:
        if answer.status_code != 404:
            answer.json()
    return time.perf_counter() - started


async def _refresh(snapshot: FleetSnapshot, full: bool) -> float:
    started = time.perf_counter()
    await snapshot.refresh(full=full)
    return time.perf_counter() - started


def _snapshot(data_dir: Path, url: str, messages: int) -> FleetSnapshot:
    return FleetSnapshot(
        data_dir=data_dir,
        upstream=url,
        token=lambda: None,
        agents=lambda: [AGENT],
        written_here=lambda kind: [],
        relay_state=lambda: "idle",
        interval=60,
        stale_after=180,
        max_messages=messages,
    )


async def _measure(workdir: Path, url: str, messages: int, repeats: int, quiet_repeats: int) -> dict[str, Any]:
    """Full refreshes into fresh files, then incremental ones with nothing new; the floor before each."""
    times: dict[str, list[float]] = {"full": [], "full_floor": [], "quiet": [], "quiet_floor": []}
    async with httpx.AsyncClient(base_url=url, timeout=60) as alone:
        snapshot = None
        for attempt in range(repeats):
            if snapshot is not None:
                await snapshot.aclose()
            snapshot = _snapshot(workdir / f"full-{attempt}", url, messages)
            snapshot.http_client()  # made once per daemon (TLS trust store: ~0.2 s), outside the timing as the floor's
            times["full_floor"].append(await _fetch_alone(alone, _requests(snapshot, messages, full=True)))
            times["full"].append(await _refresh(snapshot, full=True))
        assert snapshot is not None
        counts = snapshot.store.counts()
        for _ in range(quiet_repeats):
            times["quiet_floor"].append(await _fetch_alone(alone, _requests(snapshot, PAGE, full=False)))
            times["quiet"].append(await _refresh(snapshot, full=False))
        await snapshot.aclose()
    return {name: median(values) for name, values in times.items()} | {"counts": counts}


SERVE = """
import sys, time
from benchmarks.bench_snapshot import _seed
from tests.support.strict_statehub import strict_statehub
messages, decisions, topics = map(int, sys.argv[1:4])
with strict_statehub() as hub:
    _seed(hub, messages, decisions, topics)
    print(hub.url, flush=True)
    sys.stdin.read()  # until the benchmark closes our stdin
"""


def run(workdir: Path, quick: bool) -> dict[str, Any]:
    messages, decisions, topics = (500, 50, 25) if quick else (10_000, 1_000, 500)
    repeats, quiet_repeats = (2, 5) if quick else (3, 20)
    log(f"snapshot: seeding {messages} messages, {decisions} decisions, {topics} topics")
    # The stand-in runs in its own process, as a real upstream would: it does not share this one's GIL.
    root = Path(__file__).resolve().parents[1]
    upstream = subprocess.Popen(
        [sys.executable, "-c", SERVE, str(messages), str(decisions), str(topics)],
        cwd=root,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert upstream.stdout is not None and upstream.stdin is not None
        url = upstream.stdout.readline().strip()
        if not url.startswith("http://"):
            raise RuntimeError(f"the stand-in did not start (exit {upstream.poll()})")
        measured = asyncio.run(_measure(workdir, url, messages, repeats, quiet_repeats))
    finally:
        if upstream.stdin is not None:
            upstream.stdin.close()
        try:
            upstream.wait(timeout=20)
        except subprocess.TimeoutExpired:
            upstream.kill()
    counts = measured["counts"]
    if counts["messages"] != messages or counts["decisions"] != decisions or counts["topics"] != topics:
        raise RuntimeError(f"the full refresh stored {counts}, not what was seeded")
    full, full_floor = measured["full"], measured["full_floor"]
    quiet, quiet_floor = measured["quiet"], measured["quiet_floor"]
    log(f"snapshot: full {full:.3f}s (floor {full_floor:.3f}s), incremental {quiet * 1000:.1f} ms")
    return {
        "figures": [
            figure(
                "snapshot_full_refresh",
                full,
                "s",
                full_floor,
                "the same GETs with httpx alone, bodies parsed",
                "<= 2 s for 10,000 messages + 1,000 decisions + 500 topics",
                full <= 2.0,
                repeats=repeats,
            ),
            figure(
                "snapshot_incremental_refresh_nothing_new",
                quiet * 1000,
                "ms",
                quiet_floor * 1000,
                "the same GETs (first message pages + whole collections) with httpx alone",
                "<= 50 ms",
                quiet <= 0.050,
                repeats=quiet_repeats,
            ),
        ],
        "corpus": {"messages": messages, "decisions": decisions, "topics": topics, "agents": [AGENT]},
    }
