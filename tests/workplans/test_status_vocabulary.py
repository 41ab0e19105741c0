"""The status vocabulary of SPEC §2, spelled out here on purpose and never imported from the code.

The other status tests compare the parser with `devhub.model`'s tables; a wrong entry in those
tables (say `open` -> `wait`) would pass them. This file is the independent copy: real markdown
goes through the parser (and through a daemon's `?status=` filters) and must give exactly this.
"""

from __future__ import annotations

from pathlib import Path

from devhub.workplans import parse_workplan
from tests.support.daemon import start_daemon
from tests.support.repos import git

TASK_STATUS = {
    "wait": "wait",
    "todo": "todo",
    "progress": "progress",
    "done": "done",
    "cancel": "cancel",
    "blocked": "wait",
    "waiting": "wait",
    "in_progress": "progress",
    "in-progress": "progress",
    "doing": "progress",
    "cancelled": "cancel",
    "canceled": "cancel",
    "completed": "done",
    "complete": "done",
    "open": "todo",
    "pending": "todo",
}
WORKPLAN_STATUS = {
    "proposed": "proposed",
    "ready": "ready",
    "active": "active",
    "blocked": "blocked",
    "backlog": "backlog",
    "finished": "finished",
    "archived": "archived",
    "done": "finished",
    "completed": "finished",
}
# Words of one vocabulary that are not words of the other, plus near misses: all unknown there.
NOT_TASK_WORDS = ("proposed", "ready", "active", "backlog", "finished", "archived", "closed", "wip", "todo-ish")
NOT_WORKPLAN_WORDS = ("todo", "progress", "wait", "cancel", "open", "pending", "in_progress", "complete", "closed")


def _task_file(words: list[str]) -> str:
    tasks = "".join(
        f"\n## Task: word {word}\n\nid: CUST-WP-0100-T{n:02d}\nstatus: {word}\n" for n, word in enumerate(words, 1)
    )
    return f"---\nid: CUST-WP-0100\ntype: workplan\ntitle: Words\nstatus: active\n---\n{tasks}"


def _workplan_file(ident: str, word: str) -> str:
    return f"---\nid: {ident}\ntype: workplan\ntitle: Word {word}\nstatus: {word}\n---\nBody.\n"


def test_every_task_status_word_maps_as_spec_section_2_says() -> None:
    words = [*TASK_STATUS, *NOT_TASK_WORDS]
    parsed = parse_workplan(_task_file(words).encode(), "workplans/CUST-WP-0100-words.md")
    assert parsed.workplan is not None
    got = {task.status_raw: task.status for task in parsed.workplan.tasks}
    assert got == {**TASK_STATUS, **dict.fromkeys(NOT_TASK_WORDS)}
    unknown = {p.line for p in parsed.problems if p.code == "unknown-status"}
    assert unknown == {t.status_line for t in parsed.workplan.tasks if t.status_raw in NOT_TASK_WORDS}


def test_every_workplan_status_word_maps_as_spec_section_2_says() -> None:
    got = {}
    for word in [*WORKPLAN_STATUS, *NOT_WORKPLAN_WORDS]:
        parsed = parse_workplan(_workplan_file("CUST-WP-0100", word).encode(), "workplans/CUST-WP-0100-w.md")
        assert parsed.workplan is not None
        got[word] = parsed.workplan.status
        assert any(p.code == "unknown-status" for p in parsed.problems) == (word in NOT_WORKPLAN_WORDS), word
    assert got == {**WORKPLAN_STATUS, **dict.fromkeys(NOT_WORKPLAN_WORDS)}


def test_a_daemon_filters_by_the_canonical_word_of_every_alias(tmp_path: Path) -> None:
    repo = tmp_path / "words"
    (repo / "workplans").mkdir(parents=True)
    (repo / "workplans" / "CUST-WP-0100-words.md").write_text(_task_file(list(TASK_STATUS)))
    for n, word in enumerate(WORKPLAN_STATUS, start=101):
        (repo / "workplans" / f"CUST-WP-0{n}-w.md").write_text(_workplan_file(f"CUST-WP-0{n}", word))
    git(repo, "init", "-q", "-b", "main")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "words")
    daemon = start_daemon(tmp_path / "hub", [repo])
    try:
        for canonical in sorted(set(TASK_STATUS.values())):
            answer = daemon.get("/tasks/", params={"status": canonical})
            assert answer.status_code == 200, answer.text
            raw_words = {task["title"].removeprefix("word ") for task in answer.json()}
            assert raw_words == {w for w, c in TASK_STATUS.items() if c == canonical}, canonical
        for canonical in sorted(set(WORKPLAN_STATUS.values())):
            answer = daemon.get("/workplans/", params={"status": canonical})
            assert answer.status_code == 200, answer.text
            titles = {plan["title"].removeprefix("Word ") for plan in answer.json()}
            expected = {w for w, c in WORKPLAN_STATUS.items() if c == canonical}
            if canonical == "active":
                expected.add("Words")  # the task file's own workplan
            assert titles == expected, canonical
    finally:
        daemon.stop()
