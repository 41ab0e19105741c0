"""The dashboard's round-2 gaps in the system Chromium against a real daemon: the relay queue charts move on an
open page, every chart's marks are the API's points, the fleet panels' numbers are the API's, the status source
shows only where it matters, task rows stay compact at 390 px, and a live update never wipes a form being typed in.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.adapters.dashboard.conftest import repo_path
from tests.adapters.dashboard.test_browser import Tab, _journal
from tests.support.daemon import RunningDaemon
from tests.support.waiting import wait_for

pytestmark = pytest.mark.browser

# The sampler takes a change sample at most every 5 s (CHANGE_SAMPLE_GAP_SECONDS), then the page refreshes.
CHART_WAIT_MS = 20_000
LIVE_WAIT_MS = 3000
PLAN = "OPS-WP-0012"
PLAN_FILE = "workplans/OPS-WP-0012-fleet-owned-tunnels.md"


def _marks(page: Any, chart: str) -> list[list[Any]]:
    return list(
        page.eval_on_selector_all(
            f"#{chart} [data-sample]", "els => els.map(e => [e.dataset.ts, +e.dataset.value, e.dataset.state])"
        )
    )


def _api_points(hub: RunningDaemon, field: str) -> list[list[Any]]:
    samples = hub.get("/relay/history", params={"hours": 24}).json()["samples"]
    return [[s["ts"], s[field], s["state"]] for s in samples if s[field] is not None]


def _wait_until_the_charts_are_the_apis(page: Any, hub: RunningDaemon) -> None:
    """Both relay charts draw exactly the API's samples, once the open page has caught up: a sample taken
    while the page loaded (or one that replaced this interval's change sample) reaches it live."""

    def same() -> bool:
        return all(
            _marks(page, chart) == _api_points(hub, field)
            for chart, field in (("relay-depth-chart", "pending"), ("relay-age-chart", "oldest_pending_age_seconds"))
        )

    wait_for(same, timeout=CHART_WAIT_MS / 1000, what="the relay charts to draw the API's samples")
    assert _marks(page, "relay-depth-chart"), "the hub samples the queue when it starts"


def test_the_relay_queue_charts_move_on_an_open_page_after_relay_activity(browser: Any, hub: RunningDaemon) -> None:
    tab = Tab(browser, hub)
    try:
        page = tab.open("/")
        before = _marks(page, "relay-depth-chart")
        assert before, "the hub samples the queue when it starts"
        answer = hub.request("PATCH", f"/tasks/{PLAN}-T04", json={"status": "progress", "note": "chart me"})
        assert answer.status_code == 200, answer.text
        depth = len(_journal(hub))  # no relay runs here: the queue is the whole journal
        page.wait_for_function(
            """([depth, lastTs]) => {
                 const marks = document.querySelectorAll('#relay-depth-chart [data-sample]');
                 const last = marks[marks.length - 1];
                 return last && +last.dataset.value === depth && last.dataset.ts > lastTs; }""",
            arg=[depth, before[-1][0]],
            timeout=CHART_WAIT_MS,
        )
        tab.assert_not_reloaded()
        _wait_until_the_charts_are_the_apis(page, hub)
        shown, ages = _marks(page, "relay-depth-chart"), _marks(page, "relay-age-chart")
        assert ages[-1][0] == shown[-1][0] and ages[-1][1] > 0, "the age chart moved with it: writes are waiting"
    finally:
        tab.close()


def test_every_chart_has_one_mark_per_api_point(browser: Any, hub: RunningDaemon) -> None:
    logged = hub.request("POST", "/progress", json={"summary": "mesh picked", "workplan_id": "OPS-WP-0014"})
    assert logged.status_code in (200, 201), logged.text
    tab = Tab(browser, hub)
    try:
        page = tab.open("/?by=domain")
        activity = hub.get("/state/activity", params={"days": 30, "by": "domain"}).json()
        marks = page.eval_on_selector_all(
            "#activity-chart [data-bucket]",
            "els => els.map(e => [e.dataset.day, e.dataset.group, +e.dataset.progressEvents,"
            " +e.dataset.statusChanges])",
        )
        buckets = [[b["day"], b["group"], b["progress_events"], b["status_changes"]] for b in activity["buckets"]]
        assert sorted(marks) == sorted(buckets) and "infotech" in {b[1] for b in buckets}
        total = activity["totals"]["progress_events"] + activity["totals"]["status_changes"]
        assert page.locator("[data-activity-total]").get_attribute("data-activity-total") == str(total)
        _wait_until_the_charts_are_the_apis(page, hub)
    finally:
        tab.close()


def test_the_fleet_panels_and_the_relay_box_show_the_apis_numbers(browser: Any, hub: RunningDaemon) -> None:
    waiting = hub.request("PATCH", "/tasks/STATE-WP-0068-T05", json={"status": "wait", "blocking_reason": "a rack"})
    assert waiting.status_code == 200, waiting.text
    logged = hub.request("POST", "/progress", json={"summary": "rack ordered", "task_id": "STATE-WP-0068-T05"})
    assert logged.status_code in (200, 201), logged.text
    tab = Tab(browser, hub)
    try:
        page = tab.open("/")
        summary = hub.get("/state/summary").json()

        def ids(selector: str, attribute: str) -> list[str]:
            return list(page.eval_on_selector_all(selector, f"els => els.map(e => e.getAttribute('{attribute}'))"))

        blocked = {t["id"]: t["blocking_reason"] for t in summary["blocked_tasks"]}
        assert sorted(ids("#blocked [data-blocked-task]", "data-blocked-task")) == sorted(blocked)
        assert "a rack" in page.locator('#blocked [data-blocked-task="STATE-WP-0068-T05"]').inner_text()
        assert page.locator('[data-count="blocked-tasks"]').inner_text() == f"({len(blocked)})"

        grouped = page.eval_on_selector_all(
            "#open-workplans [data-open-workplan]",
            """els => els.map(e => [e.closest('[data-domain]').dataset.domain,
                                    e.closest('[data-topic]').dataset.topic, e.dataset.openWorkplan])""",
        )
        expected = [
            [w["domain"] or "(none)", w["topic_slug"] or "(none)", w["id"]] for w in summary["open_workstreams"]
        ]
        assert sorted(grouped) == sorted(expected) and grouped
        assert page.locator('[data-count="open-workplans"]').inner_text() == f"({len(expected)})"

        events = ids("#recent-events [data-event]", "data-event")
        assert events == [str(e["id"]) for e in summary["recent_events"]] and events

        pending = page.locator('[data-count="relay-pending"]').inner_text()
        assert pending == str(len(_journal(hub))), "no relay runs: the whole journal waits"
    finally:
        tab.close()


def test_the_status_source_shows_only_for_local_writes_and_conflicts_and_rows_stay_compact(
    browser: Any, hub: RunningDaemon, module_workspace: list[Path]
) -> None:
    local, conflicted = "STATE-WP-0068-T03", f"{PLAN}-T03"  # a local write; and a conflict, made next
    started = hub.request("PATCH", f"/tasks/{local}", json={"status": "progress"})
    assert started.status_code == 200, started.text
    written = hub.request("PATCH", f"/tasks/{conflicted}", json={"status": "wait", "blocking_reason": "a part"})
    assert written.status_code == 200, written.text
    # Then someone edits the file to a third value: a conflict, and the overlay shows the file's `progress`.
    path = repo_path(module_workspace, "ops-bridge") / PLAN_FILE
    text = path.read_text()
    edited = text.replace("id: T03\nstatus: todo", "id: T03\nstatus: progress", 1)
    assert edited != text
    path.write_text(edited)
    wait_for(
        lambda: conflicted in {c["id"] for c in hub.get("/errors").json()["conflicts"]},
        timeout=5,
        what="the file edit to disagree with the local write",
    )
    narrow = Tab(browser, hub, width=390)
    try:
        page = narrow.open("/")
        rows = {
            row: page.locator(f'#in-progress [data-task-row="{row}"] .t-status').inner_text()
            for row in (local, conflicted, "STATE-WP-0068-T02")  # the last one's status comes from its file
        }
        assert "local write" in rows[local] and "conflict" not in rows[local]
        assert "conflict" in rows[conflicted] and "local write" not in rows[conflicted]
        assert rows["STATE-WP-0068-T02"].strip() == "progress", "a status from the file shows only its badge"
        lines = page.eval_on_selector_all(
            "#ready tbody tr[data-task-row], #in-progress tbody tr[data-task-row]",
            """rows => rows.map(row => {
                 const cells = Array.from(row.children).filter(c => getComputedStyle(c).display !== 'none');
                 const tops = new Set(cells.map(c => Math.round(c.getBoundingClientRect().top / 4)));
                 const tallest = Math.max(...cells.map(c =>
                     c.getBoundingClientRect().height / parseFloat(getComputedStyle(c).lineHeight)));
                 return [row.dataset.taskRow, tallest < 1.5 ? tops.size : 99]; })""",
        )
        too_tall = [row for row, count in lines if count > 2]
        assert lines and not too_tall, f"at 390 px each task takes one or two lines, flags included: {too_tall}"
        overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 0, f"the overview scrolls sideways by {overflow}px at 390 px"
    finally:
        narrow.close()


def test_a_live_update_keeps_what_the_reader_is_typing(browser: Any, hub: RunningDaemon) -> None:
    body = {"title": "Pick the rack", "decision_type": "pending", "workplan_id": PLAN}
    made = hub.request("POST", "/decisions/", json=body)
    assert made.status_code == 201, made.text
    decision = made.json()["id"]
    tab = Tab(browser, hub)
    try:
        page = tab.open("/")
        page.locator(f'#decisions [data-decision="{decision}"] summary').click()
        page.locator(f"#rationale-{decision}").fill("half typed")
        refreshes = page.evaluate("window.devhubRefreshes || 0")
        sent = hub.request("POST", "/progress", json={"summary": "typing test", "workplan_id": PLAN})
        assert sent.status_code in (200, 201), sent.text
        page.locator("#recent-events", has_text="typing test").wait_for(timeout=LIVE_WAIT_MS)
        assert page.evaluate("window.devhubRefreshes") > refreshes
        assert page.locator(f"#rationale-{decision}").input_value() == "half typed"
        assert page.locator(f"#rationale-{decision}").is_visible(), "the open form stayed open"
        tab.assert_not_reloaded()
    finally:
        tab.close()


def test_a_status_write_moves_the_activity_and_done_over_time_charts_on_open_pages(
    browser: Any, hub: RunningDaemon
) -> None:
    plan = "STATE-WP-0071"
    task = next(t["id"] for t in hub.get(f"/workplans/{plan}").json()["tasks"] if t["status"] != "done")
    overview_tab, plan_tab = Tab(browser, hub), Tab(browser, hub)
    try:
        overview = overview_tab.open("/")
        page = plan_tab.open(f"/ui/workplans/{plan}")
        total_before = int(overview.locator("[data-activity-total]").get_attribute("data-activity-total") or 0)
        points_before = page.locator("#history-chart [data-point]").count()
        answer = hub.request("PATCH", f"/tasks/{task}", json={"status": "done"})
        assert answer.status_code == 200, answer.text
        history = hub.get(f"/workplans/{plan}/history").json()
        page.wait_for_function(
            """([count, done]) => {
                 const points = document.querySelectorAll('#history-chart [data-point]');
                 return points.length === count && +points[points.length - 1].dataset.done === done; }""",
            arg=[points_before + 1, history["tasks_done"]],
            timeout=LIVE_WAIT_MS,
        )
        overview.wait_for_function(
            "total => +document.querySelector('[data-activity-total]').dataset.activityTotal === total",
            arg=total_before + 1,
            timeout=LIVE_WAIT_MS,
        )
        mark = overview.locator(f'#activity-chart [data-bucket][data-group="{plan}"]')
        assert mark.get_attribute("data-status-changes") == "1"
        overview_tab.assert_not_reloaded()
        plan_tab.assert_not_reloaded()
    finally:
        overview_tab.close()
        plan_tab.close()
