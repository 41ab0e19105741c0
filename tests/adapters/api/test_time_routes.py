"""The time reads against a real daemon: activity per day, a workplan's done/total history, relay samples."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from tests.support.daemon import RunningDaemon, start_daemon
from tests.support.repos import make_workspace
from tests.support.waiting import wait_for

PLAN = "OPS-WP-0012"


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningDaemon]:
    """One daemon for the module, sampling the relay queue every half second."""
    workspace = make_workspace(tmp_path_factory.mktemp("time") / "ws")
    running = start_daemon(tmp_path_factory.mktemp("hub"), workspace, env={"DEVHUB_RELAY_SAMPLE_SECONDS": "0.5"})
    try:
        yield running
    finally:
        running.stop()


def _ok(daemon: RunningDaemon, method: str, path: str, body: dict) -> None:  # type: ignore[type-arg]
    response = daemon.request(method, path, json=body)
    assert response.status_code in (200, 201), response.text


def test_activity_counts_todays_progress_and_status_writes_by_workplan_and_domain(hub: RunningDaemon) -> None:
    before = hub.get("/state/activity", params={"days": 7}).json()
    _ok(hub, "PATCH", f"/tasks/{PLAN}-T03", {"status": "progress"})
    _ok(hub, "PATCH", f"/tasks/{PLAN}-T03", {"status": "done"})
    _ok(hub, "POST", "/progress/", {"summary": "tunnel up", "task_id": f"{PLAN}-T03", "workplan_id": PLAN})
    _ok(hub, "PATCH", "/tasks/STATE-WP-0068-T02", {"status": "progress"})

    report = hub.get("/state/activity", params={"days": 7}).json()
    today = datetime.now(UTC).date().isoformat()
    assert report["to"] == today and len(report["dates"]) == 7 and report["dates"][-1] == today
    cell = {(b["day"], b["group"]): b for b in report["buckets"]}
    old = {(b["day"], b["group"]): b for b in before["buckets"]}
    mine = cell[(today, PLAN)]
    was = old.get((today, PLAN), {"progress_events": 0, "status_changes": 0})
    assert mine["status_changes"] - was["status_changes"] == 2
    assert mine["progress_events"] - was["progress_events"] == 1
    assert report["totals"]["status_changes"] - before["totals"]["status_changes"] == 3
    assert report["totals"]["status_changes"] == sum(b["status_changes"] for b in report["buckets"])

    by_domain = hub.get("/state/activity", params={"days": 7, "by": "domain"}).json()
    domains = {b["group"] for b in by_domain["buckets"]}
    assert {"infotech", "custodian"} <= domains
    assert by_domain["totals"] == report["totals"]


@pytest.mark.parametrize(
    ("path", "params", "name"),
    [
        ("/state/activity", {"days": 0}, "days"),
        ("/state/activity", {"days": 400}, "days"),
        ("/state/activity", {"by": "repo"}, "by"),
        ("/state/activity", {"days": "many"}, "days"),
        ("/relay/history", {"hours": 25}, "hours"),
    ],
)
def test_out_of_range_arguments_are_a_400_naming_them(hub: RunningDaemon, path: str, params: dict, name: str) -> None:  # type: ignore[type-arg]
    response = hub.get(path, params=params)
    assert response.status_code == 400, response.text
    assert name in response.json()["detail"]


def test_workplan_history_ends_at_todays_counts_and_steps_with_each_write(hub: RunningDaemon) -> None:
    plan = "STATE-WP-0068"
    start = hub.get(f"/workplans/{plan}").json()
    # The status canon lets no write reopen a done task, so the steps only go up: one task through progress
    # to done, then a second task done.
    first_task, second_task = [t["id"] for t in start["tasks"] if t["status"] in ("todo", "progress")][:2]
    _ok(hub, "PATCH", f"/tasks/{first_task}", {"status": "progress"})
    _ok(hub, "PATCH", f"/tasks/{first_task}", {"status": "done"})
    _ok(hub, "PATCH", f"/tasks/{second_task}", {"status": "done"})

    history = hub.get(f"/workplans/{plan}/history").json()
    now = hub.get(f"/workplans/{plan}").json()
    assert (history["tasks_done"], history["tasks_total"]) == (now["tasks_done"], now["tasks_total"])
    mine = [p for p in history["points"] if p["task_id"] in (first_task, second_task)][-3:]
    assert [(p["task_id"], p["status"]) for p in mine] == [
        (first_task, "progress"),
        (first_task, "done"),
        (second_task, "done"),
    ]
    assert [p["done"] for p in mine] == [start["tasks_done"], start["tasks_done"] + 1, start["tasks_done"] + 2]
    assert history["points"][-1]["done"] == now["tasks_done"]
    assert hub.get("/workplans/NOPE-WP-0001/history").status_code == 404


def test_relay_history_samples_the_journal_backlog(hub: RunningDaemon) -> None:
    """With the relay off nothing is acknowledged: each sample's depth is the journal's length."""
    _ok(hub, "PATCH", f"/tasks/{PLAN}-T04", {"status": "progress"})
    journal = sum(
        1
        for segment in (Path(hub.data_dir) / "journal").glob("*.jsonl")
        for line in segment.read_text().splitlines()
        if line.strip()
    )

    def caught_up() -> dict | None:  # type: ignore[type-arg]
        answer = hub.get("/relay/history", params={"hours": 1}).json()
        return answer if answer["samples"] and answer["samples"][-1]["pending"] == journal else None

    history = wait_for(caught_up, timeout=10, what="a relay sample counting the new write")
    assert history["interval_seconds"] == 0.5
    last = history["samples"][-1]
    assert last["state"] == "disabled" and last["oldest_pending_age_seconds"] > 0
    stamps = [s["ts"] for s in history["samples"]]
    assert stamps == sorted(stamps) and len(stamps) >= 2
    assert (Path(hub.data_dir) / "relay-samples.sqlite").exists()


def test_an_unusable_samples_file_does_not_stop_the_hub(tmp_path: Path) -> None:
    """The samples are a chart's past: when their file cannot be opened the hub serves without them."""
    data_dir = tmp_path / "hub" / "data"
    (data_dir / "relay-samples.sqlite").mkdir(parents=True)  # a directory where the file should be
    running = start_daemon(tmp_path / "hub", make_workspace(tmp_path / "ws", ["ops-bridge"]), data_dir=data_dir)
    try:
        history = running.get("/relay/history").json()
        assert history["samples"] == []
        assert running.get("/").status_code == 200
        assert "relay samples are off" in running.log()
    finally:
        running.stop()
