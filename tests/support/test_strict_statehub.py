"""The strict State Hub stand-in keeps the real hub's rules, over real HTTP (one server for the module)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.support.strict_statehub import StrictStateHub, strict_statehub

TOKEN = "stand-in-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture(scope="module")
def hub() -> Iterator[StrictStateHub]:
    with strict_statehub(token=TOKEN) as running:
        yield running


@pytest.fixture
def client(hub: StrictStateHub) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=hub.url, headers=AUTH, timeout=5) as c:
        yield c


@pytest.fixture
def ws(hub: StrictStateHub) -> str:
    return hub.seed_workstream(title="Workstream under test")


def _task(hub: StrictStateHub, ws: str, status: str = "todo", **kwargs: Any) -> str:
    return hub.seed_task(ws, f"task-{uuid.uuid4().hex[:6]}", status=status, **kwargs)


def _locs(answer: httpx.Response) -> list[list[Any]]:
    return [d["loc"] for d in answer.json()["detail"]]


def test_health_is_open_and_everything_else_needs_the_bearer_token(hub: StrictStateHub) -> None:
    assert httpx.get(hub.url + "/state/health").status_code == 200
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": TOKEN}):
        answer = httpx.get(hub.url + "/topics/", headers=headers)
        assert answer.status_code == 401, headers
    assert httpx.get(hub.url + "/topics/", headers=AUTH).status_code == 200
    assert hub.refusals[-1].status == 401


@pytest.mark.parametrize(
    ("method", "path", "body", "loc"),
    [
        ("PATCH", "/tasks/CUST-WP-0054-T05", {"status": "done"}, ["path", "task_id"]),
        ("PATCH", "/workplans/CUST-WP-0054", {"status": "active"}, ["path", "workstream_id"]),
        ("PATCH", "/workstreams/", None, None),
        ("PATCH", "/messages/msg-local-1/read", {}, ["path", "message_id"]),
        ("PATCH", "/decisions/D-1", {"title": "x"}, ["path", "decision_id"]),
        ("POST", "/decisions/D-1/resolve", {"rationale": "r", "decided_by": "h"}, ["path", "decision_id"]),
        ("POST", "/progress/", {"summary": "s", "event_type": "note", "task_id": ""}, ["body", "task_id"]),
        ("POST", "/progress/", {"summary": "s", "event_type": "note", "workplan_id": "WP-1"}, ["body", "workplan_id"]),
        (
            "POST",
            "/messages/",
            {"from_agent": "a", "to_agent": "b", "subject": "s", "body": "b", "thread_id": "m-1"},
            ["body", "thread_id"],
        ),
        (
            "POST",
            "/tasks/bulk-status-sync",
            {"updates": [{"task_id": "T01", "status": "done"}]},
            ["body", "updates", 0, "task_id"],
        ),
        ("POST", "/tasks/", {"workstream_id": "", "title": "t"}, ["body", "workstream_id"]),
    ],
)
def test_an_id_that_must_be_a_uuid_and_is_not_is_422_naming_the_place(
    client: httpx.Client, method: str, path: str, body: Any, loc: list[Any] | None
) -> None:
    answer = client.request(method, path, json=body)
    if loc is None:  # a collection path without an id is not a route for PATCH
        assert answer.status_code == 405
        return
    assert answer.status_code == 422, answer.text
    assert answer.json()["detail"][0]["type"] == "uuid_parsing"
    assert _locs(answer) == [loc]


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("PATCH", "/tasks/{u}", {"status": "progress"}),
        ("PATCH", "/workplans/{u}", {"status": "active"}),
        ("PATCH", "/workstreams/{u}", {"status": "active"}),
        ("PATCH", "/messages/{u}/read", {}),
        ("GET", "/messages/{u}/thread", None),
        ("PATCH", "/decisions/{u}", {"title": "t"}),
        ("POST", "/decisions/{u}/resolve", {"rationale": "r", "decided_by": "h"}),
        ("POST", "/messages/", {"from_agent": "a", "to_agent": "b", "subject": "s", "body": "b", "thread_id": "{u}"}),
        ("POST", "/progress/", {"summary": "s", "event_type": "note", "task_id": "{u}"}),
        ("POST", "/tasks/", {"workstream_id": "{u}", "title": "t"}),
    ],
)
def test_an_unknown_uuid_is_404(client: httpx.Client, method: str, path: str, body: Any) -> None:
    unknown = str(uuid.uuid4())
    if isinstance(body, dict):
        body = {k: v.replace("{u}", unknown) if isinstance(v, str) else v for k, v in body.items()}
    answer = client.request(method, path.replace("{u}", unknown), json=body)
    assert answer.status_code == 404, answer.text
    assert unknown in answer.text


def test_an_unknown_thread_root_is_refused_with_the_real_hubs_words(client: httpx.Client) -> None:
    root = str(uuid.uuid4())
    message = {"from_agent": "a", "to_agent": "b", "subject": "s", "body": "b", "thread_id": root}
    answer = client.post("/messages/", json=message)
    assert answer.json() == {"detail": f"Thread root {root} not found"}


@pytest.mark.parametrize(
    ("path", "body", "missing"),
    [
        ("/messages/", {"from_agent": "a", "to_agent": "b", "body": "no subject"}, "subject"),
        ("/messages/", {"from_agent": "a", "subject": "s", "body": "b"}, "to_agent"),
        ("/progress/", {"summary": "no type"}, "event_type"),
        ("/progress/", {"event_type": "note"}, "summary"),
        ("/decisions/", {"decision_type": "pending"}, "title"),
        ("/token-events/", {"tokens_in": 1}, "tokens_out"),
        ("/tasks/", {"title": "no workstream"}, "workstream_id"),
    ],
)
def test_a_missing_required_field_is_422_naming_it(
    client: httpx.Client, hub: StrictStateHub, path: str, body: dict[str, Any], missing: str
) -> None:
    applied = len(hub.effects)
    answer = client.post(path, json=body)
    assert answer.status_code == 422, answer.text
    assert _locs(answer) == [["body", missing]]
    assert answer.json()["detail"][0]["type"] == "missing"
    assert len(hub.effects) == applied


def test_empty_strings_and_overlong_subjects_are_refused(client: httpx.Client) -> None:
    assert client.post("/progress/", json={"summary": "", "event_type": "note"}).status_code == 422
    long = {"from_agent": "a", "to_agent": "b", "subject": "x" * 501, "body": "b"}
    answer = client.post("/messages/", json=long)
    assert answer.status_code == 422
    assert answer.json()["detail"][0]["type"] == "string_too_long"


def test_bulk_sync_with_a_duplicate_task_id_is_400_and_applies_nothing(
    client: httpx.Client, hub: StrictStateHub, ws: str
) -> None:
    first, second = _task(hub, ws), _task(hub, ws)
    updates = [{"task_id": first, "status": "progress"}, {"task_id": second, "status": "done"}]
    answer = client.post("/tasks/bulk-status-sync", json={"updates": [*updates, {"task_id": first, "status": "done"}]})
    assert answer.status_code == 400
    assert answer.json()["detail"] == {"message": "duplicate task_id values are not allowed", "task_ids": [first]}
    assert hub.task(first)["status"] == hub.task(second)["status"] == "todo"


def test_bulk_sync_with_an_unknown_task_is_404_listing_it(client: httpx.Client, hub: StrictStateHub, ws: str) -> None:
    known, unknown = _task(hub, ws), str(uuid.uuid4())
    updates = [{"task_id": known, "status": "done"}, {"task_id": unknown, "status": "done"}]
    answer = client.post("/tasks/bulk-status-sync", json={"updates": updates})
    assert answer.status_code == 404
    assert answer.json()["detail"]["task_ids"] == [unknown]
    assert hub.task(known)["status"] == "todo"


def test_bulk_sync_is_all_or_nothing_over_the_canon(client: httpx.Client, hub: StrictStateHub, ws: str) -> None:
    fine, cancelled = _task(hub, ws), _task(hub, ws, status="cancel")
    updates = [{"task_id": fine, "status": "progress"}, {"task_id": cancelled, "status": "todo"}]
    assert client.post("/tasks/bulk-status-sync", json={"updates": updates}).status_code == 409
    assert hub.task(fine)["status"] == "todo"

    answer = client.post("/tasks/bulk-status-sync", json={"updates": updates[:1], "author": "tester"})
    assert answer.status_code == 200
    assert [t["status"] for t in answer.json()["updated"]] == ["progress"]
    [event] = answer.json()["events"]
    assert event["event_type"] == "task_status_changed" and event["author"] == "tester"
    uuid.UUID(event["id"])


def test_the_same_key_and_body_replays_the_original_answer_once_applied(
    client: httpx.Client, hub: StrictStateHub
) -> None:
    key = {"Idempotency-Key": f"k-{uuid.uuid4()}"}
    body = {"summary": "replayed", "event_type": "note"}
    first = client.post("/progress/", json=body, headers=key)
    again = client.post("/progress/", json=body, headers=key)
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    assert again.headers["Idempotent-Replayed"] == "true"
    assert "Idempotent-Replayed" not in first.headers
    assert len([e for e in hub.effects if e.idempotency_key == key["Idempotency-Key"]]) == 1
    assert len([e for e in hub.progress if e["summary"] == "replayed"]) == 1
    assert hub.replays[-1] == ("POST", "/progress/", key["Idempotency-Key"])


def test_the_same_key_with_another_body_or_path_is_409(client: httpx.Client, hub: StrictStateHub, ws: str) -> None:
    key = {"Idempotency-Key": f"k-{uuid.uuid4()}"}
    assert client.post("/progress/", json={"summary": "one", "event_type": "note"}, headers=key).status_code == 201
    other_body = client.post("/progress/", json={"summary": "two", "event_type": "note"}, headers=key)
    assert other_body.status_code == 409
    assert "Idempotent-Replayed" not in other_body.headers  # devhub's relay must not take this for an ack
    task = _task(hub, ws)
    assert client.patch(f"/tasks/{task}", json={"summary": "one", "event_type": "note"}, headers=key).status_code == 409
    assert [r.status for r in hub.refusals[-2:]] == [409, 409]


def test_a_refused_write_does_not_use_up_its_key(client: httpx.Client, hub: StrictStateHub, ws: str) -> None:
    key = {"Idempotency-Key": f"k-{uuid.uuid4()}"}
    task = str(uuid.uuid4())
    assert client.patch(f"/tasks/{task}", json={"status": "progress"}, headers=key).status_code == 404
    hub.seed_task(ws, "arrives later", id=task)
    assert client.patch(f"/tasks/{task}", json={"status": "progress"}, headers=key).status_code == 200
    assert len(hub.effects_on("PATCH", f"/tasks/{task}")) == 1


@pytest.mark.parametrize("target", ["todo", "progress", "wait", "done", "canceled"])
def test_cancel_is_final(client: httpx.Client, hub: StrictStateHub, ws: str, target: str) -> None:
    task = _task(hub, ws, status="cancel")
    answer = client.patch(f"/tasks/{task}", json={"status": target, "blocking_reason": "r"})
    if target == "canceled":  # an alias of cancel: staying cancelled is no transition
        assert answer.status_code == 200
    else:
        assert answer.status_code == 409, answer.text
        assert "cancel is final" in answer.json()["detail"]
    assert hub.task(task)["status"] == "cancel"


def test_done_reopens_only_by_the_explicit_rule(client: httpx.Client, hub: StrictStateHub, ws: str) -> None:
    task = _task(hub, ws, status="done")
    assert client.patch(f"/tasks/{task}", json={"status": "progress"}).status_code == 409
    assert client.patch(f"/tasks/{task}", json={"status": "cancel"}).status_code == 409
    hub.done_reopens_to = frozenset({"todo"})
    try:
        assert client.patch(f"/tasks/{task}", json={"status": "progress"}).status_code == 409
        assert client.patch(f"/tasks/{task}", json={"status": "todo"}).status_code == 200
    finally:
        hub.done_reopens_to = frozenset()
    assert hub.task(task)["status"] == "todo"


def test_wait_needs_a_blocking_reason(client: httpx.Client, hub: StrictStateHub, ws: str) -> None:
    task = _task(hub, ws)
    answer = client.patch(f"/tasks/{task}", json={"status": "blocked"})
    assert answer.status_code == 422
    assert _locs(answer) == [["body", "blocking_reason"]]
    answer = client.patch(f"/tasks/{task}", json={"status": "blocked", "blocking_reason": "waiting on ops"})
    assert answer.status_code == 200
    assert answer.json()["status"] == "wait" and answer.json()["blocking_reason"] == "waiting on ops"


def test_statuses_outside_the_canon_are_422_and_aliases_are_normalised(
    client: httpx.Client, hub: StrictStateHub, ws: str
) -> None:
    task = _task(hub, ws)
    assert client.patch(f"/tasks/{task}", json={"status": "started"}).status_code == 422
    assert client.patch(f"/tasks/{task}", json={"status": "in_progress"}).json()["status"] == "progress"
    workplan = hub.seed_workstream(title="wp")
    assert client.patch(f"/workplans/{workplan}", json={"status": "completed"}).json()["status"] == "finished"
    assert client.patch(f"/workstreams/{workplan}", json={"status": "paused"}).status_code == 422


def test_created_objects_get_server_assigned_uuids(client: httpx.Client, hub: StrictStateHub) -> None:
    topic = hub.seed_topic("created")
    made: dict[str, dict[str, Any]] = {}
    for collection in ("/workstreams/", "/workplans/"):
        answer = client.post(collection, json={"topic_id": topic, "title": f"via {collection}", "status": "active"})
        assert answer.status_code == 201
        made[collection] = answer.json()
    workstream = made["/workstreams/"]["id"]
    creations = {
        "/tasks/": {"workstream_id": workstream, "title": "new task", "priority": "high", "id": "client-chosen"},
        "/messages/": {"from_agent": "a", "to_agent": "b", "subject": "s", "body": "b"},
        "/decisions/": {"title": "pick one", "topic_id": topic},
        "/progress/": {"summary": "created", "event_type": "note", "workstream_id": workstream},
        "/token-events/": {"tokens_in": 10, "tokens_out": 2, "model": "m"},
    }
    for path, body in creations.items():
        answer = client.post(path, json=body)
        assert answer.status_code == 201, (path, answer.text)
        made[path] = answer.json()
    for path, record in made.items():
        assert uuid.UUID(record["id"]), path
        assert record["id"] != "client-chosen"
    assert made["/tasks/"]["status"] == "todo" and made["/tasks/"]["priority"] == "high"
    assert made["/decisions/"]["decision_type"] == "pending"
    assert made["/messages/"]["read"] is False and made["/messages/"]["thread_id"] is None
    assert made["/progress/"]["author"] == "custodian"
    assert len({record["id"] for record in made.values()}) == len(made)


def test_token_upsert_is_keyed_by_kind_provider_and_source_id(client: httpx.Client) -> None:
    source = {"measurement_kind": "measured", "source_provider": "manual", "source_id": f"src-{uuid.uuid4()}"}
    first = client.post("/token-events/upsert", json={"tokens_in": 1, "tokens_out": 1, **source})
    second = client.post("/token-events/upsert", json={"tokens_in": 5, "tokens_out": 1, **source})
    assert (first.status_code, second.status_code) == (201, 200)
    assert first.json()["id"] == second.json()["id"] and second.json()["tokens_total"] == 6
    other_kind = client.post(
        "/token-events/upsert", json={"tokens_in": 1, "tokens_out": 1, **source, "measurement_kind": "estimated"}
    )
    assert other_kind.status_code == 201 and other_kind.json()["id"] != first.json()["id"]
    no_kind = {"tokens_in": 1, "tokens_out": 1, "source_provider": "manual", "source_id": "s"}
    assert client.post("/token-events/upsert", json=no_kind).status_code == 422


def test_a_task_done_writes_a_token_event_with_the_sent_or_heuristic_counts(
    client: httpx.Client, hub: StrictStateHub
) -> None:
    workstream = hub.seed_workstream(title="tokens")
    sent, guessed = hub.seed_task(workstream, "sent"), hub.seed_task(workstream, "guessed")
    assert client.patch(f"/tasks/{sent}", json={"status": "done", "tokens_in": 7, "tokens_out": 3}).status_code == 200
    assert client.patch(f"/tasks/{guessed}", json={"status": "done"}).status_code == 200
    assert client.patch(f"/tasks/{guessed}", json={"tokens_in": 9}).status_code == 200  # not done: none
    totals = {e["task_id"]: (e["tokens_total"], e["note"]) for e in client.get("/token-events/").json()}
    assert totals[sent] == (10, None) and totals[guessed] == (1500, "heuristic")
    assert [e["workstream_id"] for e in client.get("/token-events/", params={"task_id": sent}).json()] == [workstream]


def test_messages_threads_and_read_marks(client: httpx.Client, hub: StrictStateHub) -> None:
    root = hub.seed_message("hub", "laptop", "root")
    reply = client.post(
        "/messages/", json={"from_agent": "laptop", "to_agent": "hub", "subject": "re", "body": "b", "thread_id": root}
    )
    assert reply.status_code == 201
    thread = client.get(f"/messages/{root}/thread").json()
    assert [m["id"] for m in thread] == [root, reply.json()["id"]]
    inbox = client.get("/messages/", params={"to_agent": "laptop", "unread_only": "true"}).json()
    assert [m["id"] for m in inbox] == [root]
    read = client.patch(f"/messages/{root}/read")
    assert read.status_code == 200 and read.json()["read"] is True and read.json()["read_at"]
    assert client.get("/messages/", params={"to_agent": "laptop", "unread_only": "true"}).json() == []


def test_decisions_record_patch_resolve_and_list(client: httpx.Client, hub: StrictStateHub) -> None:
    topic = hub.seed_topic(f"decide-{uuid.uuid4()}")
    assert client.post("/decisions/", json={"title": "nowhere"}).status_code == 422  # topic or workstream needed
    decision = client.post("/decisions/", json={"title": "which cluster", "topic_id": topic}).json()["id"]
    assert client.get(f"/decisions/{decision}").json()["status"] == "open"
    assert client.patch(f"/decisions/{decision}", json={"context": "more"}).json()["context"] == "more"
    pending = client.get("/decisions/", params={"decision_type": "pending"}).json()
    assert decision in [d["id"] for d in pending]
    assert client.post(f"/decisions/{decision}/resolve", json={"rationale": "cheaper"}).status_code == 422
    resolved = client.post(f"/decisions/{decision}/resolve", json={"rationale": "cheaper", "decided_by": "human"})
    assert resolved.status_code == 200 and resolved.json()["decision_type"] == "made"
    assert client.post(f"/decisions/{decision}/resolve", json={"rationale": "x", "decided_by": "y"}).status_code == 409


def test_reads_and_routing_like_fastapi(client: httpx.Client, hub: StrictStateHub) -> None:
    domain = hub.seed_domain("infotech")
    topic = hub.seed_topic("custodian", domain="infotech")
    assert domain in [d["id"] for d in client.get("/domains/").json()]
    assert topic in [t["id"] for t in client.get("/topics/").json()]
    client.post("/progress/", json={"summary": "for the filter", "event_type": "milestone", "topic_id": topic})
    listed = client.get("/progress/", params={"event_type": "milestone", "topic_id": topic}).json()
    assert [e["summary"] for e in listed] == ["for the filter"]
    moved = client.post("/progress", json={"summary": "s", "event_type": "note"})
    assert moved.status_code == 307 and moved.headers["location"] == "/progress/"
    assert client.get("/no-such-route/").status_code == 404


def test_every_refusal_is_recorded_with_status_and_reason(client: httpx.Client, hub: StrictStateHub) -> None:
    key = f"k-{uuid.uuid4()}"
    client.post("/messages/", json={"from_agent": "a", "to_agent": "b", "body": "b"}, headers={"Idempotency-Key": key})
    [refusal] = [r for r in hub.refusals if r.idempotency_key == key]
    assert refusal.status == 422 and "body.subject" in refusal.reason
    assert refusal.method == "POST" and refusal.path == "/messages/" and refusal.body["body"] == "b"
    assert not [e for e in hub.effects if e.idempotency_key == key]
