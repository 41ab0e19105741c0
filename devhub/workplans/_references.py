"""Workplan-level references: the `## Dependencies` section, the `## Sequencing` tree, and mentions."""

from __future__ import annotations

import re

from devhub.model import Reference
from devhub.workplans._ids import mentions_in, qualify, task_workplan_part
from devhub.workplans._outline import Heading, Outline
from devhub.workplans._problems import ProblemSink
from devhub.workplans._sequencing import sequencing_edges
from devhub.workplans._tasks import TaskSpan

_DEPENDENCIES = re.compile(r"^dependencies\b", re.IGNORECASE)
_SEQUENCING = re.compile(r"^sequencing\b", re.IGNORECASE)


def read_references(
    lines: list[str],
    body_start: int,
    outline: Outline,
    workplan_id: str,
    spans: list[TaskSpan],
    sink: ProblemSink,
) -> list[Reference]:
    """Dependencies-section, sequencing and mention references of one file."""
    references: list[Reference] = []
    dependency_pairs: set[tuple[str, str]] = set()
    for _heading, start, end in _sections(outline, _DEPENDENCIES, len(lines)):
        for index in range(start, end):
            for mentioned in mentions_in(lines[index]):
                target = task_workplan_part(mentioned) or mentioned
                if target != workplan_id and (workplan_id, target) not in dependency_pairs:
                    dependency_pairs.add((workplan_id, target))
                    references.append(Reference(workplan_id, target, "dependencies", index + 1))
    for heading, start, end in _sections(outline, _SEQUENCING, len(lines)):
        rows = [(index + 1, lines[index]) for index in range(start, end) if index not in outline.fences]
        rows = [row for row in rows if not row[1].lstrip().startswith(("```", "~~~"))]
        try:
            edges = sequencing_edges(rows)
        except Exception as exc:  # best effort by contract: a strange tree is a warning, never a crash
            sink.add("sequencing-unparsed", heading.index + 1, f"could not read the sequencing tree: {exc!r}")
            continue
        for child, parent, line in edges:
            references.append(Reference(qualify(child, workplan_id), qualify(parent, workplan_id), "sequencing", line))
    references.extend(_mentions(lines, body_start, workplan_id, spans, dependency_pairs))
    return references


def _sections(outline: Outline, title: re.Pattern[str], total: int) -> list[tuple[Heading, int, int]]:
    """(heading, first line, end) of each section whose heading text matches `title`."""
    found = []
    for position, heading in enumerate(outline.headings):
        if not title.match(heading.text):
            continue
        end = next((h.index for h in outline.headings[position + 1 :] if h.level <= heading.level), total)
        found.append((heading, heading.index + 1, end))
    return found


def _mentions(
    lines: list[str], body_start: int, workplan_id: str, spans: list[TaskSpan], skip: set[tuple[str, str]]
) -> list[Reference]:
    references = []
    seen = set(skip)
    span_index = 0
    candidates = [i for i in range(body_start, len(lines)) if "-WP-" in lines[i] or "ADHOC-" in lines[i]]
    for index in candidates:
        line = lines[index]
        while span_index < len(spans) and spans[span_index].body_end <= index:
            span_index += 1
        source = workplan_id
        if span_index < len(spans):
            span = spans[span_index]
            if span.block_start <= index < span.block_end:
                continue  # a task's own metadata block is not prose
            if span.heading <= index:
                source = span.task_id
        for target in mentions_in(line):
            if target in (workplan_id, source) or (source, target) in seen:
                continue
            seen.add((source, target))
            references.append(Reference(source, target, "mention", index + 1))
    return references
