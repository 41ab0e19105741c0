"""The exact hostile literals of issue #13, per route family: each is a 4xx problem naming its field, never
a 500, and a refused write leaves the journal as it was. The fuzz tests (test_fuzz_http.py) cover the class;
these keep every failure the fuzzer found readable on its own.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from tests.adapters.api.test_fuzz_http import journal_bytes
from tests.support.daemon import RunningDaemon, start_daemon
from tests.support.hostile import deep
from tests.support.repos import make_workspace

T07 = "CUST-WP-0054-T07"

# (route, a valid body as JSON text with a {} hole for the hostile value, the field the answer must name)
WRITE_ROUTES = [
    ("PATCH", f"/tasks/{T07}", '{"status":"progress","note":%s}', "note"),
    ("PATCH", "/workplans/CUST-WP-0054", '{"status":"active","why":%s}', "why"),
    ("POST", "/progress/", '{"summary":"s","detail":{"value":%s}}', "detail.value"),
    ("POST", "/messages/", '{"from_agent":"a","to_agent":"b","subject":"s","body":"hi","thread_id":%s}', "thread_id"),
    ("POST", "/tasks/bulk-status-sync", '{"updates":[{"task_id":"' + T07 + '","x":%s}]}', "updates[0].x"),
]

HOSTILE_VALUES = [
    pytest.param("NaN", "finite", id="NaN"),
    pytest.param("Infinity", "finite", id="Infinity"),
    pytest.param("-Infinity", "finite", id="minus-Infinity"),
    pytest.param("1e999", "finite", id="1e999"),
    pytest.param("99999999999999999999", "64-bit", id="huge-int"),
    pytest.param('"\\ud800"', "surrogate", id="lone-surrogate"),
    pytest.param('"a\\udfffb"', "surrogate", id="lone-low-surrogate"),
    pytest.param('"a\\u0000b"', "NUL", id="NUL"),
    pytest.param(deep(40, "["), "nested", id="nested-40-arrays"),
    pytest.param(deep(500, "{"), "nested", id="nested-500-objects"),
]


@pytest.fixture(scope="module")
def hostile_daemon(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningDaemon]:
    root = tmp_path_factory.mktemp("hostile")
    running = start_daemon(root / "hub", make_workspace(root / "ws"))
    try:
        yield running
    finally:
        running.stop()


def _refused(daemon: RunningDaemon, method: str, path: str, content: bytes) -> dict:  # type: ignore[type-arg]
    before = journal_bytes(daemon)
    response = daemon.request(method, path, content=content, headers={"content-type": "application/json"})
    assert 400 <= response.status_code < 500, f"{method} {path}: {response.status_code} {response.text[:300]}"
    assert response.headers["content-type"].startswith("application/problem+json")
    assert journal_bytes(daemon) == before, "a refused write changed the journal"
    problem: dict = response.json()  # type: ignore[type-arg]
    return problem


@pytest.mark.parametrize(("value", "reason"), HOSTILE_VALUES)
@pytest.mark.parametrize(("method", "path", "template", "field"), WRITE_ROUTES, ids=lambda v: str(v)[:24])
def test_hostile_json_values_in_write_bodies_name_the_field(
    hostile_daemon: RunningDaemon, method: str, path: str, template: str, field: str, value: str, reason: str
) -> None:
    problem = _refused(hostile_daemon, method, path, (template % value).encode())
    assert problem["status"] == 422
    assert field in problem["detail"] and reason in problem["detail"], problem["detail"]
    # A value nested too deep is named down to where the bound was crossed (cut short), so: a prefix.
    assert any(p["name"].startswith(field) for p in problem["invalid_params"]), problem["invalid_params"]


@pytest.mark.parametrize("field", ["note", "agent", "session_id"])
@pytest.mark.parametrize("value", [[], {}, 3, True])
@pytest.mark.parametrize(("path", "status"), [(f"/tasks/{T07}", "progress"), ("/workplans/CUST-WP-0054", "active")])
def test_wrong_typed_annotations_are_refused_and_later_writes_still_apply(
    hostile_daemon: RunningDaemon, path: str, status: str, field: str, value: object
) -> None:
    """Found by the fuzzer: PATCH /workplans journaled `"note": []`, which then failed to apply, so that
    write and every later one answered 500."""
    body = {"status": status, field: value}
    problem = _refused(hostile_daemon, "PATCH", path, json.dumps(body).encode())
    assert problem["status"] == 422 and f"{field}: must be a string" in problem["detail"]
    after = hostile_daemon.request("POST", "/progress/", json={"summary": f"still writable after {field}"})
    assert after.status_code == 201, after.text


def test_a_bulk_update_with_a_wrong_typed_repo_names_it(hostile_daemon: RunningDaemon) -> None:
    body = {"updates": [{"task_id": T07, "status": "todo", "repo": ["the-custodian"]}]}
    problem = _refused(hostile_daemon, "POST", "/tasks/bulk-status-sync", json.dumps(body).encode())
    assert problem["status"] == 422 and "updates[0].repo: must be a string" in problem["detail"]


@pytest.mark.parametrize("levels", [1_000, 5_000, 100_000])
def test_json_nested_thousands_deep_is_a_400(hostile_daemon: RunningDaemon, levels: int) -> None:
    for body in (deep(levels, "["), deep(levels, "{")[: 60 * 1024]):
        problem = _refused(hostile_daemon, "POST", "/progress/", body.encode())
        assert problem["status"] in (400, 413) and "request body" in problem["detail"], problem["detail"]


def test_a_hostile_key_is_named_escaped(hostile_daemon: RunningDaemon) -> None:
    problem = _refused(hostile_daemon, "POST", "/progress/", b'{"summary":"s","detail":{"\\ud800":1}}')
    assert problem["status"] == 422 and "detail" in problem["detail"] and "\\ud800" in problem["detail"]


def test_a_write_body_over_the_bound_through_any_adapter_is_a_413(hostile_daemon: RunningDaemon) -> None:
    """1e9 is 3 bytes as text but 12 once parsed: the bound holds for what is journaled, not only what arrived."""
    body = '{"summary":"s","detail":{"n":[' + ",".join(["1e9"] * 15_000) + "]}}"
    problem = _refused(hostile_daemon, "POST", "/progress/", body.encode())
    assert problem["status"] == 413 and "64 KiB" in problem["detail"]


@pytest.mark.parametrize(
    ("query", "name"),
    [
        ("offset=99999999999999999999", "offset"),
        ("offset=1000000001", "offset"),
        ("limit=99999999999999999999", "limit"),
        ("since=0001-01-01T00:00:00%2B14:00", "since"),
        ("until=0001-01-01T00:00:00%2B14:00", "until"),
        ("since=9999-12-31T23:59:59-14:00", "since"),
        ("until=9999-12-31T23:59:59-14:00", "until"),
        ("since=NaN", "since"),
        ("since=%ED%A0%80", "since"),
    ],
)
def test_hostile_progress_query_values_name_the_parameter(hostile_daemon: RunningDaemon, query: str, name: str) -> None:
    response = hostile_daemon.get(f"/progress/?{query}")
    assert response.status_code == 400, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert name in response.json()["detail"]


@pytest.mark.parametrize("path", ["/tasks/", "/search?q=x&"])
def test_huge_limits_on_other_reads_name_the_parameter(hostile_daemon: RunningDaemon, path: str) -> None:
    response = hostile_daemon.get(f"{path}{'&' if '?' in path else '?'}limit=99999999999999999999")
    assert response.status_code == 400 and "limit" in response.json()["detail"], response.text


def test_extreme_datetimes_that_fit_in_utc_still_filter(hostile_daemon: RunningDaemon) -> None:
    # Before year 1000 the stored text form must keep its zero padding ("0999-…" sorts before "2026-…").
    earliest = hostile_daemon.get("/progress/", params={"since": "0999-01-01T00:00:00-14:00"})
    latest = hostile_daemon.get("/progress/", params={"until": "9999-12-31T23:59:59+14:00"})
    assert earliest.status_code == 200 and latest.status_code == 200
    assert earliest.json() == latest.json() == hostile_daemon.get("/progress/").json()


@pytest.mark.parametrize("ident", ["%ED%A0%80", "%FF", "%00", "NaN", "99999999999999999999", "x" * 4000])
@pytest.mark.parametrize(
    ("method", "template"),
    [
        ("GET", "/tasks/{}"),
        ("PATCH", "/tasks/{}"),
        ("GET", "/workplans/{}"),
        ("PATCH", "/workplans/{}"),
        ("PATCH", "/messages/{}/read"),
    ],
)
def test_hostile_path_ids_are_404s(hostile_daemon: RunningDaemon, method: str, template: str, ident: str) -> None:
    before = journal_bytes(hostile_daemon)
    body = {"/tasks/{}": {"status": "todo"}, "/workplans/{}": {"status": "active"}}.get(template, {})
    response = hostile_daemon.request(method, template.format(ident), json=body)
    assert response.status_code == 404, response.text[:300]
    assert response.headers["content-type"].startswith("application/problem+json")
    assert journal_bytes(hostile_daemon) == before
