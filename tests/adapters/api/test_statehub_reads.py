"""The fleet State Hub's read vocabulary over REST, against a real daemon: domains, topics, repos, dispatch,
the real summary keys, next steps, /workstreams/ aliases, topic_id and status-alias filters, and `GET /`.

The fixture workspace names two domains (infotech: the-custodian + ops-bridge; custodian: state-hub) and two
topics (custodian: in both domains; ops-bridge); one workplan carries a fleet topic UUID in its frontmatter
and ops-bridge is classified, so every filter below can be seen to filter.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.daemon import RunningDaemon, start_daemon
from tests.support.repos import make_workspace

TOPIC_UUID = "0f5c7a52-6a7e-4bd0-9d6c-3d1f2a9e4b11"
CLASSIFICATION = (
    "slug: ops-bridge\ncategory: infrastructure\ndomain: infotech\n"
    "capability_tags: [tunnels, networking]\nbusiness_stake: internal\nbusiness_mechanics: cost-centre\n"
)


def prepare_workspace(root: Path) -> list[Path]:
    """The fixture repos, with a fleet topic UUID on one ops-bridge workplan and ops-bridge classified."""
    repos = make_workspace(root)
    ops = next(p for p in repos if p.name == "ops-bridge")
    plan = ops / "workplans" / "OPS-WP-0012-fleet-owned-tunnels.md"
    text = plan.read_text()
    plan.write_text(text.replace("topic_slug: ops-bridge\n", f"topic_slug: ops-bridge\ntopic_id: {TOPIC_UUID}\n", 1))
    (ops / ".repo-classification.yaml").write_text(CLASSIFICATION)
    return repos


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningDaemon]:
    root = tmp_path_factory.mktemp("statehub-reads")
    running = start_daemon(root / "hub", prepare_workspace(root / "ws"))
    try:
        yield running
    finally:
        running.stop()


def ok(hub: RunningDaemon, path: str, **params: object) -> object:
    answer = hub.get(path, params=params)
    assert answer.status_code == 200, f"{path}: {answer.status_code} {answer.text[:300]}"
    return answer.json()


# -- domains, topics, repos ---------------------------------------------------------------------------


def test_domains_are_derived_from_the_workplan_files(hub: RunningDaemon) -> None:
    domains = {d["slug"]: d for d in ok(hub, "/domains/")}  # type: ignore[union-attr]
    assert set(domains) == {"custodian", "infotech"}
    assert domains["infotech"]["repos"] == ["ops-bridge", "the-custodian"]
    assert domains["custodian"]["repos"] == ["state-hub"] and domains["custodian"]["repo_count"] == 1
    assert domains["infotech"]["id"] == "infotech", "no fleet UUID yet: the slug is the id"
    actives = [w for w in ok(hub, "/workplans/", domain="infotech", status="active")]  # type: ignore[union-attr]
    assert domains["infotech"]["active_workstream_count"] == len(actives) > 0
    assert ok(hub, "/domains/infotech/") == ok(hub, "/domains/infotech") == domains["infotech"]


def test_unknown_slugs_are_404_with_the_real_detail(hub: RunningDaemon) -> None:
    for path, detail in (
        ("/domains/nope/", "Domain not found"),
        ("/domains/nope/summary", "Domain not found"),
        ("/topics/nope", "Topic not found"),
        ("/repos/nope/", "Repo not found"),
        ("/repos/nope/dispatch", "Repo not found"),
        ("/workstreams/NOPE-WP-0001", "no workplan with id 'NOPE-WP-0001'"),
    ):
        answer = hub.get(path)
        assert answer.status_code == 404, path
        assert answer.json()["detail"] == detail, path


def test_topics_filter_by_domain_and_resolve_by_slug_or_fleet_uuid(hub: RunningDaemon) -> None:
    topics = {t["slug"]: t for t in ok(hub, "/topics/")}  # type: ignore[union-attr]
    assert set(topics) == {"custodian", "ops-bridge"}
    assert topics["custodian"]["domains"] == ["custodian", "infotech"]
    assert topics["ops-bridge"]["id"] == TOPIC_UUID, "the UUID recorded in the frontmatter is the topic's id"
    assert [t["slug"] for t in ok(hub, "/topics/", domain="custodian")] == ["custodian"]  # type: ignore[union-attr]
    assert ok(hub, "/topics/", domain_slug="custodian") == ok(hub, "/topics/", domain="custodian")
    assert hub.get("/topics/", params={"domain": "custodian", "domain_slug": "infotech"}).status_code == 400
    detail = ok(hub, "/topics/ops-bridge")
    assert detail == ok(hub, f"/topics/{TOPIC_UUID}")
    assert {w["id"] for w in detail["workstreams"]} == {"OPS-WP-0012", "OPS-WP-0014"}  # type: ignore[index]


def test_repos_carry_the_state_hub_keys_and_filter_by_classification(hub: RunningDaemon) -> None:
    repo = ok(hub, "/repos/ops-bridge/")
    assert isinstance(repo, dict)
    assert repo["id"] == "ops-bridge" and repo["domain"] == "infotech" and repo["last_sbom_at"] is None
    assert repo["category"] == "infrastructure" and repo["capability_tags"] == ["tunnels", "networking"]
    assert repo == ok(hub, "/repos/ops-bridge")
    every = [r["slug"] for r in ok(hub, "/repos/")]  # type: ignore[union-attr]
    assert every == ["ops-bridge", "state-hub", "the-custodian"]
    for query, expected in (
        ({"domain": "infotech"}, ["ops-bridge", "the-custodian"]),
        ({"domain": "custodian"}, ["state-hub"]),
        ({"category": "infrastructure"}, ["ops-bridge"]),
        ({"capability_tag": "tunnels"}, ["ops-bridge"]),
        ({"capability_tag": "nope"}, []),
        ({"business_stake": "internal", "domain": "custodian"}, []),
    ):
        assert [r["slug"] for r in ok(hub, "/repos/", **query)] == expected, query  # type: ignore[union-attr]


def test_dispatch_lists_open_workstreams_with_pending_tasks_and_interventions(hub: RunningDaemon) -> None:
    hub.request("PATCH", "/tasks/OPS-WP-0012-T03", json={"needs_human": True, "intervention_note": "sign the cert"})
    dispatch = ok(hub, "/repos/ops-bridge/dispatch")
    assert isinstance(dispatch, dict)
    assert dispatch["repo"]["slug"] == "ops-bridge" and dispatch["active_goal"] is None
    assert [w["id"] for w in dispatch["workstreams"]] == ["OPS-WP-0012", "OPS-WP-0014"]
    for workstream in dispatch["workstreams"]:
        assert workstream["pending_tasks"], workstream["id"]
        assert {t["status"] for t in workstream["pending_tasks"]} <= {"wait", "todo", "progress"}
    flagged = [t["id"] for t in dispatch["human_interventions"]]
    assert "OPS-WP-0012-T03" in flagged  # flagged just now; the fixture flags T05 in its file
    assert flagged == [t["id"] for t in ok(hub, "/tasks/", needs_human="true", repo="ops-bridge")]  # type: ignore[union-attr]
    assert dispatch["pending_interface_changes"] == []


# -- the real overview shapes ---------------------------------------------------------------------------


def test_state_summary_has_the_real_keys_and_keeps_devhubs(hub: RunningDaemon) -> None:
    summary = ok(hub, "/state/summary")
    assert isinstance(summary, dict)
    tasks = ok(hub, "/tasks/")
    assert isinstance(tasks, list)
    totals = summary["totals"]
    assert totals["tasks"]["total"] == len(tasks) == summary["tasks"]["total"]
    assert totals["tasks"]["wait"] == len(summary["blocked_tasks"]) == sum(t["status"] == "wait" for t in tasks)
    assert totals["workstreams"]["total"] == len(ok(hub, "/workplans/"))  # type: ignore[arg-type]
    assert totals["topics"] == 2 and totals["decisions"] == {"total": 0, "pending": 0, "blocking": 0}
    assert summary["blocking_decisions"] == []
    assert {w["status"] for w in summary["open_workstreams"]} <= {"active", "ready", "blocked"}
    by_id = {w["id"]: w for w in summary["open_workstreams"]}
    assert by_id["CUST-WP-0011"]["depends_on"] == ["STATE-WP-0052"]
    assert "CUST-WP-0054" in by_id and "STATE-WP-0068" in by_id["CUST-WP-0054"]["blocks"]
    assert summary["next_steps"] == ok(hub, "/state/next_steps")
    assert {d["slug"] for d in summary["domains"]} == {"custodian", "infotech"}
    domain_keys = {"slug", "name", "repo_count", "active_workstream_count", "ep_count", "td_count"}
    assert set(summary["domains"][0]) == domain_keys
    for devhub_key in ("repos", "workplans", "tasks", "active_workplans", "problems", "conflicts", "relay"):
        assert devhub_key in summary


def test_recent_events_are_the_last_twenty(hub: RunningDaemon) -> None:
    for index in range(22):
        hub.request("POST", "/progress/", json={"summary": f"event {index}", "author": "test"})
    events = ok(hub, "/state/summary")["recent_events"]  # type: ignore[index]
    assert [e["summary"] for e in events] == [f"event {i}" for i in range(21, 1, -1)]


def test_next_steps_point_to_the_first_todo_task_a_cleared_dependency_unblocks(hub: RunningDaemon) -> None:
    steps = ok(hub, "/state/next_steps")
    assert isinstance(steps, list)
    # CUST-WP-0011 depends on STATE-WP-0052 (finished); STATE-WP-0068 also waits on CUST-WP-0054 (active).
    assert [(s["kind"], s["workstream_id"]) for s in steps] == [("dependency_cleared", "CUST-WP-0011")]
    first_todo = ok(hub, "/tasks/", workplan_id="CUST-WP-0011", status="todo")[0]  # type: ignore[index]
    assert steps[0]["task_id"] == first_todo["id"] and steps[0]["cleared_dependencies"] == ["STATE-WP-0052"]


def test_domain_summary_is_scoped_to_its_domain(hub: RunningDaemon) -> None:
    hub.request("POST", "/progress/", json={"summary": "state-hub work", "workplan_id": "STATE-WP-0068"})
    summary = ok(hub, "/domains/custodian/summary")
    assert isinstance(summary, dict)
    assert summary["topic"]["slug"] == "custodian" and [t["slug"] for t in summary["topics"]] == ["custodian"]
    assert [w["id"] for w in summary["active_workstreams"]] == ["STATE-WP-0068"]
    assert [r["slug"] for r in summary["repos"]] == ["state-hub"] and summary["repos"][0]["last_sbom_at"] is None
    assert [e["summary"] for e in summary["recent_events"]] == ["state-hub work"]
    assert summary["blocking_decisions"] == [] and summary["capabilities"] == []
    assert summary["goal_guidance"] == {"needs_workplan": [], "alignment_warnings": []}
    infotech = ok(hub, "/domains/infotech/summary")
    assert {w["domain"] for w in infotech["active_workstreams"]} == {"infotech"}  # type: ignore[index]
    assert len(infotech["recent_events"]) <= 5  # type: ignore[index, arg-type]


# -- workstreams, filters -----------------------------------------------------------------------------


def test_workstream_routes_answer_exactly_as_their_workplan_twins(hub: RunningDaemon) -> None:
    for legacy, preferred, params in (
        ("/workstreams/", "/workplans/", {"status": "active"}),
        ("/workstreams/", "/workplans/", {"topic_id": "custodian", "status": "active"}),
        ("/workstreams/CUST-WP-0054", "/workplans/CUST-WP-0054", {}),
        ("/workstreams/8a828444-dd49-4d7b-a2d1-9952b5bc929d", "/workplans/CUST-WP-0054", {}),
        ("/workstreams/workplan-index", "/workplans/index", {}),
    ):
        assert ok(hub, legacy, **params) == ok(hub, preferred, **params), legacy
    patched = hub.request("PATCH", "/workstreams/OPS-WP-0014", json={"status": "active"})
    assert patched.status_code == 200, patched.text
    assert ok(hub, "/workplans/OPS-WP-0014")["status"] == "active"  # type: ignore[index]
    hub.request("PATCH", "/workplans/OPS-WP-0014", json={"status": "ready"})


def test_topic_id_filters_by_slug_or_fleet_uuid(hub: RunningDaemon) -> None:
    everything = ok(hub, "/workplans/")
    by_slug = ok(hub, "/workplans/", topic_id="ops-bridge")
    assert isinstance(everything, list) and isinstance(by_slug, list)
    assert {w["id"] for w in by_slug} == {"OPS-WP-0012", "OPS-WP-0014"} and len(everything) > len(by_slug)
    assert ok(hub, "/workplans/", topic_id=TOPIC_UUID) == by_slug
    assert ok(hub, "/workstreams/", topic_id=TOPIC_UUID.upper(), status="active") == [
        w for w in by_slug if w["status"] == "active"
    ]
    assert ok(hub, "/workplans/", topic_id="no-such-topic") == []
    assert ok(hub, "/workplans/", topic_id="ops-bridge", topic_slug="custodian") == []


@pytest.mark.parametrize(
    ("alias", "canon"), [("in_progress", "progress"), ("blocked", "wait"), ("cancelled", "cancel"), ("done", "done")]
)
def test_task_status_aliases_filter_as_their_canon_word(hub: RunningDaemon, alias: str, canon: str) -> None:
    assert ok(hub, "/tasks/", status=alias) == ok(hub, "/tasks/", status=canon)
    assert all(t["status"] == canon for t in ok(hub, "/tasks/", status=alias))  # type: ignore[union-attr]


def test_workplan_status_aliases_and_unknown_words(hub: RunningDaemon) -> None:
    finished = ok(hub, "/workplans/", status="finished")
    assert finished and ok(hub, "/workplans/", status="completed") == finished == ok(hub, "/workplans/", status="done")
    for path in ("/workplans/", "/tasks/"):
        refused = hub.get(path, params={"status": "sideways"})
        assert refused.status_code == 400 and "status" in refused.json()["detail"], path


def test_workstream_id_is_workplan_id_in_task_filters(hub: RunningDaemon) -> None:
    by_legacy = ok(hub, "/tasks/", workstream_id="OPS-WP-0012", status="todo")
    assert by_legacy == ok(hub, "/tasks/", workplan_id="OPS-WP-0012", status="todo")
    assert by_legacy and {t["workplan_id"] for t in by_legacy} == {"OPS-WP-0012"}  # type: ignore[union-attr]
    refused = hub.get("/tasks/", params={"workplan_id": "OPS-WP-0012", "workstream_id": "OPS-WP-0014"})
    assert refused.status_code == 400 and "workstream_id" in refused.json()["detail"]


# -- GET / --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("accept", [None, "application/json", "*/*"])
def test_root_answers_api_clients_json_metadata(hub: RunningDaemon, accept: str | None) -> None:
    answer = hub.get("/", headers={"Accept": accept} if accept else {})
    if accept is None:  # httpx sends */* by default; send nothing at all too
        with hub.client() as client:
            request = client.build_request("GET", "/")
            del request.headers["accept"]
            answer = client.send(request)
    assert answer.status_code == 200 and answer.headers["content-type"].startswith("application/json")
    root = answer.json()
    assert root["name"] == "devhub" and root["version"] and root["docs"] == "/schema"
    assert hub.get(root["openapi"]).status_code == 200 and hub.get(root["health"]).status_code == 200


def test_root_answers_browsers_the_dashboard(hub: RunningDaemon) -> None:
    answer = hub.get("/", headers={"Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"})
    assert answer.status_code == 200 and answer.headers["content-type"].startswith("text/html")
    assert "<main" in answer.text
