"""Acceptance spec loading: durations, timestamps, and errors that name every bad field."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
from click.testing import CliRunner

from devhub.cli.fleet_accept import accept
from devhub.errors import DevhubError, SpecError
from devhub.fleet.accept_spec import SpecProblems, format_duration, load_spec, parse_duration

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "acceptance"

GOOD_SPEC = """\
title: small
window: {start: "2026-08-01T00:00:00Z", end: "2026-08-01T10:00:00+02:00", min_duration: 1h30m}
preconditions:
  - name: workstation offline
    absent: {host: workstation}
probes:
  - name: sweeps
    match: {kind: sweep, detail.repo.name: [a, b]}
    tolerance: {min_count: 1, max_count: 9, max_gap: 30m, min_ok_ratio: 0.5}
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "spec.yaml"
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("30m", 1800), ("25h", 90000), ("90s", 90), ("1d", 86400), ("1h30m", 5400), ("1d2h3m4s", 93784)],
)
def test_durations_parse(text: str, seconds: int) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["30 minutes", "", "1.5h", "h", "30", 30, None, "30m1h", "1h 30m"])
def test_non_durations_are_refused(text: object) -> None:
    with pytest.raises(ValueError, match="not a duration"):
        parse_duration(text)


@pytest.mark.parametrize(("seconds", "text"), [(0, "0s"), (1752, "29m12s"), (90000, "25h"), (3605, "1h5s")])
def test_durations_format(seconds: float, text: str) -> None:
    assert format_duration(seconds) == text


def test_a_good_spec_loads_with_offsets_lists_and_dotted_detail_keys(tmp_path: Path) -> None:
    spec = load_spec(write(tmp_path, GOOD_SPEC))
    assert spec.duration == 8 * 3600  # 10:00+02:00 is 08:00Z
    assert spec.min_duration == 5400
    assert spec.preconditions[0].absent.as_dict() == {"host": "workstation"}
    probe = spec.probes[0]
    assert probe.match.as_dict() == {"kind": "sweep", "detail.repo.name": ["a", "b"]}
    assert (probe.tolerance.min_count, probe.tolerance.max_count) == (1, 9)
    assert (probe.tolerance.max_gap, probe.tolerance.min_ok_ratio) == (1800, 0.5)


def test_unquoted_yaml_timestamps_with_a_zone_are_accepted(tmp_path: Path) -> None:
    spec = load_spec(write(tmp_path, GOOD_SPEC.replace('"2026-08-01T00:00:00Z"', "2026-08-01T00:00:00Z")))
    assert spec.start.isoformat() == "2026-08-01T00:00:00+00:00"


def test_the_documented_example_error_names_the_field_and_line(tmp_path: Path) -> None:
    text = """\
    title: t
    window: {start: "2026-08-01T00:00:00Z", end: "2026-08-02T00:00:00Z"}
    probes:
      - {name: a, match: {kind: a}, tolerance: {min_count: 1}}
      - {name: b, match: {kind: b}, tolerance: {min_count: 1}}
      - name: c
        match: {kind: c}
        tolerance:
          max_gap: 30 minutes
    """
    with pytest.raises(SpecProblems) as caught:
        load_spec(write(tmp_path, text))
    assert caught.value.problems == [
        ("probes[2].tolerance.max_gap", "not a duration: '30 minutes' (use e.g. 30m, 25h, 90s, 1d, 1h30m)")
    ]
    assert caught.value.lines == [9]
    assert "spec.yaml:9: probes[2].tolerance.max_gap: not a duration: '30 minutes'" in caught.value.detail
    assert isinstance(caught.value, SpecError) and caught.value.exit_code == 2


def test_every_problem_is_collected_and_named(tmp_path: Path) -> None:
    text = """\
    title: t
    owner: me
    window: {start: "2026-08-01T00:00:00", end: "2026-07-01T00:00:00Z", min_duration: 1 day}
    preconditions:
      - name: ws
      - absent: {host: workstation}
    probes:
      - name: a
        match: {ts: "2026-08-01T00:00:00Z", colour: red}
        tolerance: {min_count: -1}
      - name: b
        match: {kind: b, detail.x: {nested: 1}}
        tolerance: {min_ok_ratio: 1.5, max_gap: 0s, maximum: 3}
      - name: c
        match: {kind: c}
        tolerance: {min_count: 5, max_count: 2}
        extra: true
      - name: c
        match: {kind: d}
        tolerance: {min_count: true}
      - just text
    """
    with pytest.raises(SpecProblems) as caught:
        load_spec(write(tmp_path, text))
    places = [place for place, _ in caught.value.problems]
    assert places == [
        "owner",
        "window.start",
        "window.min_duration",
        "preconditions[0].absent",
        "preconditions[1].name",
        "probes[0].match.ts",
        "probes[0].match.colour",
        "probes[0].tolerance.min_count",
        "probes[1].match.detail.x",
        "probes[1].tolerance.maximum",
        "probes[1].tolerance.max_gap",
        "probes[1].tolerance.min_ok_ratio",
        "probes[2].tolerance.max_count",
        "probes[2].extra",
        "probes[3].name",
        "probes[3].tolerance.min_count",
        "probes[4]",
    ]
    assert caught.value.lines == sorted(line or 0 for line in caught.value.lines)  # reported in file order
    reasons = dict(caught.value.problems)
    assert "no timezone" in reasons["window.start"]
    assert "time is the window's job" in reasons["probes[0].match.ts"]
    assert "duplicate name 'c'" in reasons["probes[3].name"]
    assert "below min_count" in reasons["probes[2].tolerance.max_count"]
    assert "not a ratio" in reasons["probes[1].tolerance.min_ok_ratio"]
    assert all(line is not None for line in caught.value.lines)


def test_end_before_start_is_named(tmp_path: Path) -> None:
    text = GOOD_SPEC.replace('"2026-08-01T10:00:00+02:00"', '"2026-07-31T10:00:00Z"')
    with pytest.raises(SpecProblems) as caught:
        load_spec(write(tmp_path, text))
    assert [place for place, _ in caught.value.problems] == ["window.end"]


@pytest.mark.parametrize(
    ("text", "place", "reason"),
    [
        ("title: [unclosed\n", "spec", "not valid YAML"),
        ("- a list\n", "spec", "must be a mapping"),
        ("title: t\n", "window", "required"),
        ('title: t\nwindow: {start: "2026-08-01T00:00:00Z", end: "2026-08-02T00:00:00Z"}\n', "probes", "nothing"),
    ],
)
def test_unusable_documents(tmp_path: Path, text: str, place: str, reason: str) -> None:
    with pytest.raises(SpecProblems) as caught:
        load_spec(write(tmp_path, text))
    assert caught.value.problems[0][0] == place
    assert reason in caught.value.problems[0][1]


def test_a_missing_spec_file_is_a_spec_error(tmp_path: Path) -> None:
    with pytest.raises(SpecProblems, match="cannot read"):
        load_spec(tmp_path / "nope.yaml")


def test_cli_bad_spec_exits_2_and_lists_the_fields(tmp_path: Path) -> None:
    spec = write(
        tmp_path, GOOD_SPEC.replace("max_gap: 30m", "max_gap: 30 minutes").replace("min_count: 1", "min_count: x")
    )
    evidence = tmp_path / "e.jsonl"
    evidence.write_text("", encoding="utf-8")
    result = CliRunner().invoke(accept, ["--spec", str(spec), "--evidence", str(evidence)])
    assert isinstance(result.exception, DevhubError)
    assert result.exception.exit_code == 2
    assert "probes[0].tolerance.max_gap: not a duration: '30 minutes'" in result.exception.detail
    assert "probes[0].tolerance.min_count: not a non-negative whole number: 'x'" in result.exception.detail


def test_the_20h_fixture_spec_differs_from_t10_only_in_its_window() -> None:
    full = load_spec(FIXTURES / "t10-spec.yaml")
    short = load_spec(FIXTURES / "t10-spec-20h.yaml")
    assert (full.title, full.preconditions, full.probes, full.min_duration) == (
        short.title,
        short.preconditions,
        short.probes,
        short.min_duration,
    )
    assert (full.duration, short.duration) == (26 * 3600, 20 * 3600)
