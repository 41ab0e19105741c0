"""Turn register YAML text into a `Register`, collecting every problem with its place and line.

Two passes over the same text: a node-composing pass (C loader, marks kept)
maps each dotted place to its line, and a plain load gives the values that the
field readers below check one by one.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any, cast

import yaml

from devhub.fleet._rows import (
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

SECTIONS: tuple[str, ...] = ("hosts", "workloads", "tunnels", "repos", "sinks", "pipelines")
NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
ACTOR_PATTERN = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]*$")

KNOWN_FIELDS: Mapping[str, frozenset[str]] = {
    "hosts": frozenset({"role", "status", "behind_nat", "notes"}),
    "workloads": frozenset(
        {
            "current_host",
            "target_host",
            "method",
            "reason",
            "owner",
            "depends_on",
            "production",
            "stateful",
            "state",
            "notes",
        }
    ),
    "tunnels": frozenset(
        {
            "origin_host",
            "via",
            "target_host",
            "direction",
            "local_port",
            "remote_port",
            "env",
            "purpose",
            "actor",
            "owner",
            "health_check",
            "notes",
        }
    ),
    "repos": frozenset({"remote", "current_host", "target_host", "owner", "notes"}),
    "sinks": frozenset({"path", "host", "target_host", "owner", "production", "notes"}),
    "pipelines": frozenset({"current_host", "target_host", "owner", "production", "notes"}),
}
HEALTH_FIELDS = frozenset({"url", "interval_seconds", "timeout_seconds"})


def _describe(value: object) -> str:
    """How a wrong value reads in an error: its kind, and the value itself when it is short."""
    if value is None:
        return "nothing (null)"
    if isinstance(value, bool):
        return f"a boolean ({str(value).lower()})"
    if isinstance(value, int | float):
        return f"a number ({value})"
    if isinstance(value, str):
        return f"a string {value!r}"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    return type(value).__name__


def _index_lines(node: yaml.Node, prefix: str, lines: dict[str, int], duplicates: list[str]) -> None:
    """Record the 1-based line of every mapping key and list item under `node`, by dotted place."""
    if isinstance(node, yaml.MappingNode):
        seen: set[str] = set()
        for key_node, value_node in node.value:
            key = str(key_node.value)
            place = f"{prefix}.{key}" if prefix else key
            if key in seen:
                duplicates.append(place)
            seen.add(key)
            lines[place] = key_node.start_mark.line + 1
            _index_lines(value_node, place, lines, duplicates)
    elif isinstance(node, yaml.SequenceNode):
        for position, item in enumerate(node.value):
            place = f"{prefix}[{position}]"
            lines[place] = item.start_mark.line + 1
            _index_lines(item, place, lines, duplicates)


class _Reader:
    """Field readers that record a problem and return a harmless fallback when a value is wrong."""

    def __init__(self, source: Path | None, lines: Mapping[str, int]) -> None:
        self.source = str(source) if source else None
        self.lines = lines
        self.errors: list[RegisterProblem] = []
        self.warnings: list[RegisterProblem] = []

    def place(self, path: str) -> Place:
        return place_in(self.lines, self.source, path)

    def error(self, path: str, reason: str) -> None:
        self.errors.append(RegisterProblem(self.place(path), reason))

    def warn(self, path: str, reason: str) -> None:
        self.warnings.append(RegisterProblem(self.place(path), reason))

    def rows(self, data: Mapping[str, Any], section: str) -> dict[str, Mapping[str, Any]]:
        """The rows of one section by name; a wrong shape is an error and yields no rows."""
        raw = data.get(section)
        if raw is None:
            return {}
        if not isinstance(raw, dict):
            self.error(section, f"expected a mapping of name -> fields, got {_describe(raw)}")
            return {}
        rows: dict[str, Mapping[str, Any]] = {}
        for name, fields in raw.items():
            path = f"{section}.{name}"
            if not isinstance(name, str) or not NAME_PATTERN.match(name):
                self.error(
                    path,
                    "a name must start with a letter or digit and use only letters, digits, '.', '_' and '-'",
                )
                continue
            if fields is None:
                fields = {}
            if not isinstance(fields, dict):
                self.error(path, f"expected a mapping of fields, got {_describe(fields)}")
                continue
            for key in fields:
                if key not in KNOWN_FIELDS[section]:
                    known = ", ".join(sorted(KNOWN_FIELDS[section]))
                    self.warn(f"{path}.{key}", f"unknown key, ignored (known: {known})")
            rows[name] = fields
        return rows

    def string(self, row: Mapping[str, Any], path: str, key: str, *, required: bool = False) -> str | None:
        value = row.get(key)
        if value is None:
            if required:
                self.error(f"{path}.{key}", "required field is missing")
            return None
        if not isinstance(value, str) or not value.strip():
            self.error(f"{path}.{key}", f"expected a non-empty string, got {_describe(value)}")
            return None
        return value

    def enum(self, row: Mapping[str, Any], path: str, key: str, choices: tuple[str, ...], default: str | None) -> str:
        value = row.get(key)
        if value is None:
            if default is None:
                self.error(f"{path}.{key}", f"required field is missing (one of: {', '.join(choices)})")
                return choices[0]
            return default
        if value not in choices:
            self.error(f"{path}.{key}", f"expected one of {', '.join(choices)}, got {_describe(value)}")
            return default or choices[0]
        return cast(str, value)

    def boolean(self, row: Mapping[str, Any], path: str, key: str, default: bool) -> bool:
        value = row.get(key)
        if value is None:
            return default
        if not isinstance(value, bool):
            self.error(f"{path}.{key}", f"expected true or false, got {_describe(value)}")
            return default
        return value

    def port(self, row: Mapping[str, Any], path: str, key: str) -> int:
        value = row.get(key)
        if value is None:
            self.error(f"{path}.{key}", "required field is missing (an integer port 1-65535)")
            return 0
        if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 65535:
            self.error(f"{path}.{key}", f"expected an integer port 1-65535, got {_describe(value)}")
            return 0
        return value

    def names(self, row: Mapping[str, Any], path: str, key: str, what: str) -> tuple[str, ...]:
        value = row.get(key)
        if value is None:
            return ()
        if not isinstance(value, list):
            self.error(f"{path}.{key}", f"expected a list of {what}, got {_describe(value)}")
            return ()
        names: list[str] = []
        for position, item in enumerate(value):
            if not isinstance(item, str) or not item.strip():
                self.error(f"{path}.{key}[{position}]", f"expected a {what[:-1]} name, got {_describe(item)}")
            else:
                names.append(item)
        return tuple(names)

    def host(
        self, row: Mapping[str, Any], path: str, key: str, hosts: set[str], *, required: bool = False
    ) -> str | None:
        name = self.string(row, path, key, required=required)
        if name is not None and name not in hosts:
            self.error(f"{path}.{key}", f"unknown host {name!r}")
        return name

    def health_check(self, row: Mapping[str, Any], path: str) -> HealthCheck | None:
        value = row.get("health_check")
        if value is None:
            return None
        place = f"{path}.health_check"
        if not isinstance(value, dict):
            self.error(place, f"expected a mapping (url, interval_seconds, timeout_seconds), got {_describe(value)}")
            return None
        for key in value:
            if key not in HEALTH_FIELDS:
                self.warn(f"{place}.{key}", f"unknown key, ignored (known: {', '.join(sorted(HEALTH_FIELDS))})")
        url = self.string(value, place, "url")
        if url is not None and not url.startswith(("http://", "https://")):
            self.error(f"{place}.url", f"expected an http:// or https:// URL, got {url!r}")
        check = HealthCheck(url=url)
        interval = value.get("interval_seconds", check.interval_seconds)
        if isinstance(interval, bool) or not isinstance(interval, int) or interval <= 0:
            self.error(f"{place}.interval_seconds", f"expected a positive integer, got {_describe(interval)}")
            interval = check.interval_seconds
        timeout = value.get("timeout_seconds", check.timeout_seconds)
        if isinstance(timeout, bool) or not isinstance(timeout, int | float) or timeout <= 0:
            self.error(f"{place}.timeout_seconds", f"expected a positive number, got {_describe(timeout)}")
            timeout = check.timeout_seconds
        return HealthCheck(url=url, interval_seconds=interval, timeout_seconds=float(timeout))


def _hosts(reader: _Reader, rows: Mapping[str, Mapping[str, Any]]) -> dict[str, Host]:
    hosts: dict[str, Host] = {}
    for name, row in rows.items():
        path = f"hosts.{name}"
        hosts[name] = Host(
            name=name,
            role=reader.enum(row, path, "role", HOST_ROLES, None),
            status=reader.enum(row, path, "status", HOST_STATUSES, "active"),
            behind_nat=reader.boolean(row, path, "behind_nat", False),
        )
    return hosts


def _workloads(reader: _Reader, rows: Mapping[str, Mapping[str, Any]], hosts: set[str]) -> dict[str, Workload]:
    workloads: dict[str, Workload] = {}
    for name, row in rows.items():
        path = f"workloads.{name}"
        method = reader.enum(row, path, "method", METHODS, "staged-promotion")
        reason = reader.string(row, path, "reason")
        if method == "exception" and reason is None and "reason" not in row:
            reader.error(f"{path}.method", "'exception' requires a reason: field saying why it is not promoted")
        depends_on = reader.names(row, path, "depends_on", "workloads")
        for position, dependency in enumerate(depends_on):
            if dependency not in rows:
                reader.error(f"{path}.depends_on[{position}]", f"unknown workload {dependency!r}")
            elif dependency == name:
                reader.error(f"{path}.depends_on[{position}]", "a workload cannot depend on itself")
        workloads[name] = Workload(
            name=name,
            current_host=reader.host(row, path, "current_host", hosts, required=True) or "",
            target_host=reader.host(row, path, "target_host", hosts),
            owner=reader.string(row, path, "owner"),
            method=method,
            reason=reason,
            depends_on=depends_on,
            production=reader.boolean(row, path, "production", True),
            stateful=reader.boolean(row, path, "stateful", False),
            state=reader.enum(row, path, "state", WORKLOAD_STATES, "pending"),
        )
    return workloads


def _tunnels(reader: _Reader, rows: Mapping[str, Mapping[str, Any]], hosts: set[str]) -> dict[str, Tunnel]:
    tunnels: dict[str, Tunnel] = {}
    for name, row in rows.items():
        path = f"tunnels.{name}"
        via = reader.names(row, path, "via", "hosts")
        for position, hop in enumerate(via):
            if hop not in hosts:
                reader.error(f"{path}.via[{position}]", f"unknown host {hop!r}")
        actor = reader.string(row, path, "actor", required=True) or ""
        if actor and not ACTOR_PATTERN.match(actor):
            reader.error(f"{path}.actor", f"not usable as an ssh user and file name: {actor!r}")
        tunnels[name] = Tunnel(
            name=name,
            origin_host=reader.host(row, path, "origin_host", hosts, required=True) or "",
            target_host=reader.host(row, path, "target_host", hosts),
            direction=cast(Direction, reader.enum(row, path, "direction", DIRECTIONS, None)),
            local_port=reader.port(row, path, "local_port"),
            remote_port=reader.port(row, path, "remote_port"),
            env=cast(Env, reader.enum(row, path, "env", TUNNEL_ENVS, None)),
            actor=actor,
            owner=reader.string(row, path, "owner"),
            via=via,
            purpose=reader.string(row, path, "purpose"),
            health_check=reader.health_check(row, path),
        )
    return tunnels


def _repos(reader: _Reader, rows: Mapping[str, Mapping[str, Any]], hosts: set[str]) -> dict[str, FleetRepo]:
    return {
        name: FleetRepo(
            name=name,
            current_host=reader.host(row, f"repos.{name}", "current_host", hosts, required=True) or "",
            target_host=reader.host(row, f"repos.{name}", "target_host", hosts),
            owner=reader.string(row, f"repos.{name}", "owner"),
            remote=reader.string(row, f"repos.{name}", "remote"),
        )
        for name, row in rows.items()
    }


def _sinks(reader: _Reader, rows: Mapping[str, Mapping[str, Any]], hosts: set[str]) -> dict[str, Sink]:
    return {
        name: Sink(
            name=name,
            path=reader.string(row, f"sinks.{name}", "path", required=True) or "",
            host=reader.host(row, f"sinks.{name}", "host", hosts, required=True) or "",
            target_host=reader.host(row, f"sinks.{name}", "target_host", hosts),
            owner=reader.string(row, f"sinks.{name}", "owner"),
            production=reader.boolean(row, f"sinks.{name}", "production", True),
        )
        for name, row in rows.items()
    }


def _pipelines(reader: _Reader, rows: Mapping[str, Mapping[str, Any]], hosts: set[str]) -> dict[str, Pipeline]:
    return {
        name: Pipeline(
            name=name,
            current_host=reader.host(row, f"pipelines.{name}", "current_host", hosts, required=True) or "",
            target_host=reader.host(row, f"pipelines.{name}", "target_host", hosts),
            owner=reader.string(row, f"pipelines.{name}", "owner"),
            production=reader.boolean(row, f"pipelines.{name}", "production", True),
        )
        for name, row in rows.items()
    }


def parse_register(text: str, source: Path | None = None) -> Register:
    """Parse and validate register text; raise RegisterProblems with every error found."""
    label = str(source) if source else "register"
    try:
        node = yaml.compose(text, Loader=yaml.CSafeLoader)
        data = yaml.load(text, Loader=yaml.CSafeLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        reason = f"not valid YAML: {getattr(exc, 'problem', None) or exc}"
        raise RegisterProblems([RegisterProblem(Place("register", label, line), reason)], label) from exc
    lines: dict[str, int] = {}
    duplicates: list[str] = []
    if node is not None:
        _index_lines(node, "", lines, duplicates)
    reader = _Reader(source, lines)
    for place in duplicates:
        reader.error(place, "duplicate key (the later value would silently win)")
    if data is None:
        data = {}
    if not isinstance(data, dict):
        reader.error("register", f"expected a mapping with sections {', '.join(SECTIONS)}, got {_describe(data)}")
        raise RegisterProblems(reader.errors, label)
    for key in data:
        if key not in SECTIONS:
            reader.warn(str(key), f"unknown section, ignored (known: {', '.join(SECTIONS)})")
    host_rows = reader.rows(data, "hosts")
    hosts = _hosts(reader, host_rows)
    host_names = set(host_rows)
    register = Register(
        source=source,
        hosts=hosts,
        workloads=_workloads(reader, reader.rows(data, "workloads"), host_names),
        tunnels=_tunnels(reader, reader.rows(data, "tunnels"), host_names),
        repos=_repos(reader, reader.rows(data, "repos"), host_names),
        sinks=_sinks(reader, reader.rows(data, "sinks"), host_names),
        pipelines=_pipelines(reader, reader.rows(data, "pipelines"), host_names),
        lines=lines,
        warnings=tuple(sorted(reader.warnings, key=lambda p: (p.place.line or 0, p.place.path))),
    )
    if reader.errors:
        ordered = sorted(reader.errors, key=lambda p: (p.place.line or 0, p.place.path))
        raise RegisterProblems(ordered, label)
    return register
