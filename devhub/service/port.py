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

from devhub.records import HealthView, MessageView, ProgressView, RepoView, TaskView, WorkplanView
from devhub.store.activity import (
    MESSAGES_LIMIT_DEFAULT,
    MESSAGES_LIMIT_MAX,
    PROGRESS_LIMIT_DEFAULT,
    PROGRESS_LIMIT_MAX,
)

__all__ = ["MESSAGES_LIMIT_DEFAULT", "MESSAGES_LIMIT_MAX", "PROGRESS_LIMIT_DEFAULT", "PROGRESS_LIMIT_MAX", "HubPort"]

if TYPE_CHECKING:
    from devhub.reconcile.writeback import PendingJson
    from devhub.service.records_create import DependencyRecord
    from devhub.service.records_decisions import (
        DecisionFilters,
        DecisionRecord,
        TokenEventFilters,
        TokenEventRecord,
        TokenSummary,
    )
    from devhub.service.records_statehub import (
        AdrValidation,
        CatalogRepo,
        DomainRecord,
        DomainSummary,
        NextStep,
        RepoDispatch,
        RepoFilters,
        TopicDetail,
        TopicRecord,
        WritebackReport,
    )
    from devhub.service.records_time import ActivityReport, RelayHistory, WorkplanHistory
    from devhub.service.writes import WriteContext

# -- what comes back: JSON objects and lists, named by what they hold ------------------------------

JsonObject = dict[str, Any]
Orientation = JsonObject  # GET /orient: active workplans, in progress, ready, needs-human, problems, relay
Summary = JsonObject  # GET /state/summary: counts by status, active workplans, problems, relay
WorkplanIndexEntry = JsonObject  # one row of GET /workplans/index
SearchHit = JsonObject  # one hit of GET /search
RelayState = JsonObject  # GET /relay
DaemonState = JsonObject  # GET /state/daemon
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
    topic_id: str | None  # the State Hub's filter: a topic slug, or the fleet UUID recorded for the topic
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
    topic_id: str | None


class MessageFilters(TypedDict, total=False):
    """GET /messages query parameters (the State Hub's, plus include_archived)."""

    to_agent: str | None
    from_agent: str | None
    unread_only: bool
    include_archived: bool
    limit: int


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

    async def health(self) -> HealthView: ...  # GET /state/health

    async def orient(self, repo: str | None = None, domain: str | None = None) -> Orientation: ...  # GET /orient

    async def summary(self) -> Summary: ...  # GET /state/summary

    async def workplans(self, filters: WorkplanFilters) -> list[WorkplanView]: ...  # GET /workplans

    async def workplan_index(self) -> list[WorkplanIndexEntry]: ...  # GET /workplans/index

    async def workplan(self, ident: str, repo: str | None = None) -> WorkplanView: ...  # GET /workplans/{id}

    async def tasks(self, filters: TaskFilters) -> list[TaskView]: ...  # GET /tasks

    async def task(self, ident: str, repo: str | None = None) -> TaskView: ...  # GET /tasks/{id}

    async def progress(self, filters: ProgressFilters) -> list[ProgressView]: ...  # GET /progress

    async def messages(self, filters: MessageFilters) -> list[MessageView]: ...  # GET /messages

    async def search(self, q: str, limit: int = 50) -> list[SearchHit]: ...  # GET /search

    async def repos(self) -> list[RepoView]: ...  # GET /repos

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

    async def pending_writeback(self, repo: str | None = None) -> PendingJson: ...  # GET /writeback/pending

    # -- decisions and token events (journaled like every write; service/decision_writes.py) --------------

    async def decisions(self, filters: DecisionFilters) -> list[DecisionRecord]: ...  # GET /decisions/

    async def decision(self, decision_id: str) -> DecisionRecord: ...  # GET /decisions/{id}

    async def pending_decisions(
        self, topic: str | None = None, domain: str | None = None
    ) -> list[DecisionRecord]: ...  # blocking decisions (pending, open/escalated) for the summaries

    async def record_decision(
        self, body: WriteBody, key: str | None = None, agent: str | None = None
    ) -> WriteResult: ...  # POST /decisions/

    async def patch_decision(
        self, decision_id: str, body: WriteBody, key: str | None = None, agent: str | None = None
    ) -> WriteResult: ...  # PATCH /decisions/{id}

    async def resolve_decision(
        self, decision_id: str, body: WriteBody, key: str | None = None, agent: str | None = None
    ) -> WriteResult: ...  # POST /decisions/{id}/resolve

    async def token_events(self, filters: TokenEventFilters) -> list[TokenEventRecord]: ...  # GET /token-events/

    async def token_event(self, event_id: str) -> TokenEventRecord: ...  # GET /token-events/{id}

    async def record_token_event(
        self, body: WriteBody, key: str | None = None, agent: str | None = None, *, upsert: bool = False
    ) -> WriteResult: ...  # POST /token-events/ (upsert: POST /token-events/upsert)

    async def token_summary(self, scope: str, ident: str) -> TokenSummary: ...  # GET /token-events/summary/

    # -- statehub read parity: domains, topics, repos, the real overview shapes --------------------------

    async def domains(self) -> list[DomainRecord]: ...  # GET /domains/

    async def domain(self, slug: str) -> DomainRecord: ...  # GET /domains/{slug}/

    async def topics(self, domain: str | None = None) -> list[TopicRecord]: ...  # GET /topics/

    async def topic(self, slug: str) -> TopicDetail: ...  # GET /topics/{slug}

    async def repo_catalog(self, filters: RepoFilters | None = None) -> list[CatalogRepo]: ...  # GET /repos/

    async def repo(self, slug: str) -> CatalogRepo: ...  # GET /repos/{slug}/

    async def repo_dispatch(self, slug: str) -> RepoDispatch: ...  # GET /repos/{slug}/dispatch

    async def domain_summary(self, domain_slug: str) -> DomainSummary: ...  # GET /domains/{slug}/summary

    async def next_steps(self) -> list[NextStep]: ...  # GET /state/next_steps

    async def validate_repo_adr(self, repo_path: str, domain_slug: str | None = None) -> AdrValidation: ...

    async def writeback_repo(self, repo_slug: str) -> WritebackReport: ...  # check_repo_consistency(fix=True)

    # -- messages: thread, archive, reply ---------------------------------------------------------

    async def message_thread(self, message_id: str) -> list[MessageView]: ...  # GET /messages/{id}/thread

    async def archive_message(
        self, message_id: str, body: WriteBody | None = None, key: str | None = None, agent: str | None = None
    ) -> WriteResult: ...  # PATCH /messages/{id}/archive

    async def reply_to_message(
        self, message_id: str, body: WriteBody, key: str | None = None, agent: str | None = None
    ) -> WriteResult: ...  # POST /messages/{id}/reply

    # -- creating work offline --

    async def create_task(
        self, body: WriteBody, key: str | None = None, agent: str | None = None
    ) -> WriteResult: ...  # POST /tasks/

    async def create_workplan(
        self, body: WriteBody, key: str | None = None, agent: str | None = None
    ) -> WriteResult: ...  # POST /workplans/ (and /workstreams/)

    async def archive_workplan(
        self, ident: str, repo: str | None = None, key: str | None = None, agent: str | None = None
    ) -> WriteResult: ...  # DELETE /workplans/{id} (and /workstreams/{id})

    async def dependencies(
        self, ident: str, repo: str | None = None
    ) -> list[DependencyRecord]: ...  # GET /workplans/{id}/dependencies/

    async def create_dependency(
        self, ident: str, repo: str | None, body: WriteBody, key: str | None = None, agent: str | None = None
    ) -> WriteResult: ...  # POST /workplans/{id}/dependencies/

    async def delete_dependency(
        self, ident: str, dep_id: str, repo: str | None = None, key: str | None = None, agent: str | None = None
    ) -> WriteResult: ...  # DELETE /workplans/{id}/dependencies/{dep_id}

    # -- time (the dashboard's charts) ---------------------------------------------------------------

    async def activity(self, days: int = 30, by: str = "workplan") -> ActivityReport: ...  # GET /state/activity

    async def workplan_history(
        self, ident: str, repo: str | None = None
    ) -> WorkplanHistory: ...  # GET /workplans/{id}/history

    async def relay_history(self, hours: int = 24) -> RelayHistory: ...  # GET /relay/history
