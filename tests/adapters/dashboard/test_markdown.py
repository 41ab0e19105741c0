"""The body renderer: a Markdown subset where every source character is escaped and no script gets through."""

from __future__ import annotations

from devhub.adapters.dashboard.markdown import inline, render


def test_html_in_the_source_is_shown_as_text() -> None:
    html = render('<script>alert("x")</script>\n\n<img src=x onerror=alert(1)>')
    assert "<script" not in html and "<img" not in html
    assert "&lt;script&gt;" in html and "&lt;img src=x onerror=alert(1)&gt;" in html


def test_only_web_and_relative_links_become_anchors() -> None:
    assert inline("[docs](https://example.org/a)") == '<a href="https://example.org/a">docs</a>'
    assert inline("[up](../README.md)") == '<a href="../README.md">up</a>'
    for bad in ("javascript:alert(1)", "data:text/html,hi", "vbscript:x"):
        assert "<a" not in inline(f"[click]({bad})")


def test_blocks_headings_lists_code_and_tables() -> None:
    source = "# Title\n\nText with `code <b>` and **bold**.\n\n- one\n  wrapped\n- two\n\n```\nx < y\n```\n\n"
    html = render(source + "| a | b |\n|---|---|")
    assert "<h3>Title</h3>" in html
    assert "<p>Text with <code>code &lt;b&gt;</code> and <strong>bold</strong>.</p>" in html
    assert "<ul><li>one wrapped</li><li>two</li></ul>" in html
    assert "<pre><code>x &lt; y</code></pre>" in html
    assert '<pre class="table">| a | b |' in html


def test_an_unclosed_fence_keeps_its_text() -> None:
    assert "still here" in render("```\nstill here")


def test_the_id_linker_sees_escaped_text_only() -> None:
    seen: list[str] = []

    def linker(text: str) -> str:
        seen.append(text)
        return text.replace("CUST-WP-0054", '<a href="/ui/workplans/CUST-WP-0054">CUST-WP-0054</a>')

    html = render("See CUST-WP-0054 <now>", linker)
    assert '<a href="/ui/workplans/CUST-WP-0054">CUST-WP-0054</a> &lt;now&gt;' in html
    assert all("<" not in text for text in seen)
