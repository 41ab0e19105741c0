"""The fleet snapshot (issue 16, item 3): the fleet-only inbox, pending decisions and topics kept for offline reads.

A dev hub relays to the strict State Hub stand-in through the fault proxy; the stand-in is seeded with
messages, decisions and topics only the fleet holds. Then the proxy refuses: REST, MCP (the official
SDK client) and the dashboard still show them, with their age and a stale label; a restart offline
keeps them; a mark-read made offline reads as read and reaches the fleet once the link is back.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.adapters.mcp.helpers import connect, payload, run
from tests.relay_e2e.helpers import relay, start_dev, start_fleet
from tests.support.daemon import RunningDaemon
from tests.support.faultproxy import FaultProxy
from tests.support.repos import make_workspace
from tests.support.strict_statehub import StrictStateHub, strict_statehub
from tests.support.waiting import wait_for

TOKEN = "snapshot-token"
AGENT = "the-custodian"  # the registered repo's slug: the agent whose inbox is kept
TOPIC_UUID = "5f0c6a8e-8a57-4b8e-a2a4-3c1f1d9a0b11"
SNAPSHOT_ENV = {"STATE_HUB_TOKEN": TOKEN, "DEVHUB_SNAPSHOT_INTERVAL": "0.5", "DEVHUB_SNAPSHOT_STALE_SECONDS": "60"}


def snapshot(dev: RunningDaemon) -> dict[str, Any]:
    section: dict[str, Any] = relay(dev)["snapshot"]
    return section


def wait_snapshot(dev: RunningDaemon, check: Any, what: str, timeout: float = 20.0) -> dict[str, Any]:
    return wait_for(lambda: (s := snapshot(dev))["as_of"] is not None and check(s) and s, timeout=timeout, what=what)


def seed_fleet(hub: StrictStateHub) -> dict[str, str]:
    hub.seed_topic("fleet-only-topic", "A topic only the fleet knows", id=TOPIC_UUID)
    hub.seed_repo("fleet-only-repo", domain="fleet-domain")
    return {
        "to_me": hub.seed_message("orchestrator", AGENT, "please review", "the fleet asks"),
        "from_me": hub.seed_message(AGENT, "orchestrator", "done", "reviewed"),
        "broadcast": hub.seed_message("orchestrator", "broadcast", "all hands", "meeting"),
        "stranger": hub.seed_message("orchestrator", "someone-else", "not ours", "private"),
        "decision": hub.seed_decision("Pick the fleet database"),
    }


def messages(dev: RunningDaemon, **params: Any) -> dict[str, dict[str, Any]]:
    answer = dev.get("/messages", params={"limit": 100, **params})
    assert answer.status_code == 200, answer.text
    return {m["id"]: m for m in answer.json()}


async def _mcp_inbox(dev: RunningDaemon) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    async with connect(dev, "http") as client:
        inbox = payload(await client.call_tool("get_messages", {"to_agent": AGENT, "unread_only": True}))
        orientation = payload(await client.call_tool("orient", {}))
        return inbox, orientation


def test_the_fleet_inbox_and_decisions_are_served_offline_with_their_age_and_survive_a_restart(
    tmp_path: Path,
) -> None:
    with strict_statehub(token=TOKEN) as hub, FaultProxy(int(hub.url.rsplit(":", 1)[1])) as proxy:
        ids = seed_fleet(hub)
        workspace = make_workspace(tmp_path / "ws", [AGENT])
        dev = start_dev(tmp_path / "dev", workspace, proxy.url, env=SNAPSHOT_ENV)
        try:
            status = wait_snapshot(dev, lambda s: s["counts"]["messages"] == 3, "the first snapshot")
            assert status["stale"] is False and status["last_error"] is None
            assert status["counts"]["decisions"] == 1 and status["counts"]["topics"] == 1

            # Online: merged into reads, tagged with their source and age.
            inbox = messages(dev, to_agent=AGENT)
            assert set(inbox) == {ids["to_me"]}
            assert inbox[ids["to_me"]]["source"] == "fleet" and inbox[ids["to_me"]]["as_of"] == status["as_of"]
            assert set(messages(dev)) == {ids["to_me"], ids["from_me"], ids["broadcast"]}  # never a stranger's
            pending = dev.get("/decisions", params={"decision_type": "pending"}).json()
            assert [d["id"] for d in pending] == [ids["decision"]] and pending[0]["source"] == "fleet"
            assert "fleet-only-topic" in {t["slug"] for t in dev.get("/topics").json()}
            repos = {r["slug"]: r for r in dev.get("/repos/").json()}
            assert repos["fleet-only-repo"]["source"] == "fleet" and repos[AGENT].get("source") is None

            # Incremental refresh: a new fleet message shows up without a write or a reconnect.
            later = hub.seed_message("orchestrator", AGENT, "one more", "incremental")
            wait_for(lambda: later in messages(dev, to_agent=AGENT), timeout=10, what="the new fleet message")

            # The upstream goes away: the inbox and decisions are still there, labelled stale, with their age.
            proxy.set_mode("refuse")
            offline = wait_for(
                lambda: (s := snapshot(dev))["last_error"] and s, timeout=15, what="a refresh to fail"
            )
            assert offline["stale"] is True and offline["age_seconds"] is not None
            assert set(messages(dev, to_agent=AGENT)) == {ids["to_me"], later}
            assert [d["id"] for d in dev.get("/decisions", params={"decision_type": "pending"}).json()] == [
                ids["decision"]
            ]

            # Marked read offline: reads as read at once (REST and MCP), journaled for the relay.
            answer = dev.request("PATCH", f"/messages/{ids['to_me']}/read", json={})
            assert answer.status_code == 200, answer.text
            assert set(messages(dev, to_agent=AGENT, unread_only="true")) == {later}
            assert messages(dev, to_agent=AGENT)[ids["to_me"]]["read"] is True

            mcp_inbox, orientation = run(_mcp_inbox(dev))
            assert [m["id"] for m in mcp_inbox] == [later] and mcp_inbox[0]["source"] == "fleet"
            assert orientation["relay"]["snapshot"]["stale"] is True
            assert orientation["relay"]["snapshot"]["counts"]["messages"] == 4

            page = dev.get("/", headers={"Accept": "text/html"}).text
            assert "from the fleet, as of" in page and "stale" in page
            assert "one more" in page  # the fleet message in the dashboard's inbox

            cli = dev.cli("relay", "status", check=True).stdout
            assert "fleet snapshot as of" in cli and "STALE" in cli

            # A restart while offline, with the read model deleted (rebuilt from files and the journal): the
            # snapshot is its own file, still there, still stale; the mark-read is replayed from the journal.
            dev.stop()
            for suffix in ("", "-wal", "-shm"):
                (dev.data_dir / f"readmodel.sqlite{suffix}").unlink(missing_ok=True)
            assert (dev.data_dir / "fleet-snapshot.sqlite").exists()
            dev = start_dev(tmp_path / "dev", workspace, proxy.url, env=SNAPSHOT_ENV, data_dir=dev.data_dir)
            assert set(messages(dev, to_agent=AGENT)) == {ids["to_me"], later}
            assert messages(dev, to_agent=AGENT)[ids["to_me"]]["read"] is True  # the local mark, replayed
            assert snapshot(dev)["stale"] is True

            # Back online: the mark-read is relayed once, and the refreshed snapshot has it from the fleet.
            proxy.set_mode("pass")
            wait_for(
                lambda: len(hub.effects_on("PATCH", f"/messages/{ids['to_me']}/read")) == 1,
                timeout=20,
                what="the offline mark-read to reach the fleet",
            )
            wait_snapshot(dev, lambda s: not s["stale"], "a fresh snapshot after reconnecting")
            assert hub.messages[ids["to_me"]]["read"] is True
            assert relay(dev)["dead_letters"] == 0 and hub.refusals == [], hub.refusals
        finally:
            dev.stop()


def test_the_snapshot_keeps_only_the_newest_messages_up_to_its_bound(tmp_path: Path) -> None:
    with strict_statehub(token=TOKEN) as hub:
        seeded = [hub.seed_message("orchestrator", AGENT, f"message {n}", "body") for n in range(5)]
        workspace = make_workspace(tmp_path / "ws", [AGENT])
        dev = start_dev(tmp_path / "dev", workspace, hub.url, env={**SNAPSHOT_ENV, "DEVHUB_SNAPSHOT_MAX_MESSAGES": "3"})
        try:
            wait_snapshot(dev, lambda s: s["counts"]["messages"] == 3, "a bounded snapshot")
            assert set(messages(dev, to_agent=AGENT)) == set(seeded[-3:])  # the oldest two were dropped
        finally:
            dev.stop()


def test_against_a_devhub_fleet_hub_a_relayed_message_is_shown_once(tmp_path: Path) -> None:
    fleet = start_fleet(tmp_path / "fleet", make_workspace(tmp_path / "fleet-ws", [AGENT]))
    dev = start_dev(tmp_path / "dev", make_workspace(tmp_path / "ws", [AGENT]), fleet.url, env=SNAPSHOT_ENV)
    try:
        with fleet.client() as client:
            sent = client.post(
                "/messages/", json={"from_agent": "orchestrator", "to_agent": AGENT, "subject": "hi", "body": "b"}
            )
            assert sent.status_code == 201, sent.text
        fleet_id = sent.json()["id"]
        wait_for(lambda: fleet_id in messages(dev, to_agent=AGENT), timeout=20, what="the fleet's message")

        with dev.client() as client:
            mine = client.post(
                "/messages/", json={"from_agent": AGENT, "to_agent": "orchestrator", "subject": "re", "body": "b"}
            )
            assert mine.status_code == 201, mine.text
        local_id = mine.json()["id"]
        wait_for(lambda: relay(dev)["pending"] == 0, timeout=20, what="the relay to deliver the message")
        before = snapshot(dev)["as_of"]
        wait_snapshot(dev, lambda s: s["as_of"] != before and s["counts"]["messages"] == 2, "a refresh after it")
        outbox = [m for m in dev.get("/messages", params={"from_agent": AGENT}).json() if m["subject"] == "re"]
        assert [m["id"] for m in outbox] == [local_id]  # its fleet copy is hidden: shown once, as written here
    finally:
        dev.stop()
        fleet.stop()


def test_a_workplan_created_on_a_topic_slug_waits_for_the_snapshot_to_learn_its_uuid(tmp_path: Path) -> None:
    with strict_statehub(token=TOKEN) as hub:
        workspace = make_workspace(tmp_path / "ws", [AGENT])
        dev = start_dev(tmp_path / "dev", workspace, hub.url, env=SNAPSHOT_ENV)
        try:
            wait_snapshot(dev, lambda s: True, "the first snapshot")
            with dev.client() as client:
                created = client.post(
                    "/workplans/", json={"repo_id": AGENT, "topic_id": "fleet-only-topic", "title": "Held on a slug"}
                )
                assert created.status_code == 201, created.text
            held = wait_for(lambda: (s := relay(dev))["held"] == 1 and s, timeout=10, what="the create to be held")
            assert "fleet-only-topic" in held["held_reasons"][0]["reason"]
            assert hub.effects_on("POST", "/workplans/") == []

            hub.seed_topic("fleet-only-topic", id=TOPIC_UUID)  # the fleet learns the topic; the snapshot follows
            wait_for(lambda: hub.effects_on("POST", "/workplans/"), timeout=20, what="the held create to go out")
            [effect] = hub.effects_on("POST", "/workplans/")
            assert effect.status == 201 and effect.body["topic_id"] == TOPIC_UUID
            assert relay(dev)["held"] == 0 and relay(dev)["dead_letters"] == 0
        finally:
            dev.stop()
