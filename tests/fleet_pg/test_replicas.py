"""Several fleet replicas on one PostgreSQL database serve one state: what one accepts, the other answers at once."""

from __future__ import annotations

import json
import threading

import httpx

from tests.fleet_pg.helpers import TASK, progress_ids
from tests.support.daemon import RunningDaemon


def test_a_write_through_one_replica_is_read_through_the_other_at_once(
    replicas: tuple[RunningDaemon, RunningDaemon],
) -> None:
    a, b = replicas
    with a.client() as ca, b.client() as cb:
        made = ca.post("/progress/", json={"summary": "via-a: one", "task_id": TASK})
        assert made.status_code == 201, made.text
        assert progress_ids(b, "via-a:") == [made.json()["id"]]  # no wait: B reads what A committed

        patched = cb.patch(f"/tasks/{TASK}", json={"status": "in_progress"})
        assert patched.status_code == 200, patched.text
        on_a = ca.get(f"/tasks/{TASK}").json()
        assert (on_a["status"], on_a["status_source"]) == ("progress", "local")

        sent = ca.post("/messages/", json={"from_agent": "x", "to_agent": "y", "subject": "hi", "body": "hello"})
        assert sent.status_code == 201, sent.text
        read = cb.patch(f"/messages/{sent.json()['id']}/read")  # B knows the message A accepted
        assert read.status_code == 200, read.text
        listed = ca.get("/messages/", params={"to_agent": "y"}).json()
        assert [(m["id"], m["read"]) for m in listed] == [(sent.json()["id"], True)]
        assert ca.get("/state/daemon").json()["journal"]["last_seq"] == 4
        assert cb.get("/state/daemon").json()["journal"]["last_seq"] == 4


def test_one_key_sent_to_both_replicas_at_once_has_one_effect_and_one_answer(
    replicas: tuple[RunningDaemon, RunningDaemon],
) -> None:
    a, b = replicas
    rounds = 12
    answers: dict[tuple[int, str], httpx.Response] = {}

    def send(hub: RunningDaemon, name: str, index: int, start: threading.Barrier) -> None:
        with hub.client() as client:
            start.wait(timeout=10)
            answers[(index, name)] = client.post(
                "/progress/", json={"summary": f"race: {index}"}, headers={"Idempotency-Key": f"race-{index}"}
            )

    for index in range(rounds):
        start = threading.Barrier(2)
        threads = [threading.Thread(target=send, args=(hub, name, index, start)) for hub, name in ((a, "a"), (b, "b"))]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=30)
    for index in range(rounds):
        first, second = answers[(index, "a")], answers[(index, "b")]
        assert (first.status_code, second.status_code) == (201, 201), (first.text, second.text)
        assert json.loads(first.text) == json.loads(second.text)  # the loser answers the winner's response
    assert len(progress_ids(a, "race:")) == rounds
    assert progress_ids(a, "race:") == progress_ids(b, "race:")
    assert a.get("/state/daemon").json()["journal"]["last_seq"] == rounds

    with b.client() as cb:
        reused = cb.post("/progress/", json={"summary": "race: other body"}, headers={"Idempotency-Key": "race-0"})
        assert reused.status_code == 409, reused.text
        assert "different body" in reused.json()["detail"]
