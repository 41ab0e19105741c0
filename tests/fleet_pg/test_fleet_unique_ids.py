"""Ids created through the fleet are unique across replicas (claimed in PostgreSQL), and many concurrent writes to
one replica are group-committed with a refused or duplicate one answered on its own."""

from __future__ import annotations

import json
import threading
from typing import Any

import httpx
import psycopg

from tests.fleet_pg.helpers import journal_last_seq
from tests.support.daemon import RunningDaemon

WP = "CUST-WP-0054"  # its file holds T01..T10


def at_once(calls: list[tuple[RunningDaemon, str, str, dict[str, Any], dict[str, str]]]) -> list[httpx.Response]:
    """Send every (hub, method, path, body, headers) on its own thread, released together; the answers in order."""
    answers: list[httpx.Response | None] = [None] * len(calls)
    start = threading.Barrier(len(calls))

    def send(index: int) -> None:
        hub, method, path, body, headers = calls[index]
        with hub.client() as client:
            start.wait(timeout=30)
            answers[index] = client.request(method, path, json=body, headers=headers)

    threads = [threading.Thread(target=send, args=(index,)) for index in range(len(calls))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert all(answer is not None for answer in answers), "a request never returned"
    return [answer for answer in answers if answer is not None]


def test_two_replicas_creating_at_once_never_assign_one_id_twice(
    replicas: tuple[RunningDaemon, RunningDaemon], pg_url: str
) -> None:
    a, b = replicas
    rounds = 4
    created: list[str] = []
    for index in range(rounds):  # each round: both replicas pick "the next free id" from the same read model
        answers = at_once(
            [
                (hub, "POST", "/tasks/", {"workplan_id": WP, "title": f"round {index} via {name}"}, {})
                for hub, name in ((a, "a"), (b, "b"))
            ]
        )
        assert [answer.status_code for answer in answers] == [201, 201], [answer.text for answer in answers]
        created += [answer.json()["id"] for answer in answers]
    assert sorted(created) == [f"{WP}-T{n:02d}" for n in range(11, 11 + 2 * rounds)]  # distinct, no gaps
    for hub in (a, b):
        listed = [t["id"] for t in hub.get("/tasks/", params={"workplan_id": WP}).json()]
        assert len(listed) == len(set(listed)) == 10 + 2 * rounds
    plan_calls = [(hub, "POST", "/workplans/", {"repo_id": "the-custodian", "title": f"plan via {name}"}, {})
                  for hub, name in ((a, "a"), (b, "b"))]  # fmt: skip
    plans = at_once(plan_calls)
    assert [plan.status_code for plan in plans] == [201, 201], [plan.text for plan in plans]
    assert plans[0].json()["id"] != plans[1].json()["id"]
    with psycopg.connect(pg_url) as conn:
        claims = [row[0] for row in conn.execute("SELECT claim FROM devhub_created_ids WHERE claim LIKE 'task:%'")]
    assert sorted(claim.rsplit(":", 1)[1] for claim in claims) == sorted(created)


def test_an_id_another_replica_holds_is_refused_with_409_and_nothing_saved(
    replicas: tuple[RunningDaemon, RunningDaemon], pg_url: str
) -> None:
    a, _ = replicas
    first = a.request("POST", "/tasks/", json={"workplan_id": WP, "title": "takes T11"})
    assert first.status_code == 201 and first.json()["id"] == f"{WP}-T11", first.text
    with psycopg.connect(pg_url) as conn:  # a claim whose write this replica can never read (e.g. a bad restore)
        (repo,) = conn.execute("SELECT envelope->'record'->>'repo' FROM devhub_writes WHERE seq = 1").fetchone()  # type: ignore[misc]
        conn.execute("INSERT INTO devhub_created_ids (claim, write_id) VALUES (%s, 'lost')", (f"task:{repo}:{WP}-T12",))
    refused = a.request("POST", "/tasks/", json={"workplan_id": WP, "title": "wants T12"})
    assert refused.status_code == 409, refused.text
    assert f"{WP}-T12" in refused.json()["detail"] and "NOT saved" in refused.json()["detail"]
    assert journal_last_seq(a) == 1
    message = a.request("POST", "/messages/", json={"from_agent": "x", "to_agent": "y", "subject": "s", "body": "b"})
    assert message.status_code == 201, message.text  # other creates are untouched


def test_concurrent_writes_to_one_replica_are_batched_and_a_bad_or_duplicate_one_is_answered_alone(
    replicas: tuple[RunningDaemon, RunningDaemon], pg_url: str
) -> None:
    a, b = replicas
    with a.client() as client:
        original = client.post("/progress/", json={"summary": "batch: original"}, headers={"Idempotency-Key": "dup"})
    assert original.status_code == 201, original.text
    calls: list[tuple[RunningDaemon, str, str, dict[str, Any], dict[str, str]]] = [
        (a, "POST", "/progress/", {"summary": f"batch: {index}"}, {"Idempotency-Key": f"batch-{index}"})
        for index in range(24)
    ]
    calls.append((a, "POST", "/progress/", {"summary": 42}, {"Idempotency-Key": "batch-invalid"}))
    calls.append((a, "POST", "/progress/", {"summary": "batch: original"}, {"Idempotency-Key": "dup"}))
    calls.append((b, "POST", "/progress/", {"summary": "batch: both"}, {"Idempotency-Key": "both"}))
    calls.append((a, "POST", "/progress/", {"summary": "batch: both"}, {"Idempotency-Key": "both"}))

    answers = at_once(calls)

    assert all(answer.status_code == 201 for answer in answers[:24]), [a.text for a in answers[:24]]
    invalid, duplicate, both_b, both_a = answers[24:]
    assert invalid.status_code == 422 and "summary" in invalid.text
    assert (duplicate.status_code, json.loads(duplicate.text)) == (201, json.loads(original.text))
    assert (both_a.status_code, both_b.status_code) == (201, 201) and both_a.json() == both_b.json()
    with psycopg.connect(pg_url) as conn:
        count, transactions = conn.execute(  # type: ignore[misc]
            "SELECT count(*), count(DISTINCT xmin::text) FROM devhub_writes WHERE seq > 1"
        ).fetchone()
        keys = {row[0] for row in conn.execute("SELECT key FROM devhub_idempotency")}
    assert count == 24 + 1  # the 24, and "both" once; the invalid and the duplicate added nothing
    assert transactions < count  # writes that arrived while a transaction was in flight shared the next one
    assert "batch-invalid" not in keys and {f"batch-{index}" for index in range(24)} <= keys
    assert journal_last_seq(a) == journal_last_seq(b) == 26


def test_a_replay_that_no_longer_builds_answers_the_first_response_on_either_replica(
    replicas: tuple[RunningDaemon, RunningDaemon],
) -> None:
    # A shared store claims keys in the write's transaction instead of looking them up first; a replay whose
    # build now fails (the decision is resolved already: 409 for a new request) must still answer as the first did.
    a, b = replicas
    made = a.request(
        "POST", "/decisions/", json={"title": "Pick a queue", "decision_type": "pending", "topic_id": "custodian"}
    )
    assert made.status_code == 201, made.text
    resolve = {"rationale": "simplest", "decided_by": "bernd"}
    path = f"/decisions/{made.json()['id']}/resolve"
    first = a.request("POST", path, json=resolve, headers={"Idempotency-Key": "resolve-once"})
    assert first.status_code == 200, first.text
    for hub in (a, b):
        again = hub.request("POST", path, json=resolve, headers={"Idempotency-Key": "resolve-once"})
        assert (again.status_code, again.json()) == (200, first.json())
    fresh = b.request("POST", path, json=resolve, headers={"Idempotency-Key": "resolve-twice"})
    assert fresh.status_code == 409 and "already resolved" in fresh.json()["detail"]
    other_body = b.request(
        "POST", path, json=resolve | {"rationale": "other"}, headers={"Idempotency-Key": "resolve-once"}
    )
    assert other_body.status_code == 409 and "different body" in other_body.json()["detail"]
    assert journal_last_seq(a) == journal_last_seq(b)
