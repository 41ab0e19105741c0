"""Dev daemon -> fault proxy -> real fleet daemon: counters that count every resend, bulk syncs whose parts
keep distinct upstream keys, client keys that cannot collide with them, and a cursor that never runs ahead
of the upstream's answer."""

from __future__ import annotations

from pathlib import Path

from tests.relay_e2e.helpers import (
    journal_last_seq,
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

FLAKY_WRITES = 12


def test_every_resend_is_counted_and_a_flaky_link_is_told_from_a_dead_one(tmp_path: Path, fleet: RunningDaemon) -> None:
    before = journal_last_seq(fleet)
    with fault_proxy(fleet.port) as proxy:
        dev = start_dev(tmp_path / "dev", make_workspace(tmp_path / "ws", ["the-custodian"]), proxy.url)
        try:
            wait_for(lambda: relay(dev)["state"] == "idle", timeout=10, what="the relay to come online")
            summaries = []
            with dev.client() as client:
                for index in range(FLAKY_WRITES):
                    # The write's first send loses its answer: reset mid-answer, or applied and dropped.
                    proxy.set_mode("reset" if index % 2 else "drop", times=1)
                    summaries.append(f"flaky-{index:02d}")
                    write_progress(client, summaries[-1])
                    wait_drained(dev, timeout=15)
            flaky = relay(dev)
            assert proxy.responses_lost == FLAKY_WRITES
            assert flaky["delivered"] == FLAKY_WRITES and flaky["dead_letters"] == 0
            assert flaky["retries"] == FLAKY_WRITES  # each write was sent twice: once lost, once answered
            assert flaky["sent"] == flaky["delivered"] + flaky["retries"]
            assert flaky["consecutive_failures"] == 0  # flaky: every failure was followed by a success
            assert flaky["last_failure"] and "upstream" in flaky["last_failure"] and flaky["last_failure_at"]
            shown = dev.cli("relay", "status", check=True).stdout
            assert f"retries {FLAKY_WRITES}" in shown and "last failure" in shown

            proxy.set_mode("refuse")  # dead: the failures in a row keep growing, and it says offline
            with dev.client() as client:
                write_progress(client, "flaky-dead")
            dead = wait_for(
                lambda: (s := relay(dev))["consecutive_failures"] >= 3 and s, timeout=15, what="failures to pile up"
            )
            assert dead["state"] == "offline" and "unreachable" in dead["last_failure"]
            proxy.set_mode("pass")
            back = wait_drained(dev, timeout=15)
            assert back["consecutive_failures"] == 0 and back["delivered"] == FLAKY_WRITES + 1
            assert back["sent"] == back["delivered"] + back["retries"]
        finally:
            dev.stop()
    # Exactly once upstream, whatever the counters say.
    assert journal_last_seq(fleet) - before == FLAKY_WRITES + 1
    assert progress_summaries(fleet, "flaky-") == [*summaries, "flaky-dead"]


def test_a_bulk_sync_with_a_key_arrives_whole_and_a_colliding_client_key_is_refused(
    tmp_path: Path, fleet: RunningDaemon
) -> None:
    tasks = ["CUST-WP-0054-T05", "CUST-WP-0054-T06", "CUST-WP-0054-T04"]  # open tasks: done ones stay done
    dev = start_dev(tmp_path / "dev", make_workspace(tmp_path / "ws", ["the-custodian"]), fleet.url)
    try:
        with dev.client() as client:
            bulk = {"updates": [{"task_id": task, "status": "progress"} for task in tasks], "author": "bulk"}
            answer = client.post("/tasks/bulk-status-sync", json=bulk, headers={"Idempotency-Key": "bk"})
            assert answer.status_code == 200, answer.text
            # A client key equal to a part's derived key would be refused upstream (409): refused here instead.
            for key in ("bk#0", "bk#1"):
                clash = client.patch(f"/tasks/{tasks[0]}", json={"status": "wait"}, headers={"Idempotency-Key": key})
                assert clash.status_code == 400 and "reserve" in clash.json()["detail"], clash.text
            again = client.post("/tasks/bulk-status-sync", json=bulk, headers={"Idempotency-Key": "bk"})
            assert again.headers.get("idempotent-replayed") == "true"
        status = wait_drained(dev, timeout=15)
        assert status["dead_letters"] == 0 and status["delivered"] == len(tasks)
        assert status["sent"] == 1  # the whole sync as one POST /tasks/bulk-status-sync under its own key
        for task in tasks:
            assert fleet.get(f"/tasks/{task}").json()["status"] == "progress", task
        # One status event per change, mirrored locally as the upstream's own side effect, never relayed:
        # the upstream writes its own, once per change, because it received the sync itself.
        mirrored = dev.get("/progress/", params={"author": "bulk", "event_type": "task_status_changed"}).json()
        assert sorted(e["task_id"] for e in mirrored) == tasks[:2]  # T04 was in progress already: no change
        upstream_events = fleet.get("/progress/", params={"author": "bulk"}).json()
        assert sorted(e["task_id"] for e in upstream_events) == tasks[:2]
        assert all(e["event_type"] == "task_status_changed" for e in upstream_events)
    finally:
        dev.stop()


def test_a_write_the_upstream_refused_with_503_is_sent_again_after_a_restart(
    tmp_path: Path, fleet: RunningDaemon
) -> None:
    """The cursor moves only on an answer that settles the envelope: a 503, then a restart, means a resend."""
    workspace = make_workspace(tmp_path / "ws", ["the-custodian"])
    before = journal_last_seq(fleet)
    with fault_proxy(fleet.port) as proxy:
        dev = start_dev(tmp_path / "dev", workspace, proxy.url)
        try:
            wait_for(lambda: relay(dev)["state"] == "idle", timeout=10, what="the relay to come online")
            proxy.set_mode("503")  # every call from now on, until the restart
            with dev.client() as client:
                write_progress(client, "after-503")
            refused = wait_for(
                lambda: (s := relay(dev))["last_status"] == 503 and s, timeout=10, what="the upstream's 503"
            )
            assert refused["pending"] == 1 and refused["cursor"] == 0
        finally:
            dev.stop()  # a graceful stop stores the position: it must not include the refused write
        proxy.set_mode("pass")
        restarted = start_dev(tmp_path / "dev", workspace, proxy.url, data_dir=dev.data_dir)
        try:
            drained = wait_drained(restarted, timeout=15)
            assert drained["delivered"] == 1 and drained["cursor"] == 1
        finally:
            restarted.stop()
    assert journal_last_seq(fleet) - before == 1
    assert progress_summaries(fleet, "after-503") == ["after-503"]
