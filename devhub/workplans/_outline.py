"""One pass over the markdown body: ATX headings outside code fences, and every fence's extent."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from devhub.workplans._problems import ProblemSink

_HEADING = re.compile(r"^ {0,3}(#{1,6})(?:[ \t]+(.*?))?[ \t]*$")
_CLOSING_HASHES = re.compile(r"(?:^|[ \t]+)#+$")
_FENCE_OPEN = re.compile(r"^ {0,3}(`{3,}|~{3,})[ \t]*([^\s`]*)")
_MARKS = frozenset("#`~")
_CANDIDATE_STARTS = frozenset(" #`~")
_FENCE_CLOSE = re.compile(r"^ {0,3}(`{3,}|~{3,})[ \t]*$")


@dataclass(frozen=True, slots=True)
class Heading:
    """An ATX heading: 0-based line index, level 1-6, and its text without the `#` marks."""

    index: int
    level: int
    text: str


@dataclass(slots=True)
class Outline:
    """Headings in order, and fences keyed by their opening line: (info word, closing line index)."""

    headings: list[Heading] = field(default_factory=list)
    fences: dict[int, tuple[str, int]] = field(default_factory=dict)
    heading_at: dict[int, Heading] = field(default_factory=dict)


def scan_outline(lines: list[str], start: int, sink: ProblemSink) -> Outline:
    """Headings and fences of lines[start:]; a fence never closed runs to the end (and is reported)."""
    outline = Outline()
    fence_open: int | None = None
    fence_marker = ""
    fence_info = ""
    # Only lines starting with a space, `#`, a backtick or `~` can be headings or fences.
    for index in [i for i in range(start, len(lines)) if lines[i][:1] in _CANDIDATE_STARTS]:
        line = lines[index]
        first = line[:1]
        if first == " ":
            stripped = line.lstrip(" ")
            if len(line) - len(stripped) > 3:
                continue
            first = stripped[:1]
        if first not in _MARKS:
            continue
        if fence_open is not None:
            close = _FENCE_CLOSE.match(line)
            if close and close.group(1)[0] == fence_marker[0] and len(close.group(1)) >= len(fence_marker):
                outline.fences[fence_open] = (fence_info, index)
                fence_open = None
            continue
        if first == "#":
            match = _HEADING.match(line)
            if match:
                text = _CLOSING_HASHES.sub("", match.group(2) or "").strip()
                heading = Heading(index, len(match.group(1)), text)
                outline.headings.append(heading)
                outline.heading_at[index] = heading
            continue
        opening = _FENCE_OPEN.match(line)
        if opening and not (opening.group(1)[0] == "`" and "`" in line[opening.end() :]):
            fence_open, fence_marker, fence_info = index, opening.group(1), opening.group(2).lower()
    if fence_open is not None:
        outline.fences[fence_open] = (fence_info, len(lines))
        sink.add("unclosed-fence", fence_open + 1, "this code fence is never closed; it runs to the end of the file")
    return outline
