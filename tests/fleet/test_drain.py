"""`devhub fleet drain plan`: waves on the seed's world, cycles named, DOT and mermaid that parse."""

from __future__ import annotations

import hashlib
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from devhub.errors import RegisterError
from devhub.fleet.drain import DependencyCycle, find_cycle, plan_drain
from devhub.fleet.drain_render import to_dot, to_mermaid
from devhub.fleet.register import load_register
from tests.fleet.conftest import FIXTURES

IDENTITY = {"keycape", "authelia", "privacyidea", "lldap"}
APPS = {"state-hub", "core-hub", "issue-core", "gitea", "argocd"}


def wave_of(plan) -> dict[str, int]:
    return {p.workload.name: n for n, wave in enumerate(plan.waves, start=1) for p in wave}


def test_seed_world_drains_forge_and_hub_first_identity_and_openbao_last() -> None:
    register = load_register(FIXTURES / "register-before.yaml")
    plan = plan_drain(register)
    assert plan.hosts == ("coulombcore",)
    waves = wave_of(plan)
    # Only what runs on coulombcore; activity-core and temporal already live on railiance01.
    assert set(waves) == {n for n, w in register.workloads.items() if w.current_host == "coulombcore"}
    assert waves["gitea"] == waves["state-hub"] == 1
    assert [p.workload.name for p in plan.waves[-1]] == ["openbao"]
    assert all(waves[i] > waves[a] for i in IDENTITY for a in APPS)
    assert all(waves[c] > waves[a] for c in waves if c.startswith("cnpg-") for a in APPS)
    # The invariant itself: every dependency leaves after each of its dependents.
    for name in waves:
        for dependency in register.workloads[name].depends_on:
            if dependency in waves:
                assert waves[dependency] > waves[name], (name, dependency)
    # Deterministic order within a wave.
    assert [p.workload.name for p in plan.waves[0]] == ["argocd", "core-hub", "gitea", "issue-core", "state-hub"]


def test_stateful_flag_and_drained_shown_as_done() -> None:
    plan = plan_drain(load_register(FIXTURES / "register-after.yaml"))
    assert plan.waves == ()
    assert len(plan.done) == 15 and all(p.done for p in plan.done)
    mid = plan_drain(load_register(FIXTURES / "register-mid.yaml"))
    doc = mid.as_dict()
    assert doc["dry_run"] is True
    flat = {w["name"]: w for wave in doc["waves"] for w in wave["workloads"]}
    assert flat["openbao"]["stateful"] is True and flat["argocd"]["stateful"] is False
    assert flat["gitea"]["state"] == "draining"


def test_dependencies_outside_the_drain_are_ignored_and_hosts_can_be_chosen() -> None:
    register = load_register(FIXTURES / "register-before.yaml")
    plan = plan_drain(register, ["railiance01"])
    # activity-core depends on temporal (both on railiance01) and on coulombcore workloads (ignored).
    assert wave_of(plan) == {"activity-core": 1, "temporal": 2}
    with pytest.raises(RegisterError, match="unknown host 'railiance03'"):
        plan_drain(register, ["railiance03"])


def test_cycle_is_an_error_naming_its_members_in_order(run_fleet) -> None:
    with pytest.raises(DependencyCycle) as caught:
        plan_drain(load_register(FIXTURES / "malformed" / "cycle.yaml"))
    assert caught.value.cycle == ["keycape", "lldap", "privacyidea", "keycape"]
    result = run_fleet("drain", "plan", "--register", str(FIXTURES / "malformed" / "cycle.yaml"))
    assert result.code == 2
    assert "cycle keycape -> lldap -> privacyidea -> keycape" in result.stderr


def test_find_cycle_on_acyclic_and_self_loops() -> None:
    assert find_cycle({"a": ["b"], "b": ["c"], "c": []}) is None
    assert find_cycle({"a": ["a"]}) == ["a", "a"]
    assert find_cycle({"x": ["y"], "y": ["z"], "z": ["y"]}) == ["y", "z", "y"]


def test_dot_renders_with_graphviz(tmp_path: Path) -> None:
    if shutil.which("dot") is None:
        pytest.skip("graphviz `dot` is not installed (CI installs it)")
    for fixture in ("register-before.yaml", "register-after.yaml"):
        dot_text = to_dot(plan_drain(load_register(FIXTURES / fixture)))
        rendered = subprocess.run(["dot", "-Tsvg"], input=dot_text, capture_output=True, text=True, timeout=20)
        assert rendered.returncode == 0, rendered.stderr
        assert rendered.stderr == ""
        assert "<svg" in rendered.stdout and ">openbao" in rendered.stdout


NODE = re.compile(r'^\s+n_\w+\["[^"]*"\]$')
EDGE = re.compile(r"^\s+n_\w+ --> n_\w+$")
SUBGRAPH = re.compile(r'^\s+subgraph \w+\["[^"]*"\]$')
CLASSDEF = re.compile(r"^\s+classDef \w+ \S+$")
CLASS = re.compile(r"^\s+class n_\w+(,n_\w+)* \w+$")


def check_mermaid(text: str) -> tuple[set[str], list[tuple[str, str]]]:
    """A small structural parse: header, balanced subgraphs, known line shapes, edges between declared nodes."""
    lines = text.rstrip("\n").split("\n")
    assert re.match(r"^(flowchart|graph) (LR|TB|TD|RL|BT)$", lines[0])
    depth, nodes, edges = 0, set(), []
    for line in lines[1:]:
        if SUBGRAPH.match(line):
            depth += 1
        elif line.strip() == "end":
            depth -= 1
            assert depth >= 0
        elif NODE.match(line):
            nodes.add(line.strip().split("[", 1)[0])
        elif EDGE.match(line):
            left, right = line.strip().split(" --> ")
            edges.append((left, right))
        else:
            assert CLASSDEF.match(line) or CLASS.match(line), f"unexpected mermaid line: {line!r}"
    assert depth == 0
    assert all(a in nodes and b in nodes for a, b in edges)
    return nodes, edges


def test_mermaid_is_structurally_valid(run_fleet) -> None:
    result = run_fleet("drain", "plan", "--register", str(FIXTURES / "register-before.yaml"), "--format", "mermaid")
    assert result.code == 0, result.stderr
    nodes, edges = check_mermaid(result.stdout)
    assert len(nodes) == 15
    assert ("n_state_hub", "n_keycape") in edges and ("n_eso", "n_openbao") in edges
    check_mermaid(to_mermaid(plan_drain(load_register(FIXTURES / "register-after.yaml"))))


def test_plan_is_a_dry_run_and_formats_agree(run_fleet) -> None:
    register_file = FIXTURES / "register-mid.yaml"
    digest = hashlib.sha256(register_file.read_bytes()).hexdigest()
    as_json = run_fleet("drain", "plan", "--register", str(register_file), "--format", "json")
    table = run_fleet("drain", "plan", "--register", str(register_file))
    dot_out = run_fleet("drain", "plan", "--register", str(register_file), "--format", "dot")
    assert as_json.code == table.code == dot_out.code == 0
    assert hashlib.sha256(register_file.read_bytes()).hexdigest() == digest
    waves = as_json.json()["waves"]
    assert [x["name"] for x in waves[-1]["workloads"]] == ["openbao"]
    assert "dry run, nothing changed" in table.stdout and "openbao" in table.stdout
    assert dot_out.stdout.startswith("digraph drain {")
