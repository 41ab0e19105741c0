"""The `dev-hub` MCP server: tools and resources as thin adapters over a HubPort.

Every tool returns the JSON its REST endpoint returns, as one text block; a DevhubError
becomes a ToolError carrying its detail.
"""

# No `from __future__ import annotations`: the SDK reads these signatures at runtime.

import json
from collections.abc import Awaitable, Callable
from typing import Annotated, Any, Literal

from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ResourceError, ResourceNotFoundError, ToolError
from mcp_types import CallToolResult, TextContent, ToolAnnotations
from pydantic import Field

from devhub._version import __version__
from devhub.adapters.mcp.arguments import IdempotencyKey, _without_none
from devhub.errors import DevhubError, NotFound
from devhub.service.port import HubPort, ProgressFilters, TaskFilters, WorkplanFilters, WriteResult

SERVER_NAME = "dev-hub"

INSTRUCTIONS = """\
dev-hub is the local, offline-first State Hub: workplans and tasks read from the workplan files of
the registered repos, with writes journaled durably and relayed to the fleet State Hub later.

Call `orient` first in every session (optionally with repo=<slug>): it returns the active
workplans, in-progress and ready tasks, needs-human flags, recent progress, conflicts, relay state
and parse problems in one call. Then pick work with `get_next_steps`, read details with
`get_task` / `get_workplan` (or the resource workplan://<ID> for the file's markdown), and record
what you do with `update_task_status` and `add_progress_event`. Pass an `idempotency_key` on
writes you might retry: the same key with the same arguments is applied once. Writes work offline.
Ask a person for help with `flag_for_human` (the note says what they must do)."""

TaskStatusFilter = Literal["wait", "todo", "progress", "done", "cancel"]
WorkplanStatusFilter = Literal["proposed", "ready", "active", "blocked", "backlog", "finished", "archived"]
Priority = Literal["critical", "high", "medium", "low"]

Repo = Annotated[str | None, Field(description="Registered repo slug; disambiguates an id used in two repos")]
TaskId = Annotated[str, Field(description="Task id (CUST-WP-0054-T05) or its State Hub UUID")]
WorkplanId = Annotated[str, Field(description="Workplan id (CUST-WP-0054) or its State Hub workstream UUID")]
Agent = Annotated[str | None, Field(description="Who is writing (agent name), recorded with the write")]
SessionId = Annotated[str | None, Field(description="Your session id, recorded with the write")]

READ = ToolAnnotations(read_only_hint=True, open_world_hint=False)
WRITE = ToolAnnotations(read_only_hint=False, destructive_hint=False, idempotent_hint=False, open_world_hint=False)


def tool_error_text(exc: DevhubError) -> str:
    """The message an agent sees for a refused call: the problem's detail, its status, and any candidates."""
    if getattr(exc, "verbatim", False):
        return exc.detail
    text = f"{exc.detail} ({exc.status} {exc.title})"
    candidates = exc.extra.get("candidates")
    if candidates:
        text += "; candidates: " + ", ".join(f"{c.get('repo')}:{c.get('path')}" for c in candidates)
    return text


def _answer(data: Any) -> CallToolResult:
    """The REST JSON as one text block (no separate structured copy: it would double every answer)."""
    return CallToolResult(content=[TextContent(type="text", text=json.dumps(data, ensure_ascii=False))])


class DevHubTools:
    """One method per tool; each calls the HubPort method of the REST endpoint it mirrors."""

    def __init__(self, backend: HubPort) -> None:
        self.backend = backend

    async def _run(self, pending: Awaitable[Any]) -> CallToolResult:
        try:
            data = await pending
        except DevhubError as exc:
            raise ToolError(tool_error_text(exc)) from exc
        return _answer(data.body if isinstance(data, WriteResult) else data)

    # -- orientation and reads -------------------------------------------------------------------

    async def orient(
        self,
        repo: Annotated[str | None, Field(description="Scope to one registered repo slug")] = None,
        domain: Annotated[str | None, Field(description="Scope to one workplan domain")] = None,
    ) -> CallToolResult:
        """Call first: active workplans, in-progress and ready tasks, needs-human flags, recent progress,
        conflicts, relay state and parse problems (GET /orient).
        """
        return await self._run(self.backend.orient(repo, domain))

    async def get_state_summary(self) -> CallToolResult:
        """Counts of workplans and tasks by status, active workplans, problems, conflicts and relay state (GET
        /state/summary).
        """
        return await self._run(self.backend.summary())

    async def list_workplans(
        self,
        status: WorkplanStatusFilter | None = None,
        domain: str | None = None,
        repo: Repo = None,
        topic_slug: str | None = None,
        q: Annotated[str | None, Field(description="Full-text filter on title and body")] = None,
    ) -> CallToolResult:
        """Workplans matching every given filter, in planning order (GET /workplans/)."""
        filters = WorkplanFilters(status=status, domain=domain, repo=repo, topic_slug=topic_slug, q=q)
        return await self._run(self.backend.workplans(filters))

    async def get_workplan(self, workplan_id: WorkplanId, repo: Repo = None) -> CallToolResult:
        """One workplan with its tasks (file order), body and references in and out (GET /workplans/{id})."""
        return await self._run(self.backend.workplan(workplan_id, repo))

    async def list_tasks(
        self,
        status: TaskStatusFilter | None = None,
        workplan_id: Annotated[str | None, Field(description="Workplan id or State Hub workstream UUID")] = None,
        repo: Repo = None,
        needs_human: bool | None = None,
        ready: Annotated[bool | None, Field(description="true: only tasks ready to start")] = None,
        priority: Priority | None = None,
        limit: Annotated[int | None, Field(ge=1, le=100_000)] = None,
    ) -> CallToolResult:
        """Tasks matching every given filter; ready tasks by priority, the rest in file order (GET /tasks/)."""
        filters = TaskFilters(
            status=status, workplan_id=workplan_id, repo=repo, needs_human=needs_human, ready=ready,
            priority=priority, limit=limit,
        )
        return await self._run(self.backend.tasks(filters))

    async def get_task(self, task_id: TaskId, repo: Repo = None) -> CallToolResult:
        """One task with its body, effective status, where each value came from, local write history and
        conflicts (GET /tasks/{id}).
        """
        return await self._run(self.backend.task(task_id, repo))

    async def list_blocked_tasks(
        self, repo: Repo = None, workplan_id: str | None = None
    ) -> CallToolResult:
        """Tasks in status `wait` (blocked), each with its blocking_reason (GET /tasks/?status=wait)."""
        filters = TaskFilters(status="wait", workplan_id=workplan_id, repo=repo, needs_human=None, ready=None,
                       priority=None, limit=None)
        return await self._run(self.backend.tasks(filters))

    async def get_next_steps(
        self,
        repo: Repo = None,
        workplan_id: str | None = None,
        limit: Annotated[int | None, Field(ge=1, le=100_000, description="At most this many tasks")] = None,
    ) -> CallToolResult:
        """Ready tasks by priority: todo, in an active/ready workplan, every dependency done or cancelled (GET
        /tasks/?ready=true).
        """
        filters = TaskFilters(status=None, workplan_id=workplan_id, repo=repo, needs_human=None, ready=True,
                       priority=None, limit=limit)
        return await self._run(self.backend.tasks(filters))

    async def get_recent_progress(
        self,
        limit: Annotated[int, Field(ge=1, le=10_000)] = 20,
        event_type: str | None = None,
        task_id: str | None = None,
        workplan_id: str | None = None,
        author: str | None = None,
        since: Annotated[str | None, Field(description="ISO-8601 timestamp, e.g. 2026-08-01T00:00:00Z")] = None,
    ) -> CallToolResult:
        """Progress events, newest first (GET /progress/)."""
        filters = ProgressFilters(event_type=event_type, task_id=task_id, workplan_id=workplan_id, author=author,
                       since=since, limit=limit)
        return await self._run(self.backend.progress(filters))

    async def search(
        self,
        q: Annotated[str, Field(description="Words to find (each is prefix-matched; all must occur)")],
        limit: Annotated[int, Field(ge=1, le=500)] = 50,
    ) -> CallToolResult:
        """Full-text hits across workplans, tasks and progress summaries, best first (GET /search)."""
        return await self._run(self.backend.search(q, limit))

    async def list_human_interventions(self, repo: Repo = None) -> CallToolResult:
        """Tasks flagged needs_human, with the intervention_note saying what a person must do (GET
        /tasks/?needs_human=true).
        """
        filters = TaskFilters(status=None, workplan_id=None, repo=repo, needs_human=True, ready=None, priority=None,
                       limit=None)
        return await self._run(self.backend.tasks(filters))

    async def get_messages(
        self,
        to_agent: Annotated[str | None, Field(description="Only messages to this agent")] = None,
        unread_only: bool = False,
    ) -> CallToolResult:
        """Messages between agents, newest first (GET /messages/)."""
        return await self._run(self.backend.messages(to_agent, unread_only))

    async def relay_status(self) -> CallToolResult:
        """Relay state (idle, online, offline, auth_failed, disabled), pending and held writes, dead letters (GET
        /relay).
        """
        return await self._run(self.backend.relay())

    # -- writes (journaled before they are answered; work offline) ---------------------------------

    async def add_progress_event(
        self,
        summary: Annotated[str, Field(description="What happened, one line")],
        event_type: Annotated[str, Field(description="note, milestone, blocker, insight, or your own word")] = "note",
        author: Agent = None,
        workplan_id: str | None = None,
        task_id: str | None = None,
        detail: Annotated[dict[str, Any] | None, Field(description="Free-form JSON object")] = None,
        session_id: SessionId = None,
        idempotency_key: IdempotencyKey = None,
    ) -> CallToolResult:
        """Record a progress event (POST /progress/)."""
        body = _without_none(summary=summary, event_type=event_type, author=author, workplan_id=workplan_id,
                             task_id=task_id, detail=detail, session_id=session_id)
        return await self._run(self.backend.add_progress(body, idempotency_key))

    async def update_task_status(
        self,
        task_id: TaskId,
        status: Annotated[str, Field(description="wait, todo, progress, done or cancel (legacy aliases accepted)")],
        note: Annotated[str | None, Field(description="Why, recorded with the write")] = None,
        blocking_reason: Annotated[str | None, Field(description="What blocks it (for status wait)")] = None,
        agent: Agent = None,
        session_id: SessionId = None,
        repo: Repo = None,
        idempotency_key: IdempotencyKey = None,
    ) -> CallToolResult:
        """Set a task's status (PATCH /tasks/{id}); held locally until the file says otherwise."""
        body = _without_none(status=status, note=note, blocking_reason=blocking_reason, agent=agent,
                             session_id=session_id)
        return await self._run(self.backend.patch_task(task_id, repo, body, idempotency_key))

    async def bulk_update_task_statuses(
        self,
        updates: Annotated[
            list[dict[str, Any]], Field(description='Ordered [{"task_id": …, "status": …, "repo"?: …}, …]')
        ],
        author: Agent = None,
        session_id: SessionId = None,
        idempotency_key: IdempotencyKey = None,
    ) -> CallToolResult:
        """Ordered status updates for many tasks, all accepted or none (POST /tasks/bulk-status-sync)."""
        body = _without_none(updates=updates, author=author, session_id=session_id)
        return await self._run(self.backend.bulk_status_sync(body, idempotency_key))

    async def flag_for_human(
        self,
        task_id: TaskId,
        intervention_note: Annotated[str, Field(description="What the person must do (required, not empty)")],
        agent: Agent = None,
        session_id: SessionId = None,
        repo: Repo = None,
        idempotency_key: IdempotencyKey = None,
    ) -> CallToolResult:
        """Flag a task as needing a person (PATCH /tasks/{id} with needs_human=true and the note)."""
        body = _without_none(needs_human=True, intervention_note=intervention_note, agent=agent,
                             session_id=session_id)
        return await self._run(self.backend.patch_task(task_id, repo, body, idempotency_key))

    async def clear_human_flag(
        self,
        task_id: TaskId,
        note: Annotated[str | None, Field(description="How it was resolved")] = None,
        agent: Agent = None,
        session_id: SessionId = None,
        repo: Repo = None,
        idempotency_key: IdempotencyKey = None,
    ) -> CallToolResult:
        """Clear a task's needs-human flag (PATCH /tasks/{id} with needs_human=false)."""
        body = _without_none(needs_human=False, note=note, agent=agent, session_id=session_id)
        return await self._run(self.backend.patch_task(task_id, repo, body, idempotency_key))

    async def send_message(
        self,
        from_agent: str,
        to_agent: str,
        body: str,
        subject: str | None = None,
        thread_id: str | None = None,
        idempotency_key: IdempotencyKey = None,
    ) -> CallToolResult:
        """Send a message to another agent (POST /messages/)."""
        payload = _without_none(from_agent=from_agent, to_agent=to_agent, subject=subject, body=body,
                                thread_id=thread_id)
        return await self._run(self.backend.send_message(payload, idempotency_key))

    async def mark_message_read(self, message_id: str, idempotency_key: IdempotencyKey = None) -> CallToolResult:
        """Mark a message read (PATCH /messages/{id}/read)."""
        return await self._run(self.backend.mark_message_read(message_id, {}, idempotency_key))

    # -- repos and consistency ---------------------------------------------------------------------

    async def register_repo(
        self, path: Annotated[str, Field(description="Absolute path of a checkout, or a folder of checkouts")]
    ) -> CallToolResult:
        """Register a repo checkout (like `devhub register PATH --json`); the hub serves and watches it at once."""
        return await self._run(self.backend.register_repo(path))

    async def check_repo_consistency(self, repo: Repo = None) -> CallToolResult:
        """Local consistency findings (rule, severity, place, fix) and exit_code 0 clean / 2 warnings / 1 errors,
        like `devhub check --json`.
        """
        return await self._run(self.backend.check_consistency(repo))


READ_TOOLS = (
    "orient", "get_state_summary", "list_workplans", "get_workplan", "list_tasks", "get_task",
    "list_blocked_tasks", "get_next_steps", "get_recent_progress", "search", "list_human_interventions",
    "get_messages", "relay_status", "check_repo_consistency",
    "list_dependencies",  # -- creating work offline (adapters/mcp/tools_create.py) --
)
WRITE_TOOLS = (
    "add_progress_event", "update_task_status", "bulk_update_task_statuses", "flag_for_human",
    "clear_human_flag", "send_message", "mark_message_read", "register_repo",
    # -- creating work offline (adapters/mcp/tools_create.py) --
    "create_task", "create_workplan", "create_workstream", "create_workplan_dependency", "create_dependency",
)
TOOL_NAMES = READ_TOOLS + WRITE_TOOLS


async def _resource(read: Callable[[], Awaitable[str]]) -> str:
    try:
        return await read()
    except NotFound as exc:
        raise ResourceNotFoundError(exc.detail) from exc
    except DevhubError as exc:
        raise ResourceError(tool_error_text(exc)) from exc


def build_server(backend: HubPort) -> MCPServer:
    """The `dev-hub` server: every SPEC §8 tool plus the workplan:// and brief:// resources."""
    server: MCPServer = MCPServer(SERVER_NAME, instructions=INSTRUCTIONS, version=__version__, log_level="WARNING")
    from devhub.adapters.mcp.tools_create import CREATE_TOOLS, CreateTools

    tools = DevHubTools(backend)
    create_tools = CreateTools(backend, tools._run)
    for name in TOOL_NAMES:
        owner: Any = create_tools if name in CREATE_TOOLS else tools
        server.add_tool(getattr(owner, name), name=name, annotations=READ if name in READ_TOOLS else WRITE)

    @server.resource("workplan://{workplan_id}", name="workplan", mime_type="text/markdown",
                     description="A workplan file's markdown, as it is on disk (id like CUST-WP-0054)")
    async def workplan_resource(workplan_id: str) -> str:
        return await _resource(lambda: backend.workplan_markdown(workplan_id))

    @server.resource("brief://{repo}", name="brief", mime_type="text/markdown",
                     description="The offline orientation brief for a registered repo (slug)")
    async def brief_resource(repo: str) -> str:
        return await _resource(lambda: backend.brief(repo))

    return server
