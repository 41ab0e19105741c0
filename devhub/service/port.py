"""`HubPort`: the one way into a hub; REST, MCP, the dashboard and the CLI call these methods and nothing else.

Two implementations: `devhub.service.local.LocalHub` (an in-process Hub) and
`devhub.service.remote.RemoteHub` (HTTP to a running daemon); `devhub.service.open.open_hub`
picks one. Results are the REST API's JSON (that JSON *is* the contract the State Hub clients
rely on), under a name per shape so a reader can see what comes back.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol, TypedDict

from devhub.store.activity import PROGRESS_LIMIT_DEFAULT, PROGRESS_LIMIT_MAX

__all__ = ["PROGRESS_LIMIT_DEFAULT", "PROGRESS_LIMIT_MAX", "HubPort"]

if TYPE_CHECKING:
    from devhub.service.records_time import ActivityReport, RelayHistory, WorkplanHistory
    from devhub.service.writes import WriteContext

# -- what comes back: JSON objects and lists, named by what they hold ------------------------------

JsonObject = dict[str, Any]
Orientation = JsonObject  # GET /orient: active workplans, in progress, ready, needs-human, problems, relay
Summary = JsonObject  # GET /state/summary: counts by status, active workplans, problems, relay
WorkplanRecord = JsonObject  # one row of GET /workplans, or GET /workplans/{id} with its tasks
WorkplanIndexEntry = JsonObject  # one row of GET /workplans/index
TaskRecord = JsonObject  # GET /tasks/{id}: effective status and where each value came from
ProgressRecord = JsonObject  # one progress event
MessageRecord = JsonObject  # one message
SearchHit = JsonObject  # one hit of GET /search
RepoRecord = JsonObject  # one row of GET /repos
RelayState = JsonObject  # GET /relay
DaemonState = JsonObject  # GET /state/daemon
Health = JsonObject  # GET /state/health
WriteBody = dict[str, Any]  # a write's JSON body, as the REST API takes it


class ErrorsReport(TypedDict):
    """GET /errors: parse problems, conflicts and their counts."""

    problems: list[JsonObject]
    conflicts: list[JsonObject]
    counts: dict[str, int]


class ConsistencyReport(TypedDict):
    """`check_repo_consistency` / `devhub check --json`: the findings and the exit code they mean."""

    findings: list[JsonObject]
    exit_code: int


class RegisteredRepo(TypedDict):
    """One registered checkout, as `devhub register --json` prints it."""

    repo: JsonObject
    warnings: list[str]


class TaskFilters(TypedDict, total=False):
    """GET /tasks query parameters."""

    status: str | None
    workplan_id: str | None
    repo: str | None
    needs_human: bool | None
    ready: bool | None
    priority: str | None
    limit: int | None


class WorkplanFilters(TypedDict, total=False):
    """GET /workplans query parameters."""

    status: str | None
    domain: str | None
    repo: str | None
    topic_slug: str | None
    q: str | None


class ProgressFilters(TypedDict, total=False):
    """GET /progress query parameters (timestamps as given; the hub normalises them)."""

    event_type: str | None
    task_id: str | None
    workplan_id: str | None
    author: str | None
    since: str | None
    until: str | None
    limit: int
    offset: int


@dataclass(frozen=True)
class WriteResult:
    """A write's answer: the REST body, its HTTP status, and whether an Idempotency-Key replayed it."""

    body: JsonObject
    status_code: int = 200
    replayed: bool = False


def write_context(body: Mapping[str, Any], key: str | None = None, agent: str | None = None) -> WriteContext:
    """Who is writing, decided once for every adapter: the body's agent/author/from_agent, else `agent`
    (REST's X-Agent header, the CLI's --agent), its session_id, and the Idempotency-Key."""
    from devhub.service.writes import WriteContext

    named = body.get("agent") or body.get("author") or body.get("from_agent") or agent
    session = body.get("session_id")
    return WriteContext(
        idempotency_key=key or None,
        agent=named if isinstance(named, str) else None,
        session=session if isinstance(session, str) else None,
    )


class HubPort(Protocol):
    """Every hub operation, once; each read mirrors one REST endpoint, each write one REST write."""

    # -- reads ---------------------------------------------------------------------------------------

    async def health(self) -> Health: ...  # GET /state/health

    async def orient(self, repo: str | None = None, domain: str | None = None) -> Orientation: ...  # GET /orient

    async def summary(self) -> Summary: ...  # GET /state/summary

    async def workplans(self, filters: WorkplanFilters) -> list[WorkplanRecord]: ...  # GET /workplans

    async def workplan_index(self) -> list[WorkplanIndexEntry]: ...  # GET /workplans/index

    async def workplan(self, ident: str, repo: str | None = None) -> WorkplanRecord: ...  # GET /workplans/{id}

    async def tasks(self, filters: TaskFilters) -> list[TaskRecord]: ...  # GET /tasks

    async def task(self, ident: str, repo: str | None = None) -> TaskRecord: ...  # GET /tasks/{id}

    async def progress(self, filters: ProgressFilters) -> list[ProgressRecord]: ...  # GET /progress

    async def messages(self, to_agent: str | None = None, unread_only: bool = False) -> list[MessageRecord]: ...

    async def search(self, q: str, limit: int = 50) -> list[SearchHit]: ...  # GET /search

    async def repos(self) -> list[RepoRecord]: ...  # GET /repos

    async def errors(self, repo: str | None = None) -> ErrorsReport: ...  # GET /errors

    async def relay(self) -> RelayState: ...  # GET /relay

    async def daemon_status(self) -> DaemonState: ...  # GET /state/daemon

    # -- writes (journaled; `key` is the Idempotency-Key, `agent` who writes when the body names none) --

    async def patch_task(
        self, ident: str, repo: str | None, body: WriteBody, key: str | None = None, agent: str | None = None
    ) -> WriteResult: ...  # PATCH /tasks/{id}

    async def bulk_status_sync(
        self, body: WriteBody, key: str | None = None, agent: str | None = None
    ) -> WriteResult: ...  # POST /tasks/bulk-status-sync

    async def patch_workplan(
        self, ident: str, repo: str | None, body: WriteBody, key: str | None = None, agent: str | None = None
    ) -> WriteResult: ...  # PATCH /workplans/{id}

    async def add_progress(
        self, body: WriteBody, key: str | None = None, agent: str | None = None
    ) -> WriteResult: ...  # POST /progress

    async def send_message(
        self, body: WriteBody, key: str | None = None, agent: str | None = None
    ) -> WriteResult: ...  # POST /messages

    async def mark_message_read(
        self, message_id: str, body: WriteBody | None = None, key: str | None = None, agent: str | None = None
    ) -> WriteResult: ...  # PATCH /messages/{id}/read

    async def relay_now(self) -> RelayState: ...  # POST /relay/now

    # -- registration, checks, files (no REST endpoint: a daemon serves them on /mcp) -----------------

    async def register_repo(self, path: str) -> list[RegisteredRepo]: ...

    async def check_consistency(self, repo: str | None = None) -> ConsistencyReport: ...

    async def workplan_markdown(self, ident: str) -> str: ...

    async def brief(self, repo: str) -> str: ...

    # -- time (the dashboard's charts) ---------------------------------------------------------------

    async def activity(self, days: int = 30, by: str = "workplan") -> ActivityReport: ...  # GET /state/activity

    async def workplan_history(
        self, ident: str, repo: str | None = None
    ) -> WorkplanHistory: ...  # GET /workplans/{id}/history

    async def relay_history(self, hours: int = 24) -> RelayHistory: ...  # GET /relay/history
