"""The dashboard in the system Chromium against a real daemon: counts, live updates, search, graph, keyboard, layout."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.adapters.dashboard.conftest import ARTIFACTS, repo_path
from tests.support.daemon import RunningDaemon
from tests.support.waiting import wait_for

pytestmark = pytest.mark.browser

SEED = "CUST-WP-0054"
SEED_FILE = "workplans/CUST-WP-0054-workstation-independence.md"
MARKER = "window.__devhubLoadMarker"
LIVE_WAIT_MS = 2000


class Tab:
    """A page on the daemon that records every request, so a test can prove nothing left the machine."""

    def __init__(self, browser: Any, hub: RunningDaemon, width: int = 1280, **options: Any) -> None:
        self.hub = hub
        self.context = browser.new_context(viewport={"width": width, "height": 900}, **options)
        self.page = self.context.new_page()
        self.requests: list[str] = []
        self.errors: list[str] = []
        self.page.on("request", lambda request: self.requests.append(request.url))
        self.page.on("pageerror", lambda error: self.errors.append(str(error)))
        self.page.on("console", lambda m: self.errors.append(m.text) if m.type == "error" else None)

    def open(self, path: str, *, live: bool = True) -> Any:
        """Load `path`, mark the window (a reload would lose the mark) and wait for the event stream."""
        self.page.goto(self.hub.url + path)
        self.page.evaluate(f"{MARKER} = 'first-load'")
        if live:
            self.page.wait_for_function(
                "document.getElementById('live-status').textContent.startsWith('Live')", timeout=5000
            )
        return self.page

    def assert_not_reloaded(self) -> None:
        assert self.page.evaluate(MARKER) == "first-load", "the page navigated instead of updating in place"

    def close(self) -> None:
        self.context.close()
        foreign = [url for url in self.requests if not url.startswith(self.hub.url) and not url.startswith("data:")]
        assert not foreign, f"the dashboard reached beyond the daemon: {foreign}"
        assert not self.errors, f"browser errors: {self.errors}"


@pytest.fixture
def tab(browser: Any, hub: RunningDaemon) -> Iterator[Tab]:
    opened = Tab(browser, hub)
    try:
        yield opened
    finally:
        opened.close()


def _count(page: Any, name: str) -> int:
    return int(page.locator(f'[data-count="{name}"]').inner_text())


def test_overview_counts_equal_the_api(tab: Tab, hub: RunningDaemon) -> None:
    page = tab.open("/")
    summary = hub.get("/state/summary").json()
    assert _count(page, "workplans") == summary["workplans"]["total"]
    assert _count(page, "tasks") == summary["tasks"]["total"]
    assert _count(page, "ready") == summary["tasks"]["ready"]
    assert _count(page, "progress") == summary["tasks"]["by_status"]["progress"]
    assert _count(page, "needs-human") == summary["tasks"]["needs_human"]
    assert _count(page, "errors") == summary["problems"]["errors"]
    assert _count(page, "warnings") == summary["problems"]["warnings"]
    assert _count(page, "conflicts") == summary["conflicts"]

    def rows(section: str) -> list[str]:
        return page.eval_on_selector_all(f"#{section} [data-task-row]", "els => els.map(e => e.dataset.taskRow)")

    assert rows("ready") == [t["id"] for t in hub.get("/tasks", params={"ready": "true"}).json()]
    assert rows("in-progress") == [t["id"] for t in hub.get("/tasks", params={"status": "progress"}).json()]
    assert rows("needs-human") == [t["id"] for t in hub.get("/tasks", params={"needs_human": "true"}).json()]
    assert page.locator("#problems [data-problem]").count() == len(hub.get("/errors").json()["problems"])
    workplans = hub.get("/workplans").json()
    assert page.locator("#workplans [data-workplan]").count() == len(workplans)
    seed = next(w for w in workplans if w["id"] == SEED)
    bar = page.locator(f'#workplans [data-workplan="{SEED}"] [data-done]')
    assert (bar.get_attribute("data-done"), bar.get_attribute("data-total")) == (
        str(seed["tasks_done"]),
        str(seed["tasks_total"]),
    )
    assert page.locator('[data-relay-state="disabled"]').inner_text() == "Relay disabled"


def test_editing_a_workplan_file_updates_the_open_page(
    tab: Tab, hub: RunningDaemon, module_workspace: list[Path]
) -> None:
    page = tab.open(f"/ui/workplans/{SEED}")
    row = page.locator(f'#tasks [data-task-row="{SEED}-T06"]')
    assert "todo" in row.inner_text()
    path = repo_path(module_workspace, "the-custodian") / SEED_FILE
    text = path.read_text()
    edited = text.replace("id: CUST-WP-0054-T06\nstatus: todo", "id: CUST-WP-0054-T06\nstatus: done", 1)
    assert edited != text
    path.write_text(edited)
    page.wait_for_function(
        f"""() => document.querySelector('#tasks [data-task-row="{SEED}-T06"]').textContent.includes('done')
           && document.querySelector('svg.graph [data-task-id="{SEED}-T06"]').classList.contains('status-done')""",
        timeout=LIVE_WAIT_MS,
    )
    tab.assert_not_reloaded()


def test_a_rest_write_shows_up_live(tab: Tab, hub: RunningDaemon) -> None:
    page = tab.open("/")
    before = _count(page, "progress")
    assert page.locator(f'#in-progress [data-task-row="{SEED}-T07"]').count() == 0
    answer = hub.request("PATCH", f"/tasks/{SEED}-T07", json={"status": "progress", "note": "started from a test"})
    assert answer.status_code == 200, answer.text
    page.locator(f'#in-progress [data-task-row="{SEED}-T07"]').wait_for(timeout=LIVE_WAIT_MS)
    assert "local write" in page.locator(f'#in-progress [data-task-row="{SEED}-T07"]').inner_text()
    # The counts and the list are regions of their own: wait for the counts too (one CI run saw the row first).
    page.wait_for_function(
        f"""() => document.querySelector('[data-count="progress"]').textContent.trim() === '{before + 1}'""",
        timeout=LIVE_WAIT_MS,
    )
    assert page.locator(f'#ready [data-task-row="{SEED}-T07"]').count() == 0
    tab.assert_not_reloaded()


def test_a_broken_file_appears_in_the_problems_list(tab: Tab, hub: RunningDaemon, module_workspace: list[Path]) -> None:
    page = tab.open("/")
    errors_before = _count(page, "errors")
    broken = repo_path(module_workspace, "state-hub") / "workplans" / "STATE-WP-0099-broken.md"
    broken.write_text("---\nid: STATE-WP-0099\ntype: workplan\ntitle: [never closed\n---\n\n# Broken\n")
    row = page.locator('#problems [data-problem="yaml-error"][data-path="workplans/STATE-WP-0099-broken.md"]')
    row.wait_for(timeout=LIVE_WAIT_MS)
    assert "state-hub/workplans/STATE-WP-0099-broken.md:" in row.inner_text()
    assert _count(page, "errors") > errors_before
    tab.assert_not_reloaded()


def test_search_finds_a_task_by_a_word_in_its_body(tab: Tab, hub: RunningDaemon) -> None:
    task = hub.get(f"/tasks/{SEED}-T02").json()
    assert "actcore" in task["body"] and "actcore" not in task["title"].lower()
    page = tab.open("/ui/search", live=False)
    page.locator("#q").press_sequentially("actcore", delay=25)
    hit = page.locator(f'[data-search-results] [data-hit-id="{SEED}-T02"]')
    hit.wait_for(timeout=3000)
    # A debounced fetch of a prefix may answer first and be replaced; wait for the full word's results.
    expect(hit.locator("mark").first).to_have_text(re.compile("^actcore$", re.IGNORECASE), timeout=3000)
    assert hit.locator("a").get_attribute("href") == f"/ui/tasks/{SEED}-T02?repo=the-custodian"
    searches = [url for url in tab.requests if "/search?" in url]
    assert 1 <= len(searches) <= 2, f"typing 7 letters should debounce into one or two fetches, not {searches}"
    assert page.url.endswith("?q=actcore")
    tab.assert_not_reloaded()


def test_the_workplan_graph_has_one_node_per_task(tab: Tab, hub: RunningDaemon) -> None:
    plan = hub.get(f"/workplans/{SEED}").json()
    page = tab.open(f"/ui/workplans/{SEED}?repo=the-custodian")
    nodes = page.eval_on_selector_all("svg.graph [data-task-id]", "els => els.map(e => e.dataset.taskId)")
    assert sorted(nodes) == sorted(t["id"] for t in plan["tasks"])
    edges = page.eval_on_selector_all("svg.graph [data-edge]", "els => els.map(e => e.dataset.edge.split(' '))")
    sequencing = {(r["target_id"], r["source_id"]) for r in plan["references"] if r["kind"] == "sequencing"}
    assert {tuple(edge) for edge in edges} == sequencing
    box = page.locator(f'svg.graph [data-task-id="{SEED}-T01"] rect').bounding_box()
    later = page.locator(f'svg.graph [data-task-id="{SEED}-T09"] rect').bounding_box()
    assert box is not None and later is not None and later["x"] > box["x"], "a dependant sits right of its prerequisite"


def _tab_through(page: Any, limit: int) -> list[str]:
    """Press Tab until focus comes back round to the skip link; the hrefs focused on the way."""
    reached: list[str] = []
    for _ in range(limit):
        page.keyboard.press("Tab")
        href = page.evaluate("document.activeElement && document.activeElement.getAttribute('href')")
        if href == "#main" and reached:
            break
        reached.append(href or "")
    return reached


@pytest.mark.parametrize("path", ["/", f"/ui/workplans/{SEED}"])
def test_keyboard_alone_reaches_every_task_link(tab: Tab, path: str) -> None:
    page = tab.open(path)
    task_links = set(page.eval_on_selector_all("a[href^='/ui/tasks/']", "els => els.map(e => e.getAttribute('href'))"))
    assert task_links
    reached = _tab_through(page, limit=400)
    assert reached[0] == "#main", "the first Tab lands on the skip link"
    assert task_links <= set(reached), f"never reached by Tab: {sorted(task_links - set(reached))}"
    outline = page.evaluate(
        "(() => { const a = document.querySelector('main a[href^=\"/ui/tasks/\"]'); a.focus();"
        " return getComputedStyle(a).outlineStyle; })()"
    )
    assert outline != "none", "a focused link shows a visible outline"


def test_the_task_page_shows_new_history_and_progress_live(tab: Tab, hub: RunningDaemon) -> None:
    page = tab.open(f"/ui/tasks/{SEED}-T10")
    assert page.locator("#history [data-history-seq]").count() == 0
    patched = hub.request("PATCH", f"/tasks/{SEED}-T10", json={"status": "progress", "agent": "browser-test"})
    logged = hub.request("POST", "/progress", json={"summary": "soak test started", "task_id": f"{SEED}-T10"})
    assert patched.status_code == 200 and logged.status_code in (200, 201), (patched.text, logged.text)
    page.locator("#history [data-history-seq]").wait_for(timeout=LIVE_WAIT_MS)
    assert "browser-test" in page.locator("#history").inner_text()
    page.locator("#progress [data-progress]", has_text="soak test started").wait_for(timeout=LIVE_WAIT_MS)
    assert page.locator('#task-head [data-status="progress"]').count() == 1
    tab.assert_not_reloaded()


# -- time charts, layout and write forms (dashboard round 2) --

DOCS = Path(__file__).resolve().parents[3] / "docs"
CHART_PLAN = "OPS-WP-0012"


def _journal(hub: RunningDaemon) -> list[dict[str, Any]]:
    import json

    lines: list[dict[str, Any]] = []
    for segment in sorted((hub.data_dir / "journal").glob("*.jsonl")):
        lines += [json.loads(line) for line in segment.read_text().splitlines() if line.strip()]
    return lines


def test_the_charts_draw_the_apis_numbers_one_mark_per_point(tab: Tab, hub: RunningDaemon) -> None:
    for status in ("progress", "done"):
        assert hub.request("PATCH", f"/tasks/{CHART_PLAN}-T03", json={"status": status}).status_code == 200
    logged = hub.request("POST", "/progress", json={"summary": "tunnel up", "task_id": f"{CHART_PLAN}-T03"})
    assert logged.status_code in (200, 201), logged.text

    page = tab.open("/")
    activity = hub.get("/state/activity", params={"days": 30, "by": "workplan"}).json()
    marks = page.eval_on_selector_all(
        "#activity-chart [data-bucket]",
        "els => els.map(e => [e.dataset.day, e.dataset.group, +e.dataset.progressEvents, +e.dataset.statusChanges])",
    )
    expected = [[b["day"], b["group"], b["progress_events"], b["status_changes"]] for b in activity["buckets"]]
    assert sorted(marks) == sorted(expected) and len(marks) == len(activity["buckets"]) > 0

    def depth_matches_the_api() -> bool:
        relay = hub.get("/relay/history", params={"hours": 24}).json()
        depth = page.eval_on_selector_all(
            "#relay-depth-chart [data-sample]", "els => els.map(e => [e.dataset.ts, +e.dataset.value])"
        )
        return bool(depth) and depth == [[s["ts"], s["pending"]] for s in relay["samples"] if s["pending"] is not None]

    # A sample taken after the writes above may still be on its way to the open page (it refreshes on it).
    wait_for(depth_matches_the_api, timeout=20, what="the page's queue samples to be the API's")

    history = hub.get(f"/workplans/{CHART_PLAN}/history").json()
    page = tab.open(f"/ui/workplans/{CHART_PLAN}")
    points = page.eval_on_selector_all(
        "#history-chart [data-point]", "els => els.map(e => [e.dataset.ts, +e.dataset.done, +e.dataset.total])"
    )
    assert points == [[p["ts"], p["done"], p["total"]] for p in history["points"]] and len(points) >= 2
    assert points[-1][1:] == [history["tasks_done"], history["tasks_total"]]


def test_a_status_change_from_the_page_is_journaled_and_shows_on_another_open_page(
    browser: Any, tab: Tab, hub: RunningDaemon
) -> None:
    task = f"{SEED}-T08"
    watcher = Tab(browser, hub)
    try:
        overview = watcher.open("/")
        assert overview.locator(f'#in-progress [data-task-row="{task}"]').count() == 0
        before = len(_journal(hub))
        page = tab.open(f"/ui/tasks/{task}")
        page.select_option("#status-select", "progress")
        page.fill("#status-note", "picked up from the dashboard")
        with page.expect_navigation():
            page.get_by_role("button", name="Save").click()
        assert page.url.endswith(f"/ui/tasks/{task}?repo=the-custodian") or page.url.endswith(f"/ui/tasks/{task}")
        written = _journal(hub)[before:]
        assert [(e["kind"], e["body"]["status"], e["origin"]["agent"]) for e in written] == [
            ("task.patch", "progress", "dashboard")
        ]
        assert page.locator('#task-head [data-status="progress"]').count() == 1
        overview.locator(f'#in-progress [data-task-row="{task}"]').wait_for(timeout=LIVE_WAIT_MS)
        watcher.assert_not_reloaded()
    finally:
        watcher.close()


def test_mark_read_from_the_page_is_journaled_and_leaves_the_other_open_inbox(
    browser: Any, tab: Tab, hub: RunningDaemon
) -> None:
    sent = hub.request("POST", "/messages", json={"from_agent": "planner", "to_agent": "dev", "subject": "lunch?",
                                                  "body": "the usual place"})
    assert sent.status_code in (200, 201), sent.text
    message = sent.json()["id"]
    watcher = Tab(browser, hub)
    try:
        other = watcher.open("/")
        page = tab.open("/")
        row = f'#inbox [data-message="{message}"]'
        assert other.locator(row).count() == 1 and page.locator(row).count() == 1
        before = len(_journal(hub))
        with page.expect_navigation():
            page.locator(f"{row} button").click()
        assert page.locator(row).count() == 0
        written = _journal(hub)[before:]
        assert len(written) == 1 and written[0]["target"] == {"kind": "message", "id": message}
        other.locator(row).wait_for(state="detached", timeout=LIVE_WAIT_MS)
        watcher.assert_not_reloaded()
        unread = hub.get("/messages", params={"unread_only": "true"}).json()
        assert message not in {m["id"] for m in unread}
    finally:
        watcher.close()


def test_resolving_a_decision_from_the_page_is_journaled_and_leaves_the_other_open_panel(
    browser: Any, tab: Tab, hub: RunningDaemon
) -> None:
    body = {
        "title": "Pick the NAS",
        "decision_type": "pending",
        "deadline": "2020-02-02",
        "workplan_id": "CUST-WP-0054",
    }
    made = hub.request("POST", "/decisions/", json=body)
    assert made.status_code == 201, made.text
    decision = made.json()["id"]
    watcher = Tab(browser, hub)
    try:
        other = watcher.open("/")
        page = tab.open("/")
        row = f'#decisions [data-decision="{decision}"]'
        assert other.locator(row).count() == 1 and page.locator(f"{row} .flag-overdue").count() == 1
        before = len(_journal(hub))
        page.locator(f"{row} summary").click()
        page.locator(f"#rationale-{decision}").fill("the quiet one")
        page.locator(f"#decided-by-{decision}").fill("ops lead")
        with page.expect_navigation():
            page.locator(f"#resolve-{decision}").click()
        assert page.locator(row).count() == 0
        written = _journal(hub)[before:]
        assert len(written) == 1 and written[0]["body"]["rationale"] == "the quiet one"
        other.locator(row).wait_for(state="detached", timeout=LIVE_WAIT_MS)
        watcher.assert_not_reloaded()
        assert hub.get(f"/decisions/{decision}").json()["status"] == "resolved"
    finally:
        watcher.close()


def test_the_overview_is_balanced_aligned_and_compact(browser: Any, hub: RunningDaemon) -> None:
    wide = Tab(browser, hub, width=1280)
    try:
        page = wide.open("/")
        left = page.locator("#workplans").bounding_box()
        right = page.locator(".overview-grid > .side").bounding_box()
        assert left and right
        assert abs((left["y"] + left["height"]) - (right["y"] + right["height"])) < 24, "the two columns end together"
        columns = "els => els.map(e => Math.round(e.getBoundingClientRect().x))"
        ready = page.eval_on_selector_all("#ready thead th", columns)
        doing = page.eval_on_selector_all("#in-progress thead th", columns)
        assert ready and ready == doing, "the ready and in-progress tables share their columns"
        assert page.locator("#ready table").count() == 1, "one ready table, grouped by priority"
        assert "(file)" not in page.locator("main").inner_text()
    finally:
        wide.close()
    narrow = Tab(browser, hub, width=390)
    try:
        page = narrow.open("/")
        # Per row: how many text lines its visible cells make (each cell one line, cells side by side share one).
        lines = page.eval_on_selector_all(
            "#ready tbody tr[data-task-row]",
            """rows => rows.map(row => {
                 const cells = Array.from(row.children).filter(c => getComputedStyle(c).display !== 'none');
                 const tops = new Set(cells.map(c => Math.round(c.getBoundingClientRect().top / 4)));
                 const tallest = Math.max(...cells.map(c =>
                     c.getBoundingClientRect().height / parseFloat(getComputedStyle(c).lineHeight)));
                 return tallest < 1.5 ? tops.size : 99; })""",
        )
        assert lines and max(lines) <= 2, f"a ready task takes at most two lines at 390 px: {lines}"
    finally:
        narrow.close()


def _some_activity(hub: RunningDaemon) -> None:
    """A few writes, each under a fixed Idempotency-Key, so calling this twice writes them once."""
    writes = [
        ("POST", "/progress", {"summary": "mesh evaluated", "workplan_id": "OPS-WP-0014"}),
        ("POST", "/progress", {"summary": "relay soak started", "workplan_id": "STATE-WP-0068"}),
        ("PATCH", "/tasks/STATE-WP-0068-T03", {"status": "progress"}),
        ("PATCH", f"/tasks/{CHART_PLAN}-T04", {"status": "progress"}),
        ("POST", "/messages", {"from_agent": "planner", "to_agent": "dev", "subject": "review", "body": "T04 first"}),
    ]
    for index, (method, path, body) in enumerate(writes):
        answer = hub.request(method, path, json=body, headers={"Idempotency-Key": f"screenshot-seed-{index}"})
        assert answer.status_code in (200, 201), answer.text


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_screenshots_at_desktop_and_phone_width(browser: Any, hub: RunningDaemon, scheme: str) -> None:
    """Both widths in both schemes; nothing scrolls sideways. The overview shots are the ones docs/ shows."""
    ARTIFACTS.mkdir(exist_ok=True)
    _some_activity(hub)
    for width in (1280, 390):
        shot = Tab(browser, hub, width=width, color_scheme=scheme)
        try:
            views = (("overview", "/"), ("workplan", f"/ui/workplans/{CHART_PLAN}"), ("task", f"/ui/tasks/{SEED}-T07"))
            for name, path in views:
                page = shot.open(path)
                overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
                assert overflow <= 0, f"{path} at {width}px scrolls sideways by {overflow}px"
                target = ARTIFACTS / f"dashboard-{name}-{width}-{scheme}.png"
                page.screenshot(path=str(target), full_page=(width == 390 or name != "overview"))
                assert target.stat().st_size > 10_000
        finally:
            shot.close()
    background = {"light": "rgb(255, 255, 255)", "dark": "rgb(20, 23, 28)"}[scheme]
    page_tab = Tab(browser, hub, color_scheme=scheme)
    try:
        page = page_tab.open("/", live=False)
        assert page.evaluate("getComputedStyle(document.body).backgroundColor") == background
        fill = page.evaluate("getComputedStyle(document.querySelector('#activity-chart [data-bucket]')).fill")
        assert fill not in ("", "none", background), "chart marks are drawn in a visible colour"
    finally:
        page_tab.close()
