"""The upstream State Hub seen from the relay: one HTTP call per envelope (or run), and what its answer means.

httpx is imported lazily and its errors are translated here (at the boundary) into
relay types, so the forwarder never sees an httpx exception:

    no answer (refused, reset, timeout)                      -> UpstreamUnreachable (retry)
    the envelope cannot become a request (not encodable,
    not serialisable, a header or method HTTP forbids)      -> EnvelopeUnsendable (dead letter)
    the token cannot go in a header                          -> CredentialsUnusable (pause)

The answer table (SPEC §7):

    2xx, or a 409 that says "same key, same body, already applied"   -> ACK
    connection error, timeout, reset, 408, 429, 5xx                   -> RETRY (forever, backoff)
    401, 403                                                          -> PAUSE (auth_failed)
    any other 4xx (including a genuine 409 conflict)                  -> DEAD (dead letter)
"""

from __future__ import annotations

import enum
import json
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from typing import TYPE_CHECKING, Any

from relay.errors import CredentialsUnusable, EnvelopeUnsendable, RelayError

if TYPE_CHECKING:
    import httpx

RETRY_STATUSES = frozenset({408, 429})
PAUSE_STATUSES = frozenset({401, 403})
MAX_BODY_CHARS = 64 * 1024
_TOKEN_CHARS = re.compile(r"[\x21-\x7e]+")


class UpstreamUnreachable(RelayError):
    """The upstream could not be reached or did not answer (refused, reset, timed out)."""


class Verdict(enum.Enum):
    """What the relay does with an envelope after an upstream answer."""

    ACK = "ack"
    RETRY = "retry"
    PAUSE = "pause"
    DEAD = "dead"


@dataclass(frozen=True)
class UpstreamRequest:
    """One REST call to replay: method, path (relative to the upstream URL), JSON body, idempotency key."""

    method: str
    path: str
    body: Mapping[str, Any]
    idempotency_key: str


@dataclass(frozen=True)
class Answer:
    """What the upstream said: status, headers (lower-cased names), and the body text."""

    status: int
    headers: Mapping[str, str] = field(default_factory=dict)
    text: str = ""

    def json(self) -> Any:
        """The body parsed as JSON, or None when it is not JSON."""
        try:
            return json.loads(self.text)
        except ValueError:
            return None


def is_same_body_replay(answer: Answer) -> bool:
    """True when a 409 says the key was already applied with this very body (an acknowledgement, not a conflict).

    devhub's fleet role answers a same-key same-body replay with the original 2xx and
    `Idempotent-Replayed: true`, so a 409 from it is always a genuine conflict (different
    body, ambiguous id). Other State Hub versions may answer a replay with 409 instead; we
    accept that only when it says so explicitly: the `Idempotent-Replayed: true` header, a
    JSON `"replayed": true` / `"idempotent_replay": true` field, or a `code` of
    `idempotency_replay` / `already_applied`.
    """
    if answer.status != 409:
        return False
    if answer.headers.get("idempotent-replayed", "").strip().lower() == "true":
        return True
    document = answer.json()
    if not isinstance(document, dict):
        return False
    if document.get("replayed") is True or document.get("idempotent_replay") is True:
        return True
    return str(document.get("code", "")).lower() in {"idempotency_replay", "already_applied"}


def classify(answer: Answer) -> Verdict:
    """The SPEC §7 action for an upstream answer."""
    status = answer.status
    if 200 <= status < 300 or is_same_body_replay(answer):
        return Verdict.ACK
    if status in RETRY_STATUSES or status >= 500:
        return Verdict.RETRY
    if status in PAUSE_STATUSES:
        return Verdict.PAUSE
    if 400 <= status < 500:
        return Verdict.DEAD
    return Verdict.RETRY  # 1xx/3xx: not an answer we can act on; try again later


def retry_after_seconds(answer: Answer, now: float | None = None) -> float | None:
    """The answer's Retry-After (delta seconds or an HTTP date) as seconds from now, or None."""
    raw = answer.headers.get("retry-after")
    if not raw:
        return None
    raw = raw.strip()
    if raw.isdigit():
        return float(raw)
    try:
        when = parsedate_to_datetime(raw)
    except (TypeError, ValueError, IndexError):
        return None
    if when is None:
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


class Upstream:
    """An httpx AsyncClient (connection reuse, timeouts) bound to the upstream base URL."""

    def __init__(
        self,
        base_url: str,
        *,
        timeout: float = 10.0,
        token: Callable[[], str | None] = lambda: None,
        connections: int = 4,
    ) -> None:
        """`connections`: the pool's size, as many as the forwarder has calls in flight (kept alive)."""
        import httpx

        self.base_url = base_url.rstrip("/")
        self._token = token
        self._client = httpx.AsyncClient(
            base_url=self.base_url,
            timeout=httpx.Timeout(timeout, connect=min(timeout, 5.0)),
            limits=httpx.Limits(max_connections=max(1, connections), max_keepalive_connections=max(1, connections)),
            headers={"User-Agent": "devhub-relay", "Accept": "application/json"},
            trust_env=False,  # loopback tunnels: a proxy from the environment would break them
        )

    def _headers(self, extra: Mapping[str, str]) -> dict[str, str]:
        headers = dict(extra)
        token = self._token()
        if token:
            if not _TOKEN_CHARS.fullmatch(token):
                # Every call would fail the same way: a configuration problem, not this envelope's.
                raise CredentialsUnusable(
                    "the upstream token cannot be sent in an Authorization header: it holds characters other "
                    "than visible ASCII (0x21-0x7E)"
                )
            headers["Authorization"] = f"Bearer {token}"
        return headers

    def _build(self, request: UpstreamRequest) -> httpx.Request:
        """The HTTP request for an envelope's call; EnvelopeUnsendable when it cannot be one."""
        headers = self._headers({})
        try:
            if not request.path.startswith("/") or request.path.startswith("//"):
                raise ValueError(f"path {request.path!r} is not relative to the upstream URL")
            content = json.dumps(dict(request.body), ensure_ascii=False, separators=(",", ":"), allow_nan=False)
            headers |= {"Idempotency-Key": request.idempotency_key, "Content-Type": "application/json"}
            return self._client.build_request(request.method, request.path, content=content.encode(), headers=headers)
        except Exception as exc:  # building is local only: whatever fails here fails on every resend too
            raise EnvelopeUnsendable(_unsendable(request, exc)) from exc

    async def send(self, request: UpstreamRequest, on_headers: Callable[[], None] | None = None) -> Answer:
        """Send one call; the answer, UpstreamUnreachable when none came (refused, reset, timeout), or
        EnvelopeUnsendable when the call cannot be made at all (then nothing was sent).

        `on_headers` runs once the status line and headers arrived, before the body is read
        (a test hook for crashing between "upstream applied it" and "we know it did").
        """
        import httpx

        prepared = self._build(request)
        try:
            response = await self._client.send(prepared, stream=True)
            try:
                if on_headers is not None:
                    on_headers()
                body = await response.aread()
            finally:
                await response.aclose()
        except httpx.LocalProtocolError as exc:  # h11 refused to write it (a control character, a bad method)
            raise EnvelopeUnsendable(_unsendable(request, exc)) from exc
        except httpx.TransportError as exc:
            raise UpstreamUnreachable(_describe(exc, self.base_url)) from exc
        text = body.decode("utf-8", errors="replace")[:MAX_BODY_CHARS]
        return Answer(response.status_code, {k.lower(): v for k, v in response.headers.items()}, text)

    async def probe(self) -> Answer:
        """GET /state/health; UpstreamUnreachable when there is no answer."""
        import httpx

        try:
            response = await self._client.get("/state/health", headers=self._headers({}))
        except httpx.TransportError as exc:
            raise UpstreamUnreachable(_describe(exc, self.base_url)) from exc
        return Answer(response.status_code, {k.lower(): v for k, v in response.headers.items()}, response.text[:2000])

    async def close(self) -> None:
        """Close the pooled connections."""
        await self._client.aclose()


def _describe(exc: httpx.TransportError, base_url: str) -> str:
    import httpx

    kind = "timed out" if isinstance(exc, httpx.TimeoutException) else "unreachable"
    reason = str(exc) or type(exc).__name__
    return f"upstream {base_url} {kind}: {reason}"


def _unsendable(request: UpstreamRequest, exc: Exception) -> str:
    reason = str(exc) or type(exc).__name__
    return (
        f"{request.method!r} {request.path!r} with Idempotency-Key {request.idempotency_key!r} cannot be sent: "
        f"{type(exc).__name__}: {reason}"
    )
