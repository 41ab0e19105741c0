"""Redaction of secret-named fields before anything reaches the journal."""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any

REDACTED = "[REDACTED]"

# Field names that carry credentials, matched on the whole name or a _-separated part, in any case; camelCase
# parts count as separated (githubToken, clientSecret). Plurals too (secrets, api_keys) — except "tokens",
# which far more often counts LLM tokens (input_tokens) than holds credentials.
_SECRET_WORDS = (
    r"authorization|auth|password|passwd|pwd|secret|api[_\-]?key|apikey|access[_\-]?key"
    r"|private[_\-]?key|credential|cookie|bearer"
)
_SECRET_NAME = re.compile(
    rf"(^|[_\-.])((?:{_SECRET_WORDS})s?|(?:session[_\-]?)?token)($|[_\-.])",
    re.IGNORECASE,
)
_CAMEL_BOUNDARY = re.compile(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")


@lru_cache(maxsize=4096)  # every write asks about the same few field names
def is_secret_name(name: str) -> bool:
    return bool(_SECRET_NAME.search(_CAMEL_BOUNDARY.sub("_", name)))


def redact(value: Any) -> Any:
    """A copy of `value` with every secret-named field (at any depth) replaced by a marker."""
    if isinstance(value, dict):
        return {k: (REDACTED if is_secret_name(str(k)) and v is not None else redact(v)) for k, v in value.items()}
    if isinstance(value, list):
        return [redact(item) for item in value]
    return value
