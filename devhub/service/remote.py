"""`RemoteHub`: the HubPort over HTTP to a running hub (the CLI with a daemon, the stdio MCP server).

The transport is the standard library's (run in a worker thread), so `devhub status` starts
instantly. A refusal's problem document becomes the same DevhubError subclass the hub raised
in-process (status, title, detail, fields), so REST, MCP and the CLI report it alike. The few
operations with no REST endpoint (register a repo, consistency checks, a workplan's markdown, the
brief) are forwarded to the daemon's own /mcp endpoint, so they too run the daemon's code.
"""

from __future__ import annotations

import asyncio
import http.client
import json
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from devhub.errors import (
    Ambiguous,
    BadRequest,
    Conflict,
    DevhubError,
    DuplicateTaskIds,
    Forbidden,
    NotFound,
    NotRunning,
    PayloadTooLarge,
    ReadModelUnavailable,
    StorageFull,
    TasksNotFound,
    Unauthorized,
    ValidationFailed,
)

if TYPE_CHECKING:
    from devhub.reconcile.writeback import PendingJson
    from devhub.service.port import (
        ConsistencyReport,
        DaemonState,
        ErrorsReport,
        HealthView,
        MessageFilters,
        MessageView,
        Orientation,
        ProgressFilters,
        ProgressView,
        RegisteredRepo,
        RelayState,
        RepoView,
        SearchHit,
        Summary,
        TaskFilters,
        TaskView,
        WorkplanFilters,
        WorkplanIndexEntry,
        WorkplanView,
        WriteBody,
        WriteResult,
    )
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
    from devhub.settings import Settings

REQUEST_TIMEOUT_SECONDS = 60.0
# The daemon's HTTP parser refuses a request line plus headers over 16 KiB with a bare 400; refuse it here,
# where the message can say what was too long.
MAX_URL_CHARS = 16 * 1024 - 1024
UrlSource = Callable[[], Awaitable[str]]
_TOOL_ERROR_PREFIX = "Error executing tool "


class HubRefused(DevhubError):
    """A refusal that came as text, not as a problem document (a forwarded MCP tool's error)."""

    def __init__(self, status: int, title: str, detail: str, *, verbatim: bool = False, **extra: Any) -> None:
        super().__init__(detail, **extra)
        self.status = status
        self.title = title
        self.exit_code = 2 if 400 <= status < 500 else 1
        self.verbatim = verbatim  # the text is already a finished tool-error message


class HubUnreachable(NotRunning):
    """Nothing answers at the hub's URL (a stopped daemon, a fleet hub out of reach)."""

    status = 503
    title = "Hub unreachable"


_BY_STATUS: dict[int, type[DevhubError]] = {
    400: BadRequest,
    401: Unauthorized,
    403: Forbidden,
    404: NotFound,
    409: Conflict,
    413: PayloadTooLarge,
    422: ValidationFailed,
    503: ReadModelUnavailable,
    507: StorageFull,
}


def from_problem(status: int, problem: Mapping[str, Any] | None, reason: str = "") -> DevhubError:
    """The DevhubError a hub raised, rebuilt from its HTTP status and RFC 9457 problem document."""
    doc = dict(problem or {})
    detail = str(doc.get("detail") or doc.get("title") or reason or f"HTTP {status}")
    extra = {k: v for k, v in doc.items() if k not in ("type", "title", "status", "detail")}
    kind = _BY_STATUS.get(status)
    error: DevhubError
    task_ids = doc["detail"].get("task_ids") if isinstance(doc.get("detail"), dict) else None
    if status in (400, 404) and isinstance(task_ids, list):  # bulk sync: the State Hub's detail object
        extra.pop("task_ids", None)
        error = (DuplicateTaskIds if status == 400 else TasksNotFound)([str(t) for t in task_ids])
    elif status == 409 and isinstance(extra.get("candidates"), list):
        error = Ambiguous(detail, extra.pop("candidates"))
    elif kind in (BadRequest, ValidationFailed):
        params = extra.pop("invalid_params", None) or []
        fields = {str(p.get("name")): str(p.get("reason")) for p in params if isinstance(p, Mapping)}
        error = kind(detail, fields)
    elif kind is not None:
        error = kind(detail)
    else:
        error = HubRefused(status, str(doc.get("title") or reason or f"HTTP {status}"), detail)
    error.extra.update(extra)
    if doc.get("title") and doc["title"] != error.title:
        error.title = str(doc["title"])  # e.g. "Ambiguous identifier" vs "Conflict" share 409; keep the hub's
    return error


@dataclass(frozen=True)
class _Answer:
    status: int
    headers: dict[str, str]
    payload: Any


def _query(values: Mapping[str, Any] | None) -> str:
    """Query parameters as the REST API reads them (booleans as true/false, None left out)."""
    out: dict[str, str] = {}
    for key, value in (values or {}).items():
        if value is None:
            continue
        out[key] = ("true" if value else "false") if isinstance(value, bool) else str(value)
    return ("?" + urllib.parse.urlencode(out)) if out else ""


def _segment(value: str) -> str:
    return urllib.parse.quote(value, safe="")


class RemoteHub:
    """Every HubPort operation as the REST call it mirrors (and, where REST has none, the daemon's /mcp)."""

    def __init__(
        self,
        base_url: str | UrlSource,
        token: str | None = None,
        *,
        timeout: float = REQUEST_TIMEOUT_SECONDS,
        user_agent: str = "devhub",
    ) -> None:
        self._source = None if isinstance(base_url, str) else base_url
        self.base_url = base_url.rstrip("/") if isinstance(base_url, str) else ""
        self.token = token
        self.timeout = timeout
        self._headers = {"Accept": "application/json", "User-Agent": user_agent}
        if token:
            self._headers["Authorization"] = f"Bearer {token}"

    @classmethod
    def for_running(cls, config: Settings, *, timeout: float = REQUEST_TIMEOUT_SECONDS) -> RemoteHub:
        """A client for the daemon that owns `config.data_dir`; NotRunning when there is none."""
        from devhub.daemon.discovery import lock_holder

        holder = lock_holder(config.data_dir)
        if not holder or not holder.get("url"):
            raise NotRunning(f"no devhub daemon runs for {config.data_dir}; start one with `devhub up`")
        return cls(str(holder["url"]), config.token, timeout=timeout)

    async def aclose(self) -> None:
        """Nothing is held between calls (one connection per request); kept for symmetry with LocalHub owners."""

    # -- the transport ---------------------------------------------------------------------------------

    def _send(self, url: str, method: str, data: bytes | None, headers: dict[str, str]) -> _Answer:
        request = urllib.request.Request(url, data=data, method=method, headers={**self._headers, **headers})
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                raw = response.read()
                status, answer_headers = response.status, dict(response.headers.items())
        except urllib.error.HTTPError as exc:
            raw, status, answer_headers = exc.read(), exc.code, dict(exc.headers.items())
            try:
                problem = json.loads(raw)
            except ValueError:
                problem = {"detail": raw.decode(errors="replace").strip()[:500] or exc.reason}
            raise from_problem(
                status, problem if isinstance(problem, dict) else {"detail": str(problem)}, str(exc.reason)
            ) from None
        return _Answer(status, {k.lower(): v for k, v in answer_headers.items()}, json.loads(raw) if raw else None)

    async def _url(self) -> str:
        if self._source is not None:
            self.base_url = (await self._source()).rstrip("/")
        return self.base_url

    async def _call(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        body: Any = None,
        key: str | None = None,
        agent: str | None = None,
    ) -> _Answer:
        from devhub.service.idempotency import checked_key

        # What cannot travel in a header is refused here with the daemon's own rule (its role adds the rest).
        key = checked_key(key, reserve_separator=False)
        headers: dict[str, str] = {}
        if key:
            headers["Idempotency-Key"] = key
        if agent:
            headers["X-Agent"] = agent
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        for attempt in (1, 2):
            base = await self._url()
            url = base + path + _query(params)
            if len(url) > MAX_URL_CHARS:
                shown = path if len(path) <= 120 else path[:120] + "…"
                raise BadRequest(
                    f"{method} {shown} cannot be sent to the hub: its URL is {len(url)} characters, "
                    f"over the {MAX_URL_CHARS} a request line may hold"
                )
            try:
                return await asyncio.to_thread(self._send, url, method, data, headers)
            except DevhubError:
                raise
            except (urllib.error.URLError, OSError) as exc:
                reason = getattr(exc, "reason", exc)
                # Refused before anything was sent: a local daemon may have restarted; find it once more.
                if self._source is not None and attempt == 1 and isinstance(reason, ConnectionRefusedError):
                    continue
                raise HubUnreachable(f"the hub at {base} does not answer {method} {path} ({reason})") from None
            except (ValueError, UnicodeEncodeError, http.client.HTTPException) as exc:
                # The arguments cannot travel as HTTP at all (an id too long for a URL, a header that is
                # not ASCII): the caller's to fix, like any other 400, not a crash.
                shown = path if len(path) <= 120 else path[:120] + "…"
                raise BadRequest(f"{method} {shown} cannot be sent to the hub: {exc}") from None
        raise AssertionError("unreachable")  # pragma: no cover - the loop returns or raises

    async def _get(self, path: str, params: Mapping[str, Any] | None = None) -> Any:
        return (await self._call("GET", path, params=params)).payload

    async def _write(
        self,
        method: str,
        path: str,
        body: WriteBody,
        key: str | None,
        agent: str | None,
        params: Mapping[str, Any] | None = None,
    ) -> WriteResult:
        from devhub.service.port import WriteResult

        answer = await self._call(method, path, params=params, body=body, key=key, agent=agent)
        replayed = answer.headers.get("idempotent-replayed") == "true"
        return WriteResult(body=answer.payload, status_code=answer.status, replayed=replayed)

    # -- reads -----------------------------------------------------------------------------------------

    async def health(self) -> HealthView:
        result: HealthView = await self._get("/state/health")
        return result

    async def orient(self, repo: str | None = None, domain: str | None = None) -> Orientation:
        result: Orientation = await self._get("/orient", {"repo": repo, "domain": domain})
        return result

    async def summary(self) -> Summary:
        result: Summary = await self._get("/state/summary")
        return result

    async def workplans(self, filters: WorkplanFilters) -> list[WorkplanView]:
        result: list[WorkplanView] = await self._get("/workplans/", dict(filters))
        return result

    async def workplan_index(self) -> list[WorkplanIndexEntry]:
        result: list[WorkplanIndexEntry] = await self._get("/workplans/index")
        return result

    async def workplan(self, ident: str, repo: str | None = None) -> WorkplanView:
        result: WorkplanView = await self._get(f"/workplans/{_segment(ident)}", {"repo": repo})
        return result

    async def tasks(self, filters: TaskFilters) -> list[TaskView]:
        result: list[TaskView] = await self._get("/tasks/", dict(filters))
        return result

    async def task(self, ident: str, repo: str | None = None) -> TaskView:
        result: TaskView = await self._get(f"/tasks/{_segment(ident)}", {"repo": repo})
        return result

    async def progress(self, filters: ProgressFilters) -> list[ProgressView]:
        result: list[ProgressView] = await self._get("/progress/", dict(filters))
        return result

    async def messages(self, filters: MessageFilters) -> list[MessageView]:
        result: list[MessageView] = await self._get("/messages/", dict(filters))
        return result

    async def search(self, q: str, limit: int = 50) -> list[SearchHit]:
        result: list[SearchHit] = await self._get("/search", {"q": q, "limit": limit})
        return result

    async def repos(self) -> list[RepoView]:
        result: list[RepoView] = await self._get("/repos")
        return result

    async def errors(self, repo: str | None = None) -> ErrorsReport:
        result: ErrorsReport = await self._get("/errors", {"repo": repo})
        return result

    async def relay(self) -> RelayState:
        result: RelayState = await self._get("/relay")
        return result

    async def daemon_status(self) -> DaemonState:
        result: DaemonState = await self._get("/state/daemon")
        return result

    # -- writes ----------------------------------------------------------------------------------------

    async def patch_task(
        self, ident: str, repo: str | None, body: WriteBody, key: str | None = None, agent: str | None = None
    ) -> WriteResult:
        return await self._write("PATCH", f"/tasks/{_segment(ident)}", body, key, agent, {"repo": repo})

    async def bulk_status_sync(self, body: WriteBody, key: str | None = None, agent: str | None = None) -> WriteResult:
        return await self._write("POST", "/tasks/bulk-status-sync", body, key, agent)

    async def patch_workplan(
        self, ident: str, repo: str | None, body: WriteBody, key: str | None = None, agent: str | None = None
    ) -> WriteResult:
        return await self._write("PATCH", f"/workplans/{_segment(ident)}", body, key, agent, {"repo": repo})

    async def add_progress(self, body: WriteBody, key: str | None = None, agent: str | None = None) -> WriteResult:
        return await self._write("POST", "/progress/", body, key, agent)

    async def send_message(self, body: WriteBody, key: str | None = None, agent: str | None = None) -> WriteResult:
        return await self._write("POST", "/messages/", body, key, agent)

    async def mark_message_read(
        self, message_id: str, body: WriteBody | None = None, key: str | None = None, agent: str | None = None
    ) -> WriteResult:
        return await self._write("PATCH", f"/messages/{_segment(message_id)}/read", body or {}, key, agent)

    async def relay_now(self) -> RelayState:
        result: RelayState = (await self._call("POST", "/relay/now", body={})).payload
        return result

    # -- decisions and token events ---------------------------------------------------------------------

    async def decisions(self, filters: DecisionFilters) -> list[DecisionRecord]:
        result: list[DecisionRecord] = await self._get("/decisions/", dict(filters))
        return result

    async def decision(self, decision_id: str) -> DecisionRecord:
        result: DecisionRecord = await self._get(f"/decisions/{_segment(decision_id)}")
        return result

    async def pending_decisions(self, topic: str | None = None, domain: str | None = None) -> list[DecisionRecord]:
        query = {"decision_type": "pending", "blocking": "true", "topic_id": topic, "domain": domain, "limit": 10_000}
        result: list[DecisionRecord] = await self._get("/decisions/", query)
        return result

    async def record_decision(self, body: WriteBody, key: str | None = None, agent: str | None = None) -> WriteResult:
        return await self._write("POST", "/decisions/", body, key, agent)

    async def patch_decision(
        self, decision_id: str, body: WriteBody, key: str | None = None, agent: str | None = None
    ) -> WriteResult:
        return await self._write("PATCH", f"/decisions/{_segment(decision_id)}", body, key, agent)

    async def resolve_decision(
        self, decision_id: str, body: WriteBody, key: str | None = None, agent: str | None = None
    ) -> WriteResult:
        return await self._write("POST", f"/decisions/{_segment(decision_id)}/resolve", body, key, agent)

    async def token_events(self, filters: TokenEventFilters) -> list[TokenEventRecord]:
        result: list[TokenEventRecord] = await self._get("/token-events/", dict(filters))
        return result

    async def token_event(self, event_id: str) -> TokenEventRecord:
        result: TokenEventRecord = await self._get(f"/token-events/{_segment(event_id)}")
        return result

    async def record_token_event(
        self, body: WriteBody, key: str | None = None, agent: str | None = None, *, upsert: bool = False
    ) -> WriteResult:
        return await self._write("POST", "/token-events/upsert" if upsert else "/token-events/", body, key, agent)

    async def token_summary(self, scope: str, ident: str) -> TokenSummary:
        result: TokenSummary = await self._get("/token-events/summary/", {"scope": scope, "id": ident})
        return result

    # -- no REST endpoint: forwarded to the daemon's /mcp -------------------------------------------------

    async def register_repo(self, path: str) -> list[RegisteredRepo]:
        result: list[RegisteredRepo] = await self._forward_tool("register_repo", {"path": path})
        return result

    async def check_consistency(self, repo: str | None = None) -> ConsistencyReport:
        result: ConsistencyReport = await self._forward_tool("check_repo_consistency", {"repo": repo} if repo else {})
        return result

    async def workplan_markdown(self, ident: str) -> str:
        return await self._forward_resource(f"workplan://{ident}")

    async def brief(self, repo: str) -> str:
        return await self._forward_resource(f"brief://{repo}")

    async def pending_writeback(self, repo: str | None = None) -> PendingJson:
        result: PendingJson = await self._get("/writeback/pending", {"repo": repo})
        return result

    async def _forward_tool(self, name: str, arguments: dict[str, Any]) -> Any:
        async with self._mcp_client(name) as client:
            result = await client.call_tool(name, arguments)
        text = "".join(getattr(block, "text", "") for block in result.content)
        if result.is_error:
            raise HubRefused(502, "Refused", text.removeprefix(f"{_TOOL_ERROR_PREFIX}{name}: "), verbatim=True)
        return json.loads(text)

    async def _forward_resource(self, uri: str) -> str:
        from mcp.shared.exceptions import MCPError

        try:
            async with self._mcp_client(uri) as client:
                result = await client.read_resource(uri)
        except MCPError as exc:
            raise HubRefused(404, "Not found", str(exc), verbatim=True) from None
        return "".join(getattr(item, "text", "") for item in result.contents)

    @asynccontextmanager
    async def _mcp_client(self, what: str) -> AsyncIterator[Any]:
        """An MCP client session on the hub's /mcp (stateless there, so one per call is cheap)."""
        import httpx2
        from mcp.client import Client
        from mcp.client.streamable_http import streamable_http_client
        from mcp.shared.exceptions import MCPError

        url = f"{await self._url()}/mcp"  # resolves (or starts) the local daemon
        async with httpx2.AsyncClient(headers=self._headers, timeout=self.timeout) as http:
            try:
                async with Client(streamable_http_client(url, http_client=http), cache=None) as client:
                    yield client
            except (MCPError, DevhubError):
                raise
            except Exception as exc:
                leaf = _first_leaf(exc, (MCPError, DevhubError))
                if leaf is not None:
                    raise leaf from None
                raise HubUnreachable(
                    f"{what} has no REST endpoint and is served by a devhub daemon's {url}, which did not "
                    f"answer ({type(exc).__name__}: {exc})"
                ) from None

    # -- statehub read parity ---------------------------------------------------------------------------

    async def domains(self) -> list[DomainRecord]:
        result: list[DomainRecord] = await self._get("/domains/")
        return result

    async def domain(self, slug: str) -> DomainRecord:
        result: DomainRecord = await self._get(f"/domains/{_segment(slug)}/")
        return result

    async def topics(self, domain: str | None = None) -> list[TopicRecord]:
        result: list[TopicRecord] = await self._get("/topics/", {"domain": domain})
        return result

    async def topic(self, slug: str) -> TopicDetail:
        result: TopicDetail = await self._get(f"/topics/{_segment(slug)}")
        return result

    async def repo_catalog(self, filters: RepoFilters | None = None) -> list[CatalogRepo]:
        result: list[CatalogRepo] = await self._get("/repos/", dict(filters or {}))
        return result

    async def repo(self, slug: str) -> CatalogRepo:
        result: CatalogRepo = await self._get(f"/repos/{_segment(slug)}/")
        return result

    async def repo_dispatch(self, slug: str) -> RepoDispatch:
        result: RepoDispatch = await self._get(f"/repos/{_segment(slug)}/dispatch")
        return result

    async def domain_summary(self, domain_slug: str) -> DomainSummary:
        result: DomainSummary = await self._get(f"/domains/{_segment(domain_slug)}/summary")
        return result

    async def next_steps(self) -> list[NextStep]:
        result: list[NextStep] = await self._get("/state/next_steps")
        return result

    async def validate_repo_adr(self, repo_path: str, domain_slug: str | None = None) -> AdrValidation:
        arguments = {"repo_path": repo_path} | ({"domain_slug": domain_slug} if domain_slug else {})
        result: AdrValidation = await self._forward_tool("validate_repo_adr", arguments)
        return result

    async def writeback_repo(self, repo_slug: str) -> WritebackReport:
        answer = await self._forward_tool("check_repo_consistency", {"repo_slug": repo_slug, "fix": True})
        result: WritebackReport = answer["fix"]
        return result

    # -- messages: thread, archive, reply ---------------------------------------------------------

    async def message_thread(self, message_id: str) -> list[MessageView]:
        result: list[MessageView] = await self._get(f"/messages/{_segment(message_id)}/thread")
        return result

    async def archive_message(
        self, message_id: str, body: WriteBody | None = None, key: str | None = None, agent: str | None = None
    ) -> WriteResult:
        return await self._write("PATCH", f"/messages/{_segment(message_id)}/archive", body or {}, key, agent)

    async def reply_to_message(
        self, message_id: str, body: WriteBody, key: str | None = None, agent: str | None = None
    ) -> WriteResult:
        return await self._write("POST", f"/messages/{_segment(message_id)}/reply", body, key, agent)

    # -- creating work offline --

    async def create_task(self, body: WriteBody, key: str | None = None, agent: str | None = None) -> WriteResult:
        return await self._write("POST", "/tasks/", body, key, agent)

    async def create_workplan(self, body: WriteBody, key: str | None = None, agent: str | None = None) -> WriteResult:
        return await self._write("POST", "/workplans/", body, key, agent)

    async def archive_workplan(
        self, ident: str, repo: str | None = None, key: str | None = None, agent: str | None = None
    ) -> WriteResult:
        return await self._write("DELETE", f"/workplans/{_segment(ident)}", {}, key, agent, {"repo": repo})

    async def dependencies(self, ident: str, repo: str | None = None) -> list[DependencyRecord]:
        result: list[DependencyRecord] = await self._get(f"/workplans/{_segment(ident)}/dependencies/", {"repo": repo})
        return result

    async def create_dependency(
        self, ident: str, repo: str | None, body: WriteBody, key: str | None = None, agent: str | None = None
    ) -> WriteResult:
        path = f"/workplans/{_segment(ident)}/dependencies/"
        return await self._write("POST", path, body, key, agent, {"repo": repo})

    async def delete_dependency(
        self, ident: str, dep_id: str, repo: str | None = None, key: str | None = None, agent: str | None = None
    ) -> WriteResult:
        path = f"/workplans/{_segment(ident)}/dependencies/{_segment(dep_id)}"
        return await self._write("DELETE", path, {}, key, agent, {"repo": repo})


    # -- time (the dashboard's charts) --

    async def activity(self, days: int = 30, by: str = "workplan") -> ActivityReport:
        result: ActivityReport = await self._get("/state/activity", {"days": days, "by": by})
        return result

    async def workplan_history(self, ident: str, repo: str | None = None) -> WorkplanHistory:
        result: WorkplanHistory = await self._get(f"/workplans/{_segment(ident)}/history", {"repo": repo})
        return result

    async def relay_history(self, hours: int = 24) -> RelayHistory:
        result: RelayHistory = await self._get("/relay/history", {"hours": hours})
        return result

def _first_leaf(exc: BaseException, kinds: tuple[type[BaseException], ...]) -> BaseException | None:
    """The first exception of `kinds` inside a (possibly nested) exception group, as task groups raise them."""
    if isinstance(exc, kinds):
        return exc
    if isinstance(exc, BaseExceptionGroup):
        for inner in exc.exceptions:
            found = _first_leaf(inner, kinds)
            if found is not None:
                return found
    return None
