"""The Litestar application: REST routes, problem+json errors, offline docs, and the mounts it is given.

MCP and the dashboard plug in as extensions (route handlers plus a lifespan) that the daemon
passes in (devhub.daemon.app), so this module never imports them.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Sequence
from contextlib import AsyncExitStack, asynccontextmanager
from typing import Any

from litestar import Litestar, Request, Response
from litestar.exceptions import HTTPException, ValidationException
from litestar.openapi import OpenAPIConfig
from litestar.openapi.plugins import JsonRenderPlugin

from devhub._version import __version__
from devhub.adapters.api.create_routes import CREATE_ROUTES
from devhub.adapters.api.decision_routes import DECISION_ROUTES
from devhub.adapters.api.docs import OfflineDocsPlugin
from devhub.adapters.api.message_routes import MESSAGE_ROUTES
from devhub.adapters.api.read_routes import READ_ROUTES
from devhub.adapters.api.statehub_routes import STATEHUB_ROUTES
from devhub.adapters.api.time_routes import TIME_ROUTES
from devhub.adapters.api.write_routes import WRITE_ROUTES
from devhub.adapters.extension import Extension
from devhub.daemon.logs import log_refusal, one_line
from devhub.errors import DevhubError
from devhub.service.hub import Hub
from devhub.service.local import LocalHub
from devhub.settings import MAX_BODY_BYTES

log = logging.getLogger("devhub.adapters.api")

PROBLEM_JSON = "application/problem+json"


def _problem(status: int, title: str, detail: str, **extra: Any) -> Response[dict[str, Any]]:
    body = {"type": "about:blank", "title": title, "status": status, "detail": detail, **extra}
    return Response(body, status_code=status, media_type=PROBLEM_JSON)


def _devhub_error(request: Request[Any, Any, Any], exc: DevhubError) -> Response[dict[str, Any]]:
    if exc.status < 500:
        log_refusal(request.method, request.url.path, exc.status, exc.detail)
    else:
        log.error("%s on %s %s: %s", exc.status, request.method, one_line(request.url.path, 200), one_line(exc.detail))
    return Response(exc.problem(), status_code=exc.status, media_type=PROBLEM_JSON)


def _validation_error(request: Request[Any, Any, Any], exc: ValidationException) -> Response[dict[str, Any]]:
    params = []
    for item in exc.extra if isinstance(exc.extra, list) else []:
        if isinstance(item, dict):
            params.append({"name": item.get("key"), "reason": item.get("message"), "in": item.get("source")})
    names = ", ".join(str(p["name"]) for p in params if p["name"]) or "the request"
    detail = f"invalid value for {names}: " + "; ".join(str(p["reason"]) for p in params) if params else exc.detail
    log_refusal(request.method, request.url.path, 400, detail)
    return _problem(400, "Bad request", detail, invalid_params=params)


def _http_error(request: Request[Any, Any, Any], exc: HTTPException) -> Response[dict[str, Any]]:
    detail = exc.detail
    if exc.status_code == 404 and detail in ("Not Found", ""):
        detail = f"no such endpoint: {request.method} {request.url.path} (see /schema)"
    elif exc.status_code == 405:
        detail = f"{request.method} is not allowed on {request.url.path} (see /schema)"
    elif exc.status_code == 413:
        detail = f"request body over the {MAX_BODY_BYTES}-byte (64 KiB) limit"
    if exc.status_code < 500:
        log_refusal(request.method, request.url.path, exc.status_code, detail)
    else:
        log.error("%s on %s %s: %s", exc.status_code, request.method, one_line(request.url.path, 200), one_line(detail))
    return _problem(exc.status_code, _title(exc.status_code), detail)


def _internal_error(request: Request[Any, Any, Any], exc: Exception) -> Response[dict[str, Any]]:
    log.exception("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    return _problem(500, "Internal error", f"{type(exc).__name__}: {exc} (see the daemon log)")


def _title(status: int) -> str:
    from http import HTTPStatus

    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


def create_app(hub: Hub, extensions: Sequence[Extension] = ()) -> Litestar:
    """The REST app for one hub, plus the route handlers and lifespans of the `extensions` it is given."""

    @asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        await hub.start()
        try:
            async with AsyncExitStack() as stack:
                for extension in extensions:
                    if extension.lifespan is not None:
                        await stack.enter_async_context(extension.lifespan())
                yield
        finally:
            await hub.stop()

    handlers: list[Any] = [*READ_ROUTES, *WRITE_ROUTES, *STATEHUB_ROUTES, *DECISION_ROUTES, *MESSAGE_ROUTES]
    handlers.extend(CREATE_ROUTES)  # -- creating work offline --
    handlers.extend(TIME_ROUTES)  # -- time: activity, workplan history, relay samples --
    for extension in extensions:
        handlers.extend(extension.route_handlers)
    app = Litestar(
        route_handlers=handlers,
        lifespan=[lifespan],
        exception_handlers={
            DevhubError: _devhub_error,
            ValidationException: _validation_error,
            HTTPException: _http_error,
            Exception: _internal_error,
        },
        openapi_config=OpenAPIConfig(
            title="devhub — local State Hub",
            version=__version__,
            path="/schema",
            render_plugins=[OfflineDocsPlugin(path="/"), JsonRenderPlugin(path="/openapi.json")],
        ),
        request_max_body_size=MAX_BODY_BYTES * 4,
        debug=False,
        logging_config=None,
    )
    app.state.hub = hub
    app.state.port = LocalHub(hub)  # what every route calls
    app.state.extensions = list(extensions)
    return app
