"""One relay state, one answer: REST, MCP, the CLI (daemon and no daemon) and the dashboard agree, dead letters listed.

A dev hub relays to a real fleet hub that serves a different repo, so the fleet answers 404
to a PATCH addressed by a task UUID it does not know — a real dead letter. A task without a
state_hub_task_id is held. Then the fleet goes away and one more write stays pending.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from tests.adapters.mcp.helpers import connect, payload, run
from tests.relay_e2e.helpers import patch_task, relay, start_dev, start_fleet, write_progress
from tests.support.daemon import RunningDaemon
from tests.support.repos import make_workspace
from tests.support.waiting import wait_for

REFUSED_TASK = "CUST-WP-0054-T05"  # carries a state_hub_task_id the fleet (serving ops-bridge only) does not know
HELD_TASK = "CUST-WP-0011-T10"  # has no state_hub_task_id: held


def _dead_letter_id(dev: RunningDaemon) -> str:
    journal = json.loads(dev.cli("journal", "show", "--json", "--limit", "0", check=True).stdout)
    [dead] = [r for r in journal["records"] if r["relay_state"] == "dead-letter"]
    assert dead["path"].startswith("/tasks/") and dead["body"]["status"] == "progress", dead
    return str(dead["id"])


def _section(page: str, section: str) -> str:
    return page.split(f'<section id="{section}"', 1)[1].split("</section>", 1)[0]


def _page_counts(dev: RunningDaemon) -> dict[str, Any]:
    """State, pending, held and dead letters as the dashboard's relay page shows them."""
    page = dev.get("/ui/relay").text
    state = _section(page, "relay-state")
    facts = dict(re.findall(r"<dt>([a-z ]+)</dt><dd>([^<]*)</dd>", state))
    held_listed = re.search(r'data-count="relay-held">\((\d+)\)', page)
    dead_listed = re.search(r'data-count="relay-dead">\((\d+)\)', page)
    assert held_listed and dead_listed, page[:2000]
    assert int(held_listed[1]) == int(facts["held"]), "the held section lists what the status counts"
    assert int(dead_listed[1]) == int(facts["dead letters"]), "the dead-letter section lists what the status counts"
    found = re.search(r'data-relay-state="([a-z_]+)"', state)
    assert found, state
    return {
        "state": found[1],
        "pending": int(facts["pending"]),
        "held": int(facts["held"]),
        "dead_letters": int(facts["dead letters"]),
    }


def _counts(status: dict[str, Any]) -> dict[str, Any]:
    return {key: status[key] for key in ("state", "pending", "held", "dead_letters")}


async def _mcp_relay_status(dev: RunningDaemon) -> dict[str, Any]:
    async with connect(dev, "http") as client:
        document: dict[str, Any] = payload(await client.call_tool("relay_status", {}))
        return document


def test_every_surface_reports_the_same_relay_counts_and_the_page_lists_the_dead_letter(tmp_path: Path) -> None:
    fleet = start_fleet(tmp_path / "fleet", make_workspace(tmp_path / "fleet-ws", ["ops-bridge"]))
    dev = start_dev(tmp_path / "dev", make_workspace(tmp_path / "dev-ws", ["the-custodian"]), fleet.url)
    try:
        with dev.client() as client:
            patch_task(client, REFUSED_TASK, "progress")  # seq 1: the fleet answers 404 -> dead letter
            patch_task(client, HELD_TASK, "progress")  # seq 2: held, no upstream id
            write_progress(client, "surfaces-delivered")  # seq 3: delivered past the hold
        wait_for(
            lambda: (s := relay(dev))["dead_letters"] == 1 and s["pending"] == 1 and s["held"] == 1 and s["delivered"],
            timeout=20,
            what="one dead letter, one held write, the rest delivered",
        )
        dead_id = _dead_letter_id(dev)
        page = dev.get("/ui/relay").text
        assert f'data-dead-id="{dead_id}"' in _section(page, "relay-dead")
        assert "upstream answered <strong>404</strong>" in _section(page, "relay-dead")
        assert f"PATCH /tasks/{HELD_TASK}" in _section(page, "relay-held")
        assert "surfaces-delivered" not in page  # delivered past the hold: neither pending nor held

        fleet.stop()
        with dev.client() as client:
            write_progress(client, "surfaces-waiting")  # seq 4: pending, the upstream is gone
        expected = {"state": "offline", "pending": 2, "held": 1, "dead_letters": 1}
        rest = wait_for(
            lambda: _counts(s := relay(dev)) == expected and s,
            timeout=20,
            what="the relay to go offline with the last write pending",
        )
        assert [h["seq"] for h in rest["held_reasons"]] == [2]
        assert _counts(run(_mcp_relay_status(dev))) == expected
        assert _counts(json.loads(dev.cli("relay", "status", "--json", check=True).stdout)) == expected
        assert _page_counts(dev) == expected
        assert f'data-dead-id="{dead_id}"' in dev.get("/ui/relay").text
        overview = dev.get("/", headers={"Accept": "text/html"}).text
        assert '<dd data-count="relay-pending">2</dd>' in overview and "<dt>Dead letters</dt><dd>1</dd>" in overview
        text = dev.cli("relay", "status", check=True).stdout
        assert "offline, pending 2, held 1, dead letters 1" in text, text
    finally:
        dev.stop()
        fleet.stop()

    # No daemon: the same queue, read from the journal, the position file and the dead letters.
    stopped = json.loads(dev.cli("relay", "status", "--json", check=True).stdout)
    assert _counts(stopped) == {"state": "stopped", "pending": 2, "held": 1, "dead_letters": 1}, stopped
    assert "devhub up" in stopped["reason"] and stopped["held_reasons"][0]["seq"] == 2
    status = dev.cli("status", "--json")
    assert status.returncode == 3
    assert _counts(json.loads(status.stdout)["relay"]) == _counts(stopped)
    pending = json.loads(dev.cli("journal", "show", "--pending", "--json", check=True).stdout)
    assert pending["pending"] == 2 and [r["seq"] for r in pending["records"]] == [2, 4]
    assert pending["records"][-1]["body"]["summary"] == "surfaces-waiting"
