"""The time reads as tools (devhub extensions; the fleet State Hub has no such tools): activity per day,
a workplan's done/total over time, the relay queue's recent past. Each answers exactly what its REST
route answers (the dashboard's charts draw the same numbers), and refuses what the route refuses.

`run` is server.py's: it turns a port call into the tool's answer (the REST JSON) or a ToolError.
"""

# No `from __future__ import annotations`: the SDK reads these signatures at runtime.

from collections.abc import Awaitable, Callable
from typing import Annotated, Any, Literal

from mcp.server.mcpserver import MCPServer
from mcp_types import CallToolResult, ToolAnnotations
from pydantic import Field

from devhub.service.port import HubPort

Run = Callable[[Awaitable[Any]], Awaitable[CallToolResult]]

TIME_READ_TOOLS = ("get_activity", "get_workplan_history", "get_relay_history")
_READ = ToolAnnotations(read_only_hint=True, open_world_hint=False)  # as server.py's READ


class TimeTools:
    """One method per tool; each calls the HubPort method of the REST endpoint it mirrors."""

    def __init__(self, backend: HubPort, run: Run) -> None:
        self.backend = backend
        self._run = run

    async def get_activity(
        self,
        days: Annotated[int, Field(description="How many UTC days back, today included (1 to 366)")] = 30,
        by: Annotated[Literal["workplan", "domain"], Field(description="Group by workplan id or by domain")] = (
            "workplan"
        ),
    ) -> CallToolResult:
        """Progress events and local status changes per UTC day, by workplan or domain (GET /state/activity)."""
        return await self._run(self.backend.activity(days, by))

    async def get_workplan_history(
        self,
        workplan_id: Annotated[str, Field(description="Workplan id, e.g. CUST-WP-0054")],
        repo: Annotated[str | None, Field(description="Registered repo slug, when the id is in two repos")] = None,
    ) -> CallToolResult:
        """A workplan's done/total after each local status write, ending at today's counts
        (GET /workplans/{id}/history)."""
        return await self._run(self.backend.workplan_history(workplan_id, repo))

    async def get_relay_history(
        self, hours: Annotated[int, Field(description="How many hours back (1 to 24; samples are kept a day)")] = 24
    ) -> CallToolResult:
        """The relay queue's sampled depth and oldest pending age, oldest first (GET /relay/history)."""
        return await self._run(self.backend.relay_history(hours))


def add_time_tools(server: MCPServer, backend: HubPort, run: Run) -> None:
    """Register the time tools on `server` (read-only)."""
    tools = TimeTools(backend, run)
    for name in TIME_READ_TOOLS:
        server.add_tool(getattr(tools, name), name=name, annotations=_READ)
