"""kill -9 in the middle of writes and file edits, restart, repeat: `devhub verify` then finds no drift."""

from __future__ import annotations

import json
import random
import threading
from functools import partial
from pathlib import Path

import httpx

from tests.support.daemon import start_daemon
from tests.support.repos import make_workspace
from tests.support.waiting import wait_for

TASKS = ["CUST-WP-0054-T05", "CUST-WP-0054-T06", "CUST-WP-0054-T07", "CUST-WP-0054-T04"]
STATUSES = ["todo", "progress", "done", "blocked"]
WORKPLAN = "workplans/CUST-WP-0054-workstation-independence.md"


def _write_until_stopped(url: str, seed: int, stop: threading.Event) -> None:
    """PATCHes and progress events as fast as the daemon takes them, until it dies or we stop."""
    rng = random.Random(seed)
    with httpx.Client(base_url=url, timeout=5.0) as client:
        while not stop.is_set():
            try:
                if rng.random() < 0.8:
                    client.patch(f"/tasks/{rng.choice(TASKS)}", json={"status": rng.choice(STATUSES)})
                else:
                    client.post("/progress/", json={"summary": f"round {seed}"})
            except httpx.HTTPError:
                return  # killed


def _edit(path: Path, rng: random.Random) -> None:
    """Flip one task status word in the workplan file (what a pull or an editor does)."""
    text = path.read_text()
    old, new = rng.sample(["status: todo", "status: progress", "status: done", "status: wait"], 2)
    if old in text:
        path.write_text(text.replace(old, new, 1))


def test_kill9_during_writes_and_edits_leaves_no_drift(tmp_path: Path) -> None:
    workspace = make_workspace(tmp_path / "ws", ["the-custodian"])
    workplan = workspace[0] / WORKPLAN
    rng = random.Random(13)
    for round_no in range(4):
        hub = start_daemon(tmp_path / "hub", workspace)
        stop = threading.Event()
        writer = threading.Thread(target=_write_until_stopped, args=(hub.url, round_no, stop))
        writer.start()
        journal = hub.data_dir / "journal"
        for _ in range(rng.randint(1, 4)):
            _edit(workplan, rng)
            wait_for(partial(_journaled_more_than, journal, 0), timeout=10, what="some writes")
        enough = len(_journal_lines(journal)) + rng.randint(1, 30)
        wait_for(partial(_journaled_more_than, journal, enough), timeout=20, what="more writes before the kill")
        hub.kill9()
        stop.set()
        writer.join(timeout=10)
    hub = start_daemon(tmp_path / "hub", workspace)
    try:
        verify = hub.cli("verify", "--json")
        assert verify.returncode == 0, verify.stdout
        assert json.loads(verify.stdout)["drift"] == []
    finally:
        hub.stop()


def _journal_lines(journal: Path) -> list[str]:
    return [line for s in sorted(journal.glob("*.jsonl")) for line in s.read_text().splitlines()]


def _journaled_more_than(journal: Path, count: int) -> bool:
    return len(_journal_lines(journal)) > count
