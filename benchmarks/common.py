"""Shared benchmark helpers: the figure record every bench module returns, percentiles, timers.

A figure always carries the floor measured in the same run; `ratio` is always value / floor,
and `better` says which direction is good ("lower" for times, "higher" for throughputs).
"""

from __future__ import annotations

import math
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from typing import Any, Literal

Better = Literal["lower", "higher"]


def figure(
    name: str,
    value: float,
    unit: str,
    floor: float,
    floor_name: str,
    target: str,
    met: bool,
    *,
    better: Better = "lower",
    **extra: Any,
) -> dict[str, Any]:
    """One benchmark figure per the contract; ratio = value / floor (inf when the floor is 0)."""
    if not math.isfinite(value) or not math.isfinite(floor):
        raise ValueError(f"figure {name!r}: value {value!r} and floor {floor!r} must be finite numbers")
    ratio = value / floor if floor else math.inf
    record: dict[str, Any] = {
        "name": name,
        "value": float(value),
        "unit": unit,
        "floor": float(floor),
        "floor_name": floor_name,
        "ratio": ratio,
        "ratio_of": "value/floor",
        "better": better,
        "target": target,
        "met": bool(met),
    }
    record.update(extra)
    return record


def percentile(samples: Sequence[float], pct: float) -> float:
    """The pct-th percentile (0..100) of samples, linearly interpolated between closest ranks."""
    if not samples:
        raise ValueError("percentile of no samples")
    if not 0 <= pct <= 100:
        raise ValueError(f"percentile {pct} is outside 0..100")
    ordered = sorted(samples)
    position = (len(ordered) - 1) * pct / 100
    low = math.floor(position)
    high = math.ceil(position)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def median(samples: Sequence[float]) -> float:
    return statistics.median(samples)


class Stopwatch:
    """`with Stopwatch() as sw: ...` then `sw.seconds` (perf_counter based)."""

    def __init__(self) -> None:
        self.seconds = 0.0
        self._start = 0.0

    def __enter__(self) -> Stopwatch:
        self._start = time.perf_counter()
        return self

    def __exit__(self, *exc: object) -> None:
        self.seconds = time.perf_counter() - self._start


def time_once(action: Callable[[], object]) -> float:
    """Seconds one call of `action` takes."""
    with Stopwatch() as sw:
        action()
    return sw.seconds


def time_repeated(
    action: Callable[[], object], repeats: int, *, setup: Callable[[], object] | None = None
) -> list[float]:
    """Seconds of each of `repeats` calls; `setup` runs untimed before each call."""
    samples: list[float] = []
    for _ in range(repeats):
        if setup is not None:
            setup()
        samples.append(time_once(action))
    return samples


def log(message: str) -> None:
    """Progress for people watching a long run; stdout is reserved for the JSON document."""
    print(f"[bench] {message}", file=sys.stderr, flush=True)
