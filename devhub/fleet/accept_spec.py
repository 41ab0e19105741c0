"""Acceptance specs: load a YAML spec into typed checks, or fail naming every bad field.

A spec says which window the evidence must cover, which events must be absent
(preconditions) and which must be present often and regularly enough (probes).
Validation collects every problem before raising, so one run shows them all.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from devhub.errors import SpecError

# Event fields a spec may match on; `ts` is excluded on purpose: time is the window's job.
MATCH_FIELDS: tuple[str, ...] = ("host", "kind", "status", "target")
TOLERANCE_KEYS: tuple[str, ...] = ("min_count", "max_count", "max_gap", "min_ok_ratio")
TOP_LEVEL_KEYS: tuple[str, ...] = ("title", "window", "preconditions", "probes")
WINDOW_KEYS: tuple[str, ...] = ("start", "end", "min_duration")
PRECONDITION_KEYS: tuple[str, ...] = ("name", "absent")
PROBE_KEYS: tuple[str, ...] = ("name", "match", "tolerance")

_DURATION = re.compile(r"(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?")
_UNIT_SECONDS = (86400, 3600, 60, 1)

Scalar = str | int | float | bool | None


class SpecProblems(SpecError):
    """Every problem found in one spec file: `problems` lists (place, reason), `lines` their YAML lines."""

    def __init__(self, source: str, problems: Sequence[tuple[str, str, int | None]]) -> None:
        rows = "\n".join(
            f"  {source}:{line}: {place}: {reason}" if line else f"  {source}: {place}: {reason}"
            for place, reason, line in problems
        )
        noun = "problem" if len(problems) == 1 else "problems"
        super().__init__(source, f"{len(problems)} {noun} in acceptance spec\n{rows}")
        self.problems = [(place, reason) for place, reason, _ in problems]
        self.lines = [line for _, _, line in problems]


def parse_duration(text: object) -> float:
    """Seconds in a duration like 30m, 25h, 90s, 1d or 1h30m; ValueError when it is not one."""
    if not isinstance(text, str) or not text or not (m := _DURATION.fullmatch(text.strip())):
        raise ValueError(f"not a duration: {text!r} (use e.g. 30m, 25h, 90s, 1d, 1h30m)")
    if not any(m.groups()):
        raise ValueError(f"not a duration: {text!r} (use e.g. 30m, 25h, 90s, 1d, 1h30m)")
    return float(sum(int(g or 0) * unit for g, unit in zip(m.groups(), _UNIT_SECONDS, strict=True)))


def format_duration(seconds: float) -> str:
    """A compact duration such as 29m12s or 25h (whole seconds, no days so hours compare at a glance)."""
    total = round(seconds)
    sign = "-" if total < 0 else ""
    total = abs(total)
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    parts = [f"{v}{u}" for v, u in ((hours, "h"), (minutes, "m"), (secs, "s")) if v]
    return sign + ("".join(parts) or "0s")


def parse_timestamp(text: object) -> datetime:
    """An aware datetime from ISO-8601 text with Z or an offset; ValueError otherwise."""
    if not isinstance(text, str):
        raise ValueError(f"not an ISO-8601 timestamp: {text!r}")
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise ValueError(f"not an ISO-8601 timestamp: {text!r}") from None
    if moment.tzinfo is None:
        raise ValueError(f"timestamp has no timezone (add Z or an offset): {text!r}")
    return moment


@dataclass(frozen=True, slots=True)
class Matcher:
    """Field conditions an event must all meet; a condition is a tuple of accepted values."""

    conditions: tuple[tuple[tuple[str, ...], tuple[Scalar, ...]], ...]  # (field path, accepted values)

    def as_dict(self) -> dict[str, Any]:
        return {".".join(path): (list(vals) if len(vals) > 1 else vals[0]) for path, vals in self.conditions}


@dataclass(frozen=True, slots=True)
class Tolerance:
    """The bounds a probe's matched events must stay within; None means unbounded."""

    min_count: int | None = None
    max_count: int | None = None
    max_gap: float | None = None  # seconds
    min_ok_ratio: float | None = None


@dataclass(frozen=True, slots=True)
class Precondition:
    name: str
    absent: Matcher


@dataclass(frozen=True, slots=True)
class Probe:
    name: str
    match: Matcher
    tolerance: Tolerance


@dataclass(frozen=True, slots=True)
class AcceptSpec:
    """A validated acceptance spec; the window is [start, end], both ends inclusive."""

    title: str
    source: str
    start: datetime
    end: datetime
    min_duration: float | None
    preconditions: tuple[Precondition, ...]
    probes: tuple[Probe, ...]

    @property
    def duration(self) -> float:
        return (self.end - self.start).total_seconds()


class _Collector:
    """Accumulates (place, reason) problems while a spec is validated."""

    def __init__(self, lines: Mapping[str, int]) -> None:
        self.problems: list[tuple[str, str, int | None]] = []
        self.names: list[tuple[str, str]] = []  # (place, name) of every named check, valid or not
        self._lines = lines

    def add(self, place: str, reason: str) -> None:
        # A missing key has no line of its own: point at its closest parent that has one.
        probe = place
        line = self._lines.get(probe)
        while line is None and "." in probe:
            probe = probe.rsplit(".", 1)[0]
            line = self._lines.get(probe)
        self.problems.append((place, reason, line))

    def unknown_keys(self, place: str, mapping: Mapping[Any, Any], allowed: Sequence[str]) -> None:
        for key in mapping:
            if key not in allowed:
                self.add(_join(place, str(key)), f"unknown key (expected one of {', '.join(allowed)})")


def _join(place: str, key: str) -> str:
    return f"{place}.{key}" if place else key


def _line_map(text: str) -> dict[str, int]:
    """Place -> 1-based line for every mapping key and sequence item in the YAML text."""
    import yaml

    lines: dict[str, int] = {}
    try:
        root = yaml.compose(text, Loader=yaml.CSafeLoader)
    except yaml.YAMLError:
        return lines

    def walk(node: Any, place: str) -> None:
        if isinstance(node, yaml.MappingNode):
            for key_node, value_node in node.value:
                child = _join(place, str(key_node.value))
                lines[child] = key_node.start_mark.line + 1
                walk(value_node, child)
        elif isinstance(node, yaml.SequenceNode):
            for index, item in enumerate(node.value):
                child = f"{place}[{index}]"
                lines[child] = item.start_mark.line + 1
                walk(item, child)

    if root is not None:
        walk(root, "")
    return lines


def load_spec(path: Path) -> AcceptSpec:
    """Read and validate a spec file; raises SpecProblems naming every bad field."""
    import yaml

    source = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise SpecProblems(source, [("spec", f"cannot read: {exc.strerror or exc}", None)]) from None
    try:
        data = yaml.load(text, Loader=yaml.CSafeLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        reason = getattr(exc, "problem", None) or str(exc)
        raise SpecProblems(source, [("spec", f"not valid YAML: {reason}", line)]) from None
    return validate_spec(data, source=source, lines=_line_map(text))


def validate_spec(data: object, source: str = "<spec>", lines: Mapping[str, int] | None = None) -> AcceptSpec:
    """Turn parsed YAML into an AcceptSpec; raises SpecProblems naming every bad field."""
    problems = _Collector(lines or {})
    if not isinstance(data, Mapping):
        raise SpecProblems(source, [("spec", "must be a mapping with title, window and probes", None)])
    problems.unknown_keys("", data, TOP_LEVEL_KEYS)

    title = data.get("title")
    if title is None:
        problems.add("title", "required")
        title = ""
    elif not isinstance(title, str):
        problems.add("title", f"must be text, got {title!r}")
        title = str(title)

    start, end, min_duration = _window(data.get("window"), problems)
    preconditions = _preconditions(data.get("preconditions", []), problems)
    probes = _probes(data.get("probes", []), problems)
    if not preconditions and not probes and not problems.problems:
        problems.add("probes", "the spec has no preconditions and no probes: nothing to accept")
    seen: dict[str, str] = {}
    for place, name in problems.names:
        if name in seen:
            problems.add(place, f"duplicate name {name!r} (also at {seen[name]})")
        seen.setdefault(name, place)

    if problems.problems or start is None or end is None:
        # In file order, so the list reads top to bottom like the spec itself.
        raise SpecProblems(source, sorted(problems.problems, key=lambda problem: problem[2] or 0))
    return AcceptSpec(
        title=title,
        source=source,
        start=start,
        end=end,
        min_duration=min_duration,
        preconditions=tuple(preconditions),
        probes=tuple(probes),
    )


def _window(raw: object, problems: _Collector) -> tuple[datetime | None, datetime | None, float | None]:
    if raw is None:
        problems.add("window", "required: {start: ISO-8601, end: ISO-8601, min_duration: e.g. 24h}")
        return None, None, None
    if not isinstance(raw, Mapping):
        problems.add("window", f"must be a mapping with start and end, got {raw!r}")
        return None, None, None
    problems.unknown_keys("window", raw, WINDOW_KEYS)
    bounds: dict[str, datetime | None] = {}
    for key in ("start", "end"):
        value = raw.get(key)
        if isinstance(value, datetime):  # YAML turns unquoted timestamps into datetimes itself
            value = value.isoformat()
        bounds[key] = None
        if value is None:
            problems.add(f"window.{key}", "required (ISO-8601 with Z or an offset)")
            continue
        try:
            bounds[key] = parse_timestamp(value)
        except ValueError as exc:
            problems.add(f"window.{key}", str(exc))
    start, end = bounds["start"], bounds["end"]
    if start is not None and end is not None and end <= start:
        problems.add("window.end", f"must be after window.start ({start.isoformat()})")
    min_duration = None
    if "min_duration" in raw:
        try:
            min_duration = parse_duration(raw["min_duration"])
        except ValueError as exc:
            problems.add("window.min_duration", str(exc))
    return start, end, min_duration


def _name(raw: Mapping[Any, Any], place: str, problems: _Collector) -> str:
    name = raw.get("name")
    if not isinstance(name, str) or not name.strip():
        problems.add(f"{place}.name", "required: a non-empty text naming the check")
        return f"<{place}>"
    problems.names.append((f"{place}.name", name.strip()))
    return name.strip()


def _items(raw: object, place: str, problems: _Collector) -> list[tuple[str, Mapping[Any, Any]]]:
    if raw is None:
        return []
    if not isinstance(raw, list):
        problems.add(place, f"must be a list, got {type(raw).__name__}")
        return []
    items = []
    for index, item in enumerate(raw):
        item_place = f"{place}[{index}]"
        if not isinstance(item, Mapping):
            problems.add(item_place, f"must be a mapping, got {item!r}")
            continue
        items.append((item_place, item))
    return items


def _preconditions(raw: object, problems: _Collector) -> list[Precondition]:
    result = []
    for place, item in _items(raw, "preconditions", problems):
        problems.unknown_keys(place, item, PRECONDITION_KEYS)
        name = _name(item, place, problems)
        matcher = _matcher(item.get("absent"), f"{place}.absent", problems)
        if matcher is not None:
            result.append(Precondition(name=name, absent=matcher))
    return result


def _probes(raw: object, problems: _Collector) -> list[Probe]:
    result = []
    for place, item in _items(raw, "probes", problems):
        problems.unknown_keys(place, item, PROBE_KEYS)
        name = _name(item, place, problems)
        matcher = _matcher(item.get("match"), f"{place}.match", problems)
        tolerance = _tolerance(item.get("tolerance"), f"{place}.tolerance", problems)
        if matcher is not None and tolerance is not None:
            result.append(Probe(name=name, match=matcher, tolerance=tolerance))
    return result


def _matcher(raw: object, place: str, problems: _Collector) -> Matcher | None:
    if not isinstance(raw, Mapping) or not raw:
        fields = ", ".join(MATCH_FIELDS)
        problems.add(place, f"required: a non-empty mapping of event fields ({fields}, detail.<key>)")
        return None
    conditions = []
    ok = True
    for key, value in raw.items():
        key_place = f"{place}.{key}"
        path = tuple(str(key).split("."))
        valid_key = (len(path) == 1 and path[0] in MATCH_FIELDS) or (
            len(path) >= 2 and path[0] == "detail" and all(path[1:])
        )
        if not valid_key:
            hint = "time is the window's job" if key == "ts" else "a detail key is written detail.<key>"
            problems.add(key_place, f"cannot match on {key!r} (use {', '.join(MATCH_FIELDS)}; {hint})")
            ok = False
            continue
        values = value if isinstance(value, list) else [value]
        bad = [v for v in values if isinstance(v, Mapping | list)]
        if bad or not values:
            problems.add(key_place, f"must be a value or a list of values, got {value!r}")
            ok = False
            continue
        conditions.append((path, tuple(values)))
    return Matcher(tuple(conditions)) if ok else None


def _tolerance(raw: object, place: str, problems: _Collector) -> Tolerance | None:
    if not isinstance(raw, Mapping) or not raw:
        problems.add(place, f"required: a non-empty mapping of {', '.join(TOLERANCE_KEYS)}")
        return None
    problems.unknown_keys(place, raw, TOLERANCE_KEYS)
    before = len(problems.problems)
    counts: dict[str, int | None] = {}
    for key in ("min_count", "max_count"):
        value = raw.get(key)
        counts[key] = None
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            problems.add(f"{place}.{key}", f"not a non-negative whole number: {value!r}")
        else:
            counts[key] = value
    lo, hi = counts["min_count"], counts["max_count"]
    if lo is not None and hi is not None and lo > hi:
        problems.add(f"{place}.max_count", f"is below min_count ({hi} < {lo})")
    max_gap = None
    if "max_gap" in raw:
        try:
            max_gap = parse_duration(raw["max_gap"])
        except ValueError as exc:
            problems.add(f"{place}.max_gap", str(exc))
        else:
            if max_gap <= 0:
                problems.add(f"{place}.max_gap", "must be longer than 0s")
                max_gap = None
    ratio = None
    if "min_ok_ratio" in raw:
        value = raw["min_ok_ratio"]
        if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 1:
            problems.add(f"{place}.min_ok_ratio", f"not a ratio between 0 and 1: {value!r}")
        else:
            ratio = float(value)
    if len(problems.problems) > before:
        return None
    return Tolerance(min_count=lo, max_count=hi, max_gap=max_gap, min_ok_ratio=ratio)
