"""A pending decision only the fleet holds (known from the fleet snapshot) resolved or patched offline.

The dev hub relays to the strict State Hub stand-in through the fault proxy; the stand-in holds pending
decisions the dev hub never wrote. With the upstream refusing, one is resolved through REST, one through
the dashboard's form and one through MCP (the official SDK client), and one is patched: each reads so at
once everywhere (REST list and get, MCP, /state/summary, the dashboard's panel), survives a restart with
the read model deleted (the local mark is replayed from the journal), answers 409 when resolved again, and
reaches the stand-in exactly once per decision, by its fleet UUID, when the link is back. Once the
refreshed snapshot no longer lists a resolved one, its local mark still answers GET and the 409.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.adapters.mcp.helpers import connect, payload, run
from tests.relay_e2e.helpers import relay, start_dev
from tests.relay_e2e.test_fleet_snapshot import AGENT, SNAPSHOT_ENV, TOKEN, snapshot, wait_snapshot
from tests.support.daemon import RunningDaemon
from tests.support.faultproxy import FaultProxy
from tests.support.repos import make_workspace
from tests.support.strict_statehub import strict_statehub
from tests.support.waiting import wait_for

RESOLUTION = {"rationale": "SQLite is enough offline", "decided_by": "the-lead"}


def pending_ids(dev: RunningDaemon) -> set[str]:
    answer = dev.get("/decisions", params={"decision_type": "pending"})
    assert answer.status_code == 200, answer.text
    return {d["id"] for d in answer.json()}


def blocking_ids(dev: RunningDaemon) -> set[str]:
    summary = dev.get("/state/summary")
    assert summary.status_code == 200, summary.text
    return {d["id"] for d in summary.json()["blocking_decisions"]}


async def _mcp_resolve_then_pending(dev: RunningDaemon, decision_id: str) -> tuple[dict[str, Any], list[Any]]:
    async with connect(dev, "http") as client:
        resolved = payload(await client.call_tool("resolve_decision", {"decision_id": decision_id, **RESOLUTION}))
        pending = payload(await client.call_tool("list_pending_decisions", {}))
        return resolved, pending


def test_a_fleet_decision_resolved_offline_reads_resolved_everywhere_and_reaches_the_fleet_once(
    tmp_path: Path,
) -> None:
    with strict_statehub(token=TOKEN) as hub, FaultProxy(int(hub.url.rsplit(":", 1)[1])) as proxy:
        by_rest = hub.seed_decision("Pick the fleet database")
        by_form = hub.seed_decision("Pick the dashboard font")
        by_mcp = hub.seed_decision("Pick the log format")
        patched = hub.seed_decision("Pick the release day")
        fleet_ids = {by_rest, by_form, by_mcp, patched}
        workspace = make_workspace(tmp_path / "ws", [AGENT])
        dev = start_dev(tmp_path / "dev", workspace, proxy.url, env=SNAPSHOT_ENV)
        try:
            wait_snapshot(dev, lambda s: s["counts"]["decisions"] == 4, "the first snapshot")
            assert pending_ids(dev) == fleet_ids and blocking_ids(dev) == fleet_ids
            fetched = dev.get(f"/decisions/{by_rest}")
            assert fetched.status_code == 200, fetched.text
            assert fetched.json()["status"] == "open" and fetched.json()["source"] == "fleet"

            proxy.set_mode("refuse")
            wait_for(lambda: snapshot(dev)["last_error"], timeout=15, what="a refresh to fail")

            # REST: answered with the decision resolved, tagged as the fleet's.
            answer = dev.request("POST", f"/decisions/{by_rest}/resolve", json=RESOLUTION)
            assert answer.status_code == 200, answer.text
            resolved = answer.json()
            assert resolved["id"] == by_rest and resolved["source"] == "fleet"
            assert resolved["status"] == "resolved" and resolved["decision_type"] == "made"
            assert resolved["rationale"] == RESOLUTION["rationale"] and resolved["pending_relay"] is True

            # The dashboard's Resolve form, on the panel that lists it.
            page = dev.get("/", headers={"Accept": "text/html"}).text
            assert f"/ui/decisions/{by_form}/resolve" in page and "Pick the dashboard font" in page
            form = dev.request(
                "POST",
                f"/ui/decisions/{by_form}/resolve",
                data={"rationale": "Readable", "decided_by": "the-lead"},
                headers={"Origin": dev.url},
            )
            assert form.status_code == 303, form.text[:300]

            # MCP: resolve_decision, then list_pending_decisions no longer has any of the three.
            mcp_resolved, mcp_pending = run(_mcp_resolve_then_pending(dev, by_mcp))
            assert mcp_resolved["status"] == "resolved" and mcp_resolved["source"] == "fleet"
            assert {d["id"] for d in mcp_pending} == {patched}

            # A patch of a fleet decision: the new field on top, still pending.
            changed = dev.request("PATCH", f"/decisions/{patched}", json={"deadline": "2030-01-01"})
            assert changed.status_code == 200, changed.text
            assert changed.json()["deadline"] == "2030-01-01" and changed.json()["status"] == "open"

            def reads_resolved_everywhere(dev: RunningDaemon) -> None:
                assert pending_ids(dev) == {patched} and blocking_ids(dev) == {patched}
                for ident in (by_rest, by_form, by_mcp):
                    one = dev.get(f"/decisions/{ident}").json()
                    assert one["status"] == "resolved" and one["source"] == "fleet", one
                assert dev.get(f"/decisions/{by_form}").json()["rationale"] == "Readable"
                assert dev.get(f"/decisions/{patched}").json()["deadline"] == "2030-01-01"
                listed = {d["id"]: d for d in dev.get("/decisions").json()}
                assert listed[by_rest]["status"] == "resolved" and listed[patched]["status"] == "open"
                page = dev.get("/", headers={"Accept": "text/html"}).text
                assert "Pick the release day" in page
                assert not any(f"/ui/decisions/{ident}/resolve" in page for ident in (by_rest, by_form, by_mcp))
                again = dev.request("POST", f"/decisions/{by_rest}/resolve", json=RESOLUTION)
                assert again.status_code == 409, again.text

            reads_resolved_everywhere(dev)

            # A restart offline with the read model deleted: the marks are replayed from the journal.
            dev.stop()
            for suffix in ("", "-wal", "-shm"):
                (dev.data_dir / f"readmodel.sqlite{suffix}").unlink(missing_ok=True)
            dev = start_dev(tmp_path / "dev", workspace, proxy.url, env=SNAPSHOT_ENV, data_dir=dev.data_dir)
            assert snapshot(dev)["stale"] is True
            reads_resolved_everywhere(dev)

            # Back online: each change reaches the fleet once, by the decision's fleet UUID.
            proxy.set_mode("pass")
            for ident in (by_rest, by_form, by_mcp):
                wait_for(
                    lambda ident=ident: len(hub.effects_on("POST", f"/decisions/{ident}/resolve")) == 1,
                    timeout=20,
                    what=f"the offline resolve of {ident} to reach the fleet",
                )
            wait_for(
                lambda: len(hub.effects_on("PATCH", f"/decisions/{patched}")) == 1,
                timeout=20,
                what="the offline patch to reach the fleet",
            )
            wait_for(lambda: relay(dev)["pending"] == 0, timeout=20, what="the relay to drain")
            assert hub.decisions[by_rest]["status"] == "resolved"
            assert hub.decisions[by_rest]["rationale"] == RESOLUTION["rationale"]
            assert hub.decisions[patched]["deadline"] == "2030-01-01"
            assert relay(dev)["dead_letters"] == 0 and hub.refusals == [], hub.refusals
            for ident in (by_rest, by_form, by_mcp):
                assert len(hub.effects_on("POST", f"/decisions/{ident}/resolve")) == 1

            # The refreshed snapshot no longer lists them as pending; reads agree with the fleet.
            wait_snapshot(dev, lambda s: not s["stale"] and s["counts"]["decisions"] == 1, "a fresh snapshot")
            assert pending_ids(dev) == {patched}
            # Gone from the pending-only copy, the decision is still answered from its local mark: resolved, 409.
            gone = dev.get(f"/decisions/{by_rest}")
            assert gone.status_code == 200 and gone.json()["status"] == "resolved", gone.text
            assert dev.request("POST", f"/decisions/{by_rest}/resolve", json=RESOLUTION).status_code == 409
            assert dev.get(f"/decisions/{patched}").json()["deadline"] == "2030-01-01"
        finally:
            dev.stop()
