"""kill -9 at each relay step (after the upstream applied a call, after its 2xx, mid cursor write), and a
lost acknowledgement on the wire: after a restart nothing is lost and nothing is applied twice upstream."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.relay_e2e.helpers import (
    journal_last_seq,
    patch_task,
    progress_summaries,
    relay,
    start_dev,
    wait_drained,
    write_progress,
)
from tests.support.daemon import RunningDaemon
from tests.support.faultproxy import fault_proxy
from tests.support.repos import make_workspace
from tests.support.waiting import wait_for

WRITES = 8
# Cursor writes are coalesced (persist_interval), so a fast drain may store the cursor only once:
# crashing at the third store would depend on timing. Every other point is reached once per write.
CRASH_AT = {"after_send": 3, "after_ack": 3, "cursor_write": 1}


# The tests share one fleet hub, which holds the status canon too: a task done by one test could not be
# moved again by the next (done does not reopen), so each test writes to its own open task.
TASK_OF = {
    "crash-after_send": "CUST-WP-0054-T04",
    "crash-after_ack": "CUST-WP-0054-T05",
    "crash-cursor_write": "CUST-WP-0054-T06",
    "lost-drop": "CUST-WP-0054-T07",
    "lost-reset": "CUST-WP-0054-T08",
}


def _writes(dev: RunningDaemon, tag: str) -> list[str]:
    summaries = []
    task = TASK_OF[tag]
    with dev.client() as client:
        for index in range(WRITES):
            if index % 2:
                patch_task(client, task, "progress" if index < WRITES - 1 else "done")
            else:
                summaries.append(f"{tag}-{index}")
                write_progress(client, summaries[-1], task_id=task)
    return summaries


@pytest.mark.parametrize("point", ["after_send", "after_ack", "cursor_write"])
def test_kill9_at_each_relay_step_loses_nothing_and_duplicates_nothing(
    tmp_path: Path, fleet: RunningDaemon, point: str
) -> None:
    repos = make_workspace(tmp_path / "ws", ["the-custodian"])
    before = journal_last_seq(fleet)
    with fault_proxy(fleet.port, mode="refuse") as proxy:
        dev = start_dev(tmp_path / "dev", repos, proxy.url, env={"DEVHUB_TEST_CRASH_AT": f"{point}:{CRASH_AT[point]}"})
        try:
            summaries = _writes(dev, f"crash-{point}")
            proxy.set_mode("pass")
            wait_for(lambda: dev.proc.poll() is not None, timeout=20, what=f"the dev hub to crash at {point}")
            assert dev.proc.returncode == 137
            log = " ".join(dev.log().split())  # the log handler may wrap lines
            assert "crashing at" in log and f"{point} #{CRASH_AT[point]}" in log
        finally:
            dev.kill9()
        restarted = start_dev(tmp_path / "dev", repos, proxy.url, data_dir=dev.data_dir)
        try:
            wait_drained(restarted, timeout=20)
        finally:
            restarted.stop()
    # Exactly once upstream: one fleet journal entry per dev write, each summary once, final status applied.
    assert journal_last_seq(fleet) - before == WRITES
    assert progress_summaries(fleet, f"crash-{point}-") == summaries
    assert fleet.get(f"/tasks/{TASK_OF[f'crash-{point}']}").json()["status"] == "done"


@pytest.mark.parametrize("fault", ["drop", "reset"])
def test_lost_acknowledgement_is_resent_and_recognised_upstream(
    tmp_path: Path, fleet: RunningDaemon, fault: str
) -> None:
    repos = make_workspace(tmp_path / "ws", ["the-custodian"])
    before = journal_last_seq(fleet)
    with fault_proxy(fleet.port) as proxy:
        dev = start_dev(tmp_path / "dev", repos, proxy.url)
        try:
            wait_for(lambda: relay(dev)["state"] == "idle", timeout=10, what="the relay to come online")
            proxy.set_mode(fault, times=1)  # the next exchange is the first relayed write
            summaries = _writes(dev, f"lost-{fault}")
            status = wait_drained(dev, timeout=20)
            assert proxy.responses_lost == 1  # the upstream applied it; its answer never arrived
            assert status["sent"] == WRITES + 1  # so it was sent again, and recognised as a replay
            assert status["delivered"] == WRITES and status["dead_letters"] == 0
        finally:
            dev.stop()
    assert journal_last_seq(fleet) - before == WRITES
    assert progress_summaries(fleet, f"lost-{fault}-") == summaries
