"""The frontmatter: find the `---` block, load its YAML, and turn it into workplan fields."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from typing import Any

import yaml

from devhub.model import PRIORITIES, canonical_workplan_status
from devhub.workplans._blocks import read_simple, top_key_lines
from devhub.workplans._ids import WORKPLAN_ID, filename_workplan_id
from devhub.workplans._problems import ProblemSink
from devhub.workplans._text import json_safe, scalar_text, yaml_problem

UUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
_TEXT_FIELDS = ("type", "title", "domain", "owner", "topic_slug", "state_hub_workstream_id")
_DATE_FIELDS = ("created", "updated", "finished")
_KNOWN = frozenset({"id", "status", "repo", "planning_priority", "planning_order", *_TEXT_FIELDS, *_DATE_FIELDS})


@dataclass(slots=True)
class Frontmatter:
    """The workplan fields read from the frontmatter, and where the markdown body starts (0-based)."""

    body_start: int
    id: str | None = None
    fields: dict[str, Any] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)
    status_line: int | None = None


def read_frontmatter(lines: list[str], path: str, sink: ProblemSink) -> Frontmatter:
    """Read the frontmatter of a file's lines; every failure becomes a problem, never an exception."""
    mapping, key_lines, body_start = _load(lines, sink)
    result = Frontmatter(body_start)
    if mapping is not None:
        _fill_fields(result, mapping, key_lines, sink)
    _settle_id(result, mapping, key_lines, path, sink)
    return result


def _load(lines: list[str], sink: ProblemSink) -> tuple[dict[str, Any] | None, dict[str, int], int]:
    if not lines or lines[0].rstrip() != "---":
        sink.add("missing-frontmatter", 1, "the file must start with a `---` line opening the YAML frontmatter")
        return None, {}, 0
    close = next((i for i in range(1, len(lines)) if lines[i].rstrip() in ("---", "...")), None)
    if close is None:
        sink.add("unterminated-frontmatter", 1, "the frontmatter opened here is never closed with `---`")
        return None, {}, 1
    simple = read_simple(lines, 1, close)
    if simple is not None:
        return simple.values, simple.key_lines, close + 1
    text = "\n".join(lines[1:close])
    try:
        loaded = yaml.load(text, Loader=yaml.CSafeLoader)
    except Exception as exc:  # any YAML failure (even a recursion blow-up) is a problem, not a crash
        line, reason = yaml_problem(exc, text, 2, max(close, 2))
        sink.add("yaml-error", line, f"frontmatter is not valid YAML: {reason}")
        return None, {}, close + 1
    if loaded is None:
        loaded = {}
    if not isinstance(loaded, dict):
        sink.add("frontmatter-not-mapping", 2, f"frontmatter is a YAML {type(loaded).__name__}, not a mapping")
        return None, {}, close + 1
    mapping = {key if isinstance(key, str) else str(key): value for key, value in loaded.items()}
    return mapping, top_key_lines(lines, 1, close, mapping), close + 1


def _fill_fields(result: Frontmatter, mapping: dict[str, Any], key_lines: dict[str, int], sink: ProblemSink) -> None:
    def line_of(key: str) -> int:
        return key_lines.get(key, 1)

    def text(key: str) -> str | None:
        try:
            return scalar_text(mapping.get(key))
        except TypeError as exc:
            sink.add("invalid-field", line_of(key), f"`{key}` must be a single value, not a {exc}")
            return None

    fields = result.fields
    for key in _TEXT_FIELDS:
        fields[key] = text(key) or None
    for key in _DATE_FIELDS:
        value = mapping.get(key)
        # A timestamp in a date field keeps its day: these fields are dates by the convention.
        fields[key] = value.date().isoformat() if isinstance(value, dt.datetime) else text(key) or None
    repo_key = "repo" if "repo" in mapping or "repo_slug" not in mapping else "repo_slug"
    fields["repo"] = text(repo_key) or None
    _check_type(fields["type"], "type" in mapping, line_of("type"), sink)
    _check_uuid(fields["state_hub_workstream_id"], "state_hub_workstream_id", line_of, sink)
    fields["planning_priority"] = _priority(text("planning_priority"), line_of("planning_priority"), sink)
    fields["planning_order"] = _planning_order(mapping.get("planning_order"), line_of("planning_order"), sink)

    status_raw = text("status")
    fields["status_raw"] = status_raw
    fields["status"] = canonical_workplan_status(status_raw)
    if "status" in mapping:
        result.status_line = key_lines.get("status")
    if not status_raw:
        sink.add("missing-status", line_of("status"), "the workplan has no `status`")
    elif fields["status"] is None:
        sink.add("unknown-status", line_of("status"), f"unknown workplan status {status_raw!r}")

    known = _KNOWN | {repo_key}
    for key, value in mapping.items():
        if key in known:
            continue
        try:
            result.extra[key] = json_safe(value)
        except ValueError as exc:
            sink.add("invalid-field", line_of(key), f"`{key}` dropped: {exc}")
    raw_id = mapping.get("id")
    try:
        result.id = scalar_text(raw_id) or None
    except TypeError:
        sink.add("invalid-field", line_of("id"), "`id` must be a single value")


def _check_type(value: str | None, present: bool, line: int, sink: ProblemSink) -> None:
    if not present:
        sink.add("missing-type", 1, "the frontmatter has no `type` (expected `type: workplan`)")
    elif value != "workplan":
        sink.add("unexpected-type", line, f"`type` is {value!r}, expected 'workplan'")


def _check_uuid(value: str | None, key: str, line_of: Any, sink: ProblemSink) -> None:
    if value is not None and not UUID.match(value):
        sink.add("invalid-uuid", line_of(key), f"`{key}` {value!r} is not a UUID")


def _priority(value: str | None, line: int, sink: ProblemSink) -> str | None:
    if value is None:
        return None
    if value.lower() in PRIORITIES:
        return value.lower()
    sink.add("unknown-priority", line, f"unknown priority {value!r} (expected one of {', '.join(PRIORITIES)})")
    return value


def _planning_order(value: Any, line: int, sink: ProblemSink) -> int | None:
    if value is None:
        return None
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lstrip("+-").isdigit():
        return int(value.strip())
    sink.add("invalid-field", line, f"`planning_order` must be an integer, not {value!r}")
    return None


def _settle_id(
    result: Frontmatter, mapping: dict[str, Any] | None, key_lines: dict[str, int], path: str, sink: ProblemSink
) -> None:
    from_name = filename_workplan_id(path)
    if result.id is None:
        if from_name is None:
            where = "no frontmatter" if mapping is None else "no `id` in the frontmatter"
            sink.add("missing-id", 1, f"{where}, and the file name carries no workplan id")
            return
        sink.add("id-from-filename", 1, f"no usable frontmatter `id`; using {from_name!r} from the file name")
        result.id = from_name
        return
    line = key_lines.get("id", 1)
    if not WORKPLAN_ID.match(result.id):
        sink.add("id-format", line, f"workplan id {result.id!r} is not <PREFIX>-WP-NNNN or ADHOC-YYYY-MM-DD")
    if from_name is not None and from_name != result.id:
        sink.add("id-filename-mismatch", line, f"`id` {result.id!r} differs from the file name's {from_name!r}")
