"""`devhub fleet tunnels render`: systemd ssh units or an ops-bridge tunnels.yaml for one origin host.

Conventions (docs/fleet.md): unit `ops-bridge-<tunnel>.service`, run as the
`ops-bridge` system user; the actor's key is `/etc/ops-bridge/actors/<actor>/id_ed25519`
with its certificate next to it as `id_ed25519-cert.pub`; the ssh user is the
actor's name, on the target and on every jump host.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import PurePosixPath
from typing import Any

import yaml

from devhub.errors import RegisterError
from devhub.fleet.register import Register, RegisterProblem, RegisterProblems, Tunnel

SSH_BINARY = "/usr/bin/ssh"
SERVICE_USER = "ops-bridge"
ACTORS_DIR = PurePosixPath("/etc/ops-bridge/actors")
KNOWN_HOSTS = PurePosixPath("/etc/ops-bridge/known_hosts")
KEEPALIVE_INTERVAL_SECONDS = 15
KEEPALIVE_COUNT_MAX = 3
RESTART_DELAY_SECONDS = 5
RECONNECT_MAX_DELAY_SECONDS = 60


def identity_file(actor: str) -> PurePosixPath:
    """Where the actor's private key lives on the origin host."""
    return ACTORS_DIR / actor / "id_ed25519"


def certificate_file(actor: str) -> PurePosixPath:
    """Where the actor's ssh certificate (signed by ops-warden) lives, next to its key."""
    return ACTORS_DIR / actor / "id_ed25519-cert.pub"


def unit_name(tunnel: Tunnel) -> str:
    return f"ops-bridge-{tunnel.name}.service"


def forward_argument(tunnel: Tunnel) -> list[str]:
    """`-L` binds local_port on the origin to remote_port on the target; `-R` the reverse."""
    if tunnel.direction == "local":
        return ["-L", f"127.0.0.1:{tunnel.local_port}:127.0.0.1:{tunnel.remote_port}"]
    return ["-R", f"127.0.0.1:{tunnel.remote_port}:127.0.0.1:{tunnel.local_port}"]


def tunnels_from(register: Register, host: str) -> list[Tunnel]:
    """The tunnels whose origin is `host`, by name; each must name the target it connects to."""
    if host not in register.hosts:
        raise RegisterError("--host", f"unknown host {host!r} (known: {', '.join(sorted(register.hosts))})")
    chosen = sorted((t for t in register.tunnels.values() if t.origin_host == host), key=lambda t: t.name)
    missing = [
        RegisterProblem(register.place(f"tunnels.{t.name}.target_host"), "needed to render the tunnel")
        for t in chosen
        if not t.target_host
    ]
    if missing:
        raise RegisterProblems(missing, str(register.source) if register.source else None)
    return chosen


def ssh_command(tunnel: Tunnel) -> list[str]:
    """The ssh argv that holds the tunnel open and exits when the forward cannot be made."""
    argv = [
        SSH_BINARY,
        "-N",
        "-o",
        "ExitOnForwardFailure=yes",
        "-o",
        f"ServerAliveInterval={KEEPALIVE_INTERVAL_SECONDS}",
        "-o",
        f"ServerAliveCountMax={KEEPALIVE_COUNT_MAX}",
        "-o",
        "BatchMode=yes",
        "-o",
        "IdentitiesOnly=yes",
        "-o",
        f"UserKnownHostsFile={KNOWN_HOSTS}",
        "-i",
        str(identity_file(tunnel.actor)),
        "-o",
        f"CertificateFile={certificate_file(tunnel.actor)}",
    ]
    if tunnel.via:
        argv += ["-J", ",".join(f"{tunnel.actor}@{hop}" for hop in tunnel.via)]
    argv += forward_argument(tunnel)
    argv.append(f"{tunnel.actor}@{tunnel.target_host}")
    return argv


def _unit_text(value: str) -> str:
    """A value safe on one unit-file line: no newlines, and '%' escaped from specifier expansion."""
    return " ".join(value.split()).replace("%", "%%")


def systemd_unit(tunnel: Tunnel) -> str:
    """One systemd service that keeps `tunnel` up forever (no start limit, restart always)."""
    purpose = f": {_unit_text(tunnel.purpose)}" if tunnel.purpose else ""
    return "\n".join(
        [
            "[Unit]",
            f"Description=ops-bridge tunnel {tunnel.name} ({tunnel.env}){purpose}",
            "After=network-online.target",
            "Wants=network-online.target",
            "StartLimitIntervalSec=0",
            "",
            "[Service]",
            "Type=simple",
            f"User={SERVICE_USER}",
            f"ExecStart={' '.join(ssh_command(tunnel))}",
            "Restart=always",
            f"RestartSec={RESTART_DELAY_SECONDS}",
            "",
            "[Install]",
            "WantedBy=multi-user.target",
            "",
        ]
    )


def render_systemd(register: Register, host: str) -> list[tuple[str, str]]:
    """(file name, unit text) for every tunnel originating at `host`."""
    return [(unit_name(t), systemd_unit(t)) for t in tunnels_from(register, host)]


def _health(tunnel: Tunnel) -> dict[str, Any]:
    check = tunnel.health_check
    base: dict[str, Any] = {"url": check.url} if check and check.url else {"tcp": f"127.0.0.1:{tunnel.local_port}"}
    if check is not None:
        base.update(interval_seconds=check.interval_seconds, timeout_seconds=check.timeout_seconds)
    else:
        from devhub.fleet.register import DEFAULT_HEALTH_INTERVAL_SECONDS, DEFAULT_HEALTH_TIMEOUT_SECONDS

        base.update(interval_seconds=DEFAULT_HEALTH_INTERVAL_SECONDS, timeout_seconds=DEFAULT_HEALTH_TIMEOUT_SECONDS)
    return base


def render_ops_bridge(register: Register, host: str) -> str:
    """An ops-bridge tunnels.yaml for every tunnel originating at `host`."""
    tunnels: dict[str, Any] = {}
    for t in tunnels_from(register, host):
        tunnels[t.name] = {
            "host": t.target_host,
            "local_port": t.local_port,
            "remote_port": t.remote_port,
            "direction": t.direction,
            "ssh_user": t.actor,
            "actor": t.actor,
            "identity_file": str(identity_file(t.actor)),
            "certificate_file": str(certificate_file(t.actor)),
            "jump_hosts": list(t.via),
            "env": t.env,
            "purpose": t.purpose,
            "owner": t.owner,
            "health_check": _health(t),
            "reconnect": {
                "initial_delay_seconds": RESTART_DELAY_SECONDS,
                "max_delay_seconds": RECONNECT_MAX_DELAY_SECONDS,
                "keepalive_interval_seconds": KEEPALIVE_INTERVAL_SECONDS,
                "keepalive_count_max": KEEPALIVE_COUNT_MAX,
            },
        }
    header = f"# ops-bridge tunnels for {host}, rendered by `devhub fleet tunnels render` from the register\n"
    body = yaml.safe_dump({"origin_host": host, "tunnels": tunnels}, sort_keys=False, default_flow_style=False)
    return header + body


def mesh_recommendation(register: Register) -> str | None:
    """Why a WireGuard mesh should replace point-to-point tunnels, or None when it need not."""
    reasons: list[str] = []
    if len(register.tunnels) > len(register.hosts):
        reasons.append(f"{len(register.tunnels)} tunnels for {len(register.hosts)} hosts")
    natted: Sequence[str] = sorted(name for name, h in register.hosts.items() if h.behind_nat)
    if natted:
        reasons.append(f"behind NAT: {', '.join(natted)}")
    if not reasons:
        return None
    return (
        f"recommendation: replace these ssh tunnels with a WireGuard mesh ({'; '.join(reasons)}): one "
        "peer per host, fleet-owned keys, NAT'd hosts keep the link up with PersistentKeepalive"
    )
