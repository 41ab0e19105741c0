"""Register loading: typed rows, every reference resolved, every problem with its place and line."""

from __future__ import annotations

from pathlib import Path

import pytest

from devhub.errors import RegisterError
from devhub.fleet.register import RegisterProblems, find_register, load_register
from devhub.registry import Registry
from tests.fleet.conftest import FIXTURES


def problems_of(name: str) -> list[str]:
    with pytest.raises(RegisterProblems) as caught:
        load_register(FIXTURES / "malformed" / name)
    return [str(p) for p in caught.value.problems]


def test_seed_register_loads_into_typed_rows() -> None:
    register = load_register(FIXTURES / "register-before.yaml")
    assert sorted(register.hosts) == ["coulombcore", "railiance01", "railiance02", "workstation"]
    assert register.hosts["coulombcore"].status == "frozen"
    assert register.hosts["workstation"].behind_nat is True
    assert len(register.tunnels) == 16
    assert {t.origin_host for t in register.tunnels.values()} == {"workstation"}
    primary = register.tunnels["state-hub-primary"]
    assert (primary.direction, primary.local_port, primary.remote_port, primary.env) == ("local", 8000, 30080, "prod")
    assert primary.health_check is not None and primary.health_check.timeout_seconds == 5.0
    state_hub = register.workloads["state-hub"]
    assert state_hub.depends_on == ("cnpg-state-hub", "eso", "keycape")
    assert state_hub.stateful and state_hub.production and state_hub.state == "pending"
    assert register.workloads["openbao"].method == "exception"
    assert register.sinks["triage-working-memory"].path == "/home/worsch/the-custodian/memory/working"
    assert register.warnings == ()


def test_unknown_hosts_are_errors_with_place_and_line() -> None:
    path = FIXTURES / "malformed" / "unknown-host.yaml"
    assert problems_of("unknown-host.yaml") == [
        f"{path}:8: workloads.state-hub.target_host: unknown host 'railiance03'",
        f"{path}:13: tunnels.state-hub-railiance01.via[1]: unknown host 'jumpbox'",
    ]


def test_bad_depends_on_collects_every_problem() -> None:
    path = FIXTURES / "malformed" / "bad-depends-on.yaml"
    assert problems_of("bad-depends-on.yaml") == [
        f"{path}:10: workloads.state-hub.depends_on[1]: unknown workload 'identity'",
        f"{path}:15: workloads.issue-core.depends_on: expected a list of workloads, got a string 'openbao'",
    ]


def test_wrong_types_name_each_place() -> None:
    found = problems_of("wrong-types.yaml")
    places = [line.split(": ", 2)[1] for line in found]
    assert places == [
        "hosts.workstation.behind_nat",
        "workloads.openbao.method",
        "workloads.openbao.state",
        "tunnels.issue-core-railiance01.via",
        "tunnels.issue-core-railiance01.direction",
        "tunnels.issue-core-railiance01.local_port",
        "tunnels.issue-core-railiance01.remote_port",
        "tunnels.issue-core-railiance01.health_check.timeout_seconds",
        "tunnels.issue-core-railiance01.health_check.url",
    ]
    text = "\n".join(found)
    assert (
        "wrong-types.yaml:18: tunnels.issue-core-railiance01.direction: expected one of reverse, local, "
        "got a string 'sideways'" in text
    )
    assert "wrong-types.yaml:11: workloads.openbao.method: 'exception' requires a reason" in text
    assert "local_port: expected an integer port 1-65535, got a string 'eighty'" in text


def test_unknown_keys_are_warnings_not_errors() -> None:
    register = load_register(FIXTURES / "malformed" / "unknown-keys.yaml")
    assert [(w.place.path, w.place.line) for w in register.warnings] == [
        ("hosts.railiance01.datacenter", 3),
        ("workloads.state-hub.replicas", 9),
        ("dashboards", 10),
    ]


def test_yaml_syntax_and_shape_errors_carry_lines(tmp_path: Path) -> None:
    broken = tmp_path / "broken.yaml"
    broken.write_text("hosts:\n  a: {role: dev\nworkloads: [\n", encoding="utf-8")
    with pytest.raises(RegisterProblems) as caught:
        load_register(broken)
    assert caught.value.problems[0].place.line is not None
    assert "not valid YAML" in str(caught.value.problems[0])

    shaped = tmp_path / "shaped.yaml"
    shaped.write_text(
        "hosts:\n  a: {role: dev}\n  a: {role: production}\nworkloads: [x, y]\ntunnels:\n  bad name: {}\n",
        encoding="utf-8",
    )
    with pytest.raises(RegisterProblems) as caught:
        load_register(shaped)
    assert [str(p).split(": ", 1)[1] for p in caught.value.problems] == [
        "hosts.a: duplicate key (the later value would silently win)",
        "workloads: expected a mapping of name -> fields, got a list",
        "tunnels.bad name: a name must start with a letter or digit and use only letters, digits, '.', '_' and '-'",
    ]


def test_register_is_found_in_a_registered_repo(tmp_path: Path, run_fleet) -> None:
    plain = tmp_path / "plain"
    (plain / "workplans").mkdir(parents=True)
    holder = tmp_path / "custodian"
    (holder / "workplans").mkdir(parents=True)
    (holder / "fleet").mkdir()
    (holder / "fleet" / "register.yaml").write_bytes((FIXTURES / "register-after.yaml").read_bytes())

    registry = Registry(tmp_path / "config" / "repos.json")
    with pytest.raises(RegisterError, match="pass --register FILE"):
        find_register(None, [r.root for r in registry.repos()])
    registry.register([plain, holder])
    assert find_register(None, [r.root for r in registry.repos()]) == holder.resolve() / "fleet" / "register.yaml"

    result = run_fleet("check", "--json")
    assert result.code == 0, result.stderr
    assert result.json()["register"] == str(holder.resolve() / "fleet" / "register.yaml")


def test_cli_without_any_register_says_how_to_give_one(run_fleet) -> None:
    result = run_fleet("check")
    assert result.code == 2
    assert "no fleet register found" in result.stderr and "--register FILE" in result.stderr


def test_cli_prints_every_problem_on_its_own_line(run_fleet) -> None:
    result = run_fleet("check", "--register", str(FIXTURES / "malformed" / "wrong-types.yaml"))
    assert result.code == 2
    lines = [line for line in result.stderr.splitlines() if "wrong-types.yaml:" in line]
    assert len(lines) == 1 + 9  # the header line, then one line per problem
    assert any("tunnels.issue-core-railiance01.direction" in line for line in lines)
