"""The status-line editor: only the value's characters change; odd shapes are refused, not guessed."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from devhub.reconcile.edit import UneditableLine, edit_lines, find_status_value, replace_status_value


@pytest.mark.parametrize(
    ("line", "word", "expected"),
    [
        ("status: todo", "done", "status: done"),
        ("status: todo\r", "done", "status: done\r"),
        ('status: "todo"', "progress", 'status: "progress"'),
        ("status: 'in_progress'  # legacy\r", "done", "status: 'done'  # legacy\r"),
        ("  status:   todo\t# tab before the comment", "wait", "  status:   wait\t# tab before the comment"),
        ("status : todo", "done", "status : done"),
        ("status: todo   ", "done", "status: done   "),
        ("status:", "todo", "status: todo"),
        ("status: # nothing yet", "todo", "status: todo # nothing yet"),
    ],
)
def test_replace_keeps_everything_but_the_value(line: str, word: str, expected: str) -> None:
    assert replace_status_value(line, word) == expected


@pytest.mark.parametrize("line", ["priority: high", "  - status: todo", 'status: "to\\"do"', "status: 'open"])
def test_other_shapes_are_refused(line: str) -> None:
    with pytest.raises(UneditableLine):
        find_status_value(line)


def test_edit_lines_touches_only_the_given_lines() -> None:
    data = b"---\r\nstatus: active\r\n---\r\n\r\nid: X-T01\r\nstatus: 'todo' # c\r\n"
    assert edit_lines(data, {2: "finished", 6: "done"}) == (
        b"---\r\nstatus: finished\r\n---\r\n\r\nid: X-T01\r\nstatus: 'done' # c\r\n"
    )
    with pytest.raises(UneditableLine, match="line 1"):
        edit_lines(data, {1: "done"})
    with pytest.raises(UneditableLine, match="past the end"):
        edit_lines(data, {99: "done"})
    with pytest.raises(UneditableLine, match="not valid UTF-8"):
        edit_lines(b"status: \xff\n", {1: "done"})


_words = st.sampled_from(["todo", "done", "in_progress", "wait", "cancel", "progress"])
_spaces = st.text(" \t", max_size=3)


@given(
    indent=_spaces,
    gap=_spaces,
    quote=st.sampled_from(["", '"', "'"]),
    old=_words,
    new=_words,
    tail=st.sampled_from(["", "  # why", "\t#x", " # a: b"]),
    cr=st.booleans(),
)
def test_only_the_value_changes(indent: str, gap: str, quote: str, old: str, new: str, tail: str, cr: bool) -> None:
    end = "\r" if cr else ""
    line = f"{indent}status:{gap or ' '}{quote}{old}{quote}{tail}{end}"
    edited = replace_status_value(line, new)
    assert edited == f"{indent}status:{gap or ' '}{quote}{new}{quote}{tail}{end}"
    assert find_status_value(edited).word == new
