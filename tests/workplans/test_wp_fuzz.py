"""parse_workplan never raises and every problem points inside the file, for any input."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from devhub.model import ParsedFile
from devhub.workplans import parse_workplan

_LINES = [
    "---",
    "...",
    "id: CUST-WP-0054",
    "id: T01",
    "id: [a",
    "type: workplan",
    "status: active",
    "status: in_progress",
    "status: ???",
    "depends_on: [T01, T02]",
    "depends_on:",
    "  - T01",
    "- T02",
    "x: &a [*a]",
    "x: !!binary aGk=",
    "## Task: Fuzz",
    "## T01 - Fuzz",
    "## Task T02: Fuzz",
    "### P1.1 — Fuzz",
    "## Dependencies",
    "## Sequencing",
    "# Title",
    "```task",
    "```yaml",
    "```",
    "~~~",
    "├─ T02 x ─┬─ T03 ─┐",
    "│        └─ T04   ├─ T05",
    "└─ T06 ──────────┘",
    "T01 → T02",
    "See CUST-WP-0011-T08/T09 and RAIL-HO-WP-0005.",
    "",
    "   ",
    "\t",
    "key: 'quoted'' value'",
    'key: "esc\\"aped"',
]


def _check(parsed: ParsedFile, data: bytes) -> None:
    total_lines = data.count(b"\n") + 1
    for problem in parsed.problems:
        assert 0 < problem.line <= total_lines, problem
        assert problem.code != "parser-error", problem.message
    if parsed.workplan is not None:
        for task in parsed.workplan.tasks:
            assert 0 < task.line <= total_lines
            assert task.status_line is None or 0 < task.status_line <= total_lines
        for reference in parsed.workplan.references:
            assert 0 < reference.line <= total_lines


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=2000))
def test_arbitrary_bytes_never_raise(data: bytes) -> None:
    _check(parse_workplan(data, "workplans/CUST-WP-0054-x.md"), data)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(st.one_of(st.sampled_from(_LINES), st.text(max_size=40)), max_size=60),
    st.sampled_from(["\n", "\r\n"]),
    st.booleans(),
)
def test_markdownish_text_never_raises(lines: list[str], newline: str, bom: bool) -> None:
    data = (b"\xef\xbb\xbf" if bom else b"") + newline.join(lines).encode("utf-8", "surrogatepass")
    _check(parse_workplan(data, "workplans/archived/ADHOC-2026-07-04.md"), data)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.sampled_from(_LINES), min_size=1, max_size=40))
def test_frontmatter_first_fuzz_is_deterministic(body: list[str]) -> None:
    data = ("---\nid: CUST-WP-0054\ntype: workplan\nstatus: active\n---\n" + "\n".join(body)).encode()
    first = parse_workplan(data, "workplans/CUST-WP-0054-x.md")
    _check(first, data)
    assert parse_workplan(data, "workplans/CUST-WP-0054-x.md") == first
