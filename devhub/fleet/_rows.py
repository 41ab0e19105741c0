"""The fleet register's typed rows and its problem reports (SPEC §10): what `_schema` builds and `register` returns.

Below both: `_schema` parses YAML into these rows, `register` loads files and re-exports them.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from devhub.errors import RegisterError

HOST_ROLES: tuple[str, ...] = ("production", "legacy", "dev")
HOST_STATUSES: tuple[str, ...] = ("active", "frozen", "planned", "decommissioned")
METHODS: tuple[str, ...] = ("staged-promotion", "exception")
WORKLOAD_STATES: tuple[str, ...] = ("pending", "draining", "drained")
DIRECTIONS: tuple[str, ...] = ("reverse", "local")
TUNNEL_ENVS: tuple[str, ...] = ("prod", "dev")

Direction = Literal["reverse", "local"]
Env = Literal["prod", "dev"]

DEFAULT_HEALTH_INTERVAL_SECONDS = 30
DEFAULT_HEALTH_TIMEOUT_SECONDS = 5.0


@dataclass(frozen=True, slots=True)
class Place:
    """Where a value lives: its dotted path plus the file and line it came from, when known."""

    path: str
    file: str | None = None
    line: int | None = None

    @property
    def location(self) -> str:
        """`file:line: ` (or just `file: `) ready to prefix a message; empty when the file is unknown."""
        if self.file is None:
            return ""
        return f"{self.file}:{self.line}: " if self.line else f"{self.file}: "


_LAST_STEP = re.compile(r"(\[\d+\]|\.[^.\[]*)$")


def place_in(lines: Mapping[str, int], file: str | None, path: str) -> Place:
    """The Place of `path`, carrying the line of its nearest ancestor found in `lines`."""
    probe = path
    while probe:
        if probe in lines:
            return Place(path, file, lines[probe])
        shorter = _LAST_STEP.sub("", probe)
        probe = "" if shorter == probe else shorter
    return Place(path, file, None)


@dataclass(frozen=True, slots=True)
class RegisterProblem:
    """One thing wrong (or merely odd, for warnings) in a register, at one place."""

    place: Place
    reason: str

    def __str__(self) -> str:
        return f"{self.place.location}{self.place.path}: {self.reason}"


class RegisterProblems(RegisterError):
    """Every error found while loading a register; `problems` lists them in file order."""

    def __init__(self, problems: Iterable[RegisterProblem], source: str | None = None) -> None:
        self.problems: tuple[RegisterProblem, ...] = tuple(problems)
        if not self.problems:
            raise ValueError("RegisterProblems needs at least one problem")
        first = self.problems[0]
        super().__init__(first.place.path, first.reason)
        count = len(self.problems)
        header = f"{source or 'register'}: {count} problem{'s' if count != 1 else ''}"
        self.detail = "\n".join([header, *(str(p) for p in self.problems)])
        self.args = (self.detail,)
        self.extra["problems"] = [
            {"place": p.place.path, "file": p.place.file, "line": p.place.line, "reason": p.reason}
            for p in self.problems
        ]


@dataclass(frozen=True, slots=True)
class Host:
    name: str
    role: str  # one of HOST_ROLES
    status: str  # one of HOST_STATUSES
    behind_nat: bool = False


@dataclass(frozen=True, slots=True)
class HealthCheck:
    url: str | None = None  # None: TCP connect to 127.0.0.1:local_port
    interval_seconds: int = DEFAULT_HEALTH_INTERVAL_SECONDS
    timeout_seconds: float = DEFAULT_HEALTH_TIMEOUT_SECONDS


@dataclass(frozen=True, slots=True)
class Workload:
    name: str
    current_host: str
    target_host: str | None
    owner: str | None
    method: str = "staged-promotion"
    reason: str | None = None
    depends_on: tuple[str, ...] = ()
    production: bool = True
    stateful: bool = False
    state: str = "pending"

    @property
    def running_on(self) -> str:
        """The host the workload runs on now: its target once drained, else its current host."""
        if self.state == "drained" and self.target_host:
            return self.target_host
        return self.current_host


@dataclass(frozen=True, slots=True)
class Tunnel:
    name: str
    origin_host: str
    target_host: str | None
    direction: Direction
    local_port: int
    remote_port: int
    env: Env
    actor: str
    owner: str | None
    via: tuple[str, ...] = ()
    purpose: str | None = None
    health_check: HealthCheck | None = None


@dataclass(frozen=True, slots=True)
class FleetRepo:
    name: str
    current_host: str
    target_host: str | None
    owner: str | None
    remote: str | None = None


@dataclass(frozen=True, slots=True)
class Sink:
    name: str
    path: str
    host: str
    target_host: str | None
    owner: str | None
    production: bool = True


@dataclass(frozen=True, slots=True)
class Pipeline:
    name: str
    current_host: str
    target_host: str | None
    owner: str | None
    production: bool = True


@dataclass(frozen=True)
class Register:
    """A loaded, fully resolved register and the line of every place in its file."""

    source: Path | None
    hosts: Mapping[str, Host]
    workloads: Mapping[str, Workload]
    tunnels: Mapping[str, Tunnel]
    repos: Mapping[str, FleetRepo]
    sinks: Mapping[str, Sink]
    pipelines: Mapping[str, Pipeline]
    lines: Mapping[str, int] = field(default_factory=dict, repr=False)
    warnings: tuple[RegisterProblem, ...] = ()

    def place(self, path: str) -> Place:
        """The Place of a dotted path, with the line of its nearest ancestor that has one."""
        return place_in(self.lines, str(self.source) if self.source else None, path)

    def hosts_with(self, status: str) -> list[str]:
        return sorted(name for name, host in self.hosts.items() if host.status == status)
