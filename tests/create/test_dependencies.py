"""Workplan dependencies offline: listed from the files, added and removed through the journal, relayed."""

from __future__ import annotations

from pathlib import Path

from tests.adapters.mcp.helpers import connect, payload, run
from tests.relay_e2e.helpers import start_dev, start_fleet, wait_drained
from tests.support.daemon import RunningDaemon
from tests.support.repos import make_workspace

WP = "STATE-WP-0068"  # its ## Dependencies section names STATE-WP-0052 and CUST-WP-0054


def _ids(daemon: RunningDaemon, path: str) -> list[str]:
    return [edge["id"] for edge in daemon.get(path).json()]


def test_dependencies_from_the_file_then_added_and_removed(daemon: RunningDaemon) -> None:
    listed = daemon.get(f"/workplans/{WP}/dependencies/").json()
    assert [(e["id"], e["source"]) for e in listed] == [("STATE-WP-0052", "file"), ("CUST-WP-0054", "file")]
    assert listed[0]["from_workstream_id"] == WP and listed[0]["to_status"] == "finished"

    added = daemon.request(
        "POST", f"/workstreams/{WP}/dependencies/", json={"to_workstream_id": "OPS-WP-0012", "description": "tunnels"}
    )
    assert added.status_code == 201, added.text
    assert added.json()["to_workstream_id"] == "OPS-WP-0012" and added.json()["source"] == "local"
    assert _ids(daemon, f"/workstreams/{WP}/dependencies/") == ["STATE-WP-0052", "CUST-WP-0054", "OPS-WP-0012"]

    again = daemon.request("POST", f"/workplans/{WP}/dependencies/", json={"to_workstream_id": "OPS-WP-0012"})
    assert again.status_code == 409
    itself = daemon.request("POST", f"/workplans/{WP}/dependencies/", json={"to_workstream_id": WP})
    assert itself.status_code == 422 and "to_workstream_id" in itself.json()["detail"]
    missing = daemon.request("POST", f"/workplans/{WP}/dependencies/", json={})
    assert missing.status_code == 422 and "to_workstream_id" in missing.json()["detail"]
    unknown = daemon.request("POST", f"/workplans/{WP}/dependencies/", json={"to_workstream_id": "NOPE-WP-0001"})
    assert unknown.status_code == 404

    removed = daemon.request("DELETE", f"/workplans/{WP}/dependencies/CUST-WP-0054")
    assert removed.status_code == 200 and removed.json()["id"] == "CUST-WP-0054"
    assert _ids(daemon, f"/workplans/{WP}/dependencies/") == ["STATE-WP-0052", "OPS-WP-0012"]
    assert daemon.request("DELETE", f"/workplans/{WP}/dependencies/CUST-WP-0054").status_code == 404


def test_dependency_tools_through_the_mcp_sdk(daemon: RunningDaemon) -> None:
    async def scenario() -> tuple[dict, list]:  # type: ignore[type-arg]
        async with connect(daemon, "http") as client:
            made = payload(
                await client.call_tool(
                    "create_dependency", {"from_workstream_id": "OPS-WP-0014", "to_workstream_id": "OPS-WP-0012"}
                )
            )
            listed = payload(await client.call_tool("list_dependencies", {"workstream_id": "OPS-WP-0014"}))
        return made, listed

    made, listed = run(scenario())
    assert made["id"] == "OPS-WP-0012" and [e["id"] for e in listed] == ["OPS-WP-0012"]
    assert listed == daemon.get("/workplans/OPS-WP-0014/dependencies/").json()


def test_dependency_writes_reach_a_fleet_hub(tmp_path: Path) -> None:
    fleet = start_fleet(tmp_path / "fleet", make_workspace(tmp_path / "fleet-ws"))
    dev = start_dev(tmp_path / "dev", make_workspace(tmp_path / "ws"), fleet.url)
    try:
        with dev.client() as client:
            made = client.post(f"/workplans/{WP}/dependencies/", json={"to_workstream_id": "OPS-WP-0012"})
            assert made.status_code == 201, made.text
            assert client.delete(f"/workplans/{WP}/dependencies/STATE-WP-0052").status_code == 200
        status = wait_drained(dev, timeout=30)
        assert status["delivered"] == 2 and status["dead_letters"] == 0, status
        assert _ids(fleet, f"/workplans/{WP}/dependencies/") == ["CUST-WP-0054", "OPS-WP-0012"]
    finally:
        dev.stop()
        fleet.stop()


def test_dependency_writes_are_written_back_into_the_dependencies_section(daemon: RunningDaemon) -> None:
    from tests.reconcile.helpers import GIT_IDENTITY
    from tests.support.daemon import run_cli
    from tests.support.waiting import wait_for

    env = {**daemon.env, **GIT_IDENTITY}
    state_hub = next(Path(r["path"]) for r in daemon.get("/repos").json() if r["slug"] == "state-hub")
    ops = next(Path(r["path"]) for r in daemon.get("/repos").json() if r["slug"] == "ops-bridge")
    wp_file = state_hub / "workplans/STATE-WP-0068-offline-write-buffer-and-edge-relay.md"
    ops_file = ops / "workplans/OPS-WP-0014-wireguard-mesh-evaluation.md"
    assert b"## Dependencies" not in ops_file.read_bytes()
    with daemon.client() as client:
        client.post(f"/workplans/{WP}/dependencies/", json={"to_workstream_id": "OPS-WP-0012", "description": "lanes"})
        client.delete(f"/workplans/{WP}/dependencies/STATE-WP-0052")
        client.post("/workplans/OPS-WP-0014/dependencies/", json={"to_workstream_id": "OPS-WP-0012"})
    before = wp_file.read_text()

    done = run_cli("writeback", "--commit", env=env)
    assert done.returncode == 0, done.stdout + done.stderr

    after = wp_file.read_text()
    assert "- STATE-WP-0052 (canonical task statuses) — finished.\n" in before
    assert "STATE-WP-0052 (canonical" not in after and "- OPS-WP-0012 — lanes\n" in after
    assert after.replace("- OPS-WP-0012 — lanes\n", "") == before.replace(
        "- STATE-WP-0052 (canonical task statuses) — finished.\n", ""
    )  # only the two item lines changed
    assert ops_file.read_text().endswith("## Dependencies\n\n- OPS-WP-0012\n")
    wait_for(
        lambda: (
            [(e["id"], e["source"]) for e in daemon.get(f"/workplans/{WP}/dependencies/").json()]
            == [("CUST-WP-0054", "file"), ("OPS-WP-0012", "file")]
        ),
        timeout=15,
        what="the daemon to read the edited dependencies",
    )
    wait_for(
        lambda: daemon.get("/workplans/OPS-WP-0014/dependencies/").json()[0]["source"] == "file",
        timeout=15,
        what="the new Dependencies section to be read",
    )
    again = run_cli("writeback", env=env)
    assert again.returncode == 0 and "nothing to write back" in again.stdout
