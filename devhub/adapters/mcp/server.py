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
from devhub.adapters.mcp.tools_decisions import DECISION_READ_TOOLS, DECISION_WRITE_TOOLS, DecisionTools
from devhub.adapters.mcp.tools_messages import MESSAGE_READ_TOOLS, MESSAGE_WRITE_TOOLS, MessageTools
from devhub.adapters.mcp.tools_statehub import STATEHUB_READ_TOOLS, STATEHUB_WRITE_TOOLS, StateHubTools
from devhub.adapters.mcp.tools_time import TIME_READ_TOOLS, add_time_tools
from devhub.errors import BadRequest, DevhubError, NotFound
from devhub.service.filters import one_workplan_id
from devhub.service.port import HubPort, ProgressFilters, TaskFilters, WorkplanFilters, WriteResult

SERVER_NAME = "dev-hub"

INSTRUCTIONS = """\
dev-hub is the local, offline-first State Hub: workplans and tasks read from the workplan files of
the registered repos, with writes journaled durably and relayed to the fleet State Hub later.

Call `orient` first in every session (optionally with repo=<slug>): it returns the active
workplans, in-progress and ready tasks, needs-human flags, recent progress, conflicts, relay state
and parse problems in one call (inside a domain repo, `get_domain_summary(domain_slug)` answers the fleet
hub's first call too). Then pick work with `list_tasks(ready=true)` or `get_next_steps`, read details with
`get_task` / `get_workplan` (or the resource workplan://<ID> for the file's markdown), and record
what you do with `update_task_status` and `add_progress_event`. Pass an `idempotency_key` on
writes you might retry: the same key with the same arguments is applied once. Writes work offline.
Ask a person for help with `flag_for_human` (the note says what they must do)."""

# Status filters take the canon words and their legacy aliases (in_progress, blocked, completed, …).
TaskStatusFilter = Annotated[
    str | None, Field(description="wait, todo, progress, done or cancel (legacy aliases accepted)")
]
WorkplanStatusFilter = Annotated[
    str | None,
    Field(description="proposed, ready, active, blocked, backlog, finished, archived (done/completed accepted)"),
]
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


def _detail_object(detail: dict[str, Any] | str | None) -> dict[str, Any] | None:
    """The State Hub's tool takes `detail` as an object or a string; REST stores an object. A string holding
    a JSON object is that object; any other string is kept as {"text": ...} (inferred: not seen upstream).
    """
    if not isinstance(detail, str):
        return detail
    try:
        parsed = json.loads(detail)
    except ValueError:
        parsed = None
    return parsed if isinstance(parsed, dict) else {"text": detail}


class DevHubTools(DecisionTools, MessageTools):
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
        """Session start across domains: totals, blocking decisions, blocked tasks, open workstreams, the last 20
        events and next_steps, plus devhub's counts, problems, conflicts and relay state (GET /state/summary).
        """
        return await self._run(self.backend.summary())

    async def list_workplans(
        self,
        status: WorkplanStatusFilter = None,
        domain: str | None = None,
        repo: Repo = None,
        topic_slug: str | None = None,
        q: Annotated[str | None, Field(description="Full-text filter on title and body")] = None,
        topic_id: Annotated[
            str | None, Field(description="Topic slug, or the fleet topic UUID recorded for it")
        ] = None,
    ) -> CallToolResult:
        """Workplans matching every given filter, in planning order (GET /workplans/)."""
        filters = WorkplanFilters(
            status=status, domain=domain, repo=repo, topic_slug=topic_slug, topic_id=topic_id, q=q
        )
        return await self._run(self.backend.workplans(filters))

    async def get_workplan(self, workplan_id: WorkplanId, repo: Repo = None) -> CallToolResult:
        """One workplan with its tasks (file order), body and references in and out (GET /workplans/{id})."""
        return await self._run(self.backend.workplan(workplan_id, repo))

    async def list_tasks(
        self,
        status: TaskStatusFilter = None,
        workplan_id: Annotated[str | None, Field(description="Workplan id or State Hub workstream UUID")] = None,
        repo: Repo = None,
        needs_human: bool | None = None,
        ready: Annotated[bool | None, Field(description="true: only tasks ready to start")] = None,
        priority: Priority | None = None,
        limit: Annotated[int | None, Field(ge=1, le=100_000)] = None,
        workstream_id: Annotated[str | None, Field(description="Legacy name of workplan_id")] = None,
    ) -> CallToolResult:
        """Tasks matching every given filter; ready tasks by priority, the rest in file order (GET /tasks/)."""
        filters = TaskFilters(
            status=status,
            workplan_id=_one_workplan_id(workplan_id, workstream_id),
            repo=repo,
            needs_human=needs_human,
            ready=ready,
            priority=priority,
            limit=limit,
        )
        return await self._run(self.backend.tasks(filters))

    async def get_task(self, task_id: TaskId, repo: Repo = None) -> CallToolResult:
        """One task with its body, effective status, where each value came from, local write history and
        conflicts (GET /tasks/{id}).
        """
        return await self._run(self.backend.task(task_id, repo))

    async def list_blocked_tasks(
        self, repo: Repo = None, workplan_id: str | None = None, workstream_id: str | None = None
    ) -> CallToolResult:
        """Tasks in status `wait` (blocked), each with its blocking_reason (GET /tasks/?status=wait)."""
        filters = TaskFilters(
            status="wait",
            workplan_id=_one_workplan_id(workplan_id, workstream_id),
            repo=repo,
            needs_human=None,
            ready=None,
            priority=None,
            limit=None,
        )
        return await self._run(self.backend.tasks(filters))

    async def get_next_steps(self) -> CallToolResult:
        """Suggested next actions, derived on each call: a cleared workplan dependency points to the first todo
        task it unblocks (GET /state/next_steps). For every ready task by priority: list_tasks(ready=true).
        """
        return await self._run(self.backend.next_steps())

    async def get_recent_progress(
        self,
        limit: Annotated[int, Field(ge=1, le=10_000)] = 20,
        event_type: str | None = None,
        task_id: str | None = None,
        workplan_id: str | None = None,
        author: str | None = None,
        since: Annotated[str | None, Field(description="ISO-8601 timestamp, e.g. 2026-08-01T00:00:00Z")] = None,
        workstream_id: Annotated[str | None, Field(description="Legacy name of workplan_id")] = None,
        topic_id: str | None = None,
    ) -> CallToolResult:
        """Progress events, newest first (GET /progress/)."""
        filters = ProgressFilters(
            event_type=event_type,
            task_id=task_id,
            workplan_id=_one_workplan_id(workplan_id, workstream_id),
            author=author,
            since=since,
            limit=limit,
            topic_id=topic_id,
        )
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
        filters = TaskFilters(
            status=None, workplan_id=None, repo=repo, needs_human=True, ready=None, priority=None, limit=None
        )
        return await self._run(self.backend.tasks(filters))

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
        topic_id: Annotated[str | None, Field(description="Topic slug or State Hub topic UUID")] = None,
        workplan_id: Annotated[str | None, Field(description="Workplan id or State Hub UUID")] = None,
        workstream_id: Annotated[str | None, Field(description="Legacy name of workplan_id")] = None,
        task_id: str | None = None,
        detail: Annotated[
            dict[str, Any] | str | None,
            Field(description="A JSON object, or text (a JSON object's text is parsed; other text is kept as text)"),
        ] = None,
        author: Agent = None,
        session_id: SessionId = None,
        idempotency_key: IdempotencyKey = None,
    ) -> CallToolResult:
        """Record a progress event (POST /progress/); omit ids that do not apply (an empty id is refused)."""
        body = _without_none(
            summary=summary,
            event_type=event_type,
            author=author,
            topic_id=topic_id,
            workplan_id=workplan_id,
            workstream_id=workstream_id,
            task_id=task_id,
            detail=_detail_object(detail),
            session_id=session_id,
        )
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
        tokens_in: Annotated[int | None, Field(ge=0, description="Input tokens spent (a token event)")] = None,
        tokens_out: Annotated[int | None, Field(ge=0, description="Output tokens spent")] = None,
        workplan_tokens_in: Annotated[int | None, Field(ge=0)] = None,
        workplan_tokens_out: Annotated[int | None, Field(ge=0)] = None,
        model: Annotated[str | None, Field(description="The model that spent them")] = None,
    ) -> CallToolResult:
        """Set a task's status (PATCH /tasks/{id}); held locally until the file says otherwise. Token counts
        and model are stored as a token event and relayed as sent.
        """
        body = _without_none(
            status=status,
            note=note,
            blocking_reason=blocking_reason,
            agent=agent,
            session_id=session_id,
            tokens_in=tokens_in,
            tokens_out=tokens_out,
            workplan_tokens_in=workplan_tokens_in,
            workplan_tokens_out=workplan_tokens_out,
            model=model,
        )
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
        note: Annotated[str | None, Field(description="What the person must do (required, not empty)")] = None,
        intervention_note: Annotated[str | None, Field(description="Older name of `note`")] = None,
        agent: Agent = None,
        session_id: SessionId = None,
        repo: Repo = None,
        idempotency_key: IdempotencyKey = None,
    ) -> CallToolResult:
        """Flag a task as needing a person (PATCH /tasks/{id} with needs_human=true and the note), then record
        a `task_flagged_human` progress event, as the State Hub's tool does; returns the task.
        """
        if note is not None and intervention_note is not None and note != intervention_note:
            raise ToolError("give the note once: `note` and `intervention_note` (its older name) differ")
        text = note if note is not None else intervention_note
        body = _without_none(
            needs_human=True, intervention_note=text if text is not None else "", agent=agent, session_id=session_id
        )
        try:
            flagged = await self.backend.patch_task(task_id, repo, body, idempotency_key)
            task = flagged.body
            event = _without_none(
                summary=f"Task flagged for human intervention: {task.get('title')}",
                event_type="task_flagged_human",
                author=agent or "custodian",
                task_id=task.get("id"),
                workplan_id=task.get("workplan_id"),
                detail={"intervention_note": text},
                session_id=session_id,
            )
            event_key = f"{idempotency_key}.flag-event" if idempotency_key else None
            await self.backend.add_progress(event, event_key)
        except DevhubError as exc:
            raise ToolError(tool_error_text(exc)) from exc
        return _answer(task)

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

    # -- repos and consistency ---------------------------------------------------------------------

    async def register_repo(
        self, path: Annotated[str, Field(description="Absolute path of a checkout, or a folder of checkouts")]
    ) -> CallToolResult:
        """Register a repo checkout (like `devhub register PATH --json`); the hub serves and watches it at once."""
        return await self._run(self.backend.register_repo(path))

    async def check_repo_consistency(
        self,
        repo_slug: Annotated[str | None, Field(description="Registered repo slug; default: every repo")] = None,
        fix: Annotated[
            bool,
            Field(
                description="true: first write pending local status changes into the repo's "
                "workplan files (the local writeback), then check"
            ),
        ] = False,
        repo: Annotated[str | None, Field(description="Alias of repo_slug")] = None,
    ) -> CallToolResult:
        """Local consistency findings (rule, severity, place, fix) and exit_code 0 clean / 2 warnings / 1 errors,
        like `devhub check --json`; with fix=true also `fix`: what the writeback wrote.
        """
        return await self._run(self._consistency(one_repo_slug(repo_slug, repo), fix))

    async def _consistency(self, repo_slug: str | None, fix: bool) -> Any:
        if not fix:
            return await self.backend.check_consistency(repo_slug)
        if repo_slug is None:
            raise BadRequest("fix=true needs repo_slug: the writeback runs for one repo", {"repo_slug": "required"})
        fixed = await self.backend.writeback_repo(repo_slug)
        return {**await self.backend.check_consistency(repo_slug), "fix": fixed}


def _one_workplan_id(workplan_id: str | None, workstream_id: str | None) -> str | None:
    """`workplan_id` or its legacy name `workstream_id` (service/filters.py); a refusal is a tool error."""
    try:
        return one_workplan_id(workplan_id, workstream_id)
    except DevhubError as exc:
        raise ToolError(tool_error_text(exc)) from exc


def one_repo_slug(repo_slug: str | None, repo: str | None) -> str | None:
    """`repo_slug` (the real tool's name) or its alias `repo`; two different values are refused."""
    if repo_slug is not None and repo is not None and repo_slug != repo:
        raise ToolError(f"repo_slug {repo_slug!r} and repo {repo!r} differ; repo is an alias of repo_slug: give one")
    return repo_slug if repo_slug is not None else repo


READ_TOOLS = (
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
    "list_human_interventions",
    "relay_status",
    *DECISION_READ_TOOLS,
    *MESSAGE_READ_TOOLS,
    "list_dependencies",  # -- creating work offline (adapters/mcp/tools_create.py) --
)
WRITE_TOOLS = (
    "add_progress_event",
    "update_task_status",
    "bulk_update_task_statuses",
    "flag_for_human",
    "clear_human_flag",
    "register_repo",
    "check_repo_consistency",  # a write with fix=true (the local writeback)
    *DECISION_WRITE_TOOLS,
    *MESSAGE_WRITE_TOOLS,
    # -- creating work offline (adapters/mcp/tools_create.py) --
    "create_task",
    "create_workplan",
    "create_workstream",
    "create_workplan_dependency",
    "create_dependency",
)
TOOL_NAMES = READ_TOOLS + WRITE_TOOLS + STATEHUB_READ_TOOLS + STATEHUB_WRITE_TOOLS + TIME_READ_TOOLS


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
    create_tools = CreateTools(backend, tools._run)  # creating work offline (tools_create.py)
    for name in READ_TOOLS + WRITE_TOOLS:
        owner: Any = create_tools if name in CREATE_TOOLS else tools
        server.add_tool(getattr(owner, name), name=name, annotations=READ if name in READ_TOOLS else WRITE)
    statehub = StateHubTools(backend, tools._run)  # the fleet hub's read vocabulary (tools_statehub.py)
    for name in STATEHUB_READ_TOOLS + STATEHUB_WRITE_TOOLS:
        server.add_tool(getattr(statehub, name), name=name, annotations=READ if name in STATEHUB_READ_TOOLS else WRITE)
    add_time_tools(server, backend, tools._run)  # the time reads as tools (tools_time.py)

    @server.resource(
        "workplan://{workplan_id}",
        name="workplan",
        mime_type="text/markdown",
        description="A workplan file's markdown, as it is on disk (id like CUST-WP-0054)",
    )
    async def workplan_resource(workplan_id: str) -> str:
        return await _resource(lambda: backend.workplan_markdown(workplan_id))

    @server.resource(
        "brief://{repo}",
        name="brief",
        mime_type="text/markdown",
        description="The offline orientation brief for a registered repo (slug)",
    )
    async def brief_resource(repo: str) -> str:
        return await _resource(lambda: backend.brief(repo))

    return server
