"""The smallest edit of a workplan file: replace one `status:` value, every other byte kept.

Pure functions over bytes (no I/O): line endings, quoting, spacing and a trailing comment stay
exactly as they were; only the characters of the value itself change.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# prefix (indent, optional list dash, key, colon, spaces) | value (quoted or plain) | rest (spaces, comment, CR)
_STATUS_LINE = re.compile(
    r"""^(?P<prefix>[ \t]*status[ \t]*:[ \t]*)
        (?P<value>"[^"\\\r]*"|'(?:[^'\r]|'')*'|[^\s#"'][^#\r]*?)?
        (?P<rest>[ \t]*(?:\#[^\r]*)?\r?)$""",
    re.VERBOSE,
)


class UneditableLine(ValueError):
    """The line is not a `status:` entry of a shape writeback can change safely."""


@dataclass(frozen=True, slots=True)
class StatusValue:
    """Where the value sits on a `status:` line, and the word it holds once unquoted."""

    start: int  # character offsets into the decoded line
    end: int
    word: str | None  # unquoted; None for an empty value
    quote: str  # '"', "'" or ""


def find_status_value(line: str) -> StatusValue:
    """Locate the value of a `status:` line; UneditableLine when the line has another shape."""
    match = _STATUS_LINE.match(line)
    if match is None:
        raise UneditableLine(f"not a plain `status: value` line: {line.rstrip(chr(13))!r}")
    raw = match.group("value")
    if raw is None:
        end = match.end("prefix")
        return StatusValue(end, end, None, "")
    start, end = match.span("value")
    if raw[0] in "\"'":
        inner = raw[1:-1]
        return StatusValue(start, end, inner.replace("''", "'") if raw[0] == "'" else inner, raw[0])
    return StatusValue(start, end, raw, "")


def replace_status_value(line: str, word: str) -> str:
    """The line with its status value replaced by `word` (same quote character, same surroundings)."""
    found = find_status_value(line)
    if found.quote == "'":
        new_value = "'" + word.replace("'", "''") + "'"
    elif found.quote == '"':
        new_value = '"' + word + '"'
    else:
        new_value = word
    if found.word is None:
        # An empty value: the word needs a space after the colon, and before a comment (or YAML reads `#` as text).
        if not line[: found.start].endswith((" ", "\t")):
            new_value = " " + new_value
        if line[found.end :].startswith("#"):
            new_value += " "
    return line[: found.start] + new_value + line[found.end :]


def edit_lines(data: bytes, replacements: dict[int, str]) -> bytes:
    """`data` with the status value on each given 1-based line replaced by its word."""
    lines = data.split(b"\n")
    for number, word in replacements.items():
        index = number - 1
        if not 0 <= index < len(lines):
            raise UneditableLine(f"line {number} is past the end of the file ({len(lines)} lines)")
        try:
            text = lines[index].decode("utf-8")
        except UnicodeDecodeError:
            raise UneditableLine(f"line {number} is not valid UTF-8") from None
        try:
            lines[index] = replace_status_value(text, word).encode("utf-8")
        except UneditableLine as exc:
            raise UneditableLine(f"line {number}: {exc}") from None
    return b"\n".join(lines)


def status_word_on_line(data: bytes, number: int) -> str | None:
    """The unquoted status word on 1-based line `number` of `data` (UneditableLine if not a status line)."""
    lines = data.split(b"\n")
    if not 0 < number <= len(lines):
        raise UneditableLine(f"line {number} is past the end of the file ({len(lines)} lines)")
    try:
        text = lines[number - 1].decode("utf-8")
    except UnicodeDecodeError:
        raise UneditableLine(f"line {number} is not valid UTF-8") from None
    return find_status_value(text).word
