"""Connections to the fleet database: one pool per hub, and the URL as it may be shown (no password)."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit, urlunsplit

POOL_WAIT_SECONDS = 5.0  # how long a request waits for a connection before it answers 503
CONNECT_TIMEOUT_SECONDS = 5


def safe_url(url: str) -> str:
    """The connection URL without its password, for messages and logs."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.hostname or ""
    netloc = f"{parts.username}:***@{host}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


def open_pool(url: str, *, max_size: int) -> Any:
    """A pool that checks a connection before lending it, so a restarted server costs no failed request."""
    from psycopg_pool import ConnectionPool

    return ConnectionPool(
        url,
        min_size=1,
        max_size=max_size,
        timeout=POOL_WAIT_SECONDS,
        check=ConnectionPool.check_connection,
        kwargs={"connect_timeout": CONNECT_TIMEOUT_SECONDS},
        name="devhub-fleet",
        open=True,
    )
