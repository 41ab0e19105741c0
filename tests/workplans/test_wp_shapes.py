"""Each accepted shape of SPEC §2: heading forms, block forms, status words, line endings, paths."""

from __future__ import annotations

import json

import pytest

from devhub.model import TASK_STATUS_ALIASES, WORKPLAN_STATUS_ALIASES, ParsedFile, WorkplanRecord
from devhub.workplans import is_workplan_path, parse_workplan

FRONT = """---
id: CUST-WP-0100
type: workplan
title: Shapes
status: active
---
"""


def parse(text: str, path: str = "workplans/CUST-WP-0100-shapes.md") -> ParsedFile:
    return parse_workplan(text.encode("utf-8"), path)


def workplan(text: str, path: str = "workplans/CUST-WP-0100-shapes.md") -> WorkplanRecord:
    parsed = parse(text, path)
    assert parsed.workplan is not None, parsed.problems
    return parsed.workplan


def line_of(text: str, needle: str) -> int:
    """1-based line of the first line of `text` that starts with `needle`."""
    return next(n for n, line in enumerate(text.split("\n"), 1) if line.startswith(needle))


def codes(parsed: ParsedFile) -> list[tuple[str, int]]:
    return [(p.code, p.line) for p in parsed.problems]


@pytest.mark.parametrize(
    ("heading", "title"),
    [
        ("## Task: Write the note", "Write the note"),
        ("## T01 - Write the note", "Write the note"),
        ("## Task T01: Write the note", "Write the note"),
        ("### P1.1 — Write the note", "Write the note"),
        ("### P1.1 – Write the note", "Write the note"),
        ("### P1.1 - Write the note", "Write the note"),
        ("## CUST-WP-0100-T01 - Write the note", "Write the note"),
        ("## Write the note", "Write the note"),
        ("## Task: Write the note ##", "Write the note"),
    ],
)
def test_heading_forms_give_the_title_without_their_prefix(heading: str, title: str) -> None:
    record = workplan(FRONT + f"\n{heading}\n\n```task\nid: CUST-WP-0100-T01\nstatus: todo\n```\n")
    assert [(t.id, t.title, t.line) for t in record.tasks] == [("CUST-WP-0100-T01", title, 8)]


@pytest.mark.parametrize(
    "block",
    [
        "```task\nid: CUST-WP-0100-T01\nstatus: done\npriority: high\n```",
        "```yaml\nid: CUST-WP-0100-T01\nstatus: done\npriority: high\n```",
        "```yml\nid: CUST-WP-0100-T01\nstatus: done\npriority: high\n```",
        "id: CUST-WP-0100-T01\nstatus: done\npriority: high",
        "~~~task\nid: CUST-WP-0100-T01\nstatus: done\npriority: high\n~~~",
    ],
)
def test_every_block_form_yields_the_same_task(block: str) -> None:
    text = FRONT + f"\n## Task: One\n\n{block}\n\nThe body.\n"
    (task,) = workplan(text).tasks
    assert (task.id, task.status, task.priority, task.body) == ("CUST-WP-0100-T01", "done", "high", "The body.")
    assert task.status_line == line_of(text, "status: done")


def test_block_directly_under_the_heading_without_blank_line() -> None:
    record = workplan(FRONT + "## T01 - Tight\n```yaml\nid: CUST-WP-0100-T01\nstatus: todo\n```\n")
    assert [(t.id, t.status_line) for t in record.tasks] == [("CUST-WP-0100-T01", 10)]


def test_a_block_without_id_or_status_is_not_a_task() -> None:
    parsed = parse(FRONT + "\n## Config example\n\n```yaml\nport: 8000\n```\n")
    assert parsed.workplan is not None and parsed.workplan.tasks == ()
    assert parsed.problems == ()


def test_all_task_fields_quotes_and_extra() -> None:
    record = workplan(
        FRONT
        + "\n## Task: Fields\n\n```task\n"
        + 'id: "CUST-WP-0100-T01"\n'
        + "status: 'done'\n"
        + "priority: High\n"
        + 'state_hub_task_id: "67b91b18-9ad0-4917-990a-056a7007a2d4"\n'
        + "assignee: codex\n"
        + "needs_human: true\n"
        + 'intervention_note: "Decide: 30 or 90 days"\n'
        + "estimate: 2.5\n"
        + "due: 2026-07-09\n"
        + "```\n"
    )
    (task,) = record.tasks
    assert task.id == "CUST-WP-0100-T01"
    assert task.status == "done" and task.status_raw == "done"
    assert task.priority == "high"
    assert task.state_hub_task_id == "67b91b18-9ad0-4917-990a-056a7007a2d4"
    assert task.assignee == "codex"
    assert dict(task.extra) == {
        "needs_human": True,
        "intervention_note": "Decide: 30 or 90 days",
        "estimate": 2.5,
        "due": "2026-07-09",
    }
    json.dumps(dict(task.extra))


def test_fast_path_and_yaml_path_agree() -> None:
    simple = "id: CUST-WP-0100-T01\nstatus: todo\nflag: yes\ncount: 0x10\nnote: 'it''s'\nwhen: 2026-07-01"
    tricky = simple + "\nlist:\n  - a\n  - b"  # the indented list forces the YAML path
    fast = workplan(FRONT + f"\n## Task: A\n\n```task\n{simple}\n```\n").tasks[0]
    slow = workplan(FRONT + f"\n## Task: A\n\n```task\n{tricky}\n```\n").tasks[0]
    assert {k: v for k, v in slow.extra.items() if k != "list"} == dict(fast.extra)
    assert dict(fast.extra) == {"flag": True, "count": 16, "note": "it's", "when": "2026-07-01"}
    assert (fast.status_line, slow.status_line) == (12, 12)


@pytest.mark.parametrize("word", ["wait", "todo", "progress", "done", "cancel", *TASK_STATUS_ALIASES])
def test_task_status_words_and_aliases(word: str) -> None:
    record = workplan(FRONT + f"\n## Task: S\n\nid: CUST-WP-0100-T01\nstatus: {word}\n")
    (task,) = record.tasks
    assert task.status_raw == word
    assert task.status == TASK_STATUS_ALIASES.get(word, word)


@pytest.mark.parametrize(
    "word", ["proposed", "ready", "active", "blocked", "backlog", "finished", "archived", *WORKPLAN_STATUS_ALIASES]
)
def test_workplan_status_words_and_legacy_aliases(word: str) -> None:
    record = workplan(FRONT.replace("status: active", f"status: {word}"))
    assert record.status_raw == word
    assert record.status == WORKPLAN_STATUS_ALIASES.get(word, word)
    assert record.status_line == 5


def test_frontmatter_fields_dates_and_extra() -> None:
    record = workplan(
        "---\nid: CUST-WP-0100\ntype: workplan\ntitle: T\ndomain: infotech\nrepo_slug: the-custodian\n"
        "status: completed\nowner: codex\ntopic_slug: custodian\nplanning_priority: HIGH\nplanning_order: 7\n"
        'created: 2026-07-03\nupdated: "2026-07-04"\nfinished: 2026-07-05 12:00:00\n'
        'state_hub_workstream_id: "8a828444-dd49-4d7b-a2d1-9952b5bc929d"\n'
        "related: [CUST-WP-0011]\nreviewed_on: 2026-07-06\nnested: {a: {b: 2026-07-07}}\n---\nBody.\n"
    )
    assert (record.domain, record.repo, record.owner, record.topic_slug) == (
        "infotech",
        "the-custodian",
        "codex",
        "custodian",
    )
    assert (record.status, record.status_raw) == ("finished", "completed")
    assert (record.planning_priority, record.planning_order) == ("high", 7)
    assert (record.created, record.updated, record.finished) == ("2026-07-03", "2026-07-04", "2026-07-05")
    assert record.state_hub_workstream_id == "8a828444-dd49-4d7b-a2d1-9952b5bc929d"
    assert dict(record.extra) == {
        "related": ["CUST-WP-0011"],
        "reviewed_on": "2026-07-06",
        "nested": {"a": {"b": "2026-07-07"}},
    }
    assert record.body == "Body."
    json.dumps(dict(record.extra))


def test_repo_wins_over_legacy_repo_slug_which_is_then_kept_as_extra() -> None:
    record = workplan(FRONT.replace("status: active", "status: active\nrepo: new\nrepo_slug: old"))
    assert record.repo == "new" and dict(record.extra) == {"repo_slug": "old"}


def test_title_falls_back_to_the_first_h1() -> None:
    record = workplan(FRONT.replace("title: Shapes\n", "") + "\n# CUST-WP-0100 - From the heading\n")
    assert record.title == "From the heading"


def test_crlf_and_bom_keep_line_numbers() -> None:
    text = FRONT + "\n## Task T01: Windows\nid: T01\nstatus: in_progress\n\nBody line.\n"
    lf = parse_workplan(text.encode(), "workplans/CUST-WP-0100-x.md")
    crlf = parse_workplan(b"\xef\xbb\xbf" + text.replace("\n", "\r\n").encode(), "workplans/CUST-WP-0100-x.md")
    assert crlf == lf
    assert lf.workplan is not None
    (task,) = lf.workplan.tasks
    assert (task.line, task.status_line, task.status, task.body) == (8, 10, "progress", "Body line.")


def test_undecodable_bytes_are_replaced_and_reported_at_their_line() -> None:
    data = (FRONT + "\n## Task: T\n\nid: CUST-WP-0100-T01\nstatus: todo\n\nbad ").encode() + b"\xc3\x28 here\n"
    parsed = parse_workplan(data, "workplans/CUST-WP-0100-x.md")
    assert codes(parsed) == [("undecodable", 13)]
    assert parsed.workplan is not None and "\ufffd" in parsed.workplan.tasks[0].body


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("workplans/CUST-WP-0054-x.md", True),
        ("workplans/archived/CUST-WP-0049-y.md", True),
        ("workplans/ADHOC-2026-07-04.md", True),
        ("./workplans/CUST-WP-0054-x.md", True),
        ("workplans/README.md", False),
        ("workplans/readme.md", False),
        ("workplans/ReadMe.MD", False),
        ("workplans/archived/README.md", False),
        ("workplans/notes.txt", False),
        ("workplans/sub/CUST-WP-0054-x.md", False),
        ("workplans/archived/old/CUST-WP-0001.md", False),
        ("docs/CUST-WP-0054-x.md", False),
        ("workplans/.#CUST-WP-0054-x.md", False),
        ("workplans\\CUST-WP-0054-x.md", False),
        ("workplans/", False),
    ],
)
def test_is_workplan_path(path: str, expected: bool) -> None:
    assert is_workplan_path(path) is expected


def test_archived_flag_follows_the_path() -> None:
    assert workplan(FRONT, "workplans/archived/CUST-WP-0100-x.md").archived is True
    assert workplan(FRONT, "workplans/CUST-WP-0100-x.md").archived is False


def test_task_body_runs_to_the_next_heading_of_same_or_higher_level() -> None:
    record = workplan(
        FRONT
        + "\n## Task: A\n\nid: CUST-WP-0100-T01\nstatus: todo\n\nA body.\n\n### Notes\n\nStill A.\n"
        + "\n## Task: B\n\nid: CUST-WP-0100-T02\nstatus: todo\n\nB body.\n\n# Appendix\n\nNot B.\n"
    )
    assert [t.body for t in record.tasks] == ["A body.\n\n### Notes\n\nStill A.", "B body."]
    assert [t.position for t in record.tasks] == [0, 1]


def test_a_task_heading_inside_a_task_ends_the_outer_body() -> None:
    record = workplan(
        FRONT
        + "\n## Phase 1\n\n### P1.1 — First\nid: P1.1\nstatus: done\n\nFirst body.\n"
        + "\n### P1.2 — Second\nid: P1.2\nstatus: todo\n\nSecond body.\n"
    )
    assert [(t.id, t.body) for t in record.tasks] == [
        ("CUST-WP-0100-P1.1", "First body."),
        ("CUST-WP-0100-P1.2", "Second body."),
    ]


def test_headings_inside_code_fences_are_not_tasks() -> None:
    record = workplan(FRONT + "\n```markdown\n## Task: Example\n\nid: X-1\nstatus: todo\n```\n")
    assert record.tasks == ()


def test_short_ids_are_qualified_with_a_warning_at_the_id_line() -> None:
    parsed = parse(FRONT + "\n## Task T01: Short\nid: T01\nstatus: todo\n\n### P1.1 — Dotted\nid: P1.1\nstatus: todo\n")
    assert parsed.workplan is not None
    assert [t.id for t in parsed.workplan.tasks] == ["CUST-WP-0100-T01", "CUST-WP-0100-P1.1"]
    assert codes(parsed) == [("short-task-id", 9), ("short-task-id", 13)]


def test_depends_on_list_and_comma_string_are_qualified() -> None:
    record = workplan(
        FRONT
        + "\n## T01 - A\nid: T01\nstatus: done\n"
        + "\n## T02 - B\nid: T02\nstatus: todo\ndepends_on: T01, OTHER-WP-0001-T03\n"
        + "\n## T03 - C\n```yaml\nid: T03\nstatus: todo\ndepends_on:\n  - T01\n  - T02\n  - T01\n```\n"
    )
    assert [t.depends_on for t in record.tasks] == [
        (),
        ("CUST-WP-0100-T01", "OTHER-WP-0001-T03"),
        ("CUST-WP-0100-T01", "CUST-WP-0100-T02"),
    ]
    depends = [(r.source_id, r.target_id, r.line) for r in record.references if r.kind == "depends_on"]
    assert depends == [
        ("CUST-WP-0100-T02", "CUST-WP-0100-T01", 15),
        ("CUST-WP-0100-T02", "OTHER-WP-0001-T03", 15),
        ("CUST-WP-0100-T03", "CUST-WP-0100-T01", 21),
        ("CUST-WP-0100-T03", "CUST-WP-0100-T02", 21),
    ]


def test_dependencies_section_references_other_workplans() -> None:
    record = workplan(
        FRONT
        + "\n## Dependencies\n\n- STATE-WP-0052 must be finished first.\n- CUST-WP-0011-T07 playbook;"
        + " also CUST-WP-0100 itself and STATE-WP-0052 again.\n\n## Next\n\nRAIL-HO-WP-0005 is only mentioned.\n"
    )
    deps = [(r.source_id, r.target_id, r.line) for r in record.references if r.kind == "dependencies"]
    assert deps == [("CUST-WP-0100", "STATE-WP-0052", 10), ("CUST-WP-0100", "CUST-WP-0011", 11)]
    mentions = [(r.target_id, r.line) for r in record.references if r.kind == "mention"]
    assert mentions == [("CUST-WP-0011-T07", 11), ("RAIL-HO-WP-0005", 15)]


def test_mentions_are_deduplicated_attributed_and_skip_self() -> None:
    record = workplan(
        FRONT
        + "\nSee RAIL-HO-WP-0005 and CUST-WP-0011-T08/T09; CUST-WP-0100 is us. RAIL-HO-WP-0005 again.\n"
        + "\n## Task: T\n\nid: CUST-WP-0100-T01\nstatus: todo\n\nUses ADHOC-2026-07-04-T01 and RAIL-HO-WP-0005,"
        + " not CUST-WP-0100-T01 (itself) nor XCUST-WP-00111.\n"
    )
    mentions = [(r.source_id, r.target_id, r.line) for r in record.references if r.kind == "mention"]
    assert mentions == [
        ("CUST-WP-0100", "RAIL-HO-WP-0005", 8),
        ("CUST-WP-0100", "CUST-WP-0011-T08", 8),
        ("CUST-WP-0100", "CUST-WP-0011-T09", 8),
        ("CUST-WP-0100-T01", "ADHOC-2026-07-04-T01", 15),
        ("CUST-WP-0100-T01", "RAIL-HO-WP-0005", 15),
        ("CUST-WP-0100-T01", "XCUST-WP-00111", 15),
    ]


def test_sequencing_ascii_and_arrow_chains() -> None:
    record = workplan(FRONT + "\n## Sequencing\n\n```\nT01 → T02 → T03\n|-- T04\n`-- T05\n```\n")
    edges = {(r.source_id[-3:], r.target_id[-3:]) for r in record.references if r.kind == "sequencing"}
    assert edges == {("T02", "T01"), ("T03", "T02"), ("T04", "T01"), ("T05", "T01")}


def test_deterministic_records_for_equal_bytes() -> None:
    data = (FRONT + "\n## Task: A\n\nid: T01\nstatus: todo\n").encode()
    assert parse_workplan(data, "workplans/x.md") == parse_workplan(bytes(data), "workplans/x.md")
