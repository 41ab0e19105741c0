"""Time charts as inline SVG, drawn on the server from the time reads' JSON (no script, no outside library).

Every chart draws one mark per data point, each carrying its numbers in `data-*` attributes (the
browser tests compare them with the API) and a `<title>` (the tooltip). Colours come from CSS
classes, so the light and dark schemes restyle them; a text summary and a table say the same in words.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from html import escape
from typing import Any

WIDTH = 720
HEIGHT = 200
LEFT = 36  # room for the y labels
RIGHT = 8
TOP = 10
BOTTOM = 24  # room for the x labels
SERIES_CLASSES = 8  # .series-0 … .series-7 in the stylesheet; later groups reuse them


def _moment(timestamp: str) -> float | None:
    try:
        moment = datetime.fromisoformat(timestamp.replace("Z", "+00:00"))
    except ValueError:
        return None
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).timestamp()


def _nice_max(value: float) -> int:
    """A round axis top at or above `value`: 1, 2, 5, 10, 20, 50, …"""
    if value <= 1:
        return 1
    magnitude = 10 ** math.floor(math.log10(value))
    return next(step * magnitude for step in (1, 2, 5, 10) if step * magnitude >= value)


def _frame(label: str, y_top: int) -> list[str]:
    plot_h = HEIGHT - TOP - BOTTOM
    return [
        f'<svg class="chart" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}"'
        f' preserveAspectRatio="xMinYMin meet" role="img" aria-label="{escape(label)}">',
        f'<line class="axis" x1="{LEFT}" y1="{TOP + plot_h}" x2="{WIDTH - RIGHT}" y2="{TOP + plot_h}"/>',
        f'<line class="grid" x1="{LEFT}" y1="{TOP}" x2="{WIDTH - RIGHT}" y2="{TOP}"/>',
        f'<text class="tick" x="{LEFT - 4}" y="{TOP + 4}" text-anchor="end">{y_top}</text>',
        f'<text class="tick" x="{LEFT - 4}" y="{TOP + plot_h}" text-anchor="end">0</text>',
    ]


def series_class(group: str, groups: Sequence[str]) -> str:
    """The colour class of a group: its rank among the busiest groups, cycling through the palette."""
    index = groups.index(group) if group in groups else len(groups)
    return f"series-{index % SERIES_CLASSES}"


def activity_svg(report: Mapping[str, Any]) -> str:
    """Stacked bars: one column per day, one segment (`data-bucket`) per group that did something that day."""
    dates: list[str] = list(report["dates"])
    groups: list[str] = list(report["groups"])
    per_day: dict[str, list[Mapping[str, Any]]] = {}
    for bucket in report["buckets"]:
        per_day.setdefault(bucket["day"], []).append(bucket)
    day_totals = {day: sum(b["progress_events"] + b["status_changes"] for b in items) for day, items in per_day.items()}
    y_top = _nice_max(max(day_totals.values(), default=1))
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    slot = plot_w / max(len(dates), 1)
    bar = max(slot * 0.7, 1.0)
    total = report["totals"]["progress_events"] + report["totals"]["status_changes"]
    parts = _frame(
        f"Activity per day over the last {len(dates)} days by {report['by']}: {report['totals']['progress_events']}"
        f" progress events and {report['totals']['status_changes']} status changes",
        y_top,
    )
    for index, day in enumerate(dates):
        x = LEFT + index * slot + (slot - bar) / 2
        if index % 7 == (len(dates) - 1) % 7:  # a label every week, ending on today
            middle = x + bar / 2
            parts.append(f'<text class="tick" x="{middle:.1f}" y="{HEIGHT - 6}" text-anchor="middle">{day[5:]}</text>')
        base = TOP + plot_h
        rank = {group: position for position, group in enumerate(groups)}
        for bucket in sorted(per_day.get(day, []), key=lambda b: rank.get(b["group"], 0)):
            count = bucket["progress_events"] + bucket["status_changes"]
            height = plot_h * count / y_top
            base -= height
            parts.append(
                f'<rect class="mark {series_class(bucket["group"], groups)}" x="{x:.1f}" y="{base:.1f}"'
                f' width="{bar:.1f}" height="{height:.1f}" data-bucket data-day="{escape(day)}"'
                f' data-group="{escape(bucket["group"])}" data-progress-events="{bucket["progress_events"]}"'
                f' data-status-changes="{bucket["status_changes"]}">'
                f"<title>{escape(day)} · {escape(bucket['group'])}: {bucket['progress_events']} progress,"
                f" {bucket['status_changes']} status changes</title></rect>"
            )
    if not total:
        parts.append(
            f'<text class="empty-note" x="{LEFT + plot_w / 2:.0f}" y="{TOP + plot_h / 2:.0f}" text-anchor="middle">'
            "No progress events or status changes in this window</text>"
        )
    parts.append("</svg>")
    return "".join(parts)


def history_svg(history: Mapping[str, Any], now: float | None = None) -> str:
    """A step line of done tasks over time, one `data-point` circle per status write, and a line at the total."""
    points = [p for p in history["points"] if _moment(p["ts"]) is not None]
    total = int(history["tasks_total"])
    y_top = max(total, 1)
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    end = now if now is not None else datetime.now(UTC).timestamp()
    start = min((_moment(p["ts"]) or end for p in points), default=end)
    span = max(end - start, 1.0)

    def x_of(moment: float) -> float:
        return LEFT + plot_w * (moment - start) / span

    def y_of(done: int) -> float:
        return TOP + plot_h - plot_h * done / y_top

    parts = _frame(
        f"Done tasks of {history['id']} after each local status write: {len(points)} writes,"
        f" {history['tasks_done']} of {total} done now",
        y_top,
    )
    goal = y_of(total)
    parts.append(f'<line class="target" x1="{LEFT}" y1="{goal:.1f}" x2="{WIDTH - RIGHT}" y2="{goal:.1f}"/>')
    if points:
        path = [f"M{LEFT},{y_of(int(history['done_before_first_write'])):.1f}"]
        for point in points:
            x = x_of(_moment(point["ts"]) or end)
            path.append(f"H{x:.1f} V{y_of(point['done']):.1f}")
        path.append(f"H{x_of(end):.1f}")
        parts.append(f'<path class="line" d="{" ".join(path)}"/>')
        first, last = _label_time(start), _label_time(end)
        parts.append(f'<text class="tick" x="{LEFT}" y="{HEIGHT - 6}">{escape(first)}</text>')
        parts.append(f'<text class="tick" x="{WIDTH - RIGHT}" y="{HEIGHT - 6}" text-anchor="end">{escape(last)}</text>')
    else:
        parts.append(
            f'<text class="empty-note" x="{LEFT + plot_w / 2:.0f}" y="{TOP + plot_h / 2:.0f}" text-anchor="middle">'
            "No local status writes yet: the history starts with the first one</text>"
        )
    for point in points:
        x = x_of(_moment(point["ts"]) or end)
        parts.append(
            f'<circle class="mark" cx="{x:.1f}" cy="{y_of(point["done"]):.1f}" r="3.5" data-point'
            f' data-ts="{escape(point["ts"])}" data-done="{point["done"]}" data-total="{point["total"]}"'
            f' data-task-id="{escape(point["task_id"])}"><title>{escape(point["ts"])}: {escape(point["task_id"])}'
            f" → {escape(str(point['status']))}; {point['done']}/{point['total']} done</title></circle>"
        )
    parts.append("</svg>")
    return "".join(parts)


def _label_time(moment: float) -> str:
    return datetime.fromtimestamp(moment, UTC).strftime("%m-%d %H:%M")


def relay_svg(history: Mapping[str, Any], field: str, label: str, unit: str, now: float | None = None) -> str:
    """One sampled relay value (`pending` or `oldest_pending_age_seconds`) over the window: a line and one
    `data-sample` circle per sample (samples without a value — the journal unreadable — leave a gap)."""
    end = now if now is not None else datetime.now(UTC).timestamp()
    start = end - int(history["hours"]) * 3600
    samples = [s for s in history["samples"] if _moment(s["ts"]) is not None]
    values = [float(s[field]) for s in samples if s[field] is not None]
    y_top = _nice_max(max(values, default=1.0))
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM

    def x_of(moment: float) -> float:
        return LEFT + plot_w * max(0.0, moment - start) / (end - start)

    def y_of(value: float) -> float:
        return TOP + plot_h - plot_h * value / y_top

    parts = _frame(f"{label} ({unit}) over the last {history['hours']} h: {len(samples)} samples", y_top)
    parts.append(f'<text class="tick" x="{LEFT}" y="{HEIGHT - 6}">−{history["hours"]} h</text>')
    parts.append(f'<text class="tick" x="{WIDTH - RIGHT}" y="{HEIGHT - 6}" text-anchor="end">now</text>')
    line: list[str] = []
    for sample in samples:
        if sample[field] is None:
            line.append("")
            continue
        command = "L" if line and line[-1] else "M"
        line.append(f"{command}{x_of(_moment(sample['ts']) or end):.1f},{y_of(float(sample[field])):.1f}")
    if any(line):
        parts.append(f'<path class="line" d="{" ".join(step for step in line if step)}"/>')
    for sample in samples:
        value = sample[field]
        if value is None:
            continue
        parts.append(
            f'<circle class="mark" cx="{x_of(_moment(sample["ts"]) or end):.1f}" cy="{y_of(float(value)):.1f}" r="2"'
            f' data-sample data-ts="{escape(sample["ts"])}" data-value="{value}"'
            f' data-state="{escape(str(sample["state"]))}"><title>{escape(sample["ts"])}: {value}</title></circle>'
        )
    if not samples:
        parts.append(
            f'<text class="empty-note" x="{LEFT + plot_w / 2:.0f}" y="{TOP + plot_h / 2:.0f}" text-anchor="middle">'
            "No samples yet: the hub takes one a minute while it runs, and soon after each change</text>"
        )
    parts.append("</svg>")
    return "".join(parts)
