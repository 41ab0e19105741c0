"""What an Idempotency-Key may be, checked where a write arrives (REST header, MCP argument, CLI option).

* Visible ASCII only (0x21-0x7E): the relay replays the key upstream in an HTTP header, where
  anything else cannot be sent at all (non-ASCII) or is refused or mangled (controls, spaces).
* 1 to 200 characters (an empty header means "no key", as before).
* `#` is reserved on a hub that relays: it sends the parts of a bulk status sync with the
  derived keys `<key>#0`, `<key>#1`, …, and a client key must never equal one of those (the
  upstream would take the two writes for one key reused with another body: 409, dead letter).
  An upstream (fleet) hub accepts `#` — those derived keys are what relays send it — and
  leaves room for the suffix in its length bound.
"""

from __future__ import annotations

from devhub.errors import BadRequest

MAX_KEY_CHARS = 200
DERIVED_KEY_SEPARATOR = "#"
DERIVED_SUFFIX_ROOM = 12  # "#" and an index of up to 11 digits, on an upstream receiving derived keys
HEADER = "Idempotency-Key"


def derived_key(key: str, index: int) -> str:
    """The upstream key of part `index` of a write journaled as several envelopes (a bulk status sync)."""
    return f"{key}{DERIVED_KEY_SEPARATOR}{index}"


def key_problem(key: str, *, reserve_separator: bool) -> str | None:
    """Why `key` is not an acceptable idempotency key, or None when it is."""
    limit = MAX_KEY_CHARS if reserve_separator else MAX_KEY_CHARS + DERIVED_SUFFIX_ROOM
    if len(key) > limit:
        return f"is {len(key)} characters long; at most {limit} are allowed"
    for position, char in enumerate(key, start=1):
        if not "\x21" <= char <= "\x7e":
            return f"character {position} ({char!r}, U+{ord(char):04X}) is not visible ASCII"
        if reserve_separator and char == DERIVED_KEY_SEPARATOR:
            return (
                f"character {position} is {DERIVED_KEY_SEPARATOR!r}, which this hub reserves for the keys its relay "
                "derives for the parts of a bulk status sync"
            )
    return None


def rules(*, reserve_separator: bool) -> str:
    """The allowed keys, in one sentence for an error message."""
    limit = MAX_KEY_CHARS if reserve_separator else MAX_KEY_CHARS + DERIVED_SUFFIX_ROOM
    without = f", without {DERIVED_KEY_SEPARATOR!r}" if reserve_separator else ""
    return f"use 1 to {limit} visible ASCII characters (0x21-0x7E){without}"


def checked_key(key: str | None, *, reserve_separator: bool) -> str | None:
    """`key` when acceptable (None and "" mean no key); BadRequest (400) naming the rule otherwise."""
    if not key:
        return None
    problem = key_problem(key, reserve_separator=reserve_separator)
    if problem is not None:
        shown = key if len(key) <= 60 else key[:60] + "…"
        raise BadRequest(
            f"invalid {HEADER} {shown!r}: {problem}; {rules(reserve_separator=reserve_separator)}",
            {HEADER: problem},
        )
    return key
