"""`devhub fleet check`: each rule fires on a fixture made to trip it, quiet on a clean one; real CLI verdicts."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from devhub.fleet.checks import check_register, exit_code, scan_paths
from devhub.fleet.register import load_register
from tests.fleet.conftest import FIXTURES

RULE_FIXTURES = FIXTURES / "rules"


def rows(name: str) -> list[tuple[str, str, str]]:
    findings = check_register(load_register(RULE_FIXTURES / name))
    return [(f.rule, f.severity, f.row) for f in findings]


def test_clean_register_trips_nothing() -> None:
    assert rows("clean.yaml") == []


@pytest.mark.parametrize(
    ("fixture", "expected"),
    [
        (
            "unowned.yaml",
            [("unowned", "warning", "workloads.temporal"), ("unowned", "warning", "pipelines.core-hub-image")],
        ),
        (
            "dev-dependency.yaml",
            [
                ("dev-dependency", "error", "tunnels.issue-core-emission"),
                ("dev-dependency", "error", "workloads.wsl2-state-hub"),
            ],
        ),
        ("frozen-target.yaml", [("frozen-target", "error", "repos.issue-core")]),
        ("workstation-path.yaml", [("workstation-path", "warning", "sinks.triage-working-memory")]),
        ("decommission-ready.yaml", [("decommission-ready", "info", "hosts.coulombcore")]),
        ("dependency-cycle.yaml", [("dependency-cycle", "error", "workloads.core-hub")]),
    ],
)
def test_each_rule_fires_on_its_fixture(fixture: str, expected: list[tuple[str, str, str]]) -> None:
    assert rows(fixture) == expected


def test_findings_carry_message_fix_and_register_line() -> None:
    findings = check_register(load_register(RULE_FIXTURES / "dev-dependency.yaml"))
    tunnel = findings[0]
    assert tunnel.message == "prod tunnel runs through a dev host (via workstation)"
    assert "atm- actor" in tunnel.fix
    assert tunnel.file is not None and tunnel.file.endswith("dev-dependency.yaml") and tunnel.line == 10
    cycle = check_register(load_register(RULE_FIXTURES / "dependency-cycle.yaml"))[0]
    assert cycle.message == "depends_on cycle: core-hub -> state-hub -> core-hub"


def test_unowned_names_what_is_missing() -> None:
    findings = check_register(load_register(RULE_FIXTURES / "unowned.yaml"))
    assert [f.message for f in findings] == ["no owner", "no target_host"]


def test_scan_finds_home_paths_with_file_and_line(tmp_path: Path) -> None:
    found = scan_paths([FIXTURES / "scan"])
    located = sorted((Path(f.file or "").relative_to(FIXTURES / "scan").as_posix(), f.line) for f in found)
    assert located == [("activity-definitions/daily-triage.yaml", 5), ("docs/runbook.md", 6), ("docs/runbook.md", 7)]
    assert {f.rule for f in found} == {"workstation-path"}
    assert all(f.row == f"{f.file}:{f.line}" for f in found)


def test_scan_skips_binary_files_and_git(tmp_path: Path) -> None:
    (tmp_path / ".git").mkdir()
    (tmp_path / ".git" / "config").write_text("url = /home/worsch/repo/\n", encoding="utf-8")
    (tmp_path / "image.bin").write_bytes(b"\x89PNG\0\0/home/worsch/pic/\n")
    (tmp_path / "latin1.txt").write_bytes("caf\xe9 /home/worsch/x/\n".encode("latin-1"))
    (tmp_path / "prompt.md").write_text("context:\n  file:///home/alice/notes/today.md\n", encoding="utf-8")
    found = scan_paths([tmp_path])
    assert [(Path(f.file or "").name, f.line) for f in found] == [("prompt.md", 2)]
    assert scan_paths([tmp_path / "prompt.md"])[0].line == 2  # a single file may be scanned too


def test_exit_code_semantics() -> None:
    register = load_register(RULE_FIXTURES / "decommission-ready.yaml")
    assert exit_code(check_register(register)) == 0  # info only is clean
    assert exit_code(check_register(load_register(RULE_FIXTURES / "unowned.yaml"))) == 2
    assert exit_code(check_register(load_register(RULE_FIXTURES / "frozen-target.yaml"))) == 1


def test_before_register_finds_exactly_the_expected_problems(run_fleet) -> None:
    expected = json.loads((FIXTURES / "EXPECTED-before.json").read_text(encoding="utf-8"))
    result = run_fleet("check", "--register", str(FIXTURES / "register-before.yaml"), "--json")
    assert result.code == 1 == expected["exit_code"], result.stderr
    report = result.json()
    got = [{"rule": f["rule"], "severity": f["severity"], "row": f["row"]} for f in report["findings"]]
    assert got == expected["findings"]
    assert report["summary"] == {"error": 11, "warning": 6, "info": 0}


def test_mid_register_has_no_tunnel_findings_left(run_fleet) -> None:
    result = run_fleet("check", "--register", str(FIXTURES / "register-mid.yaml"), "--json")
    assert result.code == 1
    findings = result.json()["findings"]
    assert not [f for f in findings if f["row"].startswith("tunnels.")]
    assert not [f for f in findings if f["rule"] in ("frozen-target", "unowned")]
    # What T04 and T06 still owe: image builds and the triage sink on the workstation.
    assert {f["row"] for f in findings if f["rule"] == "dev-dependency"} == {
        "pipelines.state-hub-image",
        "pipelines.core-hub-image",
        "pipelines.issue-core-image",
        "pipelines.activity-core-image",
        "sinks.triage-working-memory",
        "sinks.sweep-checkouts",
    }


def test_after_register_is_clean_and_coulombcore_decommission_ready(run_fleet) -> None:
    result = run_fleet("check", "--register", str(FIXTURES / "register-after.yaml"), "--json")
    assert result.code == 0, result.stdout
    assert [(f["rule"], f["severity"], f["row"]) for f in result.json()["findings"]] == [
        ("decommission-ready", "info", "hosts.coulombcore")
    ]
    table = run_fleet("check", "--register", str(FIXTURES / "register-after.yaml"))
    assert table.code == 0
    assert "decommission-ready" in table.stdout and "0 errors, 0 warnings, 1 info: clean" in table.stdout


def test_cli_scan_turns_a_clean_register_into_warnings(run_fleet) -> None:
    result = run_fleet(
        "check", "--register", str(RULE_FIXTURES / "clean.yaml"), "--scan", str(FIXTURES / "scan"), "--json"
    )
    assert result.code == 2
    assert sorted(f["line"] for f in result.json()["findings"]) == [5, 6, 7]


def test_cli_unknown_keys_are_warnings(run_fleet) -> None:
    result = run_fleet("check", "--register", str(FIXTURES / "malformed" / "unknown-keys.yaml"), "--json")
    assert result.code == 2
    assert [f["row"] for f in result.json()["findings"]] == [
        "hosts.railiance01.datacenter",
        "workloads.state-hub.replicas",
        "dashboards",
    ]


def test_cli_register_errors_exit_2_with_places(run_fleet) -> None:
    result = run_fleet("check", "--register", str(FIXTURES / "malformed" / "unknown-host.yaml"))
    assert result.code == 2
    assert "unknown-host.yaml:8: workloads.state-hub.target_host: unknown host 'railiance03'" in result.stderr
