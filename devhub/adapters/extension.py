"""What a mounted adapter (MCP, the dashboard) adds to the REST app: route handlers and a lifespan."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Extension:
    """What a mounted component adds: route handlers, and a lifespan run inside the hub's."""

    route_handlers: Sequence[Any] = ()
    lifespan: Callable[[], AbstractAsyncContextManager[Any]] | None = None
    name: str = ""
    info: dict[str, Any] = field(default_factory=dict)
