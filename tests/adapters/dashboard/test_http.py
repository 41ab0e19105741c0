"""Dashboard pages, assets and the event stream over real HTTP to a real daemon (no browser needed)."""

from __future__ import annotations

import html
import json
import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.adapters.dashboard.conftest import repo_path
from tests.support.daemon import RunningDaemon
from tests.support.waiting import wait_for

SEED = "CUST-WP-0054"
BROWSER = {"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"}  # `/` answers API clients JSON, browsers HTML
PAGES = ["/", f"/ui/workplans/{SEED}", f"/ui/tasks/{SEED}-T02", "/ui/search?q=phoenix", "/ui/relay"]


@pytest.mark.parametrize("path", PAGES)
def test_pages_are_html_with_a_strict_policy_and_no_foreign_assets(hub: RunningDaemon, path: str) -> None:
    answer = hub.get(path, headers=BROWSER)
    assert answer.status_code == 200, answer.text[:500]
    assert answer.headers["content-type"].startswith("text/html")
    policy = answer.headers["content-security-policy"]
    assert "default-src 'none'" in policy and "script-src 'self'" in policy and "connect-src 'self'" in policy
    assert not re.search(r"""(?:src|href)=["']?(?:https?:)?//""", answer.text), "every asset comes from the daemon"
    assert '<a class="skip-link" href="#main">' in answer.text and '<main id="main"' in answer.text
    for asset in re.findall(r"""(?:src|href)="(/ui/static/[^"]+)""", answer.text):
        assert hub.get(asset).status_code == 200, asset


def test_static_assets_are_served_by_the_daemon(hub: RunningDaemon) -> None:
    for name, kind in (("dashboard.css", "text/css"), ("live.js", "javascript"), ("favicon.svg", "image/svg")):
        answer = hub.get(f"/ui/static/{name}")
        assert answer.status_code == 200 and kind in answer.headers["content-type"], name
    assert hub.get("/ui/static/../mount.py").status_code == 404


def test_an_unknown_task_is_a_404_page_that_says_what_is_missing(hub: RunningDaemon) -> None:
    answer = hub.get("/ui/tasks/NOPE-WP-0001-T01")
    assert answer.status_code == 404
    assert "no task with id &#39;NOPE-WP-0001-T01&#39;" in answer.text
    assert answer.headers["content-type"].startswith("text/html")


def test_an_id_in_two_repos_asks_which_one(hub: RunningDaemon, module_workspace: list[Path]) -> None:
    source = repo_path(module_workspace, "ops-bridge") / "workplans" / "OPS-WP-0014-wireguard-mesh-evaluation.md"
    shutil.copyfile(source, repo_path(module_workspace, "state-hub") / "workplans" / source.name)
    wait_for(
        lambda: hub.get("/ui/workplans/OPS-WP-0014").status_code == 409,
        timeout=10,
        what="the copied workplan to make its id ambiguous",
    )
    answer = hub.get("/ui/workplans/OPS-WP-0014")
    assert 'href="/ui/workplans/OPS-WP-0014?repo=ops-bridge"' in answer.text
    assert 'href="/ui/workplans/OPS-WP-0014?repo=state-hub"' in answer.text
    assert hub.get("/ui/workplans/OPS-WP-0014", params={"repo": "state-hub"}).status_code == 200


def test_hostile_text_in_a_workplan_is_escaped(hub: RunningDaemon, module_workspace: list[Path]) -> None:
    hostile = repo_path(module_workspace, "state-hub") / "workplans" / "STATE-WP-0098-hostile.md"
    hostile.write_text(
        '---\nid: STATE-WP-0098\ntype: workplan\ntitle: "<script>alert(1)</script>"\nstatus: active\n---\n\n'
        "## Task: <b>bold</b> title\n\n```task\nid: STATE-WP-0098-T01\nstatus: todo\n```\n\n"
        "<img src=x onerror=alert(1)> and [x](javascript:alert(2))\n"
    )
    wait_for(lambda: hub.get("/ui/workplans/STATE-WP-0098").status_code == 200, timeout=10, what="the hostile file")
    for path in ("/ui/workplans/STATE-WP-0098", "/ui/tasks/STATE-WP-0098-T01", "/", "/ui/search?q=onerror"):
        text = hub.get(path, headers=BROWSER).text
        assert "<script>alert" not in text and "<img src=x" not in text and "<b>bold" not in text, path
        assert 'href="javascript:' not in text, path
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in hub.get("/ui/workplans/STATE-WP-0098").text


def test_search_works_without_javascript(hub: RunningDaemon) -> None:
    page = hub.get("/ui/search", params={"q": "actcore"}).text
    assert f'data-hit-id="{SEED}-T02"' in page
    assert f'href="/ui/tasks/{SEED}-T02?repo=the-custodian"' in page
    assert "<mark>actcore</mark>" in page
    assert "data-hit-id" not in hub.get("/ui/search", params={"q": "zzqqxxnothing"}).text


def test_relay_page_lists_pending_and_held_envelopes_when_the_relay_is_off(hub: RunningDaemon) -> None:
    with_id = hub.request("PATCH", f"/tasks/{SEED}-T08", json={"status": "progress"})
    without_id = hub.request("PATCH", "/tasks/OPS-WP-0012-T05", json={"intervention_note": "call the vendor"})
    assert with_id.status_code == 200 and without_id.status_code == 200
    page = hub.get("/ui/relay").text
    pending = page.split('id="relay-pending"', 1)[1].split('id="relay-held"', 1)[0]
    held = page.split('id="relay-held"', 1)[1].split('id="relay-dead"', 1)[0]
    assert f"PATCH /tasks/{SEED}-T08" in pending and "OPS-WP-0012-T05" not in pending
    assert "PATCH /tasks/OPS-WP-0012-T05" in held and "call the vendor" in held
    reason = hub.get("/relay").json()["reason"]
    assert 'data-relay-state="disabled"' in page and html.escape(reason) in page
    last_seq = hub.get("/state/daemon").json()["journal"]["last_seq"]
    overview = hub.get("/", headers=BROWSER).text
    assert f'<dd data-count="relay-pending">{last_seq}</dd>' in overview
    assert f'<dd data-count="journal-pending">{last_seq}</dd>' in page


def _events(response: httpx.Response) -> Iterator[tuple[str, str]]:
    """(event name, data) pairs from a server-sent-events response, in order."""
    name, data = "message", ""
    for line in response.iter_lines():
        if line.startswith("event:"):
            name = line.split(":", 1)[1].strip()
        elif line.startswith("data:"):
            data = line.split(":", 1)[1].strip()
        elif line == "":
            if data:
                yield name, data
            name, data = "message", ""


def test_the_event_stream_announces_writes(hub: RunningDaemon) -> None:
    with httpx.Client(base_url=hub.url, timeout=10.0) as client, client.stream("GET", "/ui/events") as stream:
        assert stream.headers["content-type"].startswith("text/event-stream")
        events = _events(stream)
        assert next(events)[0] == "hello"
        flag = {"needs_human": True, "intervention_note": "check the rack"}
        assert hub.request("PATCH", f"/tasks/{SEED}-T09", json=flag).status_code == 200
        name, data = next(events)
        assert name == "change"
        assert json.loads(data)["kind"] == "write"


def test_an_open_stream_does_not_hold_up_a_graceful_stop(daemon: RunningDaemon) -> None:
    with httpx.Client(base_url=daemon.url, timeout=10.0) as client, client.stream("GET", "/ui/events") as stream:
        assert next(_events(stream))[0] == "hello"
        assert daemon.stop() == 0
    assert "timeout graceful shutdown exceeded" not in daemon.log()


# -- write forms (devhub/adapters/dashboard/forms.py) --

FORM_TASK = f"{SEED}-T09"


def _journal(hub: RunningDaemon) -> list[dict]:  # type: ignore[type-arg]
    lines = []
    for segment in sorted((hub.data_dir / "journal").glob("*.jsonl")):
        lines += [json.loads(line) for line in segment.read_text().splitlines() if line.strip()]
    return lines


@pytest.mark.parametrize(
    "origin",
    [None, "http://evil.example", "http://127.0.0.1:1", "null"],
    ids=["no-origin", "foreign-site", "another-local-port", "null-origin"],
)
def test_a_form_post_from_anywhere_but_this_dashboard_writes_nothing(hub: RunningDaemon, origin: str | None) -> None:
    before = len(_journal(hub))
    headers = {"Origin": origin} if origin else {}
    answer = hub.request(
        "POST", f"/ui/tasks/{FORM_TASK}/status", data={"status": "done", "repo": "the-custodian"}, headers=headers
    )
    assert answer.status_code == 403, answer.text[:300]
    assert len(_journal(hub)) == before


def test_a_form_post_writes_through_the_journal_once_and_redirects_back(hub: RunningDaemon) -> None:
    before = len(_journal(hub))
    form = {
        "status": "wait",
        "note": "waiting on the vendor",
        "blocking_reason": "the vendor's answer",
        "repo": "the-custodian",
        "key": "dashboard-test-1",
        "back": f"/ui/tasks/{FORM_TASK}",
    }
    own = {"Origin": hub.url}
    for _ in range(2):  # a resubmitted form (same key) is answered from the first write
        answer = hub.request("POST", f"/ui/tasks/{FORM_TASK}/status", data=form, headers=own)
        assert answer.status_code == 303, answer.text[:300]
        assert answer.headers["location"] == f"/ui/tasks/{FORM_TASK}"
    added = _journal(hub)[before:]
    assert len(added) == 1
    assert added[0]["kind"] == "task.patch" and added[0]["body"]["status"] == "wait"
    assert added[0]["body"]["note"] == "waiting on the vendor" and added[0]["origin"]["agent"] == "dashboard"
    assert added[0]["body"]["blocking_reason"] == "the vendor's answer"
    assert hub.get(f"/tasks/{FORM_TASK}").json()["status"] == "wait"


def test_a_form_redirects_only_to_this_site_and_shows_bad_input_as_a_page(hub: RunningDaemon) -> None:
    own = {"Origin": hub.url}
    for back in ("https://evil.example/", "//evil.example/x", "/\\evil.example", "/\t/evil.example", "javascript:x"):
        form = {"status": "todo", "back": back}
        answer = hub.request("POST", f"/ui/tasks/{FORM_TASK}/status", data=form, headers=own)
        assert answer.status_code == 303 and answer.headers["location"] == "/", back
    bad = hub.request("POST", f"/ui/tasks/{FORM_TASK}/status", data={"status": "sideways"}, headers=own)
    assert bad.status_code == 422 and bad.headers["content-type"].startswith("text/html")
    assert "sideways" in html.unescape(bad.text)
    missing = hub.request("POST", "/ui/messages/no-such-message/read", data={}, headers=own)
    assert missing.status_code == 404 and "no-such-message" in html.unescape(missing.text)


def test_with_a_token_the_forms_are_hidden_and_refused(tmp_path: Path, module_workspace: list[Path]) -> None:
    from tests.support.daemon import start_daemon

    guarded = start_daemon(tmp_path / "guarded", module_workspace, env={"DEVHUB_TOKEN": "s3cret-token"})
    try:
        page = guarded.get(f"/ui/tasks/{FORM_TASK}")
        assert page.status_code == 200 and 'action="/ui/tasks/' not in page.text
        refused = guarded.request(
            "POST", f"/ui/tasks/{FORM_TASK}/status", data={"status": "done"}, headers={"Origin": guarded.url}
        )
        assert refused.status_code == 401
    finally:
        guarded.stop()


def test_time_charts_are_on_the_pages(hub: RunningDaemon) -> None:
    overview = hub.get("/", headers={"Accept": "text/html"}).text
    assert 'id="activity-chart"' in overview and 'id="relay-depth-chart"' in overview
    assert hub.get("/?by=domain", headers={"Accept": "text/html"}).status_code == 200
    assert hub.get("/?by=colour", headers={"Accept": "text/html"}).status_code == 400
    assert 'id="history-chart"' in hub.get(f"/ui/workplans/{SEED}").text
    assert "(file)" not in overview, "the status source is shown only for local writes and conflicts"


# -- the fleet panels (devhub/adapters/dashboard/panels.py, templates/_fleet_panels.html) --


def _pending_decision(hub: RunningDaemon, title: str, deadline: str) -> str:
    body = {"title": title, "decision_type": "pending", "deadline": deadline, "workplan_id": SEED}
    answer = hub.request("POST", "/decisions/", json=body)
    assert answer.status_code == 201, answer.text[:300]
    return str(answer.json()["id"])


def _ids(page: str, attribute: str) -> list[str]:
    return [html.unescape(found) for found in re.findall(rf'{attribute}="([^"]+)"', page)]


def test_the_decision_and_blocked_task_panels_show_what_the_api_answers(hub: RunningDaemon) -> None:
    overdue = _pending_decision(hub, "Pick the mesh vendor", "2020-01-31")
    later = _pending_decision(hub, "Renew the rack lease", "2999-12-31T12:00:00Z")
    waiting = hub.request("PATCH", f"/tasks/{SEED}-T07", json={"status": "wait", "blocking_reason": "legal review"})
    assert waiting.status_code == 200, waiting.text[:300]
    page = hub.get("/", headers=BROWSER).text

    pending = hub.get("/decisions/", params={"decision_type": "pending"}).json()
    open_ids = [d["id"] for d in pending if d["status"] in ("open", "escalated")]
    assert sorted(_ids(page, "data-decision")) == sorted(open_ids) and {overdue, later} <= set(open_ids)
    assert f"({len(open_ids)})</span>" in page.split('id="decisions-h"', 1)[1].split("</h2>", 1)[0]
    overdue_item = page.split(f'data-decision="{overdue}"', 1)[1].split("</li>", 1)[0]
    later_item = page.split(f'data-decision="{later}"', 1)[1].split("</li>", 1)[0]
    assert "flag-overdue" in overdue_item and "flag-overdue" not in later_item
    assert 'datetime="2020-01-31"' in overdue_item
    assert f'action="/ui/decisions/{overdue}/resolve"' in overdue_item

    blocked = hub.get("/state/summary").json()["blocked_tasks"]
    assert sorted(_ids(page, "data-blocked-task")) == sorted(t["id"] for t in blocked)
    item = page.split(f'data-blocked-task="{SEED}-T07"', 1)[1].split("</li>", 1)[0]
    assert "legal review" in item and f'href="/ui/tasks/{SEED}-T07?repo=the-custodian"' in item

    summary = hub.get("/state/summary").json()
    assert sorted(_ids(page, "data-open-workplan")) == sorted(w["id"] for w in summary["open_workstreams"])
    assert len(_ids(page, "data-event")) == len(summary["recent_events"])


def test_resolving_from_the_panel_writes_once_and_the_decision_leaves_it(hub: RunningDaemon) -> None:
    decision = _pending_decision(hub, "Choose the backup target", "2030-06-01")
    before = len(_journal(hub))
    form = {"rationale": "cheapest offsite", "decided_by": "ops lead", "key": "dashboard-resolve-1", "back": "/"}
    for _ in range(2):  # a resubmitted form (same key) is answered from the first write
        answer = hub.request("POST", f"/ui/decisions/{decision}/resolve", data=form, headers={"Origin": hub.url})
        assert answer.status_code == 303, answer.text[:300]
        assert answer.headers["location"] == "/"
    added = _journal(hub)[before:]
    assert len(added) == 1 and added[0]["origin"]["agent"] == "dashboard"
    assert added[0]["body"]["rationale"] == "cheapest offsite" and added[0]["body"]["decided_by"] == "ops lead"
    resolved = hub.get(f"/decisions/{decision}").json()
    assert resolved["status"] == "resolved" and resolved["decided_by"] == "ops lead"
    assert decision not in _ids(hub.get("/", headers=BROWSER).text, "data-decision")


def test_a_resolve_from_another_site_is_refused_and_writes_nothing(hub: RunningDaemon) -> None:
    decision = _pending_decision(hub, "Keep the old VPN", "2030-06-01")
    before = len(_journal(hub))
    form = {"rationale": "x", "decided_by": "mallory", "key": "dashboard-resolve-evil"}
    answer = hub.request(
        "POST", f"/ui/decisions/{decision}/resolve", data=form, headers={"Origin": "http://evil.example"}
    )
    assert answer.status_code == 403
    assert len(_journal(hub)) == before
    assert hub.get(f"/decisions/{decision}").json()["status"] == "open"
    missing = hub.request(
        "POST", "/ui/decisions/00000000-0000-4000-8000-000000000000/resolve", data=form, headers={"Origin": hub.url}
    )
    assert missing.status_code == 404 and missing.headers["content-type"].startswith("text/html")
