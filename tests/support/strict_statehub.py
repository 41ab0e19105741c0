"""A strict stand-in for the real fleet State Hub (FastAPI), for tests: a real HTTP server on loopback.

devhub's own `--role fleet` accepts whatever the relay sends. The real State Hub is stricter;
this stand-in answers the way its routers and models do, so a test can tell which relayed
writes would really land and which would end as dead letters.

Usage::

    with strict_statehub(token="s3cret") as hub:          # uvicorn in a thread, free port
        ws = hub.seed_workstream(title="WP", id="8a828444-...")
        task = hub.seed_task(ws, "T05", id="e91db8d0-...", status="todo")
        httpx.patch(f"{hub.url}/tasks/{task}", json={"status": "progress"}, headers=...)
        hub.effects_on("PATCH", f"/tasks/{task}")          # what was applied, once each
        hub.refusals                                        # every 4xx: status, reason

Rules, and where each comes from. "Seen" = read in the real code or docs (URL given);
"inferred" = our best reading where the pages do not show it (change it when they do).

Seen
- Idempotency-Key: an exact duplicate returns the original response; the same key with a
  different request returns 409; retention 14 days. state-hub docs/offline-write-buffer.md
  https://gitea.coulomb.social/coulomb/state-hub/src/commit/48815b3db9f62c36007bf24a5894a6d0ad9256cd/docs/offline-write-buffer.md
  (the queueable routes listed there are the write routes served here, incl. PATCH /workplans/{id}
  and its legacy alias PATCH /workstreams/{id}).
- POST /tasks/bulk-status-sync `{updates: [{task_id: UUID, status}], author?, session_id?}`:
  duplicate task ids -> 400 `{"detail": {"message", "task_ids"}}`, then unknown ids -> 404 in
  the same shape; default author "custodian"; it writes progress events.
  https://gitea.coulomb.social/coulomb/state-hub/commit/55e36bdf2de5ad1ae9cfb00afcfe7ac74ed398b2
- POST /messages/ (MessageCreate: from_agent, to_agent, subject, body, thread_id?: UUID) -> 201;
  an unknown thread root -> 404 "Thread root {id} not found"; GET /messages/ filters
  to_agent, from_agent, unread_only, limit (default 20); PATCH /messages/{id}/read and a thread
  view exist; message ids are UUIDs (session.get by UUID). subject max 500 chars (send_message docs).
  An archive route exists (the commit message lists it); PATCH /messages/{id}/archive is inferred.
  https://gitea.coulomb.social/coulomb/state-hub/src/commit/4b3cb1b0396ecb9ee078e83563cb44d00aae365e/api/routers/messages.py
- Task statuses wait/todo/progress/done/cancel with aliases blocked, waiting -> wait,
  in_progress -> progress, cancelled/canceled -> cancel; `cancel` is final; `done` reopens only by
  an explicit profile rule. Workplan statuses proposed ready active blocked backlog finished archived.
  https://gitea.coulomb.social/coulomb/state-hub/src/branch/main/docs/task-state-canon-migration.md
- Progress events: summary, event_type, author ("custodian" default), topic_id/workstream_id/
  task_id/decision_id as optional UUIDs, detail as JSON object, created_at set by the server.
  https://gitea.coulomb.social/coulomb/state-hub/src/commit/0bdf4929fc573f48ef812db59e498ce427c8276c/dashboard/src/docs/progress-log.md
- POST /workstreams/ {topic_id, slug, title, status} and POST /tasks/ {workstream_id, title} -> 201
  (tests/test_routers_core.py helpers); create_task priority low/medium/high/critical, default medium
  (skills/state-hub/references/tool-signatures.md in commit 55e36bdf above).
- GET /repos/ lists the managed repos (`slug`, `name`, `domain`, classification fields); the fleet
  snapshot reads it. Seen in state-hub TOOLS.md (v0.5, list_domain_repos / list_repos_by_classification).
- FastAPI behaviour: a body or path value that fails the pydantic model -> 422 with
  `{"detail": [{"type", "loc", "msg", "input"}]}` (a non-UUID, "" included, where a UUID is
  expected; a missing required field); unknown route -> 404 "Not Found"; a route that exists
  without/with the trailing slash -> 307 redirect.

Inferred (not shown on the public pages)
- The error code of a forbidden transition (cancel -> anything else, done -> anything not
  allowed by `done_reopens_to`): 409, detail names both statuses. No reopen rule by default.
- `status=wait` without a `blocking_reason` (in the body or already on the task) -> 422
  (`wait_requires_reason=True`; the compat sheet lists it as something the hub may still require).
- Unknown UUIDs referenced from progress / token events / tasks / workstreams -> 404 (the
  pages show 404 for tasks, thread roots and decisions; foreign keys elsewhere are assumed alike).
- The replay marker: the original status and body plus `Idempotent-Replayed: true` (devhub's
  relay acknowledges any 2xx; the header is the one devhub itself uses). Only 2xx answers are
  remembered under a key, so a refused write can be retried with the same key.
- The key's fingerprint covers method, path and the JSON body (canonicalised).
- Response shapes beyond the fields named above (TaskRead, DecisionRead, ...), the decisions and
  token-events models, `bulk-status-sync`'s answer `{"updated": [...], "events": [...]}`, resolving
  an already resolved (or superseded) decision -> 409, a decision with neither topic_id nor
  workstream_id -> 422 (TOOLS.md: "at least one ... required"), decision statuses open/escalated/
  resolved/superseded (dashboard docs/decisions.md; resolve sets `resolved` and `decision_type=made`),
  `/token-events/upsert` keyed by (measurement_kind, source_provider, source_id) (token-evidence-model.md;
  201 new, 200 updated), `tokens_total` computed and workstream_id filled from the task (token_events.py
  d65bc70), and the token event a PATCH /tasks writes only when the status becomes `done`, with the
  sent tokens or the 1000/500 heuristic (api/schemas/task.py fdfd436; the prorated tier is left out).
- Bearer auth: when a token is configured every route but GET /state/health needs
  `Authorization: Bearer <token>`, else 401.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import re
import socket
import threading
import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

TASK_STATUSES = ("wait", "todo", "progress", "done", "cancel")
TASK_ALIASES = {
    "blocked": "wait",
    "waiting": "wait",
    "in_progress": "progress",
    "cancelled": "cancel",
    "canceled": "cancel",
}
WORKPLAN_STATUSES = ("proposed", "ready", "active", "blocked", "backlog", "finished", "archived")
WORKPLAN_ALIASES = {"done": "finished", "completed": "finished"}
PRIORITIES = ("low", "medium", "high", "critical")
DECISION_TYPES = ("pending", "made")
DECISION_STATUSES = ("open", "escalated", "resolved", "superseded")
MEASUREMENT_KINDS = ("measured", "allocated", "estimated", "superseded")
SOURCE_PROVIDERS = ("codex_session", "claude_transcript", "llm_connect", "manual", "task_fallback")
SUBJECT_MAX = 500
TRANSITION_REFUSED = 409  # inferred: see the module docstring
WRITE_METHODS = frozenset({"POST", "PATCH", "PUT", "DELETE"})


@dataclass(frozen=True)
class Effect:
    """One write the stand-in accepted and applied (a replay is not a new effect)."""

    seq: int
    method: str
    path: str
    idempotency_key: str | None
    body: Any
    status: int
    answer: Any


@dataclass(frozen=True)
class Refusal:
    """One request the stand-in refused (any 4xx), with why."""

    method: str
    path: str
    idempotency_key: str | None
    body: Any
    status: int
    reason: str


class Problem(Exception):
    """An HTTP error answer: status and FastAPI-style `detail`."""

    def __init__(self, status: int, detail: Any) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail

    @property
    def reason(self) -> str:
        if isinstance(self.detail, list):
            return "; ".join(f"{'.'.join(map(str, d['loc']))}: {d['msg']}" for d in self.detail)
        if isinstance(self.detail, dict):
            return json.dumps(self.detail, sort_keys=True)
        return str(self.detail)


def _invalid(loc: tuple[Any, ...], kind: str, msg: str, value: Any) -> Problem:
    return Problem(422, [{"type": kind, "loc": list(loc), "msg": msg, "input": value}])


def _now() -> str:
    return datetime.now(UTC).isoformat()


def _new_id() -> str:
    return str(uuid.uuid4())


@dataclass
class _Request:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    raw: bytes
    params: dict[str, str] = field(default_factory=dict)

    def body(self) -> dict[str, Any]:
        """The JSON body as an object, or 422 the way FastAPI answers a bad body."""
        if not self.raw.strip():
            raise _invalid(("body",), "missing", "Field required", None)
        try:
            document = json.loads(self.raw)
        except ValueError as exc:
            raise _invalid(("body", 0), "json_invalid", f"JSON decode error: {exc}", {}) from None
        if not isinstance(document, dict):
            raise _invalid(("body",), "model_attributes_type", "Input should be a valid dictionary", document)
        return document


class _Fields:
    """Pydantic-like field checks over one JSON object; every failure is a FastAPI 422."""

    def __init__(self, data: Mapping[str, Any], where: tuple[Any, ...] = ("body",)) -> None:
        self.data = data
        self.where = where

    def _loc(self, name: str) -> tuple[Any, ...]:
        return (*self.where, name)

    def text(self, name: str, *, required: bool = False, max_length: int | None = None, non_empty: bool = False) -> Any:
        value = self.data.get(name)
        if value is None:
            if required:
                raise _invalid(self._loc(name), "missing", "Field required", dict(self.data))
            return None
        if not isinstance(value, str):
            raise _invalid(self._loc(name), "string_type", "Input should be a valid string", value)
        if non_empty and not value:
            raise _invalid(self._loc(name), "string_too_short", "String should have at least 1 character", value)
        if max_length is not None and len(value) > max_length:
            raise _invalid(
                self._loc(name), "string_too_long", f"String should have at most {max_length} characters", value
            )
        return value

    def uuid(self, name: str, *, required: bool = False) -> str | None:
        value = self.data.get(name)
        if value is None:
            if required:
                raise _invalid(self._loc(name), "missing", "Field required", dict(self.data))
            return None
        return _parse_uuid(value, self._loc(name))

    def integer(self, name: str, *, required: bool = False) -> int | None:
        value = self.data.get(name)
        if value is None:
            if required:
                raise _invalid(self._loc(name), "missing", "Field required", dict(self.data))
            return None
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise _invalid(self._loc(name), "int_type", "Input should be a non-negative integer", value)
        return value

    def boolean(self, name: str) -> bool | None:
        value = self.data.get(name)
        if value is None:
            return None
        if not isinstance(value, bool):
            raise _invalid(self._loc(name), "bool_type", "Input should be a valid boolean", value)
        return value

    def choice(self, name: str, allowed: tuple[str, ...], aliases: Mapping[str, str] | None = None) -> str | None:
        value = self.text(name)
        if value is None:
            return None
        value = (aliases or {}).get(value, value)
        if value not in allowed:
            raise _invalid(self._loc(name), "enum", f"Input should be {', '.join(map(repr, allowed))}", value)
        return value

    def mapping(self, name: str) -> dict[str, Any] | None:
        value = self.data.get(name)
        if value is not None and not isinstance(value, dict):
            raise _invalid(self._loc(name), "dict_type", "Input should be a valid dictionary", value)
        return value


def _parse_uuid(value: Any, loc: tuple[Any, ...]) -> str:
    if isinstance(value, str):
        try:
            return str(uuid.UUID(value))
        except ValueError:
            pass
    raise _invalid(loc, "uuid_parsing", "Input should be a valid UUID", value)


Handler = Callable[[_Request], tuple[int, Any]]


class StrictStateHub:
    """The stand-in's state, rules and ASGI app. Serve it with `strict_statehub(...)`."""

    def __init__(
        self,
        *,
        token: str | None = None,
        wait_requires_reason: bool = True,
        done_reopens_to: frozenset[str] = frozenset(),
    ) -> None:
        self.token = token
        self.wait_requires_reason = wait_requires_reason
        self.done_reopens_to = done_reopens_to
        self.url = ""
        self._lock = threading.RLock()
        self.domains: dict[str, dict[str, Any]] = {}
        self.topics: dict[str, dict[str, Any]] = {}
        self.repos: dict[str, dict[str, Any]] = {}
        self.workstreams: dict[str, dict[str, Any]] = {}
        self.tasks: dict[str, dict[str, Any]] = {}
        self.messages: dict[str, dict[str, Any]] = {}
        self.decisions: dict[str, dict[str, Any]] = {}
        self.progress: list[dict[str, Any]] = []
        self.token_events: dict[str, dict[str, Any]] = {}
        self.effects: list[Effect] = []
        self.refusals: list[Refusal] = []
        self.replays: list[tuple[str, str, str]] = []  # (method, path, key) answered from the key store
        self._keys: dict[str, tuple[str, int, Any]] = {}  # key -> (fingerprint, status, answer)
        self._routes: list[tuple[str, re.Pattern[str], Handler]] = []
        self._register_routes()

    # -- seeding and inspection (called by tests, not over HTTP) -------------------------------

    def seed_domain(self, slug: str, name: str | None = None, *, id: str | None = None) -> str:
        with self._lock:
            ident = id or _new_id()
            self.domains[ident] = {"id": ident, "slug": slug, "name": name or slug, "created_at": _now()}
            return ident

    def seed_topic(
        self, slug: str, title: str | None = None, *, domain: str | None = None, id: str | None = None
    ) -> str:
        with self._lock:
            ident = id or _new_id()
            self.topics[ident] = {
                "id": ident,
                "slug": slug,
                "title": title or slug,
                "domain": domain,
                "created_at": _now(),
            }
            return ident

    def seed_repo(self, slug: str, *, domain: str | None = None, id: str | None = None) -> str:
        with self._lock:
            ident = id or _new_id()
            self.repos[ident] = {"id": ident, "slug": slug, "name": slug, "domain": domain, "created_at": _now()}
            return ident

    def seed_workstream(
        self, topic_id: str | None = None, title: str = "Workstream", *, status: str = "active", id: str | None = None
    ) -> str:
        with self._lock:
            if topic_id is None:
                topic_id = self.seed_topic(f"topic-{len(self.topics) + 1}")
            return self._new_workstream({"topic_id": topic_id, "title": title, "status": status}, id or _new_id())

    def seed_task(
        self,
        workstream_id: str,
        title: str = "Task",
        *,
        status: str = "todo",
        id: str | None = None,
        blocking_reason: str | None = None,
    ) -> str:
        with self._lock:
            task = self._new_task({"workstream_id": workstream_id, "title": title}, id or _new_id())
            task.update(status=TASK_ALIASES.get(status, status), blocking_reason=blocking_reason)
            return str(task["id"])

    def seed_message(
        self,
        from_agent: str,
        to_agent: str,
        subject: str = "subject",
        body: str = "body",
        *,
        id: str | None = None,
        thread_id: str | None = None,
    ) -> str:
        with self._lock:
            fields = {"from_agent": from_agent, "to_agent": to_agent, "subject": subject, "body": body}
            return str(self._new_message({**fields, "thread_id": thread_id}, id or _new_id())["id"])

    def seed_decision(self, title: str, *, decision_type: str = "pending", id: str | None = None) -> str:
        with self._lock:
            return str(self._new_decision({"title": title, "decision_type": decision_type}, id or _new_id())["id"])

    def task(self, ident: str) -> dict[str, Any]:
        with self._lock:
            return dict(self.tasks[ident])

    def effects_on(self, method: str, path: str) -> list[Effect]:
        """Accepted writes for one method and path, oldest first (exactly-once checks)."""
        with self._lock:
            return [e for e in self.effects if e.method == method and e.path == path]

    def refusals_on(self, method: str, path: str) -> list[Refusal]:
        with self._lock:
            return [r for r in self.refusals if r.method == method and r.path == path]

    # -- ASGI --------------------------------------------------------------------------------------

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        raw = b""
        while True:
            message = await receive()
            raw += message.get("body", b"")
            if not message.get("more_body"):
                break
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        query = {}
        for part in scope.get("query_string", b"").decode().split("&"):
            if part:
                name, _, value = part.partition("=")
                query[name] = value
        request = _Request(scope["method"], scope["path"], query, headers, raw)
        with self._lock:
            status, answer, extra = self._answer(request)
        body = json.dumps(answer).encode() if answer is not None else b""
        out_headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
        out_headers += [(k.encode(), v.encode()) for k, v in extra.items()]
        await send({"type": "http.response.start", "status": status, "headers": out_headers})
        await send({"type": "http.response.body", "body": body})

    def _answer(self, request: _Request) -> tuple[int, Any, dict[str, str]]:
        key = request.headers.get("idempotency-key")
        try:
            handler = self._route(request)
            needs_token = request.path != "/state/health" and self.token is not None
            if needs_token and request.headers.get("authorization") != f"Bearer {self.token}":
                raise Problem(401, "Not authenticated")
            if request.method in WRITE_METHODS and key:
                fingerprint = _fingerprint(request)
                stored = self._keys.get(key)
                if stored is not None:
                    if stored[0] != fingerprint:
                        raise Problem(
                            409,
                            {"message": "Idempotency-Key was already used with a different request", "key": key},
                        )
                    self.replays.append((request.method, request.path, key))
                    return stored[1], stored[2], {"Idempotent-Replayed": "true"}
            status, answer = handler(request)
        except Problem as problem:
            if 400 <= problem.status < 500:
                self.refusals.append(
                    Refusal(request.method, request.path, key, _loose_json(request.raw), problem.status, problem.reason)
                )
            extra = {"Location": str(problem.detail)} if problem.status == 307 else {}
            return problem.status, None if problem.status == 307 else {"detail": problem.detail}, extra
        if request.method in WRITE_METHODS:
            self.effects.append(
                Effect(
                    len(self.effects) + 1, request.method, request.path, key, _loose_json(request.raw), status, answer
                )
            )
            if key and 200 <= status < 300:
                self._keys[key] = (_fingerprint(request), status, answer)
        return status, answer, {}

    def _route(self, request: _Request) -> Handler:
        allowed = False
        for method, pattern, handler in self._routes:
            match = pattern.fullmatch(request.path)
            if match:
                if method == request.method:
                    request.params = match.groupdict()
                    return handler
                allowed = True
        if allowed:
            raise Problem(405, "Method Not Allowed")
        other = request.path[:-1] if request.path.endswith("/") else request.path + "/"
        if any(pattern.fullmatch(other) and method == request.method for method, pattern, _ in self._routes):
            raise Problem(307, other)  # FastAPI's redirect_slashes
        raise Problem(404, "Not Found")

    def _register_routes(self) -> None:
        table: list[tuple[str, str, Handler]] = [
            ("GET", "/state/health", lambda r: (200, {"status": "ok"})),
            ("GET", "/domains/", lambda r: (200, list(self.domains.values()))),
            ("GET", "/topics/", lambda r: (200, list(self.topics.values()))),
            ("GET", "/repos/", lambda r: (200, list(self.repos.values()))),
            ("POST", "/tasks/", self._create_task),
            ("GET", "/tasks/", self._list_tasks),
            ("GET", "/tasks/{task_id}", self._get_task),
            ("PATCH", "/tasks/{task_id}", self._patch_task),
            ("POST", "/tasks/bulk-status-sync", self._bulk_status_sync),
            ("POST", "/progress/", self._add_progress),
            ("GET", "/progress/", self._list_progress),
            ("POST", "/messages/", self._send_message),
            ("GET", "/messages/", self._list_messages),
            ("PATCH", "/messages/{message_id}/read", self._mark_read),
            ("GET", "/messages/{message_id}/thread", self._thread),
            ("PATCH", "/messages/{message_id}/archive", self._archive),
            ("POST", "/decisions/", self._record_decision),
            ("GET", "/decisions/", self._list_decisions),
            ("GET", "/decisions/{decision_id}", self._get_decision),
            ("PATCH", "/decisions/{decision_id}", self._patch_decision),
            ("POST", "/decisions/{decision_id}/resolve", self._resolve_decision),
            ("POST", "/token-events/", self._token_event),
            ("POST", "/token-events/upsert", self._token_upsert),
            ("GET", "/token-events/", self._list_token_events),
        ]
        for collection in ("/workstreams", "/workplans"):
            table += [
                ("POST", f"{collection}/", self._create_workstream),
                ("GET", f"{collection}/", self._list_workstreams),
                ("PATCH", f"{collection}/{{workstream_id}}", self._patch_workstream),
            ]
        for method, template, handler in table:
            pattern = re.compile(re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", template))
            self._routes.append((method, pattern, handler))

    # -- lookups -------------------------------------------------------------------------------------

    def _path_uuid(self, request: _Request, name: str) -> str:
        return _parse_uuid(request.params[name], ("path", name))

    def _existing(self, table: dict[str, dict[str, Any]], ident: str | None, what: str) -> dict[str, Any] | None:
        if ident is None:
            return None
        found = table.get(ident)
        if found is None:
            raise Problem(404, f"{what} {ident} not found")
        return found

    # -- workstreams / workplans -------------------------------------------------------------------

    def _new_workstream(self, body: Mapping[str, Any], ident: str) -> str:
        now = _now()
        self.workstreams[ident] = {
            "id": ident,
            "topic_id": body.get("topic_id"),
            "slug": body.get("slug") or re.sub(r"[^a-z0-9]+", "-", str(body.get("title", "")).lower()).strip("-"),
            "title": body.get("title"),
            "description": body.get("description"),
            "owner": body.get("owner"),
            "status": WORKPLAN_ALIASES.get(str(body.get("status") or "proposed"), body.get("status") or "proposed"),
            "created_at": now,
            "updated_at": now,
        }
        return ident

    def _create_workstream(self, request: _Request) -> tuple[int, Any]:
        fields = _Fields(request.body())
        topic_id = fields.uuid("topic_id", required=True)
        fields.text("title", required=True, non_empty=True)
        fields.text("slug")
        fields.choice("status", WORKPLAN_STATUSES, WORKPLAN_ALIASES)
        self._existing(self.topics, topic_id, "Topic")
        ident = self._new_workstream({**fields.data, "topic_id": topic_id}, _new_id())
        return 201, self.workstreams[ident]

    def _list_workstreams(self, request: _Request) -> tuple[int, Any]:
        rows = list(self.workstreams.values())
        if "topic_id" in request.query:
            rows = [w for w in rows if w["topic_id"] == request.query["topic_id"]]
        if "status" in request.query:
            wanted = WORKPLAN_ALIASES.get(request.query["status"], request.query["status"])
            rows = [w for w in rows if w["status"] == wanted]
        return 200, rows

    def _patch_workstream(self, request: _Request) -> tuple[int, Any]:
        ident = self._path_uuid(request, "workstream_id")
        fields = _Fields(request.body())
        status = fields.choice("status", WORKPLAN_STATUSES, WORKPLAN_ALIASES)
        changes = {name: fields.text(name) for name in ("title", "description", "owner") if name in fields.data}
        row = self._existing(self.workstreams, ident, "Workstream")
        assert row is not None
        row.update(changes)
        if status is not None:
            row["status"] = status
        row["updated_at"] = _now()
        return 200, row

    # -- tasks -----------------------------------------------------------------------------------

    def _new_task(self, body: Mapping[str, Any], ident: str) -> dict[str, Any]:
        now = _now()
        task = {
            "id": ident,
            "workstream_id": body.get("workstream_id"),
            "title": body.get("title"),
            "description": body.get("description"),
            "status": "todo",
            "priority": body.get("priority") or "medium",
            "assignee": body.get("assignee"),
            "due_date": body.get("due_date"),
            "blocking_reason": None,
            "needs_human": False,
            "intervention_note": None,
            "created_at": now,
            "updated_at": now,
        }
        self.tasks[ident] = task
        return task

    def _create_task(self, request: _Request) -> tuple[int, Any]:
        fields = _Fields(request.body())
        workstream_id = fields.uuid("workstream_id", required=True)
        fields.text("title", required=True, non_empty=True)
        priority = fields.choice("priority", PRIORITIES)
        for name in ("description", "assignee", "due_date"):
            fields.text(name)
        self._existing(self.workstreams, workstream_id, "Workstream")
        task = self._new_task({**fields.data, "workstream_id": workstream_id, "priority": priority}, _new_id())
        return 201, task

    def _list_tasks(self, request: _Request) -> tuple[int, Any]:
        rows = list(self.tasks.values())
        if "workstream_id" in request.query:
            rows = [t for t in rows if t["workstream_id"] == request.query["workstream_id"]]
        if "status" in request.query:
            wanted = TASK_ALIASES.get(request.query["status"], request.query["status"])
            rows = [t for t in rows if t["status"] == wanted]
        return 200, rows[: _limit(request, 100)]

    def _get_task(self, request: _Request) -> tuple[int, Any]:
        return 200, self._existing(self.tasks, self._path_uuid(request, "task_id"), "Task")

    def _check_transition(self, task: Mapping[str, Any], target: str, blocking_reason: str | None) -> None:
        current = task["status"]
        if current == "cancel" and target != "cancel":
            raise Problem(TRANSITION_REFUSED, f"Task {task['id']}: cancel is final (cannot move cancel -> {target})")
        if current == "done" and target != "done" and target not in self.done_reopens_to:
            raise Problem(
                TRANSITION_REFUSED,
                f"Task {task['id']}: done reopens only by an explicit profile rule (done -> {target} is not one)",
            )
        if target == "wait" and self.wait_requires_reason and not (blocking_reason or task.get("blocking_reason")):
            raise _invalid(("body", "blocking_reason"), "missing", "blocking_reason is required for status wait", None)

    def _patch_task(self, request: _Request) -> tuple[int, Any]:
        ident = self._path_uuid(request, "task_id")
        fields = _Fields(request.body())
        status = fields.choice("status", TASK_STATUSES, TASK_ALIASES)
        texts = {
            name: fields.text(name)
            for name in ("blocking_reason", "intervention_note", "note", "agent", "session_id", "model")
            if name in fields.data
        }
        needs_human = fields.boolean("needs_human")
        counts = {
            name: fields.integer(name)
            for name in ("tokens_in", "tokens_out", "workplan_tokens_in", "workplan_tokens_out")
        }
        task = self._existing(self.tasks, ident, "Task")
        assert task is not None
        if status is not None:
            self._check_transition(task, status, texts.get("blocking_reason"))
            task["status"] = status
        if status == "done":  # the fleet writes a token event on done: the sent counts, else its heuristic
            exact = counts["tokens_in"] is not None or counts["tokens_out"] is not None
            tokens_in = counts["tokens_in"] or 0 if exact else 1000
            tokens_out = counts["tokens_out"] or 0 if exact else 500
            self._new_token_event(
                {
                    "task_id": task["id"],
                    "workstream_id": task["workstream_id"],
                    "tokens_in": tokens_in,
                    "tokens_out": tokens_out,
                    "tokens_total": tokens_in + tokens_out,
                    "model": texts.get("model"),
                    "agent": texts.get("agent"),
                    "session_id": texts.get("session_id"),
                    "note": None if exact else "heuristic",
                }
            )
        for name in ("blocking_reason", "intervention_note"):
            if name in texts:
                task[name] = texts[name]
        if needs_human is not None:
            task["needs_human"] = needs_human
        task["updated_at"] = _now()
        return 200, dict(task)

    def _bulk_status_sync(self, request: _Request) -> tuple[int, Any]:
        body = request.body()
        updates = body.get("updates")
        if not isinstance(updates, list) or not updates:
            raise _invalid(("body", "updates"), "list_type", "Input should be a non-empty list", updates)
        fields = _Fields(body)
        author = fields.text("author") or "custodian"
        fields.text("session_id")
        parsed: list[tuple[str, str]] = []
        for index, update in enumerate(updates):
            if not isinstance(update, dict):
                raise _invalid(("body", "updates", index), "model_type", "Input should be an object", update)
            item = _Fields(update, ("body", "updates", index))
            task_id = item.uuid("task_id", required=True)
            status = item.choice("status", TASK_STATUSES, TASK_ALIASES)
            if status is None:
                raise _invalid(("body", "updates", index, "status"), "missing", "Field required", update)
            assert task_id is not None
            parsed.append((task_id, status))
        seen: set[str] = set()
        duplicates: list[str] = []
        for task_id, _ in parsed:
            (duplicates.append if task_id in seen else seen.add)(task_id)
        if duplicates:
            raise Problem(400, {"message": "duplicate task_id values are not allowed", "task_ids": duplicates})
        missing = [t for t, _ in parsed if t not in self.tasks]
        if missing:
            raise Problem(404, {"message": "one or more tasks were not found", "task_ids": missing})
        for task_id, status in parsed:  # all or nothing: check every transition before applying one
            self._check_transition(self.tasks[task_id], status, None)
        updated, events = [], []
        for task_id, status in parsed:
            task = self.tasks[task_id]
            previous, task["status"], task["updated_at"] = task["status"], status, _now()
            updated.append(dict(task))
            if previous != status:
                events.append(
                    self._new_progress(
                        {
                            "summary": f"Task {task['title']}: {previous} -> {status}",
                            "event_type": "task_status_changed",
                            "author": author,
                            "task_id": task_id,
                            "workstream_id": task["workstream_id"],
                        }
                    )
                )
        return 200, {"updated": updated, "events": events}

    # -- progress ----------------------------------------------------------------------------------

    def _new_progress(self, fields: Mapping[str, Any]) -> dict[str, Any]:
        event = {
            "id": _new_id(),
            "summary": fields.get("summary"),
            "event_type": fields.get("event_type"),
            "author": fields.get("author") or "custodian",
            "topic_id": fields.get("topic_id"),
            "workstream_id": fields.get("workstream_id"),
            "task_id": fields.get("task_id"),
            "decision_id": fields.get("decision_id"),
            "detail": fields.get("detail"),
            "created_at": _now(),
        }
        self.progress.append(event)
        return event

    def _add_progress(self, request: _Request) -> tuple[int, Any]:
        fields = _Fields(request.body())
        summary = fields.text("summary", required=True, non_empty=True)
        event_type = fields.text("event_type", required=True, non_empty=True)
        author = fields.text("author")
        ids = {
            name: fields.uuid(name) for name in ("topic_id", "workstream_id", "workplan_id", "task_id", "decision_id")
        }
        detail = fields.mapping("detail")
        workstream_id = ids["workstream_id"] or ids["workplan_id"]
        self._existing(self.topics, ids["topic_id"], "Topic")
        self._existing(self.workstreams, workstream_id, "Workstream")
        self._existing(self.tasks, ids["task_id"], "Task")
        self._existing(self.decisions, ids["decision_id"], "Decision")
        event = self._new_progress(
            {
                "summary": summary,
                "event_type": event_type,
                "author": author,
                **ids,
                "workstream_id": workstream_id,
                "detail": detail,
            }
        )
        return 201, event

    def _list_progress(self, request: _Request) -> tuple[int, Any]:
        rows = list(reversed(self.progress))
        for name in ("event_type", "topic_id", "workstream_id", "task_id"):
            if name in request.query:
                rows = [e for e in rows if e[name] == request.query[name]]
        if "since" in request.query:
            rows = [e for e in rows if e["created_at"] > request.query["since"]]
        return 200, rows[: _limit(request, 50)]

    # -- messages ----------------------------------------------------------------------------------

    def _new_message(self, fields: Mapping[str, Any], ident: str) -> dict[str, Any]:
        message = {
            "id": ident,
            "from_agent": fields["from_agent"],
            "to_agent": fields["to_agent"],
            "subject": fields["subject"],
            "body": fields["body"],
            "thread_id": fields.get("thread_id"),
            "read": False,
            "read_at": None,
            "archived": False,
            "created_at": _now(),
        }
        self.messages[ident] = message
        return message

    def _send_message(self, request: _Request) -> tuple[int, Any]:
        fields = _Fields(request.body())
        values = {
            "from_agent": fields.text("from_agent", required=True),
            "to_agent": fields.text("to_agent", required=True),
            "subject": fields.text("subject", required=True, max_length=SUBJECT_MAX),
            "body": fields.text("body", required=True),
            "thread_id": fields.uuid("thread_id"),
        }
        if values["thread_id"] and values["thread_id"] not in self.messages:
            raise Problem(404, f"Thread root {values['thread_id']} not found")
        return 201, self._new_message(values, _new_id())

    def _list_messages(self, request: _Request) -> tuple[int, Any]:
        rows = sorted(self.messages.values(), key=lambda m: m["created_at"], reverse=True)
        for name in ("to_agent", "from_agent"):
            if name in request.query:
                rows = [m for m in rows if m[name] == request.query[name]]
        if request.query.get("unread_only", "false").lower() in {"true", "1"}:
            rows = [m for m in rows if not m["read"]]
        return 200, rows[: _limit(request, 20)]

    def _mark_read(self, request: _Request) -> tuple[int, Any]:
        message = self._existing(self.messages, self._path_uuid(request, "message_id"), "Message")
        assert message is not None
        if not message["read"]:
            message.update(read=True, read_at=_now())
        return 200, message

    def _thread(self, request: _Request) -> tuple[int, Any]:
        root = self._existing(self.messages, self._path_uuid(request, "message_id"), "Message")
        assert root is not None
        replies = sorted(
            (m for m in self.messages.values() if m["thread_id"] == root["id"]), key=lambda m: m["created_at"]
        )
        return 200, [root, *replies]

    def _archive(self, request: _Request) -> tuple[int, Any]:
        # Inferred path and method (the router has "archive"; only its existence is seen): sets archived.
        message = self._existing(self.messages, self._path_uuid(request, "message_id"), "Message")
        assert message is not None
        if not message["archived"]:
            message.update(archived=True, archived_at=_now())
        return 200, message

    # -- decisions ---------------------------------------------------------------------------------

    def _new_decision(self, fields: Mapping[str, Any], ident: str) -> dict[str, Any]:
        decision_type = fields.get("decision_type") or "pending"
        now = _now()
        decision = {
            "id": ident,
            "title": fields.get("title"),
            "decision_type": decision_type,
            "status": fields.get("status") or ("resolved" if decision_type == "made" else "open"),
            "topic_id": fields.get("topic_id"),
            "workstream_id": fields.get("workstream_id"),
            "description": fields.get("description"),
            "context": fields.get("context"),
            "options": fields.get("options"),
            "category": fields.get("category"),
            "deadline": fields.get("deadline"),
            "rationale": fields.get("rationale"),
            "decided_by": fields.get("decided_by"),
            "resolved_at": None,
            "created_at": now,
            "updated_at": now,
        }
        self.decisions[ident] = decision
        return decision

    def _record_decision(self, request: _Request) -> tuple[int, Any]:
        fields = _Fields(request.body())
        values = {
            "title": fields.text("title", required=True, non_empty=True),
            "decision_type": fields.choice("decision_type", DECISION_TYPES),
            "status": fields.choice("status", DECISION_STATUSES),
            "topic_id": fields.uuid("topic_id"),
            "workstream_id": fields.uuid("workstream_id"),
            **{name: fields.text(name) for name in ("description", "context", "rationale", "decided_by", "category")},
            "deadline": fields.text("deadline"),
            "options": request.body().get("options"),
        }
        if values["topic_id"] is None and values["workstream_id"] is None:
            raise _invalid(("body",), "value_error", "topic_id or workstream_id is required", fields.data)
        self._existing(self.topics, values["topic_id"], "Topic")
        self._existing(self.workstreams, values["workstream_id"], "Workstream")
        if values["decision_type"] == "pending" and (values["category"] or "") in ("financial", "legal"):
            values["status"] = values["status"] or "escalated"
        return 201, self._new_decision(values, _new_id())

    def _list_decisions(self, request: _Request) -> tuple[int, Any]:
        rows = list(self.decisions.values())
        for name in ("decision_type", "topic_id", "status"):
            if name in request.query:
                rows = [d for d in rows if d[name] == request.query[name]]
        return 200, sorted(rows, key=lambda d: (d["deadline"] is None, d["deadline"] or "", d["created_at"]))

    def _get_decision(self, request: _Request) -> tuple[int, Any]:
        return 200, self._existing(self.decisions, self._path_uuid(request, "decision_id"), "Decision")

    def _patch_decision(self, request: _Request) -> tuple[int, Any]:
        ident = self._path_uuid(request, "decision_id")
        fields = _Fields(request.body())
        texts = ("title", "description", "context", "rationale", "decided_by", "category", "deadline")
        changes: dict[str, Any] = {name: fields.text(name) for name in texts if name in fields.data}
        for name, allowed in (("status", DECISION_STATUSES), ("decision_type", DECISION_TYPES)):
            if name in fields.data:
                changes[name] = fields.choice(name, allowed)
        decision = self._existing(self.decisions, ident, "Decision")
        assert decision is not None
        decision.update(changes, updated_at=_now())
        return 200, decision

    def _resolve_decision(self, request: _Request) -> tuple[int, Any]:
        ident = self._path_uuid(request, "decision_id")
        fields = _Fields(request.body())
        rationale = fields.text("rationale", required=True, non_empty=True)
        decided_by = fields.text("decided_by", required=True, non_empty=True)
        fields.boolean("write_log")
        decision = self._existing(self.decisions, ident, "Decision")
        assert decision is not None
        if decision["status"] in ("resolved", "superseded"):
            raise Problem(409, f"Decision {ident} is already {decision['status']}")
        now = _now()
        decision.update(
            status="resolved",
            decision_type="made",
            rationale=rationale,
            decided_by=decided_by,
            resolved_at=now,
            updated_at=now,
        )
        self._new_progress(
            {
                "summary": f"Decision resolved: {decision['title']}",
                "event_type": "decision_resolved",
                "author": decided_by,
                "topic_id": decision["topic_id"],
                "workstream_id": decision["workstream_id"],
                "decision_id": ident,
            }
        )
        return 200, decision

    # -- token events ------------------------------------------------------------------------------

    def _token_fields(self, request: _Request) -> dict[str, Any]:
        fields = _Fields(request.body())
        values: dict[str, Any] = {
            "tokens_in": fields.integer("tokens_in", required=True),
            "tokens_out": fields.integer("tokens_out", required=True),
            **{
                name: fields.text(name)
                for name in ("model", "agent", "session_id", "note", "ref_type", "ref_id", "source_id", "source_path")
            },
            "measurement_kind": fields.choice("measurement_kind", MEASUREMENT_KINDS),
            "source_provider": fields.choice("source_provider", SOURCE_PROVIDERS),
            "cached_input_tokens": fields.integer("cached_input_tokens"),
            "reasoning_output_tokens": fields.integer("reasoning_output_tokens"),
            "task_id": fields.uuid("task_id"),
            "workstream_id": fields.uuid("workstream_id"),
            "repo_id": fields.uuid("repo_id"),
        }
        task = self._existing(self.tasks, values["task_id"], "Task")
        self._existing(self.workstreams, values["workstream_id"], "Workstream")
        if task is not None and values["workstream_id"] is None:
            values["workstream_id"] = task["workstream_id"]  # auto-filled from the task
        values["tokens_total"] = values["tokens_in"] + values["tokens_out"]
        return values

    def _new_token_event(self, values: Mapping[str, Any]) -> dict[str, Any]:
        event = {"id": _new_id(), **values, "created_at": _now()}
        self.token_events[event["id"]] = event
        return event

    def _token_event(self, request: _Request) -> tuple[int, Any]:
        return 201, self._new_token_event(self._token_fields(request))

    def _token_upsert(self, request: _Request) -> tuple[int, Any]:
        values = self._token_fields(request)
        key = ("measurement_kind", "source_provider", "source_id")
        for name in key:
            if not values[name]:
                raise _invalid(("body", name), "missing", "Field required", values)
        for event in self.token_events.values():
            if all(event.get(name) == values[name] for name in key):
                event.update(values)
                return 200, event
        return 201, self._new_token_event(values)

    def _list_token_events(self, request: _Request) -> tuple[int, Any]:
        rows = sorted(self.token_events.values(), key=lambda e: e["created_at"], reverse=True)
        for name in ("task_id", "workstream_id", "repo_id", "model", "agent", "session_id", "ref_id", "note"):
            if name in request.query:
                rows = [e for e in rows if e.get(name) == request.query[name]]
        return 200, rows[: _limit(request, 100)]


def _limit(request: _Request, default: int) -> int:
    raw = request.query.get("limit")
    if raw is None:
        return default
    if not raw.isdigit():
        raise _invalid(("query", "limit"), "int_parsing", "Input should be a valid integer", raw)
    return int(raw)


def _fingerprint(request: _Request) -> str:
    canonical = json.dumps(_loose_json(request.raw), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(f"{request.method} {request.path} {canonical}".encode()).hexdigest()


def _loose_json(raw: bytes) -> Any:
    try:
        return json.loads(raw) if raw.strip() else None
    except ValueError:
        return raw.decode("utf-8", errors="replace")


@contextlib.contextmanager
def strict_statehub(**options: Any) -> Iterator[StrictStateHub]:
    """Serve a fresh StrictStateHub (uvicorn in a thread) on a free loopback port; `.url` is set."""
    import uvicorn

    hub = StrictStateHub(**options)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    hub.url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    server = uvicorn.Server(uvicorn.Config(hub, log_level="warning", lifespan="off", access_log=False))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, name="strict-statehub", daemon=True)
    thread.start()
    try:
        from tests.support.waiting import wait_for

        wait_for(lambda: server.started, timeout=10, what="the strict State Hub stand-in to start")
        yield hub
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()
