"""Talk to the dev-hub MCP server the way an agent does: the official SDK client, over HTTP or stdio."""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import AsyncIterator, Coroutine
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, TypeVar

from mcp.client import Client
from mcp.client.stdio import StdioServerParameters

from tests.support.daemon import RunningDaemon

T = TypeVar("T")
PROJECT_ROOT = Path(__file__).resolve().parents[3]

# SPEC §8, verbatim: the tool names agents already use with the fleet State Hub.
SPEC_TOOLS = frozenset(
    [
        "orient",
        "get_state_summary",
        "list_workplans",
        "get_workplan",
        "list_tasks",
        "get_task",
        "list_blocked_tasks",
        "get_next_steps",
        "get_recent_progress",
        "search",
        "add_progress_event",
        "update_task_status",
        "bulk_update_task_statuses",
        "flag_for_human",
        "clear_human_flag",
        "list_human_interventions",
        "send_message",
        "get_messages",
        "mark_message_read",
        "reply_to_message",
        "archive_message",
        "get_message_thread",
        "register_repo",
        "check_repo_consistency",
        "relay_status",
        # -- decisions and token events (the fleet State Hub's TOOLS.md names) --
        "list_pending_decisions",
        "get_token_summary",
        "record_decision",
        "resolve_decision",
        "record_token_event",
        # The fleet hub's read vocabulary (tools_statehub.py)
        "get_domain_summary",
        "list_domains",
        "get_topic",
        "list_domain_repos",
        "list_repos_by_classification",
        "get_repo_dispatch",
        "validate_repo_adr",
        "list_workstreams",
        "get_workstream",
        "update_workstream_status",
        "update_workplan_status",
        # -- creating work offline --
        "create_task",
        "create_workplan",
        "create_workstream",
        "create_workplan_dependency",
        "create_dependency",
        "list_dependencies",
        # -- the time reads as tools (devhub extensions, tools_time.py) --
        "get_activity",
        "get_workplan_history",
        "get_relay_history",
    ]
)


def stdio_parameters(env: dict[str, str], *args: str) -> StdioServerParameters:
    """`python -m devhub mcp ARGS` with the given environment (DEVHUB_DATA_DIR / CONFIG_DIR)."""
    return StdioServerParameters(
        command=sys.executable, args=["-m", "devhub", "mcp", *args], env=env, cwd=str(PROJECT_ROOT)
    )


@asynccontextmanager
async def connect(daemon: RunningDaemon, transport: str) -> AsyncIterator[Client]:
    """An initialised SDK client session on the daemon's /mcp, or on `devhub mcp` (stdio) for that daemon."""
    target: Any = daemon.url + "/mcp" if transport == "http" else stdio_parameters(daemon.env)
    async with Client(target, cache=None) as client:
        yield client


def run(scenario: Coroutine[Any, Any, T]) -> T:
    """asyncio.run, re-raising the first real failure out of the SDK's task-group exception groups."""
    try:
        return asyncio.run(scenario)
    except BaseExceptionGroup as group:
        leaf: BaseException = group
        while isinstance(leaf, BaseExceptionGroup):
            leaf = leaf.exceptions[0]
        raise leaf from None


def text_of(result: Any) -> str:
    return "".join(getattr(block, "text", "") for block in result.content)


def payload(result: Any) -> Any:
    """The JSON a successful tool call returned (fails with the tool's error text otherwise)."""
    assert not result.is_error, f"tool call failed: {text_of(result)}"
    assert len(result.content) == 1, "one text block carrying the whole JSON document"
    return json.loads(text_of(result))


def error_text(result: Any) -> str:
    assert result.is_error, f"expected a tool error, got: {text_of(result)[:300]}"
    return text_of(result)
