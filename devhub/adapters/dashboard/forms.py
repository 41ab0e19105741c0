"""The dashboard's write forms: plain HTML POSTs that call the same port methods as the REST writes.

So a status flip or a mark-read from the page is validated, journaled, applied and relayed exactly
like `PATCH /tasks/{id}` or `PATCH /messages/{id}/read`. Each form carries a fresh Idempotency-Key,
so submitting it twice (a reload, a double click) writes once.

Cross-site requests: the security middleware already refuses any non-loopback Host or Origin, and
with DEVHUB_TOKEN set it refuses every write without the bearer token (a browser form cannot send
one, so the forms are hidden then). A form POST is a "simple" request any page may send, so these
routes are stricter than the API: the request must carry an `Origin` equal to this daemon's own
(`http://<Host>`) — another local app on another port is refused too — and the redirect after the
write goes only to a path on this site.

Each form is one handler here calling its port method, plus a `<form>` in its panel (the status form on
the task page, mark-read in the inbox, resolve in the blocking-decisions panel) — see docs/dashboard.md.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from typing import Any

from litestar import Request, Response, post
from litestar.enums import RequestEncodingType
from litestar.params import Body

from devhub.errors import DevhubError, Forbidden
from devhub.service.local import LocalHub

FORM_AGENT = "dashboard"  # who the journal says wrote, when the form names nobody
Form = dict[str, str]
FORM_BODY = Body(media_type=RequestEncodingType.URL_ENCODED)


def new_form_key() -> str:
    """A fresh Idempotency-Key for one rendering of a form."""
    return f"dashboard-{uuid.uuid4()}"


def forms_enabled(request: Request[Any, Any, Any]) -> bool:
    """False when DEVHUB_TOKEN guards writes: a browser form cannot carry the bearer token."""
    return request.app.state.hub.config.token is None


def _same_origin(request: Request[Any, Any, Any]) -> None:
    origin = request.headers.get("origin")
    host = request.headers.get("host", "")
    if origin is None or origin.rstrip("/").lower() not in (f"http://{host}".lower(), f"https://{host}".lower()):
        raise Forbidden(
            f"a dashboard form must come from this dashboard (Origin {origin!r}, expected http://{host}); "
            "cross-site form posts are refused"
        )


# A path on this site: one leading slash, then no slash or backslash (browsers read `/\\x` as `//x`),
# and no whitespace or control characters (browsers drop tabs and newlines, so `/\t/x` would become `//x`).
_LOCAL_PATH = re.compile(r"/(?![/\\])[^\s\\\x00-\x1f\x7f]*")


def _back(target: str | None) -> str:
    """Where to go after the write: a path on this site only (never `//elsewhere`, `/\\elsewhere` or a URL)."""
    return target if target and _LOCAL_PATH.fullmatch(target) else "/"


def _done(data: Form) -> Response[str]:
    return Response("", status_code=303, headers={"Location": _back(data.get("back"))})


def _port(request: Request[Any, Any, Any]) -> LocalHub:
    port: LocalHub = request.app.state.port
    return port


def make_form_routes(error_page: Callable[[DevhubError], Response[str]]) -> list[Any]:
    """The form handlers; a refused or invalid write answers `error_page(error)` (HTML, the error's status)."""

    @post("/ui/tasks/{ident:str}/status", include_in_schema=False, status_code=303)
    async def task_status(request: Request[Any, Any, Any], ident: str, data: Form = FORM_BODY) -> Response[str]:
        """Flip a task's status (with an optional note) through `patch_task`, as `PATCH /tasks/{id}` does."""
        body: dict[str, Any] = {"status": data.get("status", "")}
        for name in ("note", "blocking_reason"):  # wait needs a blocking_reason (the status canon)
            if data.get(name, "").strip():
                body[name] = data[name].strip()
        try:
            _same_origin(request)
            await _port(request).patch_task(ident, data.get("repo") or None, body, data.get("key") or None, FORM_AGENT)
        except DevhubError as exc:
            return error_page(exc)
        return _done(data)

    @post("/ui/messages/{message_id:str}/read", include_in_schema=False, status_code=303)
    async def message_read(request: Request[Any, Any, Any], message_id: str, data: Form = FORM_BODY) -> Response[str]:
        """Mark a message read through `mark_message_read`, as `PATCH /messages/{id}/read` does."""
        try:
            _same_origin(request)
            await _port(request).mark_message_read(message_id, {}, data.get("key") or None, FORM_AGENT)
        except DevhubError as exc:
            return error_page(exc)
        return _done(data)

    # -- decisions (the overview's blocking-decisions panel) --

    @post("/ui/decisions/{decision_id:str}/resolve", include_in_schema=False, status_code=303)
    async def decision_resolve(
        request: Request[Any, Any, Any], decision_id: str, data: Form = FORM_BODY
    ) -> Response[str]:
        """Resolve a decision through `resolve_decision`, as `POST /decisions/{id}/resolve` does."""
        body = {name: data[name].strip() for name in ("rationale", "decided_by") if data.get(name, "").strip()}
        try:
            _same_origin(request)
            await _port(request).resolve_decision(decision_id, body, data.get("key") or None, FORM_AGENT)
        except DevhubError as exc:
            return error_page(exc)
        return _done(data)

    return [task_status, message_read, decision_resolve]
