"""The Backend for `devhub mcp` (stdio): each operation is the REST call it mirrors, over httpx.

Because the daemon answers with the same functions the in-process backend calls, a tool's
JSON is identical on both transports. The few operations with no REST endpoint (register a
repo, consistency checks, a workplan's markdown, the brief) are forwarded to the daemon's own
/mcp endpoint, so they too run the daemon's code.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import asynccontextmanager
from typing import Any

import httpx2 as httpx  # the SDK's HTTP client (httpx API), already loaded by mcp: no second import

from devhub.adapters.mcp.backend import Json
from devhub.errors import DevhubError
from devhub.service.idempotency import checked_key

REQUEST_TIMEOUT_SECONDS = 60.0
UrlSource = Callable[[], Awaitable[str]]
_TOOL_ERROR_PREFIX = "Error executing tool "


class HubRefused(DevhubError):
    """The hub answered a call with an error; status, title and detail are the hub's own."""

    def __init__(self, status: int, title: str, detail: str, *, verbatim: bool = False, **extra: Any) -> None:
        super().__init__(detail, **extra)
        self.status = status
        self.title = title
        self.verbatim = verbatim  # the text is already a finished tool-error message


class HubUnreachable(DevhubError):
    status = 503
    title = "Hub unreachable"


def _params(values: Mapping[str, Any]) -> dict[str, str]:
    """Query parameters as the REST API reads them (booleans as true/false, None left out)."""
    out: dict[str, str] = {}
    for key, value in values.items():
        if value is None:
            continue
        out[key] = ("true" if value else "false") if isinstance(value, bool) else str(value)
    return out


class RestBackend:
    """Proxies every operation to a hub's REST API (and, where REST has none, to its /mcp)."""

    def __init__(self, base_url: str | UrlSource, token: str | None = None) -> None:
        self._source = None if isinstance(base_url, str) else base_url
        self.base_url = base_url.rstrip("/") if isinstance(base_url, str) else ""
        self.token = token
        headers = {"Accept": "application/json", "User-Agent": "devhub-mcp-stdio"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        self._headers = headers
        self._client: httpx.AsyncClient | None = None

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.aclose()

    async def _http(self) -> httpx.AsyncClient:
        """The client for the current base URL (a local daemon may have been restarted on another port)."""
        if self._source is not None:
            url = (await self._source()).rstrip("/")
            if url != self.base_url and self._client is not None:
                await self._client.aclose()
                self._client = None
            self.base_url = url
        if self._client is None:
            self._client = httpx.AsyncClient(base_url=self.base_url, headers=self._headers,
                                             timeout=REQUEST_TIMEOUT_SECONDS)
        return self._client

    async def _call(
        self, method: str, path: str, *, params: Mapping[str, Any] | None = None, body: Any = None,
        key: str | None = None,
    ) -> Json:
        # What cannot travel in a header is refused here with the daemon's own rule (its role adds the rest).
        key = checked_key(key, reserve_separator=False)
        headers = {"Idempotency-Key": key} if key else None
        for attempt in (1, 2):
            client = await self._http()
            try:
                response = await client.request(method, path, params=_params(params or {}), json=body,
                                                headers=headers)
                break
            except httpx.ConnectError as exc:
                # Refused before anything was sent: a local daemon may have restarted; find it once more.
                if self._source is not None and attempt == 1:
                    continue
                raise HubUnreachable(f"the hub at {self.base_url} does not answer {method} {path}: {exc}") from None
            except httpx.HTTPError as exc:
                raise HubUnreachable(f"the hub at {self.base_url} does not answer {method} {path}: {exc}") from None
            except (httpx.InvalidURL, UnicodeEncodeError) as exc:
                # The arguments cannot travel as HTTP at all (an id too long for a URL, a header that is
                # not ASCII): the caller's to fix, like any other 400, not a crash of the tool.
                shown = path if len(path) <= 120 else path[:120] + "…"
                raise HubRefused(400, "Bad request", f"{method} {shown} cannot be sent to the hub: {exc}") from None
        if response.status_code >= 400:
            raise _refusal(response)
        return response.json() if response.content else None

    # -- reads -------------------------------------------------------------------------------------

    async def orient(self, repo: str | None, domain: str | None) -> Json:
        return await self._call("GET", "/orient", params={"repo": repo, "domain": domain})

    async def summary(self) -> Json:
        return await self._call("GET", "/state/summary")

    async def workplans(self, filters: Mapping[str, Any]) -> Json:
        return await self._call("GET", "/workplans/", params=filters)

    async def workplan(self, ident: str, repo: str | None) -> Json:
        return await self._call("GET", f"/workplans/{_segment(ident)}", params={"repo": repo})

    async def tasks(self, filters: Mapping[str, Any]) -> Json:
        return await self._call("GET", "/tasks/", params=filters)

    async def task(self, ident: str, repo: str | None) -> Json:
        return await self._call("GET", f"/tasks/{_segment(ident)}", params={"repo": repo})

    async def progress(self, filters: Mapping[str, Any]) -> Json:
        return await self._call("GET", "/progress/", params=filters)

    async def messages(self, to_agent: str | None, unread_only: bool) -> Json:
        return await self._call("GET", "/messages/", params={"to_agent": to_agent, "unread_only": unread_only})

    async def search(self, q: str, limit: int) -> Json:
        return await self._call("GET", "/search", params={"q": q, "limit": limit})

    async def relay(self) -> Json:
        return await self._call("GET", "/relay")

    # -- writes ------------------------------------------------------------------------------------

    async def patch_task(self, ident: str, repo: str | None, body: dict[str, Any], key: str | None) -> Json:
        return await self._call("PATCH", f"/tasks/{_segment(ident)}", params={"repo": repo}, body=body, key=key)

    async def bulk_status_sync(self, body: dict[str, Any], key: str | None) -> Json:
        return await self._call("POST", "/tasks/bulk-status-sync", body=body, key=key)

    async def add_progress(self, body: dict[str, Any], key: str | None) -> Json:
        return await self._call("POST", "/progress/", body=body, key=key)

    async def send_message(self, body: dict[str, Any], key: str | None) -> Json:
        return await self._call("POST", "/messages/", body=body, key=key)

    async def mark_message_read(self, message_id: str, key: str | None) -> Json:
        return await self._call("PATCH", f"/messages/{_segment(message_id)}/read", body={}, key=key)

    # -- no REST endpoint: forwarded to the daemon's /mcp --------------------------------------------

    async def register_repo(self, path: str) -> Json:
        return await self._forward_tool("register_repo", {"path": path})

    async def check_consistency(self, repo: str | None) -> Json:
        return await self._forward_tool("check_repo_consistency", {"repo": repo} if repo else {})

    async def workplan_markdown(self, ident: str) -> str:
        return await self._forward_resource(f"workplan://{ident}")

    async def brief(self, repo: str) -> str:
        return await self._forward_resource(f"brief://{repo}")

    async def _forward_tool(self, name: str, arguments: dict[str, Any]) -> Json:
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

        await self._http()  # resolves (or starts) the local daemon
        url = f"{self.base_url}/mcp"
        async with httpx2.AsyncClient(headers=self._headers, timeout=REQUEST_TIMEOUT_SECONDS) as http:
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


def _segment(value: str) -> str:
    from urllib.parse import quote

    return quote(value, safe="")


def _refusal(response: httpx.Response) -> HubRefused:
    """The hub's problem+json as an error that keeps its status, title, detail and candidates."""
    try:
        problem = response.json()
    except ValueError:
        problem = None
    if not isinstance(problem, dict):
        text = response.text.strip()[:500] or response.reason_phrase
        return HubRefused(response.status_code, response.reason_phrase, text)
    extra = {k: v for k, v in problem.items() if k in ("candidates", "invalid_params")}
    detail = str(problem.get("detail") or problem.get("title") or f"HTTP {response.status_code}")
    return HubRefused(response.status_code, str(problem.get("title") or response.reason_phrase), detail, **extra)
