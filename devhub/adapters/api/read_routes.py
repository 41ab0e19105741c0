"""REST read endpoints (State Hub compatible paths and query parameters): thin adapters over the LocalHub port."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Request, get
from litestar.params import Parameter

from devhub.adapters.api.params import OFFSET_MAX, bounded, choice, timestamp
from devhub.model import PRIORITIES, TASK_STATUSES, WORKPLAN_STATUSES
from devhub.service.local import LocalHub
from devhub.service.port import (
    MESSAGES_LIMIT_DEFAULT,
    MESSAGES_LIMIT_MAX,
    PROGRESS_LIMIT_DEFAULT,
    PROGRESS_LIMIT_MAX,
)


def hub_of(request: Request[Any, Any, Any]) -> LocalHub:
    """The port every route calls (app.state.port: a LocalHub over the daemon's Hub)."""
    port: LocalHub = request.app.state.port
    return port


@get("/state/health", summary="Liveness, role, version and profile")
async def health(request: Request[Any, Any, Any]) -> dict[str, Any]:
    return await hub_of(request).health()


@get("/state/summary", summary="Counts by status, active workplans, problems and relay state")
async def state_summary(request: Request[Any, Any, Any]) -> dict[str, Any]:
    return await hub_of(request).summary()


@get("/workplans", summary="Workplans, filtered")
async def workplans(
    request: Request[Any, Any, Any],
    status: str | None = None,
    domain: str | None = None,
    repo: str | None = None,
    topic_slug: str | None = None,
    q: str | None = None,
) -> list[dict[str, Any]]:
    choice("status", status, WORKPLAN_STATUSES)
    return await hub_of(request).workplans(
        {"status": status, "domain": domain, "repo": repo, "topic_slug": topic_slug, "q": q}
    )


@get("/workplans/index", summary="Compact index of every workplan")
async def workplans_index(request: Request[Any, Any, Any]) -> list[dict[str, Any]]:
    return await hub_of(request).workplan_index()


@get("/workplans/{ident:str}", summary="One workplan (file id or State Hub UUID) with its tasks")
async def workplan(request: Request[Any, Any, Any], ident: str, repo: str | None = None) -> dict[str, Any]:
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
) -> list[dict[str, Any]]:
    choice("status", status, TASK_STATUSES)
    choice("priority", priority, PRIORITIES)
    bounded("limit", limit, 1, 100_000)
    return await hub_of(request).tasks(
        {
            "status": status,
            "workplan_id": workplan_id or workstream_id,
            "repo": repo,
            "needs_human": needs_human,
            "ready": ready,
            "priority": priority,
            "limit": limit,
        }
    )


@get("/tasks/{ident:str}", summary="One task with its effective status and where each value came from")
async def task(request: Request[Any, Any, Any], ident: str, repo: str | None = None) -> dict[str, Any]:
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
) -> list[dict[str, Any]]:
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
) -> list[dict[str, Any]]:
    return await hub_of(request).messages(
        {
            "to_agent": to_agent,
            "from_agent": from_agent,
            "unread_only": unread_only,
            "include_archived": include_archived,
            "limit": limit,
        }
    )


@get("/repos", summary="Registered repos with their sync state")
async def repos(request: Request[Any, Any, Any]) -> list[dict[str, Any]]:
    return await hub_of(request).repos()


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
]
