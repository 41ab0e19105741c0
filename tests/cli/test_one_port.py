"""One way in: the CLI answers the same with and without a daemon, and a refusal reads the same on every surface."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from devhub.errors import (
    Ambiguous,
    BadRequest,
    Conflict,
    DevhubError,
    DuplicateTaskIds,
    NotFound,
    PayloadTooLarge,
    StorageFull,
    TasksNotFound,
    ValidationFailed,
)
from devhub.service.remote import from_problem
from tests.adapters.mcp.helpers import connect, error_text, run
from tests.support.daemon import RunningDaemon, devhub_env, run_cli, start_daemon
from tests.support.repos import make_workspace


@pytest.mark.parametrize(
    "error",
    [
        NotFound("no task with id 'X'"),
        BadRequest("query parameter limit: 0 is outside 1..5", {"limit": "between 1 and 5"}),
        ValidationFailed("invalid task update: status: unknown", {"status": "unknown status 'x'"}),
        Ambiguous("id 'T1' is in two repos", [{"repo": "a", "path": "p"}, {"repo": "b", "path": "q"}]),
        Conflict("Idempotency-Key reused with another body"),
        PayloadTooLarge("request body is 70000 bytes"),
        StorageFull("the journal is full"),
        DuplicateTaskIds(["T1"]),
        TasksNotFound(["T8", "T9"]),
    ],
    ids=lambda e: type(e).__name__,
)
def test_a_problem_document_becomes_the_error_the_hub_raised(error: DevhubError) -> None:
    rebuilt = from_problem(error.status, error.problem())
    assert type(rebuilt) is type(error)
    assert rebuilt.problem() == error.problem()
    assert (rebuilt.status, rebuilt.title, rebuilt.detail, rebuilt.exit_code) == (
        error.status,
        error.title,
        error.detail,
        error.exit_code,
    )
    assert getattr(rebuilt, "fields", None) == getattr(error, "fields", None)


def _json(env: dict[str, str], *args: str) -> Any:
    return json.loads(run_cli(*args, "--json", env=env, check=True).stdout)


def _without(ident: str, text: str) -> str:
    return text.replace(ident, "<task>")


def test_the_cli_answers_the_same_with_and_without_a_daemon(tmp_path: Path) -> None:
    repos = make_workspace(tmp_path / "ws", ["the-custodian"])
    env = devhub_env(tmp_path / "data", tmp_path / "config")
    run_cli("register", *map(str, repos), env=env, check=True)
    first, second = [t["id"] for t in _json(env, "tasks", "--status", "todo")[:2]]

    # No daemon: the command opens the hub itself (lock, catch-up), writes, reads.
    wrote_alone = run_cli("task", "set", first, "progress", "--agent", "t", env=env, check=True).stdout
    tasks_alone = _json(env, "tasks")
    progress_alone = run_cli("progress", "alone", "--task", first, "--author", "t", env=env, check=True).stdout

    daemon = start_daemon(tmp_path, data_dir=tmp_path / "data", config_dir=tmp_path / "config")
    try:
        assert _json(env, "tasks") == tasks_alone  # the daemon serves what the CLI wrote without it
        wrote_daemon = run_cli("task", "set", second, "progress", "--agent", "t", env=env, check=True).stdout
        progress_daemon = run_cli("progress", "daemon", "--task", second, "--author", "t", env=env, check=True).stdout
        shown_daemon = _json(env, "task", "show", second)
        assert daemon.get(f"/tasks/{second}").json() == shown_daemon
    finally:
        daemon.stop()

    assert _without(first, wrote_alone) == _without(second, wrote_daemon)
    # "recorded note <new event id> (pending relay: True)": the same but for the id
    assert (
        progress_alone.split()[:2] + progress_alone.split()[3:]
        == progress_daemon.split()[:2] + progress_daemon.split()[3:]
    )
    assert _json(env, "task", "show", second) == shown_daemon  # the write through the daemon, read without it
    assert shown_daemon["status"] == "progress" and shown_daemon["status_source"] != "file"


@pytest.fixture
def daemon(tmp_path: Path) -> Any:
    repos = make_workspace(tmp_path / "ws", ["the-custodian"])
    running = start_daemon(tmp_path, repos)
    yield running
    running.stop()


def _mcp_error(daemon: RunningDaemon, transport: str, tool: str, arguments: dict[str, Any]) -> str:
    async def call() -> str:
        async with connect(daemon, transport) as client:
            return error_text(await client.call_tool(tool, arguments))

    return run(call())


def test_a_refusal_reads_the_same_through_rest_mcp_and_the_cli(daemon: RunningDaemon) -> None:
    task_id = daemon.get("/tasks/", params={"status": "todo"}).json()[0]["id"]
    cases = [
        # (REST call, MCP tool call, CLI command, expected status)
        (
            ("GET", "/tasks/NO-SUCH-T99", None),
            ("get_task", {"task_id": "NO-SUCH-T99"}),
            ("task", "show", "NO-SUCH-T99"),
            404,
        ),
        (
            ("PATCH", f"/tasks/{task_id}", {"status": "bogus"}),
            ("update_task_status", {"task_id": task_id, "status": "bogus"}),
            ("task", "set", task_id, "bogus"),
            422,
        ),
    ]
    for (method, path, body), (tool, arguments), command, status in cases:
        answer = daemon.request(method, path, json=body)
        problem = answer.json()
        assert answer.status_code == status == problem["status"], problem
        expected = from_problem(status, problem)
        tool_text = f"{problem['detail']} ({status} {problem['title']})"
        for transport in ("http", "stdio"):
            assert tool_text in _mcp_error(daemon, transport, tool, arguments), transport
        with_daemon = daemon.cli(*command)
        assert with_daemon.returncode == expected.exit_code, with_daemon.stderr
        assert with_daemon.stderr.strip() == f"error: {problem['detail']}"
        # Without the daemon the CLI opens the hub in-process and refuses with the very same words and exit code.
        daemon.stop()
        alone = daemon.cli(*command)
        assert (alone.returncode, alone.stderr) == (with_daemon.returncode, with_daemon.stderr)
        restarted = start_daemon(daemon.data_dir.parent, data_dir=daemon.data_dir, config_dir=daemon.config_dir)
        daemon.process, daemon.proc, daemon.url = restarted.process, restarted.proc, restarted.url
