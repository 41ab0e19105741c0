"""The agent inbox through a real daemon, as the State Hub's router answers: send (subject required, a
thread root must exist), list (to/from agent, unread_only, limit 20 by default), read, thread, archive, reply."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.daemon import RunningDaemon, start_daemon
from tests.support.repos import make_workspace


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningDaemon]:
    root = tmp_path_factory.mktemp("inbox")
    running = start_daemon(root / "hub", make_workspace(root / "ws"))
    try:
        yield running
    finally:
        running.stop()


def _send(hub: RunningDaemon, **fields: Any) -> dict[str, Any]:
    body = {"from_agent": "worker", "to_agent": "hub", "subject": "s", "body": "b"} | fields
    answer = hub.request("POST", "/messages/", json=body)
    assert answer.status_code == 201, answer.text
    result: dict[str, Any] = answer.json()
    return result


def test_a_message_without_subject_is_refused_naming_the_field_and_nothing_is_kept(hub: RunningDaemon) -> None:
    before = hub.get("/messages/", params={"limit": 10_000}).json()
    refused = hub.request("POST", "/messages/", json={"from_agent": "a", "to_agent": "b", "body": "no subject"})
    assert refused.status_code == 422
    assert [p["name"] for p in refused.json()["invalid_params"]] == ["subject"]
    too_long = hub.request(
        "POST", "/messages/", json={"from_agent": "a", "to_agent": "b", "subject": "x" * 501, "body": "b"}
    )
    assert too_long.status_code == 422 and "500" in too_long.json()["detail"]
    assert hub.get("/messages/", params={"limit": 10_000}).json() == before


def test_an_unknown_thread_root_is_404_in_the_state_hubs_words(hub: RunningDaemon) -> None:
    refused = hub.request(
        "POST", "/messages/", json={"from_agent": "a", "to_agent": "b", "subject": "s", "body": "b", "thread_id": "x1"}
    )
    assert refused.status_code == 404 and refused.json()["detail"] == "Thread root x1 not found"
    empty = hub.request(
        "POST", "/messages/", json={"from_agent": "a", "to_agent": "b", "subject": "s", "body": "b", "thread_id": ""}
    )
    assert empty.status_code == 422 and [p["name"] for p in empty.json()["invalid_params"]] == ["thread_id"]


def test_list_filters_by_sender_and_limit_defaults_to_twenty(hub: RunningDaemon) -> None:
    sent = [_send(hub, from_agent="chatty", to_agent="quiet", subject=f"n{n}") for n in range(23)]
    other = _send(hub, from_agent="someone-else", to_agent="quiet")
    to_quiet = hub.get("/messages/", params={"to_agent": "quiet"}).json()
    assert len(to_quiet) == 20 and to_quiet[0]["id"] == other["id"]  # newest first, 20 by default
    from_chatty = hub.get("/messages/", params={"from_agent": "chatty", "limit": 50}).json()
    assert [m["id"] for m in from_chatty] == [m["id"] for m in reversed(sent)]
    assert [m["id"] for m in hub.get("/messages/", params={"from_agent": "chatty", "limit": 2}).json()] == [
        sent[-1]["id"],
        sent[-2]["id"],
    ]
    assert hub.get("/messages/", params={"limit": 0}).status_code == 400


def test_reply_goes_to_the_sender_in_the_thread_and_marks_the_original_read(hub: RunningDaemon) -> None:
    root = _send(hub, from_agent="worker-a", to_agent="state-hub", subject="T03 done, review?")
    answer = hub.request("POST", f"/messages/{root['id']}/reply", json={"from_agent": "state-hub", "body": "ok"})
    assert answer.status_code == 201, answer.text
    reply = answer.json()
    assert (reply["from_agent"], reply["to_agent"], reply["thread_id"], reply["subject"]) == (
        "state-hub",
        "worker-a",
        root["id"],
        "Re: T03 done, review?",
    )
    original = hub.get("/messages/", params={"from_agent": "worker-a"}).json()[0]
    assert original["id"] == root["id"] and original["read"] is True
    assert hub.get("/messages/", params={"to_agent": "worker-a", "unread_only": "true"}).json()[0]["id"] == reply["id"]
    # A reply to the reply stays in the root's thread; the thread view lists root then replies in order.
    second = hub.request(
        "POST", f"/messages/{reply['id']}/reply", json={"from_agent": "worker-a", "body": "thanks", "subject": "ack"}
    ).json()
    assert (second["thread_id"], second["to_agent"], second["subject"]) == (root["id"], "state-hub", "ack")
    thread = hub.get(f"/messages/{second['id']}/thread").json()
    assert [m["id"] for m in thread] == [root["id"], reply["id"], second["id"]]
    assert hub.get(f"/messages/{root['id']}/thread").json() == thread


def test_reply_and_thread_refuse_what_they_cannot_do(hub: RunningDaemon) -> None:
    root = _send(hub)
    assert hub.request("POST", "/messages/nope/reply", json={"from_agent": "a", "body": "b"}).status_code == 404
    missing = hub.request("POST", f"/messages/{root['id']}/reply", json={"body": "who am I"})
    assert missing.status_code == 422 and [p["name"] for p in missing.json()["invalid_params"]] == ["from_agent"]
    assert hub.get("/messages/nope/thread").status_code == 404


def test_archive_takes_a_message_out_of_the_inbox_until_asked_for(hub: RunningDaemon) -> None:
    kept = _send(hub, to_agent="archivist", subject="keep")
    gone = _send(hub, to_agent="archivist", subject="archive me")
    answer = hub.request("PATCH", f"/messages/{gone['id']}/archive", json={})
    assert answer.status_code == 200 and answer.json()["archived"] is True and answer.json()["archived_at"]
    assert [m["id"] for m in hub.get("/messages/", params={"to_agent": "archivist"}).json()] == [kept["id"]]
    everything = hub.get("/messages/", params={"to_agent": "archivist", "include_archived": "true"}).json()
    assert [m["id"] for m in everything] == [gone["id"], kept["id"]]
    again = hub.request("PATCH", f"/messages/{gone['id']}/archive", json={}).json()
    assert again["archived_at"] == answer.json()["archived_at"]  # archiving twice keeps the first time
    assert hub.request("PATCH", "/messages/nope/archive", json={}).status_code == 404


def test_inbox_writes_survive_a_rebuild_from_the_journal(tmp_path: Path) -> None:
    workspace = make_workspace(tmp_path / "ws")
    first = start_daemon(tmp_path / "hub", workspace)
    try:
        root = _send(first, to_agent="x")
        first.request("POST", f"/messages/{root['id']}/reply", json={"from_agent": "x", "body": "r"})
        first.request("PATCH", f"/messages/{root['id']}/archive", json={})
        before = first.get("/messages/", params={"include_archived": "true"}).json()
    finally:
        first.stop()
    models = list((tmp_path / "hub" / "data").glob("readmodel.sqlite*"))
    assert models, "the read model is where the test expects it"
    for model in models:  # the read model goes; the journal stays
        model.unlink()
    second = start_daemon(tmp_path / "hub", workspace)
    try:
        assert second.get("/messages/", params={"include_archived": "true"}).json() == before
    finally:
        second.stop()
