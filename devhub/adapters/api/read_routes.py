"""REST read endpoints (State Hub compatible paths and query parameters): thin adapters over store queries."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Request, get
from litestar.params import Parameter

from devhub.adapters.api.params import OFFSET_MAX, bounded, choice, timestamp
from devhub.model import PRIORITIES, TASK_STATUSES, WORKPLAN_STATUSES
from devhub.service.hub import Hub
from devhub.store import activity, queries
from devhub.store.orient import orient as orient_query
from devhub.store.orient import summary as summary_query


def hub_of(request: Request[Any, Any, Any]) -> Hub:
    hub: Hub = request.app.state.hub
    return hub


@get("/state/health", summary="Liveness, role, version and profile")
async def health(request: Request[Any, Any, Any]) -> dict[str, Any]:
    return hub_of(request).health()


@get("/state/summary", summary="Counts by status, active workplans, problems and relay state")
async def state_summary(request: Request[Any, Any, Any]) -> dict[str, Any]:
    hub = hub_of(request)
    data = await hub.read(summary_query)
    data["relay"] = hub.relay_status().to_json()
    return data


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
    return await hub_of(request).read(
        lambda r: queries.list_workplans(r, status=status, domain=domain, repo=repo, topic_slug=topic_slug, q=q),
        search=bool(q),
    )


@get("/workplans/index", summary="Compact index of every workplan")
async def workplans_index(request: Request[Any, Any, Any]) -> list[dict[str, Any]]:
    return await hub_of(request).read(queries.workplan_index)


@get("/workplans/{ident:str}", summary="One workplan (file id or State Hub UUID) with its tasks")
async def workplan(request: Request[Any, Any, Any], ident: str, repo: str | None = None) -> dict[str, Any]:
    return await hub_of(request).read(lambda r: queries.get_workplan(r, ident, repo))


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
    return await hub_of(request).read(
        lambda r: queries.list_tasks(
            r,
            status=status,
            workplan_id=workplan_id or workstream_id,
            repo=repo,
            needs_human=needs_human,
            ready=ready,
            priority=priority,
            limit=limit,
        )
    )


@get("/tasks/{ident:str}", summary="One task with its effective status and where each value came from")
async def task(request: Request[Any, Any, Any], ident: str, repo: str | None = None) -> dict[str, Any]:
    return await hub_of(request).read(lambda r: queries.get_task(r, ident, repo))


@get("/progress", summary="Progress events, newest first")
async def progress(
    request: Request[Any, Any, Any],
    event_type: str | None = None,
    task_id: str | None = None,
    workplan_id: str | None = None,
    workstream_id: str | None = None,
    author: str | None = None,
    since: str | None = None,
    until: str | None = None,
    limit: Annotated[int, Parameter(ge=1, le=activity.PROGRESS_LIMIT_MAX)] = activity.PROGRESS_LIMIT_DEFAULT,
    offset: Annotated[int, Parameter(ge=0, le=OFFSET_MAX)] = 0,
) -> list[dict[str, Any]]:
    since_at, until_at = timestamp("since", since), timestamp("until", until)
    return await hub_of(request).read(
        lambda r: activity.list_progress(
            r,
            event_type=event_type,
            task_id=task_id,
            workplan_id=workplan_id or workstream_id,
            author=author,
            since=since_at,
            until=until_at,
            limit=limit,
            offset=offset,
        )
    )


@get("/messages", summary="Messages, newest first")
async def messages(
    request: Request[Any, Any, Any], to_agent: str | None = None, unread_only: bool = False
) -> list[dict[str, Any]]:
    return await hub_of(request).read(lambda r: activity.list_messages(r, to_agent=to_agent, unread_only=unread_only))


@get("/repos", summary="Registered repos with their sync state")
async def repos(request: Request[Any, Any, Any]) -> list[dict[str, Any]]:
    return await hub_of(request).read(activity.list_repos)


@get("/search", summary="Full-text search across workplans, tasks and progress")
async def search(
    request: Request[Any, Any, Any], q: str, limit: Annotated[int, Parameter(ge=1, le=500)] = 50
) -> list[dict[str, Any]]:
    return await hub_of(request).read(lambda r: activity.search(r, q, limit=limit), search=True)


@get("/orient", summary="One-call session start for an agent")
async def orient(request: Request[Any, Any, Any], repo: str | None = None, domain: str | None = None) -> dict[str, Any]:
    hub = hub_of(request)
    data = await hub.read(lambda r: orient_query(r, repo=repo, domain=domain))
    data["relay"] = hub.relay_status().to_json()
    return data


@get("/errors", summary="Parse problems and conflicts")
async def errors(request: Request[Any, Any, Any], repo: str | None = None) -> dict[str, Any]:
    hub = hub_of(request)
    problems = await hub.read(lambda r: activity.list_problems(r, repo=repo))
    conflicts = await hub.read(activity.list_conflicts)
    return {
        "problems": problems,
        "conflicts": conflicts,
        "counts": {
            "errors": sum(1 for p in problems if p["severity"] == "error"),
            "warnings": sum(1 for p in problems if p["severity"] == "warning"),
            "conflicts": len(conflicts),
        },
    }


@get("/relay", summary="Relay state: pending, held, dead letters, last success and error")
async def relay(request: Request[Any, Any, Any]) -> dict[str, Any]:
    return hub_of(request).relay_status().to_json()


@get("/state/daemon", summary="Daemon internals for `devhub status`: watcher, journal, pid", include_in_schema=True)
async def daemon_state(request: Request[Any, Any, Any]) -> dict[str, Any]:
    import os

    hub = hub_of(request)
    journal = hub.journal
    return {
        "pid": os.getpid(),
        "data_dir": str(hub.config.data_dir),
        "url": hub.config.base_url,
        "role": hub.config.role,
        "profile": hub.profile_name,
        "repos": [r.slug for r in hub.repos],
        "missing_repos": [{"slug": r.slug, "path": r.path} for r in hub.missing_repos()],
        "watcher": hub.watcher_status(),
        "relay": hub.relay_status().to_json(),
        "journal": {"last_seq": journal.last_seq, "bytes": journal.size_bytes} if journal else None,
        "read_model": hub.read_model_status(),
        "uptime_seconds": round(__import__("time").time() - hub.started_at, 1),
    }


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
