"""A small, safe Markdown subset for task and workplan bodies: every character of the source is escaped.

Supported: ATX headings, paragraphs, `-`/`*`/`1.` lists, fenced code, pipe tables
(shown preformatted), `inline code`, **bold**, *emphasis* and links with http(s) or
relative targets. Anything else stays visible as literal text: nothing is dropped.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from html import escape

_HEADING = re.compile(r"^(#{1,6})\s+(.*)$")
_BULLET = re.compile(r"^\s*[-*+]\s+(.*)$")
_NUMBERED = re.compile(r"^\s*\d+[.)]\s+(.*)$")
_INLINE = re.compile(
    r"`(?P<code>[^`]+)`"
    r"|\*\*(?P<bold>[^*]+)\*\*"
    r"|(?<![\w*])\*(?P<em>[^*\s][^*]*)\*(?![\w*])"
    r"|\[(?P<text>[^\]]+)\]\((?P<url>[^)\s]+)\)"
)

Linker = Callable[[str], str]


def _safe_url(url: str) -> bool:
    """Web and relative links only: no `javascript:`, `data:` or other schemes."""
    return url.lower().startswith(("http://", "https://", "/", "#")) or ":" not in url.split("/", 1)[0]


def _plain(text: str, link_ids: Linker | None) -> str:
    escaped = escape(text)
    return link_ids(escaped) if link_ids else escaped


def inline(text: str, link_ids: Linker | None = None) -> str:
    """One line of inline Markdown as HTML; `link_ids` may turn known ids in plain (escaped) text into links."""
    out: list[str] = []
    position = 0
    for match in _INLINE.finditer(text):
        out.append(_plain(text[position : match.start()], link_ids))
        if match["code"] is not None:
            out.append(f"<code>{_plain(match['code'], link_ids)}</code>")
        elif match["bold"] is not None:
            out.append(f"<strong>{_plain(match['bold'], link_ids)}</strong>")
        elif match["em"] is not None:
            out.append(f"<em>{_plain(match['em'], link_ids)}</em>")
        elif _safe_url(match["url"]):
            out.append(f'<a href="{escape(match["url"])}">{escape(match["text"])}</a>')
        else:
            out.append(escape(match.group(0)))
        position = match.end()
    out.append(_plain(text[position:], link_ids))
    return "".join(out)


def render(source: str | None, link_ids: Linker | None = None) -> str:
    """The body as safe HTML blocks (headings start at h3 so they sit under the page's own)."""
    lines = (source or "").replace("\r\n", "\n").split("\n")
    html: list[str] = []
    paragraph: list[str] = []
    index = 0

    def flush() -> None:
        if paragraph:
            html.append("<p>" + " ".join(inline(line.strip(), link_ids) for line in paragraph) + "</p>")
            paragraph.clear()

    while index < len(lines):
        line = lines[index]
        stripped = line.strip()
        if stripped.startswith("```"):
            flush()
            block = []
            index += 1
            while index < len(lines) and not lines[index].strip().startswith("```"):
                block.append(lines[index])
                index += 1
            html.append(f"<pre><code>{escape(chr(10).join(block))}</code></pre>")
        elif stripped.startswith("|"):
            flush()
            block = []
            while index < len(lines) and lines[index].strip().startswith("|"):
                block.append(lines[index].strip())
                index += 1
            html.append(f'<pre class="table">{escape(chr(10).join(block))}</pre>')
            continue
        elif heading := _HEADING.match(stripped):
            flush()
            level = min(6, len(heading[1]) + 2)
            html.append(f"<h{level}>{inline(heading[2], link_ids)}</h{level}>")
        elif _BULLET.match(line) or _NUMBERED.match(line):
            flush()
            tag = "ul" if _BULLET.match(line) else "ol"
            items: list[str] = []
            while index < len(lines) and lines[index].strip():
                item = _BULLET.match(lines[index]) or _NUMBERED.match(lines[index])
                if item:
                    items.append(item[1])
                elif items:
                    items[-1] += " " + lines[index].strip()  # a wrapped item continues on the next line
                index += 1
            html.append(f"<{tag}>" + "".join(f"<li>{inline(i, link_ids)}</li>" for i in items) + f"</{tag}>")
            continue
        elif not stripped:
            flush()
        else:
            paragraph.append(line)
        index += 1
    flush()
    return "\n".join(html)
