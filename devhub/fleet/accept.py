"""Evaluate an acceptance spec against evidence in one pass, with bounded memory.

Every check keeps running counters; a probe with max_gap also keeps its
matched timestamps (8 bytes each in an array), because evidence from several
files need not be in time order and the exact worst gap needs them all. They are
sorted once at the end, and only when they arrived out of order.
"""

from __future__ import annotations

from array import array
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from devhub.fleet.accept_spec import AcceptSpec, Matcher, Probe, Scalar, format_duration
from devhub.fleet.evidence import Event, EvidenceStats, iso_z

VIOLATION_EXAMPLES = 3
_MISSING = object()


@dataclass(frozen=True, slots=True)
class ToleranceResult:
    """One bound: what was required, what was observed, whether it holds, and a line for people."""

    name: str
    required: float | int | str
    observed: float | int | None
    holds: bool
    text: str


@dataclass
class CheckResult:
    """The verdict of one check (window, precondition or probe) with its evidence."""

    name: str
    kind: str  # window | precondition | probe
    tolerances: list[ToleranceResult]
    match: dict[str, Any] | None = None
    observed: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    @property
    def holds(self) -> bool:
        return all(t.holds for t in self.tolerances)


@dataclass
class AcceptReport:
    """The outcome of one acceptance run: every check, the evidence read, the overall verdict."""

    spec: AcceptSpec
    checks: list[CheckResult]
    stats: EvidenceStats
    evaluated_at: datetime

    @property
    def holds(self) -> bool:
        return all(check.holds for check in self.checks)

    @property
    def failed(self) -> list[CheckResult]:
        return [check for check in self.checks if not check.holds]

    def as_journal(self) -> dict[str, Any]:
        """The machine-readable journal of this run (what `--json` prints)."""
        spec = self.spec
        return {
            "spec": {"title": spec.title, "path": spec.source},
            "window": {
                "start": iso_z(spec.start),
                "end": iso_z(spec.end),
                "duration_seconds": spec.duration,
                "min_duration_seconds": spec.min_duration,
            },
            "verdict": "pass" if self.holds else "fail",
            "failed": [check.name for check in self.failed],
            "checks": [
                {
                    "name": check.name,
                    "type": check.kind,
                    "verdict": "pass" if check.holds else "fail",
                    "match": check.match,
                    "observed": check.observed,
                    "tolerances": [
                        {
                            "name": t.name,
                            "required": t.required,
                            "observed": t.observed,
                            "verdict": "pass" if t.holds else "fail",
                            "text": t.text,
                        }
                        for t in check.tolerances
                    ],
                    "notes": check.notes,
                }
                for check in self.checks
            ],
            "evidence": self.stats.as_dict(),
            "evaluated_at": iso_z(self.evaluated_at),
        }


def _field(event: Event, path: tuple[str, ...]) -> object:
    head = path[0]
    if head != "detail":
        return getattr(event, head)
    value: object = event.detail
    for key in path[1:]:
        if not isinstance(value, dict) or key not in value:
            return _MISSING
        value = value[key]
    return value


def matches(matcher: Matcher, event: Event) -> bool:
    """True when every condition of the matcher accepts the event's field value."""
    for path, accepted in matcher.conditions:
        value = _field(event, path)
        if value is _MISSING or not _accepts(accepted, value):
            return False
    return True


def _accepts(accepted: tuple[Scalar, ...], value: object) -> bool:
    # bool is an int in Python: keep `true` from matching 1 and the other way round.
    return any(value == a and isinstance(value, bool) == isinstance(a, bool) for a in accepted)


class _ProbeCounter:
    """Running counters for one probe; timestamps kept only when max_gap needs them."""

    def __init__(self, probe: Probe) -> None:
        self.probe = probe
        self.count = 0
        self.ok = 0
        self.times: array[float] | None = array("d") if probe.tolerance.max_gap is not None else None
        self.in_order = True

    def add(self, event: Event) -> None:
        self.count += 1
        if event.status == "ok":
            self.ok += 1
        if self.times is not None:
            if self.times and event.ts < self.times[-1]:
                self.in_order = False
            self.times.append(event.ts)


class _AbsentCounter:
    def __init__(self) -> None:
        self.count = 0
        self.examples: list[str] = []
        self.notes: list[str] = []

    def add(self, event: Event) -> None:
        self.count += 1
        if len(self.examples) < VIOLATION_EXAMPLES:
            what = f"{iso_z(datetime.fromtimestamp(event.ts, UTC))} host={event.host} kind={event.kind}"
            self.examples.append(f"{event.where}: {what}")
            self.notes.extend([f"found {what}", f"   at {event.where}"])


def evaluate(spec: AcceptSpec, events: Iterable[Event], stats: EvidenceStats) -> AcceptReport:
    """Run every check of the spec over the events (already limited to its window) in one pass."""
    absent = [(p.absent, _AbsentCounter()) for p in spec.preconditions]
    probes = [_ProbeCounter(p) for p in spec.probes]
    for event in events:
        for matcher, counter in absent:
            if matches(matcher, event):
                counter.add(event)
        for probe_counter in probes:
            if matches(probe_counter.probe.match, event):
                probe_counter.add(event)

    checks: list[CheckResult] = []
    if spec.min_duration is not None:
        checks.append(_window_check(spec))
    for precondition, (_, absent_counter) in zip(spec.preconditions, absent, strict=True):
        checks.append(
            CheckResult(
                name=precondition.name,
                kind="precondition",
                match=precondition.absent.as_dict(),
                tolerances=[
                    ToleranceResult(
                        "absent",
                        0,
                        absent_counter.count,
                        absent_counter.count == 0,
                        f"matching events {absent_counter.count} = 0",
                    )
                ],
                observed={"count": absent_counter.count, "examples": absent_counter.examples},
                notes=absent_counter.notes,
            )
        )
    checks.extend(_probe_check(spec, counter) for counter in probes)
    return AcceptReport(spec=spec, checks=checks, stats=stats, evaluated_at=datetime.now(UTC))


def _window_check(spec: AcceptSpec) -> CheckResult:
    required = spec.min_duration or 0.0
    holds = spec.duration >= required
    text = f"min_duration {format_duration(spec.duration)} ≥ {format_duration(required)}"
    return CheckResult(
        name="window covers the minimum duration",
        kind="window",
        tolerances=[ToleranceResult("min_duration", required, spec.duration, holds, text)],
        observed={"duration_seconds": spec.duration},
    )


def worst_gap(times: array[float], in_order: bool, start: float, end: float) -> tuple[float, float]:
    """The (from, to) bounds of the longest stretch without a match, counting both window edges."""
    ordered: Iterable[float] = times if in_order else sorted(times)
    best_from, best_to = start, start
    previous = start
    for moment in ordered:
        if moment - previous > best_to - best_from:
            best_from, best_to = previous, moment
        previous = moment
    if end - previous > best_to - best_from:
        best_from, best_to = previous, end
    return best_from, best_to


def _probe_check(spec: AcceptSpec, counter: _ProbeCounter) -> CheckResult:
    tolerance = counter.probe.tolerance
    count, ok = counter.count, counter.ok
    results: list[ToleranceResult] = []
    observed: dict[str, Any] = {"count": count, "ok_count": ok, "ok_ratio": ok / count if count else None}
    notes: list[str] = []
    if tolerance.min_count is not None:
        holds = count >= tolerance.min_count
        results.append(
            ToleranceResult(
                "min_count", tolerance.min_count, count, holds, f"min_count {count} ≥ {tolerance.min_count}"
            )
        )
    if tolerance.max_count is not None:
        holds = count <= tolerance.max_count
        results.append(
            ToleranceResult(
                "max_count", tolerance.max_count, count, holds, f"max_count {count} ≤ {tolerance.max_count}"
            )
        )
    if tolerance.max_gap is not None and counter.times is not None:
        start, end = spec.start.timestamp(), spec.end.timestamp()
        gap_from, gap_to = worst_gap(counter.times, counter.in_order, start, end)
        gap = gap_to - gap_from
        holds = gap <= tolerance.max_gap
        from_label = "window start" if gap_from == start else "a match"
        to_label = "window end" if gap_to == end else "the next match"
        bounds = {
            "from": iso_z(datetime.fromtimestamp(gap_from, UTC)),
            "to": iso_z(datetime.fromtimestamp(gap_to, UTC)),
            "from_is": from_label,
            "to_is": to_label,
            "seconds": gap,
        }
        observed["worst_gap"] = bounds
        results.append(
            ToleranceResult(
                "max_gap",
                tolerance.max_gap,
                gap,
                holds,
                f"max_gap {format_duration(gap)} ≤ {format_duration(tolerance.max_gap)}",
            )
        )
        if not holds:
            notes.append(f"worst gap from {bounds['from']} ({from_label})")
            notes.append(f"            to {bounds['to']} ({to_label})")
    if tolerance.min_ok_ratio is not None:
        ratio = ok / count if count else None
        holds = ratio is not None and ratio >= tolerance.min_ok_ratio
        shown = f"{ratio:.4f} ({ok}/{count} ok)" if ratio is not None else "n/a (no matching events)"
        results.append(
            ToleranceResult(
                "min_ok_ratio",
                tolerance.min_ok_ratio,
                ratio,
                holds,
                f"min_ok_ratio {shown} ≥ {tolerance.min_ok_ratio:g}",
            )
        )
    return CheckResult(
        name=counter.probe.name,
        kind="probe",
        match=counter.probe.match.as_dict(),
        tolerances=results,
        observed=observed,
        notes=notes,
    )
