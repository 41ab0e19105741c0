"""Parsing and checking of query values and request bodies, with errors that name the field."""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from devhub.errors import BadRequest, PayloadTooLarge
from devhub.service.json_values import MAX_DEPTH
from devhub.settings import MAX_BODY_BYTES


def choice(name: str, value: str | None, allowed: Iterable[str]) -> str | None:
    """`value` if it is one of `allowed` (or None); else a 400 naming the parameter and the choices."""
    if value is None:
        return None
    options = tuple(allowed)
    if value not in options:
        raise BadRequest(
            f"query parameter {name}: {value!r} is not one of {', '.join(options)}",
            {name: f"must be one of {', '.join(options)}"},
        )
    return value


def timestamp(name: str, value: str | None) -> str | None:
    """An ISO-8601 query value normalised to the stored form (UTC, milliseconds, Z)."""
    if value is None:
        return None
    try:
        parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00").replace(" ", "+"))
    except ValueError:
        raise BadRequest(
            f"query parameter {name}: {value!r} is not an ISO-8601 timestamp",
            {name: "must be ISO-8601, e.g. 2026-08-01T00:00:00Z"},
        ) from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    try:
        in_utc = parsed.astimezone(UTC)
    except OverflowError:  # e.g. 0001-01-01T00:00:00+14:00 is before year 1 in UTC
        raise BadRequest(
            f"query parameter {name}: {value!r} is outside 0001-01-01T00:00:00Z..9999-12-31T23:59:59Z",
            {name: "must fall between years 1 and 9999 once converted to UTC"},
        ) from None
    # isoformat, not strftime: strftime("%Y") drops the zero padding of years before 1000 on glibc,
    # and the stored form is compared as text.
    return in_utc.isoformat(timespec="milliseconds").replace("+00:00", "Z")


# A progress page starts at most this far in: past 2**63 SQLite cannot even bind the value, and no
# caller pages through a billion events.
OFFSET_MAX = 1_000_000_000


def bounded(name: str, value: int | None, low: int, high: int) -> int | None:
    if value is None:
        return None
    if not low <= value <= high:
        raise BadRequest(
            f"query parameter {name}: {value} is outside {low}..{high}", {name: f"between {low} and {high}"}
        )
    return value


def json_object(raw: bytes) -> dict[str, Any]:
    """The request body as a JSON object; size, syntax and shape errors are clear 4xx problems."""
    if len(raw) > MAX_BODY_BYTES:
        raise PayloadTooLarge(f"request body is {len(raw)} bytes; the limit is {MAX_BODY_BYTES} (64 KiB)")
    if not raw.strip():
        return {}
    try:
        data = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise BadRequest(f"request body is not valid JSON: {exc}") from None
    except RecursionError:
        raise BadRequest(
            f"request body is nested too deeply to parse; values may nest at most {MAX_DEPTH} levels"
        ) from None
    if not isinstance(data, dict):
        raise BadRequest(f"request body must be a JSON object, not {type(data).__name__}")
    return data
