"""Writes through the real daemon: validation, idempotency, redaction, ordering, the journal bound."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.support.daemon import RunningDaemon, start_daemon

T05 = "CUST-WP-0054-T05"


def _journal_lines(daemon: RunningDaemon) -> list[dict]:  # type: ignore[type-arg]
    lines = []
    for segment in sorted((daemon.data_dir / "journal").glob("*.jsonl")):
        lines += [json.loads(line) for line in segment.read_text().splitlines() if line.strip()]
    return lines


@pytest.mark.parametrize(
    ("method", "path", "body", "status", "needle"),
    [
        ("PATCH", "/tasks/NOPE-WP-0001-T01", {"status": "done"}, 404, "NOPE-WP-0001-T01"),
        ("PATCH", f"/tasks/{T05}", {"status": "finished-ish"}, 422, "unknown status"),
        ("PATCH", f"/tasks/{T05}", {"needs_human": True}, 422, "intervention_note"),
        ("PATCH", f"/tasks/{T05}", {"needs_human": "yes", "intervention_note": "x"}, 422, "needs_human"),
        ("PATCH", f"/tasks/{T05}", {"status": 3}, 422, "status"),
        ("PATCH", f"/tasks/{T05}", {}, 422, "nothing to change"),
        ("PATCH", "/workplans/CUST-WP-0054", {"status": "sideways"}, 422, "unknown workplan status"),
        ("POST", "/progress/", {"event_type": "note"}, 422, "summary"),
        ("POST", "/progress/", {"summary": "x", "detail": "not an object"}, 422, "detail"),
        ("POST", "/progress/", {"summary": "x", "task_id": "NOPE-WP-0001-T01"}, 404, "NOPE"),
        ("POST", "/messages/", {"from_agent": "a", "body": "hi"}, 422, "to_agent"),
        ("PATCH", "/messages/no-such-message/read", {}, 404, "no-such-message"),
        (
            "POST",
            "/tasks/bulk-status-sync",
            {"updates": [{"task_id": T05, "status": "done"}, {"task_id": "NOPE-WP-0001-T01", "status": "done"}]},
            404,
            "one or more tasks were not found",  # the State Hub's detail object: {"message", "task_ids"}
        ),
        ("POST", "/tasks/bulk-status-sync", {"updates": "all of them"}, 422, "updates"),
    ],
)
def test_invalid_writes_are_4xx_and_write_nothing(
    daemon: RunningDaemon,
    method: str,
    path: str,
    body: dict,
    status: int,
    needle: str,  # type: ignore[type-arg]
) -> None:
    before = len(_journal_lines(daemon))
    response = daemon.request(method, path, json=body)
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert needle in str(response.json()["detail"])
    assert len(_journal_lines(daemon)) == before
    assert daemon.get(f"/tasks/{T05}").json()["status"] == "todo"


def test_malformed_and_oversized_bodies(daemon: RunningDaemon) -> None:
    bad_json = daemon.request("POST", "/progress/", content=b"{not json", headers={"content-type": "application/json"})
    assert bad_json.status_code == 400 and "not valid JSON" in bad_json.json()["detail"]
    not_object = daemon.request("POST", "/progress/", json=["a", "list"])
    assert not_object.status_code == 400 and "JSON object" in not_object.json()["detail"]
    huge = daemon.request("POST", "/progress/", json={"summary": "x" * (70 * 1024)})
    assert huge.status_code == 413 and "64 KiB" in huge.json()["detail"]
    assert _journal_lines(daemon) == []


def test_idempotency_key_matrix(daemon: RunningDaemon) -> None:
    body = {"summary": "deployed the relay", "event_type": "milestone", "author": "agent-7"}
    first = daemon.request("POST", "/progress/", json=body, headers={"Idempotency-Key": "key-1"})
    assert first.status_code == 201
    again = daemon.request("POST", "/progress/", json=body, headers={"Idempotency-Key": "key-1"})
    assert again.status_code == 201 and again.json() == first.json()
    assert again.headers.get("idempotent-replayed") == "true"
    assert len(_journal_lines(daemon)) == 1
    clash = daemon.request(
        "POST", "/progress/", json={**body, "summary": "other"}, headers={"Idempotency-Key": "key-1"}
    )
    assert clash.status_code == 409 and "key-1" in clash.json()["detail"]
    no_key_1 = daemon.request("POST", "/progress/", json=body)
    no_key_2 = daemon.request("POST", "/progress/", json=body)
    assert no_key_1.json()["id"] != no_key_2.json()["id"]
    assert len(_journal_lines(daemon)) == 3
    assert len(daemon.get("/progress/").json()) == 3
    patch = {"status": "progress"}
    p1 = daemon.request("PATCH", f"/tasks/{T05}", json=patch, headers={"Idempotency-Key": "key-2"})
    p2 = daemon.request("PATCH", f"/tasks/{T05}", json=patch, headers={"Idempotency-Key": "key-2"})
    assert p1.json() == p2.json() and len(_journal_lines(daemon)) == 4


def test_idempotent_replay_survives_a_restart(tmp_path: Path, workspace: list[Path]) -> None:
    hub = start_daemon(tmp_path / "hub", workspace)
    body = {"summary": "once only"}
    first = hub.request("POST", "/progress/", json=body, headers={"Idempotency-Key": "k"}).json()
    hub.kill9()
    (hub.data_dir / "readmodel.sqlite").unlink()  # the key must come back from the journal alone
    hub = start_daemon(tmp_path / "hub", workspace)
    try:
        again = hub.request("POST", "/progress/", json=body, headers={"Idempotency-Key": "k"})
        assert again.json() == first and again.headers.get("idempotent-replayed") == "true"
        assert len(hub.get("/progress/").json()) == 1
    finally:
        hub.stop()


def test_secret_fields_are_redacted_before_the_journal(daemon: RunningDaemon) -> None:
    body = {"summary": "rotated creds", "detail": {"api_key": "AKIA-SECRET", "password": "hunter2", "host": "db1"}}
    answer = daemon.request("POST", "/progress/", json=body).json()
    assert answer["detail"] == {"api_key": "[REDACTED]", "password": "[REDACTED]", "host": "db1"}
    raw = "".join(p.read_text() for p in (daemon.data_dir / "journal").glob("*.jsonl"))
    assert "AKIA-SECRET" not in raw and "hunter2" not in raw and "db1" in raw


def test_bulk_sync_is_ordered_and_task_patch_overlays(daemon: RunningDaemon) -> None:
    # A task appears once per sync (the State Hub refuses duplicates), so its second move is a second sync.
    updates = [{"task_id": T05, "status": "progress"}, {"task_id": "CUST-WP-0054-T06", "status": "done"}]
    answer = daemon.request("POST", "/tasks/bulk-status-sync", json={"updates": updates, "author": "a1"}).json()
    again = daemon.request(
        "POST", "/tasks/bulk-status-sync", json={"updates": [{"task_id": T05, "status": "done"}], "author": "a1"}
    ).json()
    assert [(u["task_id"], u["previous"], u["status"]) for u in answer["updated"] + again["updated"]] == [
        (T05, "todo", "progress"),
        ("CUST-WP-0054-T06", "todo", "done"),
        (T05, "progress", "done"),
    ]
    task = daemon.get(f"/tasks/{T05}").json()
    assert task["status"] == "done" and task["status_source"] == "local" and task["file_status"] == "todo"
    assert [h["value"] for h in task["history"]] == ["progress", "done"]
    seqs = [line["seq"] for line in _journal_lines(daemon)]
    assert seqs == sorted(seqs) and len(seqs) == 3


def test_flag_for_human_workplan_status_and_messages(daemon: RunningDaemon) -> None:
    flagged = daemon.request(
        "PATCH", f"/tasks/{T05}", json={"needs_human": True, "intervention_note": "approve the cutover window"}
    )
    assert flagged.status_code == 200
    before = {t["id"] for t in daemon.get("/tasks/", params={"needs_human": "true"}).json()}
    assert T05 in before
    assert daemon.get(f"/tasks/{T05}").json()["intervention_note"] == "approve the cutover window"
    wp = daemon.request("PATCH", "/workplans/CUST-WP-0054", json={"status": "blocked"}).json()
    assert wp["status"] == "blocked" and wp["pending_relay"] is True
    assert daemon.get("/workplans/CUST-WP-0054").json()["status"] == "blocked"
    assert not [t for t in daemon.get("/tasks/", params={"ready": "true"}).json() if t["workplan_id"] == "CUST-WP-0054"]
    sent = daemon.request(
        "POST", "/messages/", json={"from_agent": "a", "to_agent": "b", "subject": "s", "body": "hello"}
    ).json()
    assert [m["id"] for m in daemon.get("/messages/", params={"to_agent": "b", "unread_only": "true"}).json()] == [
        sent["id"]
    ]
    read = daemon.request("PATCH", f"/messages/{sent['id']}/read", json={}).json()
    assert read["read"] is True
    assert daemon.get("/messages/", params={"to_agent": "b", "unread_only": "true"}).json() == []


def test_full_journal_is_507_with_advice_and_keeps_what_was_saved(tmp_path: Path, workspace: list[Path]) -> None:
    hub = start_daemon(tmp_path / "hub", workspace, env={"DEVHUB_JOURNAL_MAX_BYTES": "4000"})
    try:
        accepted = []
        for n in range(50):
            response = hub.request("POST", "/progress/", json={"summary": f"event {n}"})
            if response.status_code != 201:
                break
            accepted.append(f"event {n}")
        assert response.status_code == 507, response.text
        assert "compact" in response.json()["detail"]
        assert accepted, "some writes fit before the bound"
        assert sorted(e["summary"] for e in hub.get("/progress/").json()) == sorted(accepted)
    finally:
        hub.stop()


def test_concurrent_writers_all_land_in_seq_order(daemon: RunningDaemon) -> None:
    """32 clients at once: every answered write is in the read model the moment it is answered."""
    import threading

    import httpx

    failures: list[str] = []

    def client(number: int) -> None:
        with httpx.Client(base_url=daemon.url, timeout=30) as http:
            for index in range(8):
                summary = f"concurrent {number}-{index}"
                answer = http.post("/progress/", json={"summary": summary})
                if answer.status_code != 201:
                    failures.append(answer.text)
                    continue
                seen = {e["summary"] for e in http.get("/progress/", params={"limit": 10000}).json()}
                if summary not in seen:
                    failures.append(f"{summary} answered but not readable")

    threads = [threading.Thread(target=client, args=(n,)) for n in range(32)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []
    events = daemon.get("/progress/", params={"limit": 10000}).json()
    assert len(events) == 32 * 8 == len({e["summary"] for e in events})
    seqs = sorted(e["seq"] for e in events)
    assert seqs == list(range(seqs[0], seqs[0] + len(seqs)))


def test_same_key_sent_concurrently_is_written_once(daemon: RunningDaemon) -> None:
    import threading

    import httpx

    answers: list[httpx.Response] = []

    def send() -> None:
        with httpx.Client(base_url=daemon.url, timeout=30) as http:
            answers.append(http.post("/progress/", json={"summary": "racing"}, headers={"Idempotency-Key": "race"}))

    threads = [threading.Thread(target=send) for _ in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert {a.status_code for a in answers} == {201}
    assert len({a.json()["id"] for a in answers}) == 1
    assert len(_journal_lines(daemon)) == 1
