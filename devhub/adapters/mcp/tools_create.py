"""MCP tools that create work offline: create_task, create_workplan and its legacy name create_workstream.

Each builds the body its REST route takes (POST /tasks/, POST /workplans/) and calls the same
port method, so the answer is the REST answer.
"""

# No `from __future__ import annotations`: the SDK reads these signatures at runtime.

from collections.abc import Awaitable, Callable
from typing import Annotated, Any, Literal

from mcp_types import CallToolResult
from pydantic import Field

from devhub.adapters.mcp.arguments import IdempotencyKey, _without_none
from devhub.service.port import HubPort

Priority = Literal["low", "medium", "high", "critical"]
WorkplanRef = Annotated[str | None, Field(description="The workplan (file id like CUST-WP-0054, or its UUID)")]
Text = str | None
RepoId = Annotated[Text, Field(description="Registered repo slug (required when the topic spans repos)")]


class CreateTools:
    """The create tools, over the same backend as every other tool."""

    def __init__(self, backend: HubPort, run: Callable[[Awaitable[Any]], Awaitable[CallToolResult]]) -> None:
        self._backend = backend
        self._run = run  # DevHubTools._run: the REST JSON as one text block, a DevhubError as a ToolError

    async def create_task(
        self,
        title: Annotated[str, Field(description="One line: the task heading")],
        workstream_id: WorkplanRef = None,
        workplan_id: WorkplanRef = None,
        priority: Priority = "medium",
        description: Annotated[Text, Field(description="Markdown body of the task")] = None,
        assignee: Text = None,
        due_date: Annotated[Text, Field(description="ISO date YYYY-MM-DD")] = None,
        idempotency_key: IdempotencyKey = None,
    ) -> CallToolResult:
        """Create a task in a workplan (POST /tasks/): it gets the next free <WP-ID>-Tnn id, is served at once,
        relayed upstream, and `devhub writeback` appends it to the workplan file.
        """
        body = _without_none(
            title=title,
            workstream_id=workstream_id,
            workplan_id=workplan_id,
            priority=priority,
            description=description,
            assignee=assignee,
            due_date=due_date,
        )
        return await self._run(self._backend.create_task(body, idempotency_key))

    async def create_workplan(
        self,
        title: Annotated[str, Field(description="One line: the workplan title")],
        topic_id: Annotated[Text, Field(description="Topic slug (or fleet topic UUID); picks the repo")] = None,
        repo_id: RepoId = None,
        slug: Annotated[Text, Field(description="File-name slug (default: from the title)")] = None,
        description: Text = None,
        owner: Text = None,
        due_date: Annotated[Text, Field(description="ISO date YYYY-MM-DD")] = None,
        planning_priority: Priority | None = None,
        planning_order: int | None = None,
        idempotency_key: IdempotencyKey = None,
    ) -> CallToolResult:
        """Create a workplan (POST /workplans/): it gets the repo's next free <PREFIX>-WP-nnnn id, is served at
        once, relayed upstream, and `devhub writeback` writes workplans/<ID>-<slug>.md.
        """
        body = _without_none(
            title=title,
            topic_id=topic_id,
            repo_id=repo_id,
            slug=slug,
            description=description,
            owner=owner,
            due_date=due_date,
            planning_priority=planning_priority,
            planning_order=planning_order,
        )
        return await self._run(self._backend.create_workplan(body, idempotency_key))

    async def create_workstream(
        self,
        title: Annotated[str, Field(description="One line: the workplan title")],
        topic_id: Annotated[Text, Field(description="Topic slug (or fleet topic UUID); picks the repo")] = None,
        repo_id: RepoId = None,
        slug: Annotated[Text, Field(description="File-name slug (default: from the title)")] = None,
        description: Text = None,
        owner: Text = None,
        due_date: Annotated[Text, Field(description="ISO date YYYY-MM-DD")] = None,
        planning_priority: Priority | None = None,
        planning_order: int | None = None,
        idempotency_key: IdempotencyKey = None,
    ) -> CallToolResult:
        """Legacy name of create_workplan (POST /workstreams/)."""
        return await self.create_workplan(
            title,
            topic_id,
            repo_id,
            slug,
            description,
            owner,
            due_date,
            planning_priority,
            planning_order,
            idempotency_key,
        )

    # -- workplan dependencies --

    async def create_workplan_dependency(
        self,
        from_workstream_id: Annotated[str, Field(description="The workplan that waits (file id or UUID)")],
        to_workstream_id: Annotated[str, Field(description="The prerequisite workplan (file id or UUID)")],
        description: Text = None,
        idempotency_key: IdempotencyKey = None,
    ) -> CallToolResult:
        """Make a workplan depend on another (POST /workplans/{from}/dependencies/); `devhub writeback` adds it
        to the file's `## Dependencies` section.
        """
        body = _without_none(to_workstream_id=to_workstream_id, description=description)
        return await self._run(self._backend.create_dependency(from_workstream_id, None, body, idempotency_key))

    async def create_dependency(
        self,
        from_workstream_id: Annotated[str, Field(description="The workplan that waits (file id or UUID)")],
        to_workstream_id: Annotated[str, Field(description="The prerequisite workplan (file id or UUID)")],
        description: Text = None,
        idempotency_key: IdempotencyKey = None,
    ) -> CallToolResult:
        """Legacy name of create_workplan_dependency (POST /workstreams/{from}/dependencies/)."""
        return await self.create_workplan_dependency(from_workstream_id, to_workstream_id, description, idempotency_key)

    async def list_dependencies(
        self,
        workstream_id: WorkplanRef = None,
        workplan_id: WorkplanRef = None,
    ) -> CallToolResult:
        """A workplan's dependencies (GET /workplans/{id}/dependencies/): its file's and those added here."""
        ident = workplan_id or workstream_id
        if not ident or (workplan_id and workstream_id and workplan_id != workstream_id):
            from devhub.errors import ValidationFailed

            problem = ValidationFailed(
                "list_dependencies needs one workplan: give workstream_id (or workplan_id)",
                {"workstream_id": "required"},
            )
            return await self._run(_raise(problem))
        return await self._run(self._backend.dependencies(ident))


async def _raise(exc: Exception) -> Any:
    raise exc


# Every tool this module serves (build_server registers them on CreateTools).
CREATE_TOOLS = (
    "create_task",
    "create_workplan",
    "create_workstream",
    "create_workplan_dependency",
    "create_dependency",
    "list_dependencies",
)
