"""Hostile input for the edge tests: the literals issue #13 found, and hypothesis strategies built on them.

JSON is produced as *text* (not through json.dumps), so bodies can carry what Python's encoder would
refuse or normalise: NaN, Infinity, 1e999, lone surrogate escapes, integers of any size, nesting
thousands deep.
"""

from __future__ import annotations

import json
from urllib.parse import quote

from hypothesis import strategies as st

# Numbers as they appear in JSON text; json.loads turns the first five into non-finite floats.
NUMBER_LITERALS = (
    "NaN",
    "Infinity",
    "-Infinity",
    "1e999",
    "-1e999",
    "99999999999999999999",
    "-99999999999999999999",
    "9223372036854775808",
    "1" + "0" * 400,
    "1e308",
    "-0",
    "0.5",
    "-1",
    "0",
)

EXTREME_DATETIMES = ("0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-14:00", "0001-01-01", "9999-12-31T23:59:59Z")

# Python strings; the surrogates can only travel as JSON escapes or percent-encoded UTF-8 bytes.
TEXT_LITERALS = (
    "\ud800",
    "\udfff",
    "a\ud800b",
    "\x00",
    "a\x00b",
    "\x01\x08\x1b\x7f",
    "\u2028\u2029",
    "\ufeff",
    "\U0010ffff",
    "",
    " ",
    "NaN",
    "Infinity",
    "1e999",
    "99999999999999999999",
    "-1",
    *EXTREME_DATETIMES,
    "../../etc/passwd",
    "/",
    "%",
    "%00",
    '"',
    "'; DROP TABLE tasks; --",
    "*",
    "NEAR(",
    "a OR",
    "<script>alert(1)</script>",
    "x" * 5000,
    "y" * 70_000,
)

# Real ids of the fixture workspace: hostile values next to these reach the validation past the lookup.
REAL_IDS = ("CUST-WP-0054", "CUST-WP-0054-T05", "CUST-WP-0054-T07", "8a828444-dd49-4d7b-a2d1-9952b5bc929d")

# Field names the write bodies and query strings really use, so hostile values land where they are read.
FIELD_NAMES = (
    "status",
    "needs_human",
    "intervention_note",
    "blocking_reason",
    "note",
    "agent",
    "session_id",
    "summary",
    "event_type",
    "author",
    "workplan_id",
    "workstream_id",
    "task_id",
    "detail",
    "from_agent",
    "to_agent",
    "subject",
    "body",
    "thread_id",
    "updates",
    "repo",
    "limit",
    "offset",
    "since",
    "until",
    "q",
)

STATUS_WORDS = ("todo", "progress", "done", "wait", "cancel", "active", "ready", "open", "blocked")

CONTENT_TYPES = (
    "application/json",
    "application/json; charset=latin-1",
    "text/plain",
    "application/x-www-form-urlencoded",
    "multipart/form-data; boundary=x",
    "application/problem+json",
    "*/*",
    "",
)

# Characters a client could send; no surrogates (a str holding one cannot be encoded as UTF-8).
plain_text = st.text(st.characters(exclude_categories=("Cs",)), max_size=40)

hostile_text = st.one_of(
    st.sampled_from(TEXT_LITERALS),
    st.text(max_size=40),  # may hold lone surrogates; encoded as JSON escapes or percent-encoded bytes
    st.sampled_from(REAL_IDS),
    st.sampled_from(STATUS_WORDS),
)


def json_text(value: str) -> str:
    """A Python string as a JSON string literal (ASCII escapes, so lone surrogates survive as \\udXXX)."""
    return json.dumps(value, ensure_ascii=True)


def object_text(fields: dict[str, str]) -> str:
    """A JSON object from field names and their values already written as JSON text."""
    return "{" + ",".join(f"{json_text(k)}:{v}" for k, v in fields.items()) + "}"


def deep(levels: int, kind: str = "[") -> str:
    """JSON nested `levels` deep: arrays, or objects with one key each."""
    if kind == "[":
        return "[" * levels + "]" * levels
    return '{"a":' * levels + "1" + "}" * levels


json_scalar = st.one_of(
    st.sampled_from(NUMBER_LITERALS),
    st.sampled_from(("true", "false", "null")),
    st.integers().map(str),
    st.floats(allow_nan=False, allow_infinity=False).map(repr),
    hostile_text.map(json_text),
)

json_value = st.recursive(
    json_scalar,
    lambda children: st.one_of(
        st.lists(children, max_size=4).map(lambda items: "[" + ",".join(items) + "]"),
        st.dictionaries(st.one_of(st.sampled_from(FIELD_NAMES), hostile_text), children, max_size=4).map(object_text),
    ),
    max_leaves=12,
)

deep_json = st.builds(deep, st.sampled_from((33, 64, 500, 990, 1500, 5000, 20_000)), st.sampled_from("[{"))

# A bulk-status-sync `updates` list: items shaped like the real ones, with hostile values in the slots.
bulk_updates = st.lists(
    st.fixed_dictionaries(
        {},
        optional={
            "task_id": st.one_of(st.sampled_from(REAL_IDS).map(json_text), json_value),
            "status": st.one_of(st.sampled_from(STATUS_WORDS).map(json_text), json_value),
            "repo": json_value,
        },
    ).map(object_text),
    max_size=3,
).map(lambda items: "[" + ",".join(items) + "]")

# An object whose keys are mostly the fields the routes read, with hostile, wrong-typed or deep values.
json_object_text = st.dictionaries(
    st.one_of(st.sampled_from(FIELD_NAMES), hostile_text),
    st.one_of(json_value, deep_json, st.sampled_from(STATUS_WORDS).map(json_text), bulk_updates),
    max_size=6,
).map(object_text)


request_body = st.one_of(
    json_object_text.map(str.encode),
    json_value.map(str.encode),
    deep_json.map(str.encode),
    st.binary(max_size=200),
    st.just(b""),
    st.sampled_from((b"{", b"{not json", b"\xff\xfe{}", b"summary=x&status=done", b"[]", b"null")),
)


def url_piece(value: str) -> str:
    """`value` percent-encoded for a path segment or query value (lone surrogates as their raw UTF-8 bytes)."""
    return quote(value, safe="", encoding="utf-8", errors="surrogatepass")


# Capped: a request line over the HTTP parser's limit is refused before any route runs.
query_value = st.one_of(
    hostile_text.map(lambda s: url_piece(s[:2000])),
    st.sampled_from(NUMBER_LITERALS),
    st.sampled_from(("true", "false", "1", "0", "yes", "maybe")),
    st.sampled_from(("%FF", "%ED%A0%80", "%C0%80", "%", "%zz")),
)

# Header values an HTTP/1.1 server can parse (printable latin-1): control bytes are refused by the
# HTTP parser itself, before any route runs, with a plain-text 400 that is not ours to shape.
# Leading or trailing blanks are not a legal header value either (the client refuses to send them).
header_value = st.text(
    st.characters(min_codepoint=0x20, max_codepoint=0xFF, exclude_characters="\x7f"), min_size=1, max_size=60
).map(str.strip)
