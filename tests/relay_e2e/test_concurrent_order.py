"""Calls on the wire at once (DEVHUB_RELAY_IN_FLIGHT) and bulk syncs as one call (DEVHUB_RELAY_BULK), against
the strict State Hub stand-in and a real fleet hub: every ordering guarantee holds — each object's writes in
journal order, a create before what names it, a reply after its root — and each write lands exactly once.

The writes are made while the upstream refuses connections (the fault proxy), so the whole backlog is there
when it comes back: the relay then has many independent envelopes to send side by side."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx

from tests.relay_e2e.helpers import journal_last_seq, patch_task, relay, start_dev, wait_drained, write_progress
from tests.support.daemon import RunningDaemon
from tests.support.faultproxy import fault_proxy
from tests.support.repos import make_workspace
from tests.support.strict_statehub import strict_statehub
from tests.support.waiting import wait_for

TOKEN = "strict-upstream-token"
WORKPLAN_UUID = "8a828444-dd49-4d7b-a2d1-9952b5bc929d"  # CUST-WP-0054 in fixtures/repos/the-custodian
TASKS = {
    "CUST-WP-0054-T04": "79b9ee4d-f792-434c-a2ea-2fe216a948ca",
    "CUST-WP-0054-T05": "e91db8d0-973d-4a31-b3c2-ca37fd002ec7",
    "CUST-WP-0054-T06": "f2c5dd4b-9af4-4e8c-8619-6814e7d1666e",
    "CUST-WP-0054-T07": "0eaf1961-a4e7-459e-b710-3e72042cdf50",
    "CUST-WP-0054-T08": "ede6713e-8552-469c-bfe5-b17b015e1809",
}
HOT = "CUST-WP-0054-T05"  # changed again and again, between writes to every other task
OTHERS = [task for task in TASKS if task != HOT]
HOT_CHANGES = 16


def _ok(answer: httpx.Response, status: int = 201) -> dict[str, Any]:
    assert answer.status_code == status, answer.text
    data: dict[str, Any] = answer.json()
    return data


def _status(index: int) -> str:
    return "progress" if index % 2 == 0 else "todo"


def _backlog(client: httpx.Client) -> dict[str, Any]:
    """The interleaved writes; what each check needs to find them upstream."""
    hot: list[str] = []
    notes: list[str] = []
    for index in range(HOT_CHANGES):
        hot.append(_status(index))
        patch_task(client, HOT, hot[-1])
        other = OTHERS[index % len(OTHERS)]
        notes.append(f"order-{index:02d}")
        write_progress(client, notes[-1], task_id=other)  # independent of the hot task: may go side by side
        patch_task(client, other, _status(index // len(OTHERS)))
        if index % 4 == 3:  # a bulk sync of the other tasks (one call upstream), then the hot task again
            bulk = {"updates": [{"task_id": t, "status": "progress"} for t in OTHERS], "author": f"bulk-{index}"}
            _ok(
                client.post("/tasks/bulk-status-sync", json=bulk, headers={"Idempotency-Key": f"order-bk-{index}"}), 200
            )
    root = _ok(client.post("/messages/", json={"from_agent": "worker", "to_agent": "hub", "subject": "s", "body": "r"}))
    replies = [
        _ok(client.post(f"/messages/{root['id']}/reply", json={"from_agent": "hub", "body": f"reply-{n}"}))
        for n in range(3)
    ]
    created = _ok(client.post("/tasks/", json={"workstream_id": "CUST-WP-0054", "title": "Made offline"}))
    write_progress(client, "on-the-created-task", task_id=created["id"])
    feed = [f"feed-{n}" for n in range(6)]
    for summary in feed:
        write_progress(client, summary)  # names no task or workplan: the general feed keeps journal order
    return {"hot": hot, "notes": notes, "replies": [r["body"] for r in replies], "feed": feed}


def test_interleaved_writes_land_in_order_per_object_at_the_strict_hub(tmp_path: Path) -> None:
    with strict_statehub(token=TOKEN) as hub, fault_proxy(_port(hub.url), mode="refuse") as proxy:
        hub.seed_workstream(title="Workstation Independence", id=WORKPLAN_UUID)
        for task, task_uuid in TASKS.items():
            hub.seed_task(WORKPLAN_UUID, task, id=task_uuid, status="todo")
        dev = start_dev(
            tmp_path / "dev",
            make_workspace(tmp_path / "ws", ["the-custodian"]),
            proxy.url,
            env={"STATE_HUB_TOKEN": TOKEN, "DEVHUB_RELAY_IN_FLIGHT": "8"},
        )
        try:
            with dev.client() as client:
                written = _backlog(client)
            wait_for(lambda: relay(dev)["state"] == "offline", timeout=15, what="the relay to be offline")
            proxy.set_mode("pass")
            with dev.client() as client:
                client.post("/relay/now", json={})
            status = wait_drained(dev, timeout=60)
        finally:
            dev.stop()

        assert status["dead_letters"] == 0 and hub.refusals == [], hub.refusals
        assert proxy.peak_connections > 1  # the relay did send side by side
        # Each object's writes in journal order.
        hot_uuid = TASKS[HOT]
        hot_effects = [e for e in hub.effects if e.path == f"/tasks/{hot_uuid}"]
        assert [e.body["status"] for e in hot_effects] == written["hot"]
        notes = [e.body["summary"] for e in hub.effects if e.path == "/progress/" and "order-" in e.body["summary"]]
        assert sorted(notes) == written["notes"]  # exactly once each (their tasks are independent of each other)
        feed = [e.body["summary"] for e in hub.effects if e.path == "/progress/" and "feed-" in e.body["summary"]]
        assert feed == written["feed"]
        # Bulk syncs went up as one call each, under their own keys, once.
        bulks = hub.effects_on("POST", "/tasks/bulk-status-sync")
        assert sorted(e.idempotency_key for e in bulks) == sorted(f"order-bk-{i}" for i in range(3, HOT_CHANGES, 4))
        for effect in bulks:
            assert [u["task_id"] for u in effect.body["updates"]] == [TASKS[t] for t in OTHERS]
        # A reply after its root, in the root's thread; the replies in the order they were written.
        [root] = [e for e in hub.effects if e.path == "/messages/" and not e.body.get("thread_id")]
        replies = [e for e in hub.effects if e.path == "/messages/" and e.body.get("thread_id")]
        assert [e.body["body"] for e in replies] == written["replies"]
        assert all(e.seq > root.seq and e.body["thread_id"] == root.answer["id"] for e in replies)
        # A create before the progress event that names what it created.
        [create] = hub.effects_on("POST", "/tasks/")
        [on_created] = [e for e in hub.effects if e.path == "/progress/" and e.body["summary"] == "on-the-created-task"]
        assert on_created.seq > create.seq and on_created.body["task_id"] == create.answer["id"]


def test_interleaved_writes_land_once_and_in_order_at_a_fleet_hub_and_a_kill9_resends_nothing_twice(
    tmp_path: Path, fleet: RunningDaemon
) -> None:
    """A real fleet hub: the same backlog, with a kill -9 right after the fourth call went out."""
    repos = make_workspace(tmp_path / "ws", ["the-custodian"])
    before = journal_last_seq(fleet)
    with fault_proxy(fleet.port, mode="refuse") as proxy:
        env = {"DEVHUB_TEST_CRASH_AT": "after_send:4", "DEVHUB_RELAY_IN_FLIGHT": "8"}
        dev = start_dev(tmp_path / "dev", repos, proxy.url, env=env)
        try:
            with dev.client() as client:
                written = _backlog(client)
            writes = journal_last_seq(dev)
            proxy.set_mode("pass")
            wait_for(lambda: dev.proc.poll() is not None, timeout=30, what="the dev hub to crash after a send")
            assert dev.proc.returncode == 137
        finally:
            dev.kill9()
        restarted = start_dev(tmp_path / "dev", repos, proxy.url, data_dir=dev.data_dir)
        try:
            status = wait_drained(restarted, timeout=60)
        finally:
            restarted.stop()
    assert status["dead_letters"] == 0
    # Exactly once: one fleet journal entry per dev envelope (a bulk sync is journaled per update there too).
    assert journal_last_seq(fleet) - before == writes
    records = _fleet_records(fleet, before)
    hot = [r["body"]["status"] for r in records if r["kind"] == "task.patch" and r["target"]["id"] == HOT]
    assert hot == written["hot"]
    feed = [r["body"]["summary"] for r in records if r["kind"] == "progress" and "feed-" in r["body"]["summary"]]
    assert feed == written["feed"]
    messages = [r for r in records if r["kind"] == "message"]
    root_id = messages[0]["record"]["id"]
    assert [m["body"]["body"] for m in messages[1:]] == written["replies"]
    assert all(m["body"]["thread_id"] == root_id for m in messages[1:])


def _fleet_records(fleet: RunningDaemon, after: int) -> list[dict[str, Any]]:
    import json

    shown = json.loads(fleet.cli("journal", "show", "--json", "--limit", "0", check=True).stdout)
    return [r for r in shown["records"] if r["seq"] > after]


def test_a_bulk_sync_the_upstream_refuses_as_one_call_goes_out_update_by_update(tmp_path: Path) -> None:
    """One update names a task the strict hub does not know: the whole call is refused (404, nothing applied),
    so the relay sends the parts one by one; the others land, and only the unknown one is a dead letter."""
    with strict_statehub(token=TOKEN) as hub, fault_proxy(_port(hub.url), mode="refuse") as proxy:
        hub.seed_workstream(title="Workstation Independence", id=WORKPLAN_UUID)
        known = OTHERS[:3]
        for task in known:
            hub.seed_task(WORKPLAN_UUID, task, id=TASKS[task], status="todo")
        dev = start_dev(
            tmp_path / "dev",
            make_workspace(tmp_path / "ws", ["the-custodian"]),
            proxy.url,
            env={"STATE_HUB_TOKEN": TOKEN},
        )
        try:
            with dev.client() as client:
                updates = [{"task_id": t, "status": "progress"} for t in [*known, HOT]]
                _ok(
                    client.post("/tasks/bulk-status-sync", json={"updates": updates}, headers={"Idempotency-Key": "k"}),
                    200,
                )
            wait_for(lambda: relay(dev)["state"] == "offline", timeout=15, what="the relay to be offline")
            proxy.set_mode("pass")
            with dev.client() as client:
                client.post("/relay/now", json={})
            status = wait_drained(dev, timeout=30)
        finally:
            dev.stop()
    [refused] = hub.refusals_on("POST", "/tasks/bulk-status-sync")
    assert refused.status == 404 and refused.idempotency_key == "k"
    assert hub.effects_on("POST", "/tasks/bulk-status-sync") == []
    singles = [e for e in hub.effects if e.method == "PATCH"]
    assert [(e.path, e.idempotency_key) for e in singles] == [
        (f"/tasks/{TASKS[t]}", f"k#{i}") for i, t in enumerate(known)
    ]
    assert all(hub.task(TASKS[t])["status"] == "progress" for t in known)
    assert status["dead_letters"] == 1 and status["delivered"] == len(known)


def test_with_bulk_runs_off_a_bulk_sync_goes_out_as_single_patches(tmp_path: Path) -> None:
    with strict_statehub(token=TOKEN) as hub:
        hub.seed_workstream(title="Workstation Independence", id=WORKPLAN_UUID)
        for task in OTHERS:
            hub.seed_task(WORKPLAN_UUID, task, id=TASKS[task], status="todo")
        dev = start_dev(
            tmp_path / "dev",
            make_workspace(tmp_path / "ws", ["the-custodian"]),
            hub.url,
            env={"STATE_HUB_TOKEN": TOKEN, "DEVHUB_RELAY_BULK": "0"},
        )
        try:
            with dev.client() as client:
                updates = [{"task_id": t, "status": "progress"} for t in OTHERS]
                _ok(client.post("/tasks/bulk-status-sync", json={"updates": updates}), 200)
            status = wait_drained(dev, timeout=30)
        finally:
            dev.stop()
    assert hub.effects_on("POST", "/tasks/bulk-status-sync") == []
    assert sorted(e.path for e in hub.effects) == sorted(f"/tasks/{TASKS[t]}" for t in OTHERS)
    assert status["sent"] == len(OTHERS) and status["delivered"] == len(OTHERS)


def _port(url: str) -> int:
    return int(url.rsplit(":", 1)[1])


def test_a_kill9_after_a_bulk_call_went_out_resends_the_same_call_and_the_fleet_applies_it_once(
    tmp_path: Path, fleet: RunningDaemon
) -> None:
    """The run and its key come from the journal alone: the restarted relay sends the very same call."""
    repos = make_workspace(tmp_path / "ws", ["the-custodian"])
    before = journal_last_seq(fleet)
    with fault_proxy(fleet.port, mode="refuse") as proxy:
        dev = start_dev(tmp_path / "dev", repos, proxy.url, env={"DEVHUB_TEST_CRASH_AT": "after_send:1"})
        try:
            with dev.client() as client:
                updates = [{"task_id": t, "status": "todo"} for t in OTHERS]
                _ok(client.post("/tasks/bulk-status-sync", json={"updates": updates, "author": "kill9-bulk"}), 200)
            proxy.set_mode("pass")
            wait_for(lambda: dev.proc.poll() is not None, timeout=30, what="the dev hub to crash after the bulk call")
            assert dev.proc.returncode == 137
        finally:
            dev.kill9()
        applied = journal_last_seq(fleet) - before
        assert applied == len(OTHERS)  # the upstream applied the call before the crash
        restarted = start_dev(tmp_path / "dev", repos, proxy.url, data_dir=dev.data_dir)
        try:
            status = wait_drained(restarted, timeout=30)
        finally:
            restarted.stop()
    assert status["sent"] == 1 and status["delivered"] == len(OTHERS) and status["dead_letters"] == 0
    assert journal_last_seq(fleet) - before == len(OTHERS)  # the resend was a replay, nothing applied twice
    events = fleet.get("/progress/", params={"author": "kill9-bulk"}).json()
    assert len(events) == len({e["task_id"] for e in events})  # one status event per changed task, never two
