"""Every problem code, at its exact line; the malformed fixtures against EXPECTED.json."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from devhub.model import ParsedFile
from devhub.workplans import PROBLEM_CODES, parse_workplan

ROOT = Path(__file__).resolve().parents[2]
MALFORMED = ROOT / "fixtures" / "malformed"
GOOD_FRONT = "---\nid: CUST-WP-0100\ntype: workplan\ntitle: P\nstatus: active\n---\n"
PATH = "workplans/CUST-WP-0100-problems.md"

# (code, file text, the exact (code, line) problems expected)
CASES: list[tuple[str, str, list[tuple[str, int]]]] = [
    ("missing-frontmatter", "# Just markdown\n", [("missing-frontmatter", 1), ("id-from-filename", 1)]),
    ("unterminated-frontmatter", "---\nid: CUST-WP-0100\n", [("unterminated-frontmatter", 1), ("id-from-filename", 1)]),
    (
        "yaml-error",
        "---\nid: CUST-WP-0100\ntype: workplan\nstatus: [active\n---\n",
        [("id-from-filename", 1), ("yaml-error", 4)],
    ),
    (
        "frontmatter-not-mapping",
        "---\njust a string\n---\n",
        [("id-from-filename", 1), ("frontmatter-not-mapping", 2)],
    ),
    ("missing-type", "---\nid: CUST-WP-0100\nstatus: active\n---\n", [("missing-type", 1)]),
    (
        "unexpected-type",
        "---\nid: CUST-WP-0100\ntype: adr\nstatus: active\n---\n",
        [("unexpected-type", 3)],
    ),
    ("missing-status", "---\nid: CUST-WP-0100\ntype: workplan\n---\n", [("missing-status", 1)]),
    (
        "unknown-status",
        GOOD_FRONT.replace("status: active", "status: someday") + "\n## T01 - A\nid: T01\nstatus: nearly\n",
        [("unknown-status", 5), ("short-task-id", 9), ("unknown-status", 10)],
    ),
    (
        "id-format",
        "---\nid: cust-100\ntype: workplan\nstatus: active\n---\n",
        [("id-format", 2), ("id-filename-mismatch", 2)],
    ),
    (
        "id-filename-mismatch",
        "---\nid: CUST-WP-0101\ntype: workplan\nstatus: active\n---\n",
        [("id-filename-mismatch", 2)],
    ),
    (
        "unknown-priority",
        GOOD_FRONT.replace("title: P", "title: P\nplanning_priority: p0")
        + "\n## Task: A\n\nid: CUST-WP-0100-T01\nstatus: todo\npriority: p1\n",
        [("unknown-priority", 5), ("unknown-priority", 13)],
    ),
    (
        "invalid-field",
        GOOD_FRONT.replace("title: P", "title: P\nplanning_order: first\nowner: [a, b]"),
        [("invalid-field", 5), ("invalid-field", 6)],
    ),
    (
        "invalid-uuid",
        GOOD_FRONT.replace("title: P", 'title: P\nstate_hub_workstream_id: "x"')
        + "\n## Task: A\n\nid: CUST-WP-0100-T01\nstatus: todo\nstate_hub_task_id: 42\n",
        [("invalid-uuid", 5), ("invalid-uuid", 13)],
    ),
    (
        "task-without-block",
        GOOD_FRONT + "\n## Task: No block\n\nProse.\n\n## Task T02: Empty task block\n\n```task\npriority: low\n```\n",
        [("task-without-block", 8), ("task-without-block", 12)],
    ),
    (
        "missing-task-id",
        GOOD_FRONT + "\n## Task: Nameless\n\nstatus: todo\n",
        [("missing-task-id", 8)],
    ),
    (
        "task-id-from-heading",
        GOOD_FRONT + "\n## Task T07: Named by heading\n\nstatus: todo\n",
        [("task-id-from-heading", 8)],
    ),
    (
        "short-task-id",
        GOOD_FRONT + "\n## Task: Short\n\n```task\nid: T01\nstatus: todo\n```\n",
        [("short-task-id", 11)],
    ),
    (
        "task-id-prefix-mismatch",
        GOOD_FRONT + "\n## Task: Foreign\n\nid: CUST-WP-0999-T01\nstatus: todo\n",
        [("task-id-prefix-mismatch", 10)],
    ),
    (
        "duplicate-task-id",
        GOOD_FRONT + "\n## T01 - A\nid: T01\nstatus: todo\n\n## T01 - B\nid: CUST-WP-0100-T01\nstatus: done\n",
        [("short-task-id", 9), ("duplicate-task-id", 12)],
    ),
    (
        "unclosed-fence",
        GOOD_FRONT + "\n```python\nprint(1)\n",
        [("unclosed-fence", 8)],
    ),
    (
        "missing-id",
        "---\ntype: workplan\nstatus: active\n---\n",
        [("missing-id", 1)],
    ),
    (
        "id-from-filename",
        "---\ntype: workplan\nstatus: active\n---\n",
        [("id-from-filename", 1)],
    ),
]


def _problems(parsed: ParsedFile) -> list[tuple[str, int]]:
    return [(p.code, p.line) for p in parsed.problems]


@pytest.mark.parametrize(("code", "text", "expected"), CASES, ids=[case[0] for case in CASES])
def test_problem_code_at_its_exact_line(code: str, text: str, expected: list[tuple[str, int]]) -> None:
    path = "workplans/no-id-here.md" if code == "missing-id" else PATH
    parsed = parse_workplan(text.encode(), path)
    assert _problems(parsed) == expected
    assert code in {c for c, _ in expected}
    for problem in parsed.problems:
        assert problem.severity == PROBLEM_CODES[problem.code][0]
        assert problem.path == path and problem.message
        assert problem.location == f"{path}:{problem.line}"


def test_undecodable_is_reported_at_the_first_bad_byte() -> None:
    data = GOOD_FRONT.encode() + b"\nfine\nstill fine\n\x80 bad\n\xff also bad\n"
    assert _problems(parse_workplan(data, PATH)) == [("undecodable", 10)]


def test_yaml_error_in_a_task_block_is_mapped_to_the_file_line_and_later_tasks_survive() -> None:
    text = GOOD_FRONT + "\n## Task: A\n\n```task\nid: CUST-WP-0100-T01\nstatus: todo\n  bad: indent\n```\n"
    text += "\n## Task: B\n\nid: CUST-WP-0100-T02\nstatus: todo\n"
    parsed = parse_workplan(text.encode(), PATH)
    assert _problems(parsed) == [("yaml-error", 13)]
    assert parsed.workplan is not None and [t.id for t in parsed.workplan.tasks] == ["CUST-WP-0100-T02"]


def test_yaml_error_message_names_where_the_construct_started() -> None:
    text = '---\nid: CUST-WP-0100\ntitle: "open quote\ntype: workplan\nstatus: active\n---\n'
    (problem,) = [p for p in parse_workplan(text.encode(), PATH).problems if p.code == "yaml-error"]
    assert problem.line == 5 and "line 3" in problem.message


def test_every_code_is_exercised_by_a_test_or_a_fixture() -> None:
    expected = json.loads((MALFORMED / "EXPECTED.json").read_text())
    seen = {code for _, _, pairs in CASES for code, _ in pairs}
    seen |= {code for pairs in expected.values() for code, _ in pairs}
    seen |= {"undecodable"}
    # These two report internal failures and only exist as safety nets.
    assert set(PROBLEM_CODES) - seen == {"parser-error", "sequencing-unparsed"}


def test_malformed_fixtures_match_expected_json_exactly() -> None:
    expected = json.loads((MALFORMED / "EXPECTED.json").read_text())
    files = sorted(p.name for p in MALFORMED.glob("*.md"))
    assert sorted(expected) == files
    for name in files:
        parsed = parse_workplan((MALFORMED / name).read_bytes(), f"workplans/{name}")
        assert _problems(parsed) == [tuple(pair) for pair in expected[name]], name


def test_malformed_fixture_bytes_are_what_their_names_say() -> None:
    assert b"\xe9" in (MALFORMED / "MAL-WP-0009-undecodable-bytes.md").read_bytes()
    mixed = (MALFORMED / "MAL-WP-0020-bom-mixed-line-endings.md").read_bytes()
    assert mixed.startswith(b"\xef\xbb\xbf") and b"\r\n" in mixed and b"\r\n\n" in mixed
    assert (MALFORMED / "empty-file.md").read_bytes() == b""


def test_problem_codes_are_documented() -> None:
    doc = (ROOT / "docs" / "workplan-format.md").read_text().split("## Problem codes", 1)[1]
    documented = dict(re.findall(r"^\| `([a-z-]+)` \| (error|warning) \|", doc, re.MULTILINE))
    assert documented == {code: severity for code, (severity, _) in PROBLEM_CODES.items()}
