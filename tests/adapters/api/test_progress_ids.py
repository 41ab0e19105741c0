"""POST /progress/ as the State Hub takes it: topic_id stored and filterable, workstream_id the legacy name of
workplan_id, and an empty id refused naming the field (upstream it fails UUID parsing)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.daemon import RunningDaemon, start_daemon
from tests.support.repos import make_workspace

TOPIC_UUID = "cee7bedf-2b48-46ef-8601-006474f2ad7a"


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningDaemon]:
    root = tmp_path_factory.mktemp("progress")
    running = start_daemon(root / "hub", make_workspace(root / "ws"))
    try:
        yield running
    finally:
        running.stop()


@pytest.mark.parametrize("field", ["topic_id", "workplan_id", "workstream_id", "task_id"])
def test_an_empty_id_is_refused_naming_it_and_nothing_is_recorded(hub: RunningDaemon, field: str) -> None:
    before = hub.get("/progress/").json()
    refused = hub.request("POST", "/progress/", json={"summary": "close", field: ""})
    assert refused.status_code == 422, refused.text
    assert [p["name"] for p in refused.json()["invalid_params"]] == [field]
    assert hub.get("/progress/").json() == before


def test_topic_id_is_stored_answered_and_filtered(hub: RunningDaemon) -> None:
    body = {"summary": "session closed", "topic_id": TOPIC_UUID, "workstream_id": "CUST-WP-0054"}
    event = hub.request("POST", "/progress/", json=body).json()
    assert (event["topic_id"], event["workplan_id"], event["workstream_id"]) == (
        TOPIC_UUID,
        "CUST-WP-0054",
        "8a828444-dd49-4d7b-a2d1-9952b5bc929d",  # workstream_id: the workplan's fleet UUID, as decisions answer it
    )
    hub.request("POST", "/progress/", json={"summary": "elsewhere", "topic_id": "another-topic"})
    listed = hub.get("/progress/", params={"topic_id": TOPIC_UUID}).json()
    assert [e["id"] for e in listed] == [event["id"]] and listed[0]["topic_id"] == TOPIC_UUID
    assert [e["summary"] for e in hub.get("/progress/", params={"workstream_id": "CUST-WP-0054"}).json()] == [
        "session closed"
    ]


def test_workplan_id_and_its_legacy_name_must_agree(hub: RunningDaemon) -> None:
    same = hub.request(
        "POST", "/progress/", json={"summary": "a", "workplan_id": "CUST-WP-0054", "workstream_id": "CUST-WP-0054"}
    )
    assert same.status_code == 201
    differ = hub.request(
        "POST", "/progress/", json={"summary": "b", "workplan_id": "CUST-WP-0054", "workstream_id": "CUST-WP-0011"}
    )
    assert differ.status_code == 422 and [p["name"] for p in differ.json()["invalid_params"]] == ["workstream_id"]
