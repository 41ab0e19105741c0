from tests.support.daemon import RunningDaemon


def test_daemon_serves_fixture_workspace(daemon: RunningDaemon) -> None:
    health = daemon.get("/state/health").json()
    assert health == {"status": "ok", "role": "dev", "version": "0.1.0", "profile": "dev"}
    seed = daemon.get("/workplans/CUST-WP-0054").json()
    assert [t["id"] for t in seed["tasks"]] == [f"CUST-WP-0054-T{n:02d}" for n in range(1, 11)]
