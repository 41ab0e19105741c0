"""REST read endpoints (State Hub compatible paths and query parameters): thin adapters over the LocalHub port."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Request, get
from litestar.params import Parameter

from devhub.adapters.api.params import OFFSET_MAX, bounded, choice, timestamp
from devhub.model import PRIORITIES
from devhub.records import HealthView, MessageView, ProgressView, TaskView, WorkplanView
from devhub.service.filters import one_workplan_id
from devhub.service.local import LocalHub
from devhub.service.port import (
    MESSAGES_LIMIT_DEFAULT,
    MESSAGES_LIMIT_MAX,
    PROGRESS_LIMIT_DEFAULT,
    PROGRESS_LIMIT_MAX,
)
from devhub.service.records_statehub import RepoFilters


def hub_of(request: Request[Any, Any, Any]) -> LocalHub:
    """The port every route calls (app.state.port: a LocalHub over the daemon's Hub)."""
    port: LocalHub = request.app.state.port
    return port


@get("/state/health", summary="Liveness, role, version and profile")
async def health(request: Request[Any, Any, Any]) -> HealthView:
    return await hub_of(request).health()


@get("/state/summary", summary="Counts by status, active workplans, problems and relay state")
async def state_summary(request: Request[Any, Any, Any]) -> dict[str, Any]:
    return await hub_of(request).summary()


# Each workplan route also answers at its legacy /workstreams/ name: one handler, both paths.
@get(["/workplans", "/workstreams"], summary="Workplans (legacy name: workstreams), filtered")
async def workplans(
    request: Request[Any, Any, Any],
    status: str | None = None,
    domain: str | None = None,
    repo: str | None = None,
    topic_slug: str | None = None,
    topic_id: str | None = None,
    q: str | None = None,
) -> list[WorkplanView]:
    return await hub_of(request).workplans(
        {"status": status, "domain": domain, "repo": repo, "topic_slug": topic_slug, "topic_id": topic_id, "q": q}
    )


@get(["/workplans/index", "/workstreams/workplan-index"], summary="Compact index of every workplan")
async def workplans_index(request: Request[Any, Any, Any]) -> list[dict[str, Any]]:
    return await hub_of(request).workplan_index()


@get(["/workplans/{ident:str}", "/workstreams/{ident:str}"], summary="One workplan (file id or UUID) with its tasks")
async def workplan(request: Request[Any, Any, Any], ident: str, repo: str | None = None) -> WorkplanView:
    return await hub_of(request).workplan(ident, repo)


@get("/tasks", summary="Tasks, filtered (ready: todo, workplan active/ready, dependencies settled)")
async def tasks(
    request: Request[Any, Any, Any],
    status: str | None = None,
    workplan_id: str | None = None,
    workstream_id: str | None = None,
    repo: str | None = None,
    needs_human: bool | None = None,
    ready: bool | None = None,
    priority: str | None = None,
    limit: int | None = None,
) -> list[TaskView]:
    choice("priority", priority, PRIORITIES)
    bounded("limit", limit, 1, 100_000)
    return await hub_of(request).tasks(
        {
            "status": status,  # aliases (in_progress, blocked, …) are mapped by the port's status filter
            "workplan_id": one_workplan_id(workplan_id, workstream_id),
            "repo": repo,
            "needs_human": needs_human,
            "ready": ready,
            "priority": priority,
            "limit": limit,
        }
    )


@get("/tasks/{ident:str}", summary="One task with its effective status and where each value came from")
async def task(request: Request[Any, Any, Any], ident: str, repo: str | None = None) -> TaskView:
    return await hub_of(request).task(ident, repo)


@get("/progress", summary="Progress events, newest first")
async def progress(
    request: Request[Any, Any, Any],
    event_type: str | None = None,
    task_id: str | None = None,
    workplan_id: str | None = None,
    workstream_id: str | None = None,
    author: str | None = None,
    topic_id: str | None = None,
    since: str | None = None,
    until: str | None = None,
    limit: Annotated[int, Parameter(ge=1, le=PROGRESS_LIMIT_MAX)] = PROGRESS_LIMIT_DEFAULT,
    offset: Annotated[int, Parameter(ge=0, le=OFFSET_MAX)] = 0,
) -> list[ProgressView]:
    timestamp("since", since), timestamp("until", until)  # refused here, before anything is read
    return await hub_of(request).progress(
        {
            "event_type": event_type,
            "task_id": task_id,
            "workplan_id": workplan_id or workstream_id,
            "author": author,
            "topic_id": topic_id,
            "since": since,
            "until": until,
            "limit": limit,
            "offset": offset,
        }
    )


@get("/messages", summary="Messages, newest first (archived ones only with include_archived=true)")
async def messages(
    request: Request[Any, Any, Any],
    to_agent: str | None = None,
    from_agent: str | None = None,
    unread_only: bool = False,
    include_archived: bool = False,
    limit: Annotated[int, Parameter(ge=1, le=MESSAGES_LIMIT_MAX)] = MESSAGES_LIMIT_DEFAULT,
) -> list[MessageView]:
    return await hub_of(request).messages(
        {
            "to_agent": to_agent,
            "from_agent": from_agent,
            "unread_only": unread_only,
            "include_archived": include_archived,
            "limit": limit,
        }
    )


@get("/repos", summary="Registered repos with their sync state and classification, filtered")
async def repos(
    request: Request[Any, Any, Any],
    domain: str | None = None,
    category: str | None = None,
    capability_tag: str | None = None,
    business_stake: str | None = None,
) -> list[dict[str, Any]]:
    filters = RepoFilters(
        domain=domain, category=category, capability_tag=capability_tag, business_stake=business_stake
    )
    return [dict(r) for r in await hub_of(request).repo_catalog(filters)]


@get("/search", summary="Full-text search across workplans, tasks and progress")
async def search(
    request: Request[Any, Any, Any], q: str, limit: Annotated[int, Parameter(ge=1, le=500)] = 50
) -> list[dict[str, Any]]:
    return await hub_of(request).search(q, limit)


@get("/orient", summary="One-call session start for an agent")
async def orient(request: Request[Any, Any, Any], repo: str | None = None, domain: str | None = None) -> dict[str, Any]:
    return await hub_of(request).orient(repo, domain)


@get("/errors", summary="Parse problems and conflicts")
async def errors(request: Request[Any, Any, Any], repo: str | None = None) -> dict[str, Any]:
    report: dict[str, Any] = dict(await hub_of(request).errors(repo))
    return report


@get("/relay", summary="Relay state: pending, held, dead letters, last success and error")
async def relay(request: Request[Any, Any, Any]) -> dict[str, Any]:
    return await hub_of(request).relay()


@get("/state/daemon", summary="Daemon internals for `devhub status`: watcher, journal, pid", include_in_schema=True)
async def daemon_state(request: Request[Any, Any, Any]) -> dict[str, Any]:
    return await hub_of(request).daemon_status()


@get("/writeback/pending", summary="Pending local status writes and conflicts `devhub writeback` acts on")
async def writeback_pending(request: Request[Any, Any, Any], repo: str | None = None) -> dict[str, Any]:
    return dict(await hub_of(request).pending_writeback(repo))


READ_ROUTES = [
    health,
    state_summary,
    workplans,
    workplans_index,
    workplan,
    tasks,
    task,
    progress,
    messages,
    repos,
    search,
    orient,
    errors,
    relay,
    daemon_state,
    writeback_pending,
]
