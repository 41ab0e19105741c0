"""parse_workplan: one workplan file's bytes to a WorkplanRecord and its problems; never raises."""

from __future__ import annotations

import re

from devhub.model import ParsedFile, Problem, WorkplanRecord
from devhub.workplans._frontmatter import read_frontmatter
from devhub.workplans._outline import Heading, scan_outline
from devhub.workplans._problems import ProblemSink
from devhub.workplans._references import read_references
from devhub.workplans._tasks import read_tasks
from devhub.workplans._text import decode_lines

_WORKPLAN_PATH = re.compile(r"^workplans/(?:archived/)?(?!\.)[^/]+\.md$")
_ID_PREFIX = re.compile(r"^\S+\s*[:\u2014\u2013-]\s+")


def is_workplan_path(relpath: str) -> bool:
    """True for `workplans/*.md` and `workplans/archived/*.md` (posix), except README.md and dot-files."""
    if relpath.startswith("./"):
        relpath = relpath[2:]
    if not _WORKPLAN_PATH.match(relpath):
        return False
    return relpath.rsplit("/", 1)[-1].lower() != "readme.md"


def parse_workplan(data: bytes, path: str) -> ParsedFile:
    """Parse one workplan file; bad input becomes problems with lines, never an exception."""
    try:
        return _parse(data, path)
    except Exception as exc:  # the contract is "never raises": a parser bug is reported, not thrown
        return ParsedFile(path, None, (_parser_error(path, exc),))


def _parser_error(path: str, exc: Exception) -> Problem:
    return Problem(path, 0, "error", "parser-error", f"internal parser failure: {exc!r}")


def _parse(data: bytes, path: str) -> ParsedFile:
    sink = ProblemSink(path)
    lines = decode_lines(data, sink)
    front = read_frontmatter(lines, path, sink)
    if front.id is None:
        return ParsedFile(path, None, sink.ordered())
    workplan_id = front.id
    outline = scan_outline(lines, front.body_start, sink)
    tasks, spans, task_refs = read_tasks(lines, outline, workplan_id, sink)
    references = task_refs + read_references(lines, front.body_start, outline, workplan_id, spans, sink)
    references.sort(key=lambda ref: ref.line)
    fields = front.fields
    record = WorkplanRecord(
        id=workplan_id,
        path=path,
        archived=path.startswith("workplans/archived/"),
        type=fields.get("type"),
        title=fields.get("title") or _title_from_h1(outline.headings, workplan_id),
        domain=fields.get("domain"),
        repo=fields.get("repo"),
        owner=fields.get("owner"),
        topic_slug=fields.get("topic_slug"),
        status=fields.get("status"),
        status_raw=fields.get("status_raw"),
        status_line=front.status_line,
        planning_priority=fields.get("planning_priority"),
        planning_order=fields.get("planning_order"),
        created=fields.get("created"),
        updated=fields.get("updated"),
        finished=fields.get("finished"),
        state_hub_workstream_id=fields.get("state_hub_workstream_id"),
        extra=front.extra,
        body="\n".join(lines[front.body_start :]).strip(),
        tasks=tuple(tasks),
        references=tuple(references),
    )
    return ParsedFile(path, record, sink.ordered())


def _title_from_h1(headings: list[Heading], workplan_id: str) -> str | None:
    """Without a frontmatter title, the first `# ` heading, minus a leading `<ID> -`."""
    for heading in headings:
        if heading.level == 1 and heading.text:
            text = heading.text
            if text.startswith(workplan_id):
                text = _ID_PREFIX.sub("", text, count=1)
            return text or None
    return None
