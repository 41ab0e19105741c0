"""Every dev-hub tool returns what its REST endpoint returns, over streamable HTTP and over stdio."""

from __future__ import annotations

import json
from typing import Any

import pytest

from devhub.adapters.mcp.tools_create import CREATE_TOOLS
from devhub.adapters.mcp.tools_time import TIME_READ_TOOLS
from tests.adapters.mcp.helpers import SPEC_TOOLS, connect, payload, run, text_of
from tests.support.daemon import RunningDaemon


@pytest.fixture
def daemon(shared_daemon: RunningDaemon) -> RunningDaemon:
    """This module's tests share one daemon (tests/adapters/mcp/conftest.py)."""
    return shared_daemon


TRANSPORTS = ["http", "stdio"]

# (tool, arguments, REST method, path, REST body): each write is made through MCP with an
# Idempotency-Key, then replayed through REST with the same key and the body the REST client would
# send. The hub answers the replay only if the body hashes identically, and then with the stored
# answer — so equality proves the tool wrote exactly what the REST call writes and answered the same.
WRITES: list[tuple[str, dict[str, Any], str, str, dict[str, Any]]] = [
    (
        "update_task_status",
        {"task_id": "CUST-WP-0054-T05", "status": "progress", "agent": "mcp-test", "note": "starting the move"},
        "PATCH",
        "/tasks/CUST-WP-0054-T05",
        {"status": "progress", "agent": "mcp-test", "note": "starting the move"},
    ),
    (
        "update_task_status",
        {"task_id": "CUST-WP-0054-T06", "status": "wait", "blocking_reason": "needs T05"},
        "PATCH",
        "/tasks/CUST-WP-0054-T06",
        {"status": "wait", "blocking_reason": "needs T05"},
    ),
    (
        "flag_for_human",
        {"task_id": "CUST-WP-0054-T07", "note": "approve the beachhead budget"},
        "PATCH",
        "/tasks/CUST-WP-0054-T07",
        {"needs_human": True, "intervention_note": "approve the beachhead budget"},
    ),
    (
        "clear_human_flag",
        {"task_id": "CUST-WP-0054-T08", "note": "resolved on call"},
        "PATCH",
        "/tasks/CUST-WP-0054-T08",
        {"needs_human": False, "note": "resolved on call"},
    ),
    (
        "bulk_update_task_statuses",
        {
            "updates": [
                {"task_id": "CUST-WP-0054-T09", "status": "todo"},
                {"task_id": "CUST-WP-0054-T10", "status": "progress"},
            ],
            "author": "mcp-test",
        },
        "POST",
        "/tasks/bulk-status-sync",
        {
            "updates": [
                {"task_id": "CUST-WP-0054-T09", "status": "todo"},
                {"task_id": "CUST-WP-0054-T10", "status": "progress"},
            ],
            "author": "mcp-test",
        },
    ),
    (
        "add_progress_event",
        {
            "summary": "tunnel moved",
            "event_type": "milestone",
            "author": "mcp-test",
            "task_id": "CUST-WP-0054-T05",
            "detail": {"host": "railiance01"},
        },
        "POST",
        "/progress/",
        {
            "summary": "tunnel moved",
            "event_type": "milestone",
            "author": "mcp-test",
            "task_id": "CUST-WP-0054-T05",
            "detail": {"host": "railiance01"},
        },
    ),
    (
        "add_progress_event",
        {
            "summary": "session closed",
            "topic_id": "custodian",
            "workstream_id": "CUST-WP-0054",
            "detail": '{"commits": 3}',
        },
        "POST",
        "/progress/",
        {
            "summary": "session closed",
            "event_type": "note",
            "topic_id": "custodian",
            "workstream_id": "CUST-WP-0054",
            "detail": {"commits": 3},
        },
    ),
    (
        "send_message",
        {"from_agent": "mcp-test", "to_agent": "reviewer", "subject": "T05", "body": "please review"},
        "POST",
        "/messages/",
        {"from_agent": "mcp-test", "to_agent": "reviewer", "subject": "T05", "body": "please review"},
    ),
    # -- decisions and token events --
    (
        "update_task_status",
        {"task_id": "CUST-WP-0054-T04", "status": "progress", "tokens_in": 900, "tokens_out": 120, "model": "opus"},
        "PATCH",
        "/tasks/CUST-WP-0054-T04",
        {"status": "progress", "tokens_in": 900, "tokens_out": 120, "model": "opus"},
    ),
    (
        "record_decision",
        {"title": "Keep the journal", "decision_type": "pending", "topic_id": "custodian", "deadline": "2026-12-31"},
        "POST",
        "/decisions/",
        {"title": "Keep the journal", "decision_type": "pending", "topic_id": "custodian", "deadline": "2026-12-31"},
    ),
    (
        "record_token_event",
        {"tokens_in": 40, "tokens_out": 2, "task_id": "CUST-WP-0054-T05", "model": "haiku"},
        "POST",
        "/token-events/",
        {"tokens_in": 40, "tokens_out": 2, "task_id": "CUST-WP-0054-T05", "model": "haiku"},
    ),
    # The legacy workstream names write exactly what PATCH /workstreams/{id} (= /workplans/{id}) writes.
    (
        "update_workstream_status",
        {"workstream_id": "OPS-WP-0014", "status": "ready"},
        "PATCH",
        "/workstreams/OPS-WP-0014",
        {"status": "ready"},
    ),
    (
        "update_workplan_status",
        {"workstream_id": "OPS-WP-0014", "status": "ready", "agent": "mcp-test"},
        "PATCH",
        "/workplans/OPS-WP-0014",
        {"status": "ready", "agent": "mcp-test"},
    ),
]

# (tool, arguments, REST path, query): read after the writes above, so the lists are not empty.
READS: list[tuple[str, dict[str, Any], str, dict[str, Any]]] = [
    ("orient", {}, "/orient", {}),
    ("orient", {"repo": "the-custodian"}, "/orient", {"repo": "the-custodian"}),
    ("get_state_summary", {}, "/state/summary", {}),
    ("list_workplans", {}, "/workplans/", {}),
    (
        "list_workplans",
        {"status": "active", "repo": "the-custodian"},
        "/workplans/",
        {"status": "active", "repo": "the-custodian"},
    ),
    ("get_workplan", {"workplan_id": "CUST-WP-0054"}, "/workplans/CUST-WP-0054", {}),
    (
        "list_tasks",
        {"workplan_id": "CUST-WP-0054", "status": "todo"},
        "/tasks/",
        {"workplan_id": "CUST-WP-0054", "status": "todo"},
    ),
    (
        "list_tasks",
        {"ready": True, "priority": "high", "limit": 3},
        "/tasks/",
        {"ready": "true", "priority": "high", "limit": 3},
    ),
    ("get_task", {"task_id": "CUST-WP-0054-T05"}, "/tasks/CUST-WP-0054-T05", {}),
    ("list_blocked_tasks", {}, "/tasks/", {"status": "wait"}),
    ("get_next_steps", {}, "/state/next_steps", {}),
    # The fleet hub's read vocabulary and its legacy names (tools_statehub.py), each with its REST twin.
    ("get_domain_summary", {"domain_slug": "infotech"}, "/domains/infotech/summary", {}),
    ("list_domains", {}, "/domains/", {}),
    ("get_topic", {"slug": "custodian"}, "/topics/custodian", {}),
    ("list_domain_repos", {"domain_slug": "infotech"}, "/repos/", {"domain": "infotech"}),
    ("list_repos_by_classification", {"domain": "custodian"}, "/repos/", {"domain": "custodian"}),
    ("get_repo_dispatch", {"repo_slug": "the-custodian"}, "/repos/the-custodian/dispatch", {}),
    (
        "list_workstreams",
        {"topic_id": "custodian", "status": "active"},
        "/workstreams/",
        {"topic_id": "custodian", "status": "active"},
    ),
    (
        "list_workplans",
        {"topic_id": "ops-bridge", "status": "done"},
        "/workplans/",
        {"topic_id": "ops-bridge", "status": "done"},
    ),
    ("get_workstream", {"workstream_id": "CUST-WP-0054"}, "/workstreams/CUST-WP-0054", {}),
    (
        "list_tasks",
        {"workstream_id": "CUST-WP-0054", "status": "in_progress"},
        "/tasks/",
        {"workstream_id": "CUST-WP-0054", "status": "in_progress"},
    ),
    (
        "list_blocked_tasks",
        {"workstream_id": "CUST-WP-0054"},
        "/tasks/",
        {"status": "blocked", "workplan_id": "CUST-WP-0054"},
    ),
    ("get_recent_progress", {"limit": 5}, "/progress/", {"limit": 5}),
    (
        "get_recent_progress",
        {"task_id": "CUST-WP-0054-T05"},
        "/progress/",
        {"task_id": "CUST-WP-0054-T05", "limit": 20},
    ),
    (
        "get_recent_progress",
        {"workstream_id": "CUST-WP-0054"},
        "/progress/",
        {"workplan_id": "CUST-WP-0054", "limit": 20},
    ),
    ("search", {"q": "tunnel"}, "/search", {"q": "tunnel"}),
    ("list_human_interventions", {}, "/tasks/", {"needs_human": "true"}),
    ("get_messages", {"to_agent": "reviewer"}, "/messages/", {"to_agent": "reviewer"}),
    ("get_messages", {"from_agent": "reviewer", "limit": 1}, "/messages/", {"from_agent": "reviewer", "limit": 1}),
    ("get_recent_progress", {"topic_id": "custodian"}, "/progress/", {"topic_id": "custodian", "limit": 20}),
    ("relay_status", {}, "/relay", {}),
    ("list_pending_decisions", {}, "/decisions/", {"decision_type": "pending"}),
    (
        "list_pending_decisions",
        {"topic_id": "custodian"},
        "/decisions/",
        {"decision_type": "pending", "topic_id": "custodian"},
    ),
]


def _rest(daemon: RunningDaemon, method: str, path: str, **kwargs: Any) -> Any:
    response = daemon.request(method, path, **kwargs)
    assert response.status_code < 300, f"{method} {path}: {response.status_code} {response.text}"
    return response


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_every_tool_returns_the_rest_json(daemon: RunningDaemon, transport: str) -> None:
    covered: set[str] = set()

    async def scenario() -> None:
        async with connect(daemon, transport) as client:
            listed = await client.list_tools()
            assert {tool.name for tool in listed.tools} == SPEC_TOOLS
            assert "orient" in (client.instructions or "") and "first" in (client.instructions or "")

            for index, (tool, arguments, method, path, body) in enumerate(WRITES):
                key = f"{transport}-write-{index}"
                written = payload(await client.call_tool(tool, {**arguments, "idempotency_key": key}))
                replay = _rest(daemon, method, path, json=body, headers={"Idempotency-Key": key})
                assert replay.headers.get("idempotent-replayed") == "true", f"{tool}: REST body differs from MCP's"
                assert replay.json() == written, tool
                covered.add(tool)

            message_id = daemon.get("/messages/", params={"to_agent": "reviewer"}).json()[0]["id"]
            key = f"{transport}-read-mark"
            marked = payload(
                await client.call_tool("mark_message_read", {"message_id": message_id, "idempotency_key": key})
            )
            replay = _rest(daemon, "PATCH", f"/messages/{message_id}/read", json={}, headers={"Idempotency-Key": key})
            assert replay.json() == marked and marked["read"] is True
            covered.add("mark_message_read")

            pending = daemon.get("/decisions/", params={"decision_type": "pending"}).json()
            decision_id = next(d["id"] for d in pending if d["title"] == "Keep the journal")
            key, body = f"{transport}-resolve", {"rationale": "it is the truth", "decided_by": "mcp-test"}
            resolved = payload(
                await client.call_tool("resolve_decision", {"decision_id": decision_id, **body, "idempotency_key": key})
            )
            resolve_path = f"/decisions/{decision_id}/resolve"
            replay = _rest(daemon, "POST", resolve_path, json=body, headers={"Idempotency-Key": key})
            assert replay.json() == resolved and resolved["status"] == "resolved"
            covered.add("resolve_decision")
            tokens = daemon.get("/token-events/", params={"task_id": "CUST-WP-0054-T04"}).json()
            assert [(t["tokens_total"], t["model"]) for t in tokens][:1] == [(1020, "opus")]
            table = text_of(await client.call_tool("get_token_summary", {"scope": "task", "id": "CUST-WP-0054-T04"}))
            totals = daemon.get("/token-events/summary/", params={"scope": "task", "id": "CUST-WP-0054-T04"}).json()
            assert totals["by_model"][0]["model"] == "opus" and totals["tokens_total"] >= 1020
            assert table.splitlines()[-1].split() == [
                "total",
                str(totals["events"]),
                str(totals["tokens_in"]),
                str(totals["tokens_out"]),
                str(totals["tokens_total"]),
            ], table
            covered.add("get_token_summary")
            # A second, pending decision so the read comparisons below compare a non-empty list.
            await client.call_tool(
                "record_decision",
                {"title": f"open {transport}", "decision_type": "pending", "workstream_id": "CUST-WP-0054"},
            )

            # The inbox beyond send/read: reply (to the sender, in the thread), thread view, archive.
            key = f"{transport}-reply"
            arguments = {"message_id": message_id, "from_agent": "reviewer", "body": "looks good"}
            replied = payload(await client.call_tool("reply_to_message", {**arguments, "idempotency_key": key}))
            replay = _rest(
                daemon,
                "POST",
                f"/messages/{message_id}/reply",
                json={"from_agent": "reviewer", "body": "looks good"},
                headers={"Idempotency-Key": key},
            )
            assert replay.headers.get("idempotent-replayed") == "true" and replay.json() == replied
            answered = (replied["to_agent"], replied["thread_id"], replied["subject"])
            assert answered == ("mcp-test", message_id, "Re: T05")
            covered.add("reply_to_message")
            thread = payload(await client.call_tool("get_message_thread", {"message_id": replied["id"]}))
            assert thread == _rest(daemon, "GET", f"/messages/{message_id}/thread").json()
            assert [m["id"] for m in thread][:1] == [message_id] and replied["id"] in [m["id"] for m in thread]
            covered.add("get_message_thread")
            key = f"{transport}-archive"
            archived = payload(
                await client.call_tool("archive_message", {"message_id": replied["id"], "idempotency_key": key})
            )
            replay = _rest(
                daemon, "PATCH", f"/messages/{replied['id']}/archive", json={}, headers={"Idempotency-Key": key}
            )
            assert replay.json() == archived and archived["archived"] is True
            covered.add("archive_message")

            for tool, arguments, path, query in READS:
                answered = payload(await client.call_tool(tool, arguments))
                assert answered == _rest(daemon, "GET", path, params=query).json(), f"{tool} {arguments}"
                covered.add(tool)

            # The lists the writes fed are really exercised, not compared empty.
            blocked = payload(await client.call_tool("list_blocked_tasks", {}))
            assert {"CUST-WP-0054-T06": "needs T05"}.items() <= {t["id"]: t["blocking_reason"] for t in blocked}.items()
            flagged = payload(await client.call_tool("list_human_interventions", {}))
            assert "CUST-WP-0054-T07" in [t["id"] for t in flagged]
            assert "CUST-WP-0054-T08" not in [t["id"] for t in flagged]

            for repo in (None, "ops-bridge"):
                checked = payload(await client.call_tool("check_repo_consistency", {"repo": repo} if repo else {}))
                cli = daemon.cli("check", "--json", *(["--repo", repo] if repo else []))
                assert checked == json.loads(cli.stdout) and checked["exit_code"] == cli.returncode
                assert checked["findings"], "the fixture workspace has unlinked tasks and non-canonical words"
            covered.add("check_repo_consistency")

            # validate_repo_adr has no REST twin upstream: it reports the parser's problems GET /errors serves.
            path = daemon.get("/repos/the-custodian").json()["path"]
            problems = daemon.get("/errors", params={"repo": "the-custodian"}).json()["problems"]
            for where in ("the-custodian", path):
                validated = payload(await client.call_tool("validate_repo_adr", {"repo_path": where}))
                assert validated["errors"] == [p for p in problems if p["severity"] == "error"]
                assert validated["warnings"] == [p for p in problems if p["severity"] == "warning"]
                assert validated["valid"] is not any(p["severity"] == "error" for p in problems)
            mismatched = payload(
                await client.call_tool("validate_repo_adr", {"repo_path": path, "domain_slug": "custodian"})
            )
            assert {w["code"] for w in mismatched["warnings"]} >= {"domain-mismatch"}
            covered.add("validate_repo_adr")

    run(scenario())
    # register_repo: test_register_repo.py; the create tools: tests/create/test_create_mcp.py (their own daemon,
    # so the ids they add do not shift this module's shared fixture); the time tools: test_time_tools.py.
    assert covered == SPEC_TOOLS - {"register_repo", *CREATE_TOOLS, *TIME_READ_TOOLS}
