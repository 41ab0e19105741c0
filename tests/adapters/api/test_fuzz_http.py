"""Property-based fuzzing of every REST route on one real daemon: hostile bodies, query values, path ids
and headers never cost a 5xx; every refusal is problem+json with a detail and leaves the journal as it was.

Routes come from the running daemon's OpenAPI document, so a new route is fuzzed without editing this file.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from tests.support import hostile
from tests.support.daemon import RunningDaemon, start_daemon
from tests.support.repos import make_workspace

BODY_METHODS = frozenset({"POST", "PATCH", "PUT"})


@dataclass(frozen=True)
class Route:
    method: str
    template: str  # e.g. /tasks/{ident}
    path_params: tuple[str, ...]
    query_params: tuple[str, ...]


class RouteTable(tuple[Route, ...]):
    """The routes, with a short repr: hypothesis prints the test's arguments with every failure."""

    def __repr__(self) -> str:
        return f"<{len(self)} routes from /schema/openapi.json>"


@pytest.fixture(scope="module")
def fuzz_daemon(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningDaemon]:
    root = tmp_path_factory.mktemp("fuzz-http")
    running = start_daemon(root / "hub", make_workspace(root / "ws"))
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture(scope="module")
def client(fuzz_daemon: RunningDaemon) -> Iterator[httpx.Client]:
    with fuzz_daemon.client() as c:
        yield c


@pytest.fixture(scope="module")
def routes(client: httpx.Client) -> RouteTable:
    document = client.get("/schema/openapi.json").json()
    found = []
    for template, operations in document["paths"].items():
        for method, operation in operations.items():
            if method.upper() not in {"GET", "POST", "PATCH", "PUT", "DELETE"}:
                continue
            params = operation.get("parameters", [])
            found.append(
                Route(
                    method.upper(),
                    template,
                    tuple(p["name"] for p in params if p["in"] == "path"),
                    tuple(p["name"] for p in params if p["in"] == "query"),
                )
            )
    # Guard against fuzzing nothing: the document must list the write routes and the id routes.
    assert {("PATCH", "/tasks/{ident}"), ("POST", "/progress"), ("GET", "/progress")} <= {
        (r.method, r.template) for r in found
    }
    return RouteTable(found)


def journal_bytes(daemon: RunningDaemon) -> bytes:
    """Every journal file's bytes, in name order: a refused request must leave this unchanged."""
    folder = daemon.data_dir / "journal"
    return b"".join(p.name.encode() + b"\0" + p.read_bytes() for p in sorted(Path(folder).rglob("*")) if p.is_file())


def assert_clean_answer(response: httpx.Response, journal_before: bytes, daemon: RunningDaemon) -> None:
    where = f"{response.request.method} {response.request.url}"
    event(f"answered {response.status_code}")  # --hypothesis-show-statistics shows what the fuzz reached
    assert response.status_code < 500, f"{where} -> {response.status_code}: {response.text[:500]}"
    if response.status_code >= 400:
        assert response.headers.get("content-type", "").startswith("application/problem+json"), (
            f"{where} -> {response.status_code} is not problem+json: {response.text[:300]}"
        )
        problem = response.json()
        assert isinstance(problem.get("detail"), str) and problem["detail"].strip(), f"{where}: {problem}"
        assert journal_bytes(daemon) == journal_before, f"{where} was refused ({response.status_code}) but wrote"


def _path_value(draw: Any) -> str:
    return str(draw(st.one_of(st.sampled_from(hostile.REAL_IDS), hostile.hostile_text.map(lambda s: s[:2000]))))


@settings(max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(data=st.data())
def test_no_route_answers_5xx_to_hostile_input(
    data: st.DataObject, fuzz_daemon: RunningDaemon, client: httpx.Client, routes: RouteTable
) -> None:
    route = data.draw(st.sampled_from(routes), label="route")
    path = route.template
    for name in route.path_params:
        path = path.replace("{" + name + "}", hostile.url_piece(_path_value(data.draw)))
    names = data.draw(
        st.lists(st.sampled_from(route.query_params + hostile.FIELD_NAMES), max_size=4, unique=True), label="query"
    )
    query = "&".join(f"{name}={data.draw(hostile.query_value, label=name)}" for name in names)
    headers = {
        name: value.encode("latin-1")
        for name, value in data.draw(
            st.dictionaries(
                st.sampled_from(("content-type", "x-agent", "idempotency-key", "accept")),
                st.one_of(st.sampled_from([t for t in hostile.CONTENT_TYPES if t]), hostile.header_value),
                max_size=3,
            ),
            label="headers",
        ).items()
    }
    body = data.draw(hostile.request_body, label="body") if route.method in BODY_METHODS else b""
    before = journal_bytes(fuzz_daemon)
    response = client.request(
        route.method, path + (f"?{query}" if query else ""), content=body or None, headers=headers
    )
    assert_clean_answer(response, before, fuzz_daemon)


# A valid body per write route; the fuzz below replaces or adds a few fields with hostile values, so
# the hostile value is what the validation sees (not an earlier, simpler refusal).
VALID_WRITES = {
    ("PATCH", "/tasks/CUST-WP-0054-T07"): {"status": "progress", "note": "n", "agent": "a", "session_id": "s"},
    ("PATCH", "/workplans/CUST-WP-0054"): {"status": "active"},
    ("POST", "/progress/"): {"summary": "s", "event_type": "note", "task_id": "CUST-WP-0054-T07", "detail": {}},
    ("POST", "/messages/"): {"from_agent": "a", "to_agent": "b", "body": "hi", "subject": "s"},
    ("POST", "/tasks/bulk-status-sync"): {"updates": [{"task_id": "CUST-WP-0054-T07", "status": "todo"}]},
}


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    route=st.sampled_from(sorted(VALID_WRITES)),
    overrides=st.dictionaries(
        st.sampled_from(hostile.FIELD_NAMES),
        st.one_of(hostile.json_value, hostile.deep_json, hostile.bulk_updates),
        min_size=1,
        max_size=3,
    ),
)
def test_write_bodies_with_hostile_fields_are_refused_cleanly(
    route: tuple[str, str], overrides: dict[str, str], fuzz_daemon: RunningDaemon, client: httpx.Client
) -> None:
    """Valid write bodies with a few fields made hostile: accepted or refused by name, never a 5xx."""
    fields = {name: json.dumps(value) for name, value in VALID_WRITES[route].items()} | overrides
    before = journal_bytes(fuzz_daemon)
    response = client.request(
        *route, content=hostile.object_text(fields).encode(), headers={"content-type": "application/json"}
    )
    assert_clean_answer(response, before, fuzz_daemon)
