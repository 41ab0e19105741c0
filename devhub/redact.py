"""Redaction of secret-named fields before anything reaches the journal."""

from __future__ import annotations

import re
from typing import Any

REDACTED = "[REDACTED]"

# Field names that carry credentials, matched on the whole name or a _-separated part.
_SECRET_NAME = re.compile(
    r"(^|[_\-.])(authorization|auth|password|passwd|pwd|secret|token|api[_\-]?key|apikey|access[_\-]?key"
    r"|private[_\-]?key|credentials?|cookie|session[_\-]?token|bearer)($|[_\-.])",
    re.IGNORECASE,
)


def is_secret_name(name: str) -> bool:
    return bool(_SECRET_NAME.search(name))


def redact(value: Any) -> Any:
    """A copy of `value` with every secret-named field (at any depth) replaced by a marker."""
    if isinstance(value, dict):
        return {k: (REDACTED if is_secret_name(str(k)) and v is not None else redact(v)) for k, v in value.items()}
    if isinstance(value, list):
        return [redact(item) for item in value]
    return value
