"""The one check every write body passes before it is journaled (devhub/service/json_values.py)."""

from __future__ import annotations

from typing import Any

from devhub.service.json_values import MAX_DEPTH, MAX_REPORTED, value_problems


def _nested(levels: int) -> Any:
    value: Any = 1
    for _ in range(levels - 1):
        value = [value]
    return value


def test_storable_json_has_no_problems() -> None:
    body = {"summary": "ünïcode ✓ \U0001f600", "n": 2**63 - 1, "m": -(2**63), "f": 1.5, "ok": True, "none": None}
    assert value_problems(body | {"deep": _nested(MAX_DEPTH)}) == {}  # the body is the first level


def test_each_unstorable_value_is_named_in_body_order() -> None:
    body = {
        "a": float("nan"),
        "b": {"c": float("inf")},
        "d": [0, 2**63],
        "e": "x\ud800",
        "f": "x\x00",
        "g": {"\udfff": 1},
        "h": _nested(MAX_DEPTH + 1),  # with the body itself, one level past the bound
    }
    problems = value_problems(body)
    assert list(problems) == ["a", "b.c", "d[1]", "e", "f", "g", "h[0][0][0]…"]
    assert "finite" in problems["a"] and "64-bit" in problems["d[1]"]
    assert "'\\ud800'" in problems["e"] and "NUL" in problems["f"] and "'\\udfff'" in problems["g"]
    assert f"deeper than {MAX_DEPTH}" in problems["h[0][0][0]…"]


def test_odd_keys_are_shown_escaped_and_the_report_is_bounded() -> None:
    assert list(value_problems({"detail": {"with space": float("nan")}})) == ["detail['with space']"]
    assert len(value_problems({f"k{i}": float("nan") for i in range(100)})) == MAX_REPORTED


def test_nesting_far_past_the_bound_costs_no_recursion() -> None:
    assert list(value_problems({"x": _nested(100_000)})) == ["x[0][0][0]…"]
