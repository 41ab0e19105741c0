"""The dashboard's HTTP handlers: HTML pages rendered with Jinja2, the live event stream, static assets."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncGenerator, Awaitable, Callable
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, select_autoescape
from litestar import Request, Response, get
from litestar.response import ServerSentEvent
from litestar.response.sse import ServerSentEventMessage
from litestar.static_files import create_static_files_router
from markupsafe import Markup

from devhub._version import __version__
from devhub.adapters.api.root import api_root_document, wants_html
from devhub.adapters.dashboard import forms, pages, panels
from devhub.adapters.dashboard.snapshot_label import snapshot_panel
from devhub.errors import Ambiguous, DevhubError
from devhub.model import TASK_STATUSES
from devhub.service.hub import Hub
from devhub.service.local import LocalHub

HERE = Path(__file__).parent
KEEPALIVE_SECONDS = 15.0
# The pages use only this daemon's own scripts, styles and endpoints: the browser enforces "no network".
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self';"
    " form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
)

_environment = Environment(
    loader=FileSystemLoader(HERE / "templates"),
    autoescape=select_autoescape(["html"]),
    trim_blocks=True,
    lstrip_blocks=True,
)
_environment.globals.update(
    workplan_href=pages.workplan_href, task_href=pages.task_href, version=__version__, task_statuses=TASK_STATUSES
)


def _snippet(text: str | None) -> Markup:
    """A search snippet with its `[hit]` markers shown as <mark>, everything else escaped."""
    escaped = str(Markup.escape(text or ""))
    return Markup(escaped.replace("[", "<mark>").replace("]", "</mark>"))


_environment.filters["snippet"] = _snippet
_environment.filters["json"] = lambda value: json.dumps(value, indent=2, sort_keys=True, default=str)


def render(template: str, status_code: int = 200, **context: Any) -> Response[str]:
    """A full HTML page; the live script swaps its `data-live` regions from a fresh copy on change."""
    html = _environment.get_template(template).render(**context)
    return Response(
        html,
        status_code=status_code,
        media_type="text/html",
        headers={"Content-Security-Policy": CSP, "Cache-Control": "no-store"},
    )


def hub_of(request: Request[Any, Any, Any]) -> Hub:
    hub: Hub = request.app.state.hub
    return hub


def port_of(request: Request[Any, Any, Any]) -> LocalHub:
    """The port the REST routes call too: a page shows what the API answers."""
    port: LocalHub = request.app.state.port
    return port


async def _page(template: str, gather: Callable[[], Awaitable[dict[str, Any]]], **context: Any) -> Response[str]:
    """Render `template` with what `gather` returns; hub errors become an error page with the same status."""
    try:
        data = await gather()
    except Ambiguous as exc:
        return render("error.html", exc.status, error=exc, candidates=exc.extra.get("candidates", []), **context)
    except DevhubError as exc:
        return render("error.html", exc.status, error=exc, candidates=[], **context)
    return render(template, **context, **data)


def make_handlers(backlog: pages.JournalBacklog) -> list[Any]:
    """Every dashboard route; `backlog` keeps the incremental journal count between requests."""

    @get("/", include_in_schema=False)
    async def overview(request: Request[Any, Any, Any], by: str = "workplan") -> Response[Any]:
        if not wants_html(request):  # API clients get the API's metadata, as from the fleet hub's root
            return Response(api_root_document(request), media_type="application/json")
        hub = port_of(request)

        async def gather() -> dict[str, Any]:
            data = await pages.overview(hub, backlog, by)
            # the fleet dashboard's panels (panels.py), and the fleet snapshot's age on two of them
            return data | panels.fleet_panels(data["summary"]) | snapshot_panel(data["summary"])

        return await _page("overview.html", gather, nav="overview", **_form_context(request))

    @get("/ui/workplans/{ident:str}", include_in_schema=False)
    async def workplan(request: Request[Any, Any, Any], ident: str, repo: str | None = None) -> Response[str]:
        hub = port_of(request)
        return await _page(
            "workplan.html",
            lambda: pages.workplan(hub, ident, repo),
            nav="",
            link=pages.workplan_href,
            **_form_context(request),
        )

    @get("/ui/tasks/{ident:str}", include_in_schema=False)
    async def task(request: Request[Any, Any, Any], ident: str, repo: str | None = None) -> Response[str]:
        hub = port_of(request)
        return await _page(
            "task.html", lambda: pages.task(hub, ident, repo), nav="", link=pages.task_href, **_form_context(request)
        )

    @get("/ui/search", include_in_schema=False)
    async def search(request: Request[Any, Any, Any], q: str = "") -> Response[str]:
        hub = port_of(request)
        return await _page("search.html", lambda: pages.search(hub, q), nav="search")

    @get("/ui/relay", include_in_schema=False)
    async def relay(request: Request[Any, Any, Any]) -> Response[str]:
        hub = hub_of(request)
        return await _page("relay.html", lambda: pages.relay(hub), nav="relay")

    @get("/ui/events", include_in_schema=False)
    async def events(request: Request[Any, Any, Any]) -> ServerSentEvent:
        return ServerSentEvent(change_stream(hub_of(request)), headers={"Cache-Control": "no-store"})

    static = create_static_files_router(
        path="/ui/static", directories=[HERE / "static"], name="dashboard-static", include_in_schema=False
    )
    return [overview, workplan, task, search, relay, events, static, *forms.make_form_routes(_error_page)]


def _form_context(request: Request[Any, Any, Any]) -> dict[str, Any]:
    """What the write forms need: whether they are on, a fresh Idempotency-Key maker, this page's path."""
    back = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return {"forms_enabled": forms.forms_enabled(request), "form_key": forms.new_form_key, "here": back}


def _error_page(error: DevhubError) -> Response[str]:
    candidates = error.extra.get("candidates", []) if isinstance(error, Ambiguous) else []
    return render("error.html", error.status, error=error, candidates=candidates, nav="")


async def change_stream(hub: Hub) -> AsyncGenerator[ServerSentEventMessage, None]:
    """`change` events for every hub event, a keep-alive comment when idle; unsubscribes when the client goes.

    Litestar cancels this generator when the client disconnects, and uvicorn's graceful
    stop disconnects open streams, so the `finally` always runs.
    """
    queue = hub.events.subscribe()
    try:
        yield ServerSentEventMessage(event="hello", data=json.dumps({"version": __version__}), retry=2000)
        while True:
            try:
                event = await asyncio.wait_for(queue.get(), timeout=KEEPALIVE_SECONDS)
            except TimeoutError:
                yield ServerSentEventMessage(comment="keep-alive")  # keeps proxies and idle timers from closing it
                continue
            yield ServerSentEventMessage(event="change", id=event.get("id"), data=json.dumps(event, default=str))
    finally:
        hub.events.unsubscribe(queue)
