"""Search bounds: long queries are refused on every surface, and costly ones stop at their time budget
without holding other reads or writes.

An FTS5 query's cost grows with the square of its prefix terms: before the bounds, four 3,000-word
GETs (which any web page can send) held every read connection, and `GET /tasks/`, for most of a minute.
"""

from __future__ import annotations

import statistics
import threading
import time
from collections.abc import Callable, Iterator
from functools import partial

import httpx
import pytest

from benchmarks.corpus import Scale, generate
from devhub.store.queries import MAX_QUERY_CHARS, MAX_QUERY_TERMS
from tests.adapters.mcp.helpers import connect, error_text, payload, run
from tests.support.daemon import RunningDaemon, start_daemon
from tests.support.repos import make_workspace

TOO_MANY_WORDS = " ".join(["phoenix"] * (MAX_QUERY_TERMS + 1))
TOO_LONG = "phoenix " + "x" * MAX_QUERY_CHARS
# Within the bounds, yet costly: every one-letter prefix term matches much of the corpus.
COSTLY = " ".join("s" for _ in range(MAX_QUERY_TERMS))
# What a hostile page sent before the bounds: 3,000 words (here all the same prefix: ~50 s each, then).
HOSTILE = " ".join(["s"] * 3000)
BUDGET_MS = 20


@pytest.fixture(scope="module")
def daemon(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningDaemon]:
    """One daemon over the fixture workspace for the read-only bound checks (default budget)."""
    home = tmp_path_factory.mktemp("bounds")
    running = start_daemon(home / "hub", make_workspace(home / "ws"))
    try:
        yield running
    finally:
        running.stop()


@pytest.mark.parametrize(
    ("q", "reason"),
    [(TOO_MANY_WORDS, f"at most {MAX_QUERY_TERMS} words"), (TOO_LONG, f"at most {MAX_QUERY_CHARS} characters")],
)
def test_a_query_over_the_bounds_is_a_400_naming_q_on_every_surface(daemon: RunningDaemon, q: str, reason: str) -> None:
    for path in ("/search", "/workplans/"):
        refused = daemon.get(path, params={"q": q})
        assert refused.status_code == 400, (path, refused.text)
        assert refused.headers["content-type"].startswith("application/problem+json")
        problem = refused.json()
        assert problem["detail"].startswith("query parameter q:") and problem["invalid_params"] == [
            {"name": "q", "reason": reason}
        ]
    page = daemon.get("/ui/search", params={"q": q})
    assert page.status_code == 400 and "query parameter q" in page.text

    async def through_mcp() -> list[str]:
        async with connect(daemon, "http") as client:
            return [
                error_text(await client.call_tool("search", {"q": q})),
                error_text(await client.call_tool("list_workplans", {"q": q})),
            ]

    for text in run(through_mcp()):
        assert "query parameter q" in text and "400" in text, text
    cli = daemon.cli("search", *q.split())
    assert cli.returncode == 2 and "query parameter q" in cli.stderr, cli.stderr


def test_a_query_at_the_bounds_is_served(daemon: RunningDaemon) -> None:
    at_terms = " ".join(["phoenix"] * MAX_QUERY_TERMS)
    at_chars = ("phoenix " * MAX_QUERY_CHARS)[: MAX_QUERY_CHARS - 7] + "phoenix"
    assert len(at_chars) == MAX_QUERY_CHARS and len(at_chars.split()) > MAX_QUERY_TERMS  # the word bound is separate
    assert daemon.get("/search", params={"q": at_terms}).status_code == 200
    assert daemon.get("/workplans/", params={"q": at_terms}).status_code == 200
    assert daemon.get("/search", params={"q": "x" * MAX_QUERY_CHARS}).status_code == 200

    async def through_mcp() -> object:
        async with connect(daemon, "http") as client:
            return payload(await client.call_tool("search", {"q": at_terms}))

    assert isinstance(run(through_mcp()), list)
    assert daemon.cli("search", *at_terms.split()).returncode == 0


@pytest.fixture(scope="module")
def corpus_daemon(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningDaemon]:
    """A daemon over 100 generated workplan files (1,200 tasks), with a search budget of BUDGET_MS."""
    home = tmp_path_factory.mktemp("search")
    manifest = generate(Scale("search-test", repos=2, files_per_repo=50), home / "corpus")
    repos = [home / "corpus" / repo["slug"] for repo in manifest["repos"]]
    running = start_daemon(home / "hub", repos, env={"DEVHUB_SEARCH_BUDGET_MS": str(BUDGET_MS)}, timeout=60)
    try:
        yield running
    finally:
        running.stop()


def test_a_costly_search_stops_at_its_budget_with_a_clear_400(corpus_daemon: RunningDaemon) -> None:
    with corpus_daemon.client() as client:
        started = time.monotonic()
        refused = client.get("/search", params={"q": COSTLY})
        elapsed = time.monotonic() - started
        assert refused.status_code == 400, refused.text[:300]
        assert (
            "too expensive" in refused.json()["detail"] and f"{BUDGET_MS / 1000:g} s budget" in refused.json()["detail"]
        )
        assert refused.json()["invalid_params"][0]["name"] == "q"
        assert elapsed < 2.0  # the budget plus an HTTP round trip, with room for a busy machine
        assert client.get("/search", params={"q": "zzzzqqq"}).status_code == 200  # a cheap search still runs


def _timed(call: Callable[[], httpx.Response]) -> float:
    started = time.monotonic()
    response = call()
    assert response.status_code < 500, response.text[:300]
    return time.monotonic() - started


def test_costly_and_hostile_searches_never_hold_other_reads_or_writes(corpus_daemon: RunningDaemon) -> None:
    daemon = corpus_daemon
    task_id = daemon.get("/tasks/", params={"limit": 1}).json()[0]["id"]
    with daemon.client() as client:
        baseline = statistics.median(_timed(lambda: client.get("/tasks/")) for _ in range(10))

    stop = threading.Event()
    search_answers: list[tuple[int, str]] = []

    def searcher(q: str) -> None:
        with httpx.Client(base_url=daemon.url, timeout=60) as client:
            while not stop.is_set():
                answer = client.get("/search", params={"q": q})
                search_answers.append((answer.status_code, answer.text[:200]))

    threads = [threading.Thread(target=searcher, args=(COSTLY,)) for _ in range(8)]
    threads += [threading.Thread(target=searcher, args=(HOSTILE,)) for _ in range(4)]
    reads: list[float] = []
    writes: list[float] = []
    for thread in threads:
        thread.start()
    try:
        with daemon.client() as client:
            deadline = time.monotonic() + 4.0
            statuses = ["progress", "todo"]
            while time.monotonic() < deadline:
                reads.append(_timed(lambda: client.get("/tasks/")))
                status = statuses[len(writes) % 2]
                writes.append(_timed(partial(client.patch, f"/tasks/{task_id}", json={"status": status})))
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=120)

    # GET /tasks/ and the writes waited for no search: generous bounds for 2 shared cores, far under the
    # seconds each hostile search cost before.
    assert max(reads) < max(1.0, 20 * baseline), (baseline, sorted(reads)[-5:])
    assert max(writes) < 1.0, sorted(writes)[-5:]
    assert search_answers, "the searches ran"
    assert {status for status, _ in search_answers} <= {200, 400}
    refusals = [text for status, text in search_answers if status == 400]
    assert any("too expensive" in text for text in refusals)  # the budget stopped costly ones
    assert any(f"at most {MAX_QUERY_CHARS} characters" in text for text in refusals)  # the hostile ones: at once
