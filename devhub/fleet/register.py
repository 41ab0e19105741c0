"""The fleet register: typed rows for hosts, workloads, tunnels, repos, sinks and pipelines (SPEC §10).

`load_register` reads one YAML file, checks every field and every reference,
and either returns a `Register` or raises `RegisterProblems` carrying every
problem found, each with its dotted place and, where known, `file:line`.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from devhub.errors import RegisterError
from devhub.fleet._rows import (  # the rows live below `_schema`, which parses into them
    DEFAULT_HEALTH_INTERVAL_SECONDS,
    DEFAULT_HEALTH_TIMEOUT_SECONDS,
    DIRECTIONS,
    HOST_ROLES,
    HOST_STATUSES,
    METHODS,
    TUNNEL_ENVS,
    WORKLOAD_STATES,
    Direction,
    Env,
    FleetRepo,
    HealthCheck,
    Host,
    Pipeline,
    Place,
    Register,
    RegisterProblem,
    RegisterProblems,
    Sink,
    Tunnel,
    Workload,
    place_in,
)

REGISTER_RELPATH = Path("fleet") / "register.yaml"

__all__ = [
    "DEFAULT_HEALTH_INTERVAL_SECONDS",
    "DEFAULT_HEALTH_TIMEOUT_SECONDS",
    "DIRECTIONS",
    "HOST_ROLES",
    "HOST_STATUSES",
    "METHODS",
    "REGISTER_RELPATH",
    "TUNNEL_ENVS",
    "WORKLOAD_STATES",
    "Direction",
    "Env",
    "FleetRepo",
    "HealthCheck",
    "Host",
    "Pipeline",
    "Place",
    "Register",
    "RegisterProblem",
    "RegisterProblems",
    "Sink",
    "Tunnel",
    "Workload",
    "find_register",
    "load_register",
    "parse_register_text",
    "place_in",
]


def load_register(path: Path) -> Register:
    """Read and validate the register at `path`; raise RegisterProblems listing every error."""
    from devhub.fleet._schema import parse_register

    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise RegisterProblems([RegisterProblem(Place("register", str(path)), f"cannot read: {exc}")]) from exc
    return parse_register(text, path)


def find_register(explicit: Path | None, repo_roots: Iterable[Path]) -> Path:
    """The register to use: `explicit`, else the first repo root holding fleet/register.yaml."""
    if explicit is not None:
        if not explicit.is_file():
            raise RegisterError("--register", f"no such file: {explicit}")
        return explicit
    roots = list(repo_roots)
    for root in roots:
        candidate = root / REGISTER_RELPATH
        if candidate.is_file():
            return candidate
    looked = f" (looked in {len(roots)} registered repo{'s' if len(roots) != 1 else ''})" if roots else ""
    raise RegisterError(
        "register",
        f"no fleet register found{looked}: pass --register FILE, or register a repo "
        f"that contains {REGISTER_RELPATH.as_posix()} with `devhub register PATH`",
    )


def parse_register_text(text: str, source: Path | None = None) -> Register:
    """Validate register text that is not (yet) a file; same rules and errors as load_register."""
    from devhub.fleet._schema import parse_register

    return parse_register(text, source)
