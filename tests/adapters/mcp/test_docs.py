"""docs/mcp.md documents exactly the tools and resources the server offers (a drift check)."""

from __future__ import annotations

import re

from devhub.adapters.mcp.server import READ_TOOLS, TOOL_NAMES
from tests.adapters.mcp.helpers import PROJECT_ROOT, SPEC_TOOLS


def test_the_tool_table_matches_the_server_and_the_spec() -> None:
    doc = (PROJECT_ROOT / "docs" / "mcp.md").read_text(encoding="utf-8")
    section = doc.split("## Tools", 1)[1].split("\n## ", 1)[0]
    documented = re.findall(r"^\| `([a-z_]+)` \|", section, flags=re.MULTILINE)
    assert sorted(documented) == sorted(TOOL_NAMES) and set(TOOL_NAMES) == SPEC_TOOLS
    assert len(documented) == len(set(documented))
    assert "`workplan://{workplan_id}`" in doc and "`brief://{repo}`" in doc
    writes = {
        "add_progress_event",
        "update_task_status",
        "bulk_update_task_statuses",
        "flag_for_human",
        "clear_human_flag",
        "send_message",
        "mark_message_read",
        "reply_to_message",
        "archive_message",
        "register_repo",
        "record_decision",
        "resolve_decision",
        "record_token_event",
    }
    assert not writes & set(READ_TOOLS), "a write tool must not be annotated read-only"
