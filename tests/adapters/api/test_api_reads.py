"""The agent calls of SPEC §5 against a real daemon: paths, filters, ids, problem+json."""

from __future__ import annotations

import pytest

from tests.support.daemon import RunningDaemon

SEED = "CUST-WP-0054"
SEED_UUID = "8a828444-dd49-4d7b-a2d1-9952b5bc929d"
T05 = "CUST-WP-0054-T05"
T05_UUID = "e91db8d0-973d-4a31-b3c2-ca37fd002ec7"


def test_health_and_summary(daemon: RunningDaemon) -> None:
    summary = daemon.get("/state/summary").json()
    tasks = daemon.get("/tasks/").json()
    assert summary["tasks"]["total"] == len(tasks)
    assert summary["tasks"]["by_status"]["done"] == sum(1 for t in tasks if t["status"] == "done")
    assert summary["relay"]["state"] == "disabled"
    assert any(w["id"] == SEED for w in summary["active_workplans"])


def test_workplan_by_file_id_and_uuid_are_the_same(daemon: RunningDaemon) -> None:
    by_id = daemon.get(f"/workplans/{SEED}").json()
    by_uuid = daemon.get(f"/workplans/{SEED_UUID}").json()
    assert by_id == by_uuid
    assert by_id["state_hub_workstream_id"] == SEED_UUID
    assert by_id["tasks_total"] == 10 and len(by_id["tasks"]) == 10


def test_task_by_file_id_and_uuid(daemon: RunningDaemon) -> None:
    by_id = daemon.get(f"/tasks/{T05}").json()
    assert by_id == daemon.get(f"/tasks/{T05_UUID}").json()
    assert by_id["status"] == "todo" and by_id["status_source"] == "file"
    assert by_id["sources"]["status"] == "file"


def test_workplan_filters(daemon: RunningDaemon) -> None:
    everything = daemon.get("/workplans/").json()
    active = daemon.get("/workplans/", params={"status": "active"}).json()
    assert active and all(w["status"] == "active" for w in active)
    assert len(active) < len(everything)
    in_repo = daemon.get("/workplans/", params={"repo": "the-custodian"}).json()
    assert in_repo and all(w["repo"] == "the-custodian" for w in in_repo)
    index = daemon.get("/workplans/index").json()
    assert {w["id"] for w in index} == {w["id"] for w in everything}


def test_task_filters_ready_and_needs_human(daemon: RunningDaemon) -> None:
    ready = daemon.get("/tasks/", params={"ready": "true"}).json()
    assert ready, "the fixtures have ready tasks"
    for task in ready:
        assert task["status"] == "todo" and task["ready"] is True
    not_ready = daemon.get("/tasks/", params={"ready": "false"}).json()
    assert not any(t["ready"] for t in not_ready)
    assert len(ready) + len(not_ready) == len(daemon.get("/tasks/").json())
    progress = daemon.get("/tasks/", params={"status": "progress"}).json()
    assert all(t["status"] == "progress" for t in progress)
    by_workplan = daemon.get("/tasks/", params={"workplan_id": SEED}).json()
    assert len(by_workplan) == 10
    flagged = daemon.get("/tasks/", params={"needs_human": "true"}).json()
    assert all(t["needs_human"] for t in flagged)


def test_orient_search_errors_repos_relay(daemon: RunningDaemon) -> None:
    orient = daemon.get("/orient").json()
    assert {
        "active_workplans",
        "in_progress",
        "ready",
        "needs_human",
        "recent_progress",
        "conflicts",
        "relay",
        "problems",
    } <= set(orient)
    scoped = daemon.get("/orient", params={"repo": "the-custodian"}).json()
    assert all(t["repo"] == "the-custodian" for t in scoped["ready"])
    hits = daemon.get("/search", params={"q": "phoenix"}).json()
    assert any(h["id"] == "CUST-WP-0054-T08" for h in hits)
    repos = daemon.get("/repos/").json()
    assert {r["slug"] for r in repos} >= {"the-custodian", "state-hub", "ops-bridge"}
    assert all(r["is_git"] and r["head"] for r in repos)
    errors = daemon.get("/errors").json()
    assert errors["counts"]["errors"] == 0
    assert daemon.get("/relay").json()["state"] == "disabled"
    assert daemon.get("/progress/").json() == []
    assert daemon.get("/messages/").json() == []


@pytest.mark.parametrize(
    ("path", "status", "needle"),
    [
        ("/tasks/NO-SUCH-TASK", 404, "NO-SUCH-TASK"),
        ("/workplans/NO-SUCH-WP", 404, "NO-SUCH-WP"),
        ("/tasks/?ready=maybe", 400, "ready"),
        ("/tasks/?status=finished", 400, "status"),
        ("/workplans/?status=bogus", 400, "status"),
        ("/progress/?limit=0", 400, "limit"),
        ("/progress/?since=yesterday", 400, "since"),
        ("/no/such/endpoint", 404, "no such endpoint"),
    ],
)
def test_bad_ids_and_values_are_problem_json(daemon: RunningDaemon, path: str, status: int, needle: str) -> None:
    response = daemon.get(path)
    assert response.status_code == status
    assert response.headers["content-type"].startswith("application/problem+json")
    problem = response.json()
    assert problem["status"] == status and problem["title"]
    assert needle in problem["detail"]


def test_openapi_and_offline_docs(daemon: RunningDaemon) -> None:
    schema = daemon.get("/schema/openapi.json").json()
    for path in ("/state/health", "/tasks/{ident}", "/orient", "/progress", "/relay"):
        assert path in schema["paths"], path
    page = daemon.get("/schema")
    assert page.status_code == 200 and "text/html" in page.headers["content-type"]
    html = page.text
    assert "/tasks/{ident}" in html
    # Renders with no network access: nothing is loaded from another host.
    assert "http://" not in html.split("<details>")[0] and "https://" not in html.split("<details>")[0]
