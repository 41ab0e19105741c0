"""`devhub fleet tunnels render`: systemd units that systemd-analyze accepts, and an ops-bridge tunnels.yaml."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from devhub.fleet.register import RegisterProblems, load_register, parse_register_text
from devhub.fleet.tunnels import render_systemd
from tests.fleet.conftest import FIXTURES

HARMLESS = ("Command /usr/bin/ssh is not executable",)  # CI images may lack the ssh client


def unit_problems(unit_dir: Path) -> list[str]:
    """What systemd-analyze verify says about our units, minus the known harmless lines."""
    units = sorted(str(p) for p in unit_dir.glob("*.service"))
    proc = subprocess.run(
        ["systemd-analyze", "verify", *units], capture_output=True, text=True, timeout=60, cwd=unit_dir
    )
    said = [line for line in (proc.stdout + proc.stderr).splitlines() if "ops-bridge-" in line]
    return [line for line in said if not any(h in line for h in HARMLESS)]


def test_systemd_units_for_the_mid_register(run_fleet, tmp_path: Path) -> None:
    out = tmp_path / "units"
    result = run_fleet(
        "tunnels",
        "render",
        "--register",
        str(FIXTURES / "register-mid.yaml"),
        "--host",
        "railiance01",
        "--output",
        str(out),
    )
    assert result.code == 0, result.stderr
    names = sorted(p.name for p in out.iterdir())
    assert names == ["ops-bridge-issue-core-railiance01.service", "ops-bridge-state-hub-railiance01.service"]
    unit = (out / "ops-bridge-state-hub-railiance01.service").read_text(encoding="utf-8")
    exec_start = next(line for line in unit.splitlines() if line.startswith("ExecStart="))
    assert exec_start.startswith("ExecStart=/usr/bin/ssh -N ")
    for option in ("ExitOnForwardFailure=yes", "ServerAliveInterval=15", "ServerAliveCountMax=3"):
        assert f"-o {option}" in exec_start
    assert "-i /etc/ops-bridge/actors/atm-railiance01/id_ed25519 " in exec_start
    assert "-o CertificateFile=/etc/ops-bridge/actors/atm-railiance01/id_ed25519-cert.pub" in exec_start
    assert exec_start.endswith("-L 127.0.0.1:18000:127.0.0.1:30080 atm-railiance01@coulombcore")
    assert "StartLimitIntervalSec=0" in unit.split("[Service]")[0]
    for line in ("Restart=always", "RestartSec=5", "WantedBy=multi-user.target"):
        assert line in unit.splitlines()
    assert "WireGuard mesh" in result.stderr  # 15 tunnels for 4 hosts, and the workstation is behind NAT


def test_reverse_and_proxy_jump(tmp_path: Path) -> None:
    before = load_register(FIXTURES / "register-before.yaml")
    units = dict(render_systemd(before, "workstation"))
    assert len(units) == 16
    reverse = units["ops-bridge-state-hub-railiance01.service"]
    assert "-R 127.0.0.1:18000:127.0.0.1:8000 worsch@railiance01" in reverse
    jumped = dict(render_systemd(load_register(FIXTURES / "rules" / "dev-dependency.yaml"), "railiance01"))
    text = jumped["ops-bridge-issue-core-emission.service"]
    assert "-J atm-railiance01@workstation -L 127.0.0.1:18100:127.0.0.1:30081 atm-railiance01@coulombcore" in text


def test_description_is_escaped_for_systemd() -> None:
    register = parse_register_text(
        "hosts: {a: {role: production}, b: {role: production}}\n"
        "tunnels:\n  t1: {origin_host: a, target_host: b, direction: local, local_port: 1, remote_port: 2,\n"
        '       env: prod, actor: atm-a, owner: X, purpose: "100% of\\n traffic"}\n'
    )
    unit = render_systemd(register, "a")[0][1]
    assert "Description=ops-bridge tunnel t1 (prod): 100%% of traffic" in unit


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze absent (CI installs systemd)")
def test_rendered_units_pass_systemd_analyze_verify(run_fleet, tmp_path: Path) -> None:
    out = tmp_path / "units"
    result = run_fleet(
        "tunnels",
        "render",
        "--register",
        str(FIXTURES / "register-before.yaml"),
        "--host",
        "workstation",
        "--output",
        str(out),
    )
    assert result.code == 0, result.stderr
    assert len(list(out.glob("*.service"))) == 16
    assert unit_problems(out) == []
    # The check can fail: a misspelt key and a bad restart value are reported.
    broken = tmp_path / "broken"
    broken.mkdir()
    text = (out / "ops-bridge-argocd-ui.service").read_text(encoding="utf-8")
    (broken / "ops-bridge-broken.service").write_text(
        text.replace("Restart=always", "Restart=alwayz").replace("RestartSec=", "RestartSecs="), encoding="utf-8"
    )
    complaints = unit_problems(broken)
    assert any("alwayz" in line for line in complaints) and any("RestartSecs" in line for line in complaints)


def test_printed_units_have_file_headers(run_fleet) -> None:
    result = run_fleet("tunnels", "render", "--register", str(FIXTURES / "register-mid.yaml"), "--host", "railiance01")
    assert result.code == 0
    headers = [line for line in result.stdout.splitlines() if line.startswith("# file: ")]
    assert headers == [
        "# file: ops-bridge-issue-core-railiance01.service",
        "# file: ops-bridge-state-hub-railiance01.service",
    ]
    assert result.stdout.count("[Unit]") == 2


def test_ops_bridge_yaml(run_fleet) -> None:
    result = run_fleet(
        "tunnels",
        "render",
        "--register",
        str(FIXTURES / "register-mid.yaml"),
        "--host",
        "railiance01",
        "--format",
        "ops-bridge",
    )
    assert result.code == 0, result.stderr
    body = result.stdout.split("\n", 1)[1]
    assert result.stdout.startswith("# file: tunnels.yaml")
    doc = yaml.load(body, Loader=yaml.CSafeLoader)
    assert doc["origin_host"] == "railiance01"
    lane = doc["tunnels"]["issue-core-railiance01"]
    assert lane["host"] == "coulombcore" and lane["direction"] == "local"
    assert (lane["local_port"], lane["remote_port"]) == (18100, 30081)
    assert lane["ssh_user"] == lane["actor"] == "atm-railiance01"
    assert lane["health_check"] == {
        "url": "http://127.0.0.1:18100/health",
        "interval_seconds": 30,
        "timeout_seconds": 5.0,
    }
    assert lane["reconnect"] == {
        "initial_delay_seconds": 5,
        "max_delay_seconds": 60,
        "keepalive_interval_seconds": 15,
        "keepalive_count_max": 3,
    }


def test_render_errors(run_fleet) -> None:
    unknown = run_fleet("tunnels", "render", "--register", str(FIXTURES / "register-mid.yaml"), "--host", "nowhere")
    assert unknown.code == 2 and "unknown host 'nowhere'" in unknown.stderr
    register = parse_register_text(
        "hosts: {a: {role: production}}\n"
        "tunnels:\n  t1: {origin_host: a, direction: local, local_port: 1, remote_port: 2, env: dev, actor: x}\n"
    )
    with pytest.raises(RegisterProblems, match=r"tunnels\.t1\.target_host: needed to render the tunnel"):
        render_systemd(register, "a")


def test_no_mesh_recommendation_for_a_small_fleet(run_fleet) -> None:
    clean = FIXTURES / "rules" / "clean.yaml"
    result = run_fleet("tunnels", "render", "--register", str(clean), "--host", "railiance01")
    assert result.code == 0
    assert "WireGuard" not in result.stderr + result.stdout
