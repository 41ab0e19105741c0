"""`devhub fleet check`: rules over a loaded register (and scanned files) that yield findings.

Severity per rule (docs/fleet.md explains each):

    dev-dependency      error    production relies on a dev host
    frozen-target       error    a row is meant to move onto a frozen host
    dependency-cycle    error    workloads depend on each other in a loop
    unowned             warning  a row has no target host or no owner
    workstation-path    warning  an absolute /home/<user>/ path in a sink or a scanned file
    unknown-key         warning  the register has a key devhub does not know (ignored)
    decommission-ready  info     a frozen/legacy host with nothing left on it
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Literal

from devhub.fleet.register import Register

Severity = Literal["error", "warning", "info"]
SEVERITY_RANK: dict[str, int] = {"error": 0, "warning": 1, "info": 2}

RULES: dict[str, Severity] = {
    "dev-dependency": "error",
    "frozen-target": "error",
    "dependency-cycle": "error",
    "unowned": "warning",
    "workstation-path": "warning",
    "unknown-key": "warning",
    "decommission-ready": "info",
}

# An absolute /home/<user>/ path: not preceded by a word character or a single slash, so
# "docs/home/x/" is not one while "/home/x/" and "file:///home/x/" are.
HOME_PATH = re.compile(r"(?<![\w.~-])(?<![\w.~-]/)/home/[A-Za-z0-9._-]+/")
FIX_UNOWNED = "set target_host (where it must run) and owner (the task that moves it, e.g. CUST-WP-0054-T05)"
FIX_HOME_PATH = "use a repo-relative path or a setting; no runtime contract may name a workstation home"
SKIP_DIRS = frozenset({".git"})
BINARY_SNIFF_BYTES = 8192


@dataclass(frozen=True, slots=True)
class Finding:
    """One rule hit: which rule, how bad, which row (or file:line), what is wrong and what to do."""

    rule: str
    severity: Severity
    row: str
    message: str
    fix: str
    file: str | None = None
    line: int | None = None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _finding(register: Register, rule: str, row: str, message: str, fix: str) -> Finding:
    place = register.place(row)
    return Finding(rule, RULES[rule], row, message, fix, place.file, place.line)


def _unowned(register: Register) -> Iterator[Finding]:
    rows: list[tuple[str, str | None, str | None]] = []
    rows += [(f"workloads.{w.name}", w.target_host, w.owner) for w in register.workloads.values()]
    rows += [(f"tunnels.{t.name}", t.target_host, t.owner) for t in register.tunnels.values()]
    rows += [(f"repos.{r.name}", r.target_host, r.owner) for r in register.repos.values()]
    rows += [(f"sinks.{s.name}", s.target_host, s.owner) for s in register.sinks.values()]
    rows += [(f"pipelines.{p.name}", p.target_host, p.owner) for p in register.pipelines.values()]
    for row, target, owner in rows:
        missing = [label for label, value in (("target_host", target), ("owner", owner)) if not value]
        if missing:
            yield _finding(
                register,
                "unowned",
                row,
                f"no {' and no '.join(missing)}",
                FIX_UNOWNED,
            )


def _dev_dependency(register: Register) -> Iterator[Finding]:
    def is_dev(host: str | None) -> bool:
        return host is not None and host in register.hosts and register.hosts[host].role == "dev"

    for t in register.tunnels.values():
        if t.env != "prod":
            continue
        dev_hops = [f"origin_host {t.origin_host}"] if is_dev(t.origin_host) else []
        dev_hops += [f"via {hop}" for hop in t.via if is_dev(hop)]
        dev_hops += [f"target_host {t.target_host}"] if is_dev(t.target_host) else []
        if dev_hops:
            yield _finding(
                register,
                "dev-dependency",
                f"tunnels.{t.name}",
                f"prod tunnel runs through a dev host ({', '.join(dev_hops)})",
                "run it on a production host under an atm- actor (origin_host), or mark it env: dev",
            )
    placed: list[tuple[str, str, str | None, bool]] = []
    placed += [(f"workloads.{w.name}", w.running_on, w.target_host, w.production) for w in register.workloads.values()]
    placed += [
        (f"pipelines.{p.name}", p.current_host, p.target_host, p.production) for p in register.pipelines.values()
    ]
    placed += [(f"sinks.{s.name}", s.host, s.target_host, s.production) for s in register.sinks.values()]
    placed += [(f"repos.{r.name}", r.current_host, r.target_host, True) for r in register.repos.values()]
    for row, host, target, production in placed:
        if not production:
            continue
        if is_dev(host):
            yield _finding(
                register,
                "dev-dependency",
                row,
                f"production runs on dev host {host}",
                f"move it to {target or 'a production host'} and update the row"
                + ("" if target and not is_dev(target) else "; its target must be a production host"),
            )
        elif is_dev(target):
            yield _finding(
                register,
                "dev-dependency",
                row,
                f"production is meant to move onto dev host {target}",
                "set target_host to a production host",
            )


def _frozen_target(register: Register) -> Iterator[Finding]:
    rows: list[tuple[str, str | None]] = []
    rows += [(f"workloads.{w.name}", w.target_host) for w in register.workloads.values()]
    rows += [(f"repos.{r.name}", r.target_host) for r in register.repos.values()]
    rows += [(f"sinks.{s.name}", s.target_host) for s in register.sinks.values()]
    rows += [(f"pipelines.{p.name}", p.target_host) for p in register.pipelines.values()]
    for row, target in rows:
        host = register.hosts.get(target) if target else None
        if host is not None and host.status in ("frozen", "decommissioned"):
            yield _finding(
                register,
                "frozen-target",
                row,
                f"target_host {target} is {host.status}: nothing new lands there",
                "pick an active or planned production host as target_host",
            )


def _dependency_cycle(register: Register) -> Iterator[Finding]:
    from devhub.fleet.drain import find_cycle

    graph = {w.name: [d for d in w.depends_on if d in register.workloads] for w in register.workloads.values()}
    cycle = find_cycle(graph)
    if cycle:
        yield _finding(
            register,
            "dependency-cycle",
            f"workloads.{cycle[0]}",
            f"depends_on cycle: {' -> '.join(cycle)}",
            "break the loop: one of these must not depend on the next",
        )


def _workstation_path_in_sinks(register: Register) -> Iterator[Finding]:
    for sink in register.sinks.values():
        match = HOME_PATH.search(sink.path)
        if match:
            yield _finding(
                register,
                "workstation-path",
                f"sinks.{sink.name}",
                f"path {sink.path} names a user's home ({match.group(0)})",
                "make it repo-relative or PVC-native, with a sync-to-repo step",
            )


def _decommission_ready(register: Register) -> Iterator[Finding]:
    for name, host in sorted(register.hosts.items()):
        if host.status == "decommissioned" or not (host.status == "frozen" or host.role == "legacy"):
            continue
        left: list[str] = [w.name for w in register.workloads.values() if w.production and w.running_on == name]
        left += [
            t.name
            for t in register.tunnels.values()
            if t.env == "prod" and name in (t.origin_host, t.target_host, *t.via)
        ]
        left += [r.name for r in register.repos.values() if r.current_host == name]
        left += [s.name for s in register.sinks.values() if s.production and s.host == name]
        left += [p.name for p in register.pipelines.values() if p.production and p.current_host == name]
        if not left:
            yield _finding(
                register,
                "decommission-ready",
                f"hosts.{name}",
                f"{name} carries no production workload, prod tunnel, repo, sink or pipeline",
                "run the final inventory sweep and archive it, then rebuild the machine (CUST-WP-0054-T09)",
            )


def _unknown_keys(register: Register) -> Iterator[Finding]:
    for warning in register.warnings:
        yield Finding(
            "unknown-key",
            RULES["unknown-key"],
            warning.place.path,
            warning.reason,
            "remove the key or fix its spelling",
            warning.place.file,
            warning.place.line,
        )


def check_register(register: Register) -> list[Finding]:
    """Every finding of every register rule, errors first, then warnings, then info."""
    findings: list[Finding] = [
        *_dev_dependency(register),
        *_frozen_target(register),
        *_dependency_cycle(register),
        *_unowned(register),
        *_workstation_path_in_sinks(register),
        *_unknown_keys(register),
        *_decommission_ready(register),
    ]
    return sorted(findings, key=lambda f: SEVERITY_RANK[f.severity])


def _text_files(root: Path) -> Iterator[Path]:
    if root.is_file():
        yield root
        return
    for folder, dirs, files in os.walk(root):
        dirs[:] = sorted(d for d in dirs if d not in SKIP_DIRS)
        for name in sorted(files):
            yield Path(folder) / name


def _read_text(path: Path) -> str | None:
    """The file as text, or None when it is binary (a NUL byte, or not UTF-8) or unreadable."""
    try:
        data = path.read_bytes()
    except OSError:
        return None
    if b"\0" in data[:BINARY_SNIFF_BYTES]:
        return None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return None


def scan_paths(paths: Iterable[Path]) -> list[Finding]:
    """A `workstation-path` finding for every /home/<user>/ path in the text files under `paths`."""
    findings: list[Finding] = []
    for root in paths:
        for path in _text_files(root):
            text = _read_text(path)
            if text is None:
                continue
            for number, line in enumerate(text.splitlines(), start=1):
                match = HOME_PATH.search(line)
                if match:
                    findings.append(
                        Finding(
                            "workstation-path",
                            RULES["workstation-path"],
                            f"{path}:{number}",
                            f"absolute home path {match.group(0)}",
                            FIX_HOME_PATH,
                            str(path),
                            number,
                        )
                    )
    return findings


def exit_code(findings: Iterable[Finding]) -> int:
    """0 when clean (info allowed), 2 when only warnings, 1 when any error."""
    severities = {f.severity for f in findings}
    if "error" in severities:
        return 1
    if "warning" in severities:
        return 2
    return 0
