"""The time charts' SVG: one mark per data point with its numbers, escaping, empty states."""

from __future__ import annotations

import re

from devhub.adapters.dashboard.charts import activity_svg, history_svg, relay_svg

HOSTILE = '<script>alert("x")</script>'


def _report(buckets: list[dict]) -> dict:  # type: ignore[type-arg]
    dates = ["2026-11-29", "2026-11-30", "2026-12-01"]
    groups = sorted({b["group"] for b in buckets})
    totals = {k: sum(b[k] for b in buckets) for k in ("progress_events", "status_changes")}
    return {"days": 3, "by": "workplan", "from": dates[0], "to": dates[-1], "dates": dates, "groups": groups,
            "buckets": buckets, "totals": totals}


def test_activity_draws_one_segment_per_bucket_stacked_within_its_day() -> None:
    buckets = [
        {"day": "2026-11-30", "group": "A-WP-1", "progress_events": 2, "status_changes": 1},
        {"day": "2026-11-30", "group": HOSTILE, "progress_events": 0, "status_changes": 1},
        {"day": "2026-12-01", "group": "A-WP-1", "progress_events": 4, "status_changes": 0},
    ]
    svg = activity_svg(_report(buckets))
    marks = re.findall(r"<rect [^>]*data-bucket[^>]*>", svg)
    assert len(marks) == 3
    assert "<script>" not in svg and "&lt;script&gt;" in svg
    heights = {m: float(re.search(r'height="([\d.]+)"', m)[1]) for m in marks}  # type: ignore[index]
    tallest = max(heights.values())
    assert 'data-progress-events="4"' in max(heights, key=lambda m: heights[m]) and tallest > 0
    same_day = [m for m in marks if 'data-day="2026-11-30"' in m]
    ys = sorted(float(re.search(r' y="([\d.]+)"', m)[1]) for m in same_day)  # type: ignore[index]
    assert ys[0] < ys[1], "segments of one day are stacked, not drawn over each other"


def test_an_empty_window_says_so_and_draws_no_marks() -> None:
    svg = activity_svg(_report([]))
    assert "data-bucket" not in svg and "No progress events" in svg


def test_history_has_one_point_per_write_and_ends_at_the_last_count() -> None:
    points = [
        {"ts": "2026-12-01T10:00:00.000Z", "done": 1, "total": 3, "task_id": "X-T1", "status": "done", "seq": 1,
         "agent": None},
        {"ts": "2026-12-01T11:00:00.000Z", "done": 2, "total": 3, "task_id": "X-T2", "status": "done", "seq": 2,
         "agent": None},
    ]
    history = {"id": "X", "repo": "r", "tasks_done": 2, "tasks_total": 3, "done_before_first_write": 0,
               "points": points}
    svg = history_svg(history, now=1764590400.0 + 86400)
    circles = re.findall(r'<circle [^>]*data-point[^>]*data-done="(\d)"', svg)
    assert circles == ["1", "2"]
    assert 'class="line"' in svg and 'class="target"' in svg


def test_relay_chart_skips_samples_without_a_value_and_keeps_the_rest() -> None:
    samples = [
        {"ts": "2026-12-01T10:00:00.000Z", "state": "idle", "pending": 0, "oldest_pending_age_seconds": None},
        {"ts": "2026-12-01T10:01:00.000Z", "state": "offline", "pending": 7, "oldest_pending_age_seconds": 42.0},
        {"ts": "2026-12-01T10:02:00.000Z", "state": "offline", "pending": None, "oldest_pending_age_seconds": None},
    ]
    history = {"hours": 24, "interval_seconds": 60, "samples": samples}
    depth = relay_svg(history, "pending", "Depth", "writes", now=1764583400.0)
    age = relay_svg(history, "oldest_pending_age_seconds", "Age", "seconds", now=1764583400.0)
    assert re.findall(r'data-value="([\d.]+)"', depth) == ["0", "7"]
    assert re.findall(r'data-value="([\d.]+)"', age) == ["42.0"]
    assert "No samples yet" in relay_svg({"hours": 24, "interval_seconds": 60, "samples": []}, "pending", "D", "w")
