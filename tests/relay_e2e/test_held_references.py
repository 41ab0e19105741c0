"""Writes made offline that name objects the fleet does not know yet wait (held, naming the object) and go out
with the fleet's ids once those are known, in order, through a fault proxy to the strict State Hub stand-in."""

from __future__ import annotations

import json
from pathlib import Path

from tests.reconcile.helpers import GIT_IDENTITY
from tests.relay_e2e.helpers import relay, start_dev, wait_drained, write_progress
from tests.support.daemon import run_cli
from tests.support.faultproxy import fault_proxy
from tests.support.repos import make_workspace
from tests.support.strict_statehub import strict_statehub
from tests.support.waiting import wait_for

TOKEN = "held-references-token"
TOPIC_UUID = "cee7bedf-2b48-46ef-8601-006474f2ad7a"
WORKPLAN_UUID = "8a828444-dd49-4d7b-a2d1-9952b5bc929d"  # CUST-WP-0054 in the fixture
T06_UUID = "f2c5dd4b-9af4-4e8c-8619-6814e7d1666e"
WP0011_UUID = "ec3530d8-7a30-49c2-8f71-72b71de68c65"
HELD_TASK = "CUST-WP-0011-T10"  # no state_hub_task_id in the file
HELD_TASK_UUID = "5d0c1f0e-8d8a-4c4e-9b1e-2f6a7f0c0a10"
WP0011_FILE = Path("workplans/CUST-WP-0011-state-hub-cluster-migration.md")
WP0054_FILE = Path("workplans/CUST-WP-0054-workstation-independence.md")


def _give_id(repo: Path) -> None:
    path = repo / WP0011_FILE
    block = f"id: {HELD_TASK}\nstatus: todo\n"
    text = path.read_text()
    assert block in text
    path.write_text(text.replace(block, f'{block}state_hub_task_id: "{HELD_TASK_UUID}"\n'))


def _offline_writes(client: object) -> dict[str, str]:
    """Every legitimate write kind, written while the fleet is unreachable; the local ids they got."""
    import httpx

    assert isinstance(client, httpx.Client)

    def ok(answer: httpx.Response) -> dict[str, str]:
        assert answer.status_code in (200, 201), answer.text
        data: dict[str, str] = answer.json()
        return data

    task = ok(client.post("/tasks/", json={"workstream_id": "CUST-WP-0054", "title": "Write the runbook"}))
    write_progress(client, "on the created task", task_id=task["id"])
    ok(client.patch(f"/tasks/{task['id']}", json={"status": "progress"}))
    plan = ok(
        client.post("/workplans/", json={"repo_id": "the-custodian", "title": "Made offline", "topic_id": TOPIC_UUID})
    )
    inner = ok(client.post("/tasks/", json={"workstream_id": plan["id"], "title": "First step"}))
    write_progress(client, "on the held file task", task_id=HELD_TASK)
    root = ok(
        client.post(
            "/messages/", json={"from_agent": "worker", "to_agent": "state-hub", "subject": "ready?", "body": "?"}
        )
    )
    reply = ok(client.post(f"/messages/{root['id']}/reply", json={"from_agent": "state-hub", "body": "go"}))
    ok(client.patch(f"/messages/{reply['id']}/archive", json={}))
    decision = ok(
        client.post(
            "/decisions/", json={"title": "Which cluster", "decision_type": "pending", "workstream_id": plan["id"]}
        )
    )
    ok(client.post(f"/decisions/{decision['id']}/resolve", json={"rationale": "cheaper", "decided_by": "bernd"}))
    ok(client.post("/token-events/", json={"tokens_in": 30, "tokens_out": 5, "task_id": task["id"], "model": "opus"}))
    ok(client.patch("/tasks/CUST-WP-0054-T06", json={"status": "progress"}))
    ok(client.patch("/workplans/CUST-WP-0054", json={"status": "blocked"}))
    return {"task": task["id"], "plan": plan["id"], "inner": inner["id"], "root": root["id"], "reply": reply["id"]}


def test_offline_references_are_held_then_sent_with_the_fleets_ids(tmp_path: Path) -> None:
    with strict_statehub(token=TOKEN) as hub, fault_proxy(int(hub.url.rsplit(":", 1)[1]), mode="refuse") as proxy:
        hub.seed_topic("custodian", id=TOPIC_UUID)
        hub.seed_workstream(TOPIC_UUID, title="Workstation Independence", id=WORKPLAN_UUID)
        hub.seed_task(WORKPLAN_UUID, "CUST-WP-0054-T06", id=T06_UUID, status="todo")
        hub.seed_workstream(TOPIC_UUID, title="Cluster migration", id=WP0011_UUID)
        repos = make_workspace(tmp_path / "ws", ["the-custodian"])
        dev = start_dev(tmp_path / "dev", repos, proxy.url, env={"STATE_HUB_TOKEN": TOKEN})
        try:
            with dev.client() as client:
                local = _offline_writes(client)
            proxy.set_mode("pass")
            waiting = wait_for(
                lambda: (s := relay(dev))["pending"] == 1 and s["state"] == "idle" and s,
                timeout=40,
                what="everything but the progress event on the task without a UUID to be delivered",
            )
            [reason] = [h["reason"] for h in waiting["held_reasons"]]
            assert HELD_TASK in reason and "state_hub_task_id" in reason, reason
            assert not [e for e in hub.progress if e["summary"] == "on the held file task"]

            # The fleet registers the task; the file gains its UUID; the file change releases the held event.
            hub.seed_task(WP0011_UUID, HELD_TASK, id=HELD_TASK_UUID, status="todo")
            _give_id(repos[0])
            status = wait_drained(dev, timeout=30)
            assert status["dead_letters"] == 0 and status["held"] == 0, status
            assert hub.refusals == [], hub.refusals

            ids = [json.loads(line) for line in (dev.data_dir / "relay" / "fleet_ids.jsonl").read_text().splitlines()]
            fleet = {(line["kind"], line["local"]): line["fleet"] for line in ids}
            task_uuid = fleet[("task", f"the-custodian:{local['task']}")]
            plan_uuid = fleet[("workplan", f"the-custodian:{local['plan']}")]
            inner_uuid = fleet[("task", f"the-custodian:{local['inner']}")]
            root_id = fleet[("message", local["root"])]
            assert all(line["envelope"] and line["seq"] for line in ids)  # each names the write it answers

            # Created objects carry the fleet's ids of what they name; so do the writes that name them.
            assert hub.task(task_uuid)["workstream_id"] == WORKPLAN_UUID
            assert hub.task(task_uuid)["status"] == "progress"
            assert hub.task(inner_uuid)["workstream_id"] == plan_uuid
            by_summary = {e["summary"]: e for e in hub.progress}
            assert by_summary["on the created task"]["task_id"] == task_uuid
            assert by_summary["on the held file task"]["task_id"] == HELD_TASK_UUID
            reply = hub.messages[fleet[("message", local["reply"])]]
            assert reply["thread_id"] == root_id and reply["archived"] is True
            assert hub.task(T06_UUID)["status"] == "progress"

            # writeback writes the fleet's UUID the relay learnt into the new task block.
            done = run_cli("writeback", "--commit", env={**dev.env, **GIT_IDENTITY})
            assert done.returncode == 0, done.stdout + done.stderr
            text = (repos[0] / WP0054_FILE).read_text()
            block = text[text.index(f"id: {local['task']}") :]
            assert f'state_hub_task_id: "{task_uuid}"' in block.split("## Task:")[0], block
        finally:
            dev.stop()


def test_a_task_under_a_workplan_the_fleet_does_not_know_is_held_naming_the_workplan(tmp_path: Path) -> None:
    with strict_statehub(token=TOKEN) as hub:
        # The fleet has no topic "custodian": its snapshot cannot supply a UUID for the slug (if it could, the
        # create would go out with it; tests/relay_e2e/test_fleet_snapshot.py).
        hub.seed_topic("fleet-topic", id=TOPIC_UUID)
        hub.seed_workstream(TOPIC_UUID, title="Workstation Independence", id=WORKPLAN_UUID)
        hub.seed_task(WORKPLAN_UUID, "CUST-WP-0054-T06", id=T06_UUID, status="todo")
        dev = start_dev(
            tmp_path / "dev",
            make_workspace(tmp_path / "ws", ["the-custodian"]),
            hub.url,
            env={"STATE_HUB_TOKEN": TOKEN},
        )
        try:
            with dev.client() as client:
                # A topic slug: the fleet takes only its UUID, which devhub does not know.
                plan = client.post(
                    "/workplans/", json={"repo_id": "the-custodian", "title": "X", "topic_id": "custodian"}
                )
                assert plan.status_code == 201, plan.text
                task = client.post("/tasks/", json={"workstream_id": plan.json()["id"], "title": "First"})
                assert task.status_code == 201, task.text
                write_progress(client, "flows", task_id="CUST-WP-0054-T06")
            status = wait_for(
                lambda: (s := relay(dev))["held"] == 2 and s["state"] == "idle" and s,
                timeout=30,
                what="the workplan's create and the task under it to be held, the rest delivered",
            )
        finally:
            dev.stop()
        reasons = [h["reason"] for h in status["held_reasons"]]
        assert any("topic 'custodian' is a slug" in r for r in reasons), reasons
        assert any(plan.json()["id"] in r and "state_hub_workstream_id" in r for r in reasons), reasons
        assert status["dead_letters"] == 0 and hub.refusals == [], (status, hub.refusals)
        assert [e["task_id"] for e in hub.progress if e["summary"] == "flows"] == [T06_UUID]  # others flow
        assert hub.effects_on("POST", "/tasks/") == [] and hub.effects_on("POST", "/workplans/") == []
