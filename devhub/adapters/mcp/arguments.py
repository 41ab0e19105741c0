"""Argument types and helpers every group of MCP tools shares (server.py and the tools_* modules)."""

# No `from __future__ import annotations`: the SDK reads these signatures at runtime.

from typing import Annotated, Any

from pydantic import Field

IdempotencyKey = Annotated[
    str | None,
    Field(
        description="Retry-safe key: the same key with the same arguments is applied once (kept 14 days); "
        "1-200 visible ASCII characters, no '#'"
    ),
]


def _without_none(**values: Any) -> dict[str, Any]:
    return {k: v for k, v in values.items() if v is not None}
