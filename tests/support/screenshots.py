"""Regenerate the dashboard screenshots under docs/ from a demo daemon: `make screenshots`, or

    .venv/bin/python -m tests.support.screenshots [--out DIR]

It builds the fixture workspace in a temporary directory, starts a real daemon on it (relay off), makes a
few writes so every panel and chart has something to show (progress, status changes, a blocked task, a
pending overdue decision, an unread message), and drives the Debian Chromium (/usr/bin/chromium, headless)
over the overview at 1280 and 390 px in light and dark, and a workplan page at 1280 px. It writes exactly
the files docs/dashboard.md and README.md show, and nothing else.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from tests.support.daemon import RunningDaemon, start_daemon
from tests.support.repos import make_workspace
from tests.support.waiting import wait_for

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run"]
PLAN = "OPS-WP-0012"

# (file name, path, width, colour scheme, whole page): the overview at 1280 px is shown as the first screen.
SHOTS = [
    ("dashboard-overview-1280-light.png", "/", 1280, "light", False),
    ("dashboard-overview-1280-dark.png", "/", 1280, "dark", False),
    ("dashboard-overview-390-light.png", "/", 390, "light", True),
    ("dashboard-overview-390-dark.png", "/", 390, "dark", True),
    ("dashboard-workplan-1280-light.png", f"/ui/workplans/{PLAN}", 1280, "light", True),
]

# What a hub looks like after a morning's work: each write answered 2xx, or the script stops.
SEED: list[tuple[str, str, dict[str, Any]]] = [
    ("PATCH", f"/tasks/{PLAN}-T03", {"status": "progress", "note": "tunnel moved"}),
    ("PATCH", f"/tasks/{PLAN}-T03", {"status": "done"}),
    ("POST", "/progress", {"summary": "tunnel up on the fleet side", "task_id": f"{PLAN}-T03"}),
    ("PATCH", f"/tasks/{PLAN}-T04", {"status": "progress"}),
    ("POST", "/progress", {"summary": "mesh evaluated", "workplan_id": "OPS-WP-0014"}),
    ("POST", "/progress", {"summary": "relay soak started", "workplan_id": "STATE-WP-0068"}),
    ("PATCH", "/tasks/STATE-WP-0068-T03", {"status": "progress"}),
    ("PATCH", "/tasks/STATE-WP-0068-T05", {"status": "wait", "blocking_reason": "waiting for the rack"}),
    ("POST", "/decisions/", {"title": "Pick the NAS", "decision_type": "pending", "deadline": "2026-01-15",
                             "workplan_id": "CUST-WP-0054"}),
    ("POST", "/messages", {"from_agent": "planner", "to_agent": "dev", "subject": "review", "body": "T04 first"}),
]


def seed(hub: RunningDaemon) -> None:
    for method, path, body in SEED:
        answer = hub.request(method, path, json=body)
        if answer.status_code >= 300:
            raise SystemExit(f"seeding {method} {path} failed: {answer.status_code} {answer.text[:300]}")
    # The start's sample and the one the writes caused (within CHANGE_SAMPLE_GAP_SECONDS): a line, not a dot.
    wait_for(
        lambda: [s["pending"] for s in hub.get("/relay/history", params={"hours": 1}).json()["samples"]][-1:]
        == [len(SEED)],
        timeout=30,
        what="a relay sample after the writes",
    )


@contextmanager
def demo_daemon() -> Iterator[RunningDaemon]:
    with tempfile.TemporaryDirectory(prefix="devhub-screenshots-") as scratch:
        home = Path(scratch)
        hub = start_daemon(home / "hub", make_workspace(home / "ws"))
        try:
            yield hub
        finally:
            hub.stop()


def take(hub: RunningDaemon, out: Path) -> list[Path]:
    """Every shot in SHOTS, written under `out`; the paths written."""
    from playwright.sync_api import sync_playwright

    written = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        try:
            for name, path, width, scheme, whole in SHOTS:
                context = browser.new_context(viewport={"width": width, "height": 900}, color_scheme=scheme)
                try:
                    page = context.new_page()
                    page.goto(hub.url + path)
                    page.wait_for_function(
                        "document.getElementById('live-status').textContent.startsWith('Live')", timeout=10_000
                    )
                    target = out / name
                    page.screenshot(path=str(target), full_page=whole)
                    written.append(target)
                finally:
                    context.close()
        finally:
            browser.close()
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.support.screenshots", description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs", help="where the PNGs go (default: docs/)")
    options = parser.parse_args(argv)
    if not CHROMIUM.exists():
        print(f"{CHROMIUM} is missing: install it with `apt-get install chromium`", file=sys.stderr)
        return 1
    options.out.mkdir(parents=True, exist_ok=True)
    with demo_daemon() as hub:
        seed(hub)
        for path in take(hub, options.out):
            print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
