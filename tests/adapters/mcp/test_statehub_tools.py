"""The fleet hub's tool arguments through the official SDK client: check_repo_consistency(repo_slug, fix=True)
runs the local writeback, argument aliases are honoured or refused, unknown slugs fail with the real detail."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.adapters.mcp.helpers import connect, error_text, payload, run
from tests.support.daemon import RunningDaemon, start_daemon
from tests.support.repos import git, make_workspace

TASK = "OPS-WP-0012-T04"


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningDaemon]:
    """A daemon of its own: the fix test writes into the workplan files."""
    root = tmp_path_factory.mktemp("statehub-tools")
    running = start_daemon(root / "hub", make_workspace(root / "ws"))
    try:
        yield running
    finally:
        running.stop()


def _pending(checked: dict[str, object], task_id: str) -> list[object]:
    findings = checked["findings"]
    assert isinstance(findings, list)
    return [f for f in findings if f["rule"] == "pending-writeback" and task_id in f["message"]]


@pytest.mark.parametrize("transport", ["http", "stdio"])
def test_check_repo_consistency_with_fix_writes_the_pending_status_into_the_file(
    hub: RunningDaemon, transport: str
) -> None:
    status = "progress" if transport == "http" else "done"
    written = hub.request("PATCH", f"/tasks/{TASK}", json={"status": status})
    assert written.status_code == 200, written.text
    path = Path(hub.get("/repos/ops-bridge").json()["path"]) / hub.get(f"/tasks/{TASK}").json()["path"]

    async def scenario() -> tuple[dict[str, object], dict[str, object]]:
        async with connect(hub, transport) as client:
            before = payload(await client.call_tool("check_repo_consistency", {"repo_slug": "ops-bridge"}))
            fixed = payload(await client.call_tool("check_repo_consistency", {"repo_slug": "ops-bridge", "fix": True}))
            return before, fixed

    before, fixed = run(scenario())
    assert _pending(before, TASK), "the local write waits for writeback before the fix"
    fix = fixed["fix"]
    assert isinstance(fix, dict)
    assert fix["repo"] == "ops-bridge" and not fix["conflicts"], fix["conflicts"]
    assert fix["written_paths"] == [str(path.relative_to(path.parents[1]))]
    assert [(c["id"], c["new_word"]) for c in fix["changes"]] == [(TASK, status)]
    assert f"status: {status}" in path.read_text()
    [commit] = fix["commits"]
    assert commit["sha"] and commit["paths"] == fix["written_paths"]
    assert git(path.parents[1], "status", "--porcelain") == "", "the fix commits exactly what it wrote"
    assert not _pending(fixed, TASK), "the check after the fix sees the file it wrote"
    task = hub.get(f"/tasks/{TASK}").json()
    assert (task["status"], task["file_status"]) == (status, status)


def test_consistency_arguments_repo_alias_and_refusals(hub: RunningDaemon) -> None:
    async def scenario() -> tuple[object, object, str, str]:
        async with connect(hub, "http") as client:
            by_slug = payload(await client.call_tool("check_repo_consistency", {"repo_slug": "state-hub"}))
            by_alias = payload(await client.call_tool("check_repo_consistency", {"repo": "state-hub"}))
            differ = error_text(
                await client.call_tool("check_repo_consistency", {"repo_slug": "state-hub", "repo": "ops-bridge"})
            )
            unscoped_fix = error_text(await client.call_tool("check_repo_consistency", {"fix": True}))
            return by_slug, by_alias, differ, unscoped_fix

    by_slug, by_alias, differ, unscoped_fix = run(scenario())
    assert by_slug == by_alias
    assert all(f["repo"] == "state-hub" for f in by_slug["findings"])  # type: ignore[index]
    assert "repo_slug" in differ and "differ" in differ
    assert "repo_slug" in unscoped_fix


def test_unknown_slugs_and_conflicting_aliases_are_tool_errors(hub: RunningDaemon) -> None:
    async def scenario() -> list[str]:
        async with connect(hub, "http") as client:
            return [
                error_text(await client.call_tool("get_domain_summary", {"domain_slug": "nope"})),
                error_text(await client.call_tool("get_topic", {"slug": "nope"})),
                error_text(await client.call_tool("get_repo_dispatch", {"repo_slug": "nope"})),
                error_text(await client.call_tool("validate_repo_adr", {"repo_path": "/nowhere/at/all"})),
                error_text(
                    await client.call_tool("list_tasks", {"workplan_id": "OPS-WP-0012", "workstream_id": "OPS-WP-0014"})
                ),
                error_text(await client.call_tool("list_tasks", {"status": "sideways"})),
                error_text(await client.call_tool("update_workplan_status", {"status": "active"})),
            ]

    domain, topic, repo, adr, ids, status, no_id = run(scenario())
    assert "Domain not found" in domain and "404" in domain
    assert "Topic not found" in topic and "Repo not found" in repo
    assert "register" in adr
    assert "workstream_id" in ids and "status" in status and "sideways" in status
    assert "workplan_id is required" in no_id
