"""Dev/fleet profiles: where agents find the hub, how MCP is reached, and whether the relay runs.

Shipped profiles live in the repo's top-level `profiles/` (the one copy); a checkout reads
them there, and a non-editable install as `devhub/profiles_data/` (setup.py maps it).
A file `<config_dir>/profiles/NAME.toml` adds a profile, or overrides the shipped
profile NAME field by field (tables merge key by key; a key it names wins).
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any, Literal, Protocol, cast

from devhub.errors import ConfigError

Transport = Literal["http", "sse", "stdio"]
TRANSPORTS: tuple[Transport, ...] = ("http", "sse", "stdio")
DEFAULT_PROFILE = "dev"
ACTIVE_PROFILE_FILE = "active-profile"
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")

# The accepted keys of a profile file; anything else is a typo worth reporting.
_TOP_KEYS = {"name", "description", "api_url", "token_env", "mcp", "relay"}
_MCP_KEYS = {"transport", "url", "send_token"}
_RELAY_KEYS = {"enabled", "upstream"}


class ProfileSource(Protocol):
    """What profile lookups need of the Settings (a Protocol, so settings.py can import this module)."""

    @property
    def config_dir(self) -> Path: ...

    @property
    def user_profiles_dir(self) -> Path: ...

    @property
    def profile(self) -> str | None: ...


@dataclass(frozen=True)
class McpEndpoint:
    """How an MCP client reaches the hub: transport, URL (none for stdio), whether to send the token."""

    transport: Transport
    url: str | None
    send_token: bool


@dataclass(frozen=True)
class ProfileRelay:
    """Whether the daemon relays buffered writes, and to which upstream State Hub."""

    enabled: bool
    upstream: str | None


@dataclass(frozen=True)
class Profile:
    """One named profile; `sources` lists the files it was read from, shipped first."""

    name: str
    description: str
    api_url: str
    mcp: McpEndpoint
    relay: ProfileRelay
    token_env: str | None
    sources: tuple[Path, ...]

    origin: str  # "shipped", "user", or "shipped+user" (a user file overriding a shipped profile)


def _shipped_dirs() -> list[Path]:
    checkout = Path(__file__).resolve().parents[2]
    dirs = []
    # Only trust a sibling profiles/ when it is this project's checkout, not some other site-packages dir.
    if (checkout / "pyproject.toml").is_file() and (checkout / "profiles").is_dir():
        dirs.append(checkout / "profiles")
    packaged = Path(str(resources.files("devhub") / "profiles_data"))
    if packaged.is_dir():
        dirs.append(packaged)
    return dirs


def shipped_profiles_dir() -> Path:
    """The directory the shipped profiles are read from: the checkout's profiles/, else the package copy."""
    dirs = _shipped_dirs()
    if not dirs:
        raise ConfigError("shipped profiles not found: neither profiles/ nor an installed devhub/profiles_data/")
    return dirs[0]


def _line_of(text: str, key: str, table: str | None) -> int | None:
    """The 1-based line where `key` is assigned (inside `[table]` when given), for error messages."""
    current: str | None = None
    for number, line in enumerate(text.splitlines(), start=1):
        stripped = line.strip()
        header = re.match(r"^\[\s*([^\]]+?)\s*\]", stripped)
        if header:
            current = header.group(1)
            if table is None and current == key:
                return number
            continue
        if current == table and re.match(rf"^[\"']?{re.escape(key)}[\"']?\s*=", stripped):
            return number
    return None


def _read_toml(path: Path) -> tuple[dict[str, Any], str]:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read profile: {exc.strerror or exc}") from exc
    try:
        return tomllib.loads(text), text
    except tomllib.TOMLDecodeError as exc:
        message = str(exc)
        found = re.search(r"\(at line (\d+), column (\d+)\)", message)
        reason = re.sub(r"\s*\(at line \d+, column \d+\)", "", message)
        where = f"{path}:{found.group(1)}:{found.group(2)}" if found else str(path)
        raise ConfigError(f"{where}: invalid TOML: {reason}") from exc


def _check_keys(raw: Mapping[str, Any], path: Path, text: str) -> None:
    def unknown(keys: set[str], allowed: set[str], table: str | None) -> None:
        for key in sorted(keys - allowed):
            line = _line_of(text, key, table)
            where = f"{path}:{line}" if line else str(path)
            dotted = f"{table}.{key}" if table else key
            raise ConfigError(f"{where}: unknown key '{dotted}' (allowed: {', '.join(sorted(allowed))})")

    unknown(set(raw), _TOP_KEYS, None)
    for table, allowed in (("mcp", _MCP_KEYS), ("relay", _RELAY_KEYS)):
        value = raw.get(table)
        if value is None:
            continue
        if not isinstance(value, dict):
            line = _line_of(text, table, None)
            raise ConfigError(f"{path}:{line or '?'}: '{table}' must be a table ([{table}])")
        unknown(set(value), allowed, table)


def _merge(base: Mapping[str, Any], over: Mapping[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = value
    return merged


class _Fields:
    """Typed reads from one merged profile mapping, naming the field and its file on error."""

    def __init__(self, raw: Mapping[str, Any], where: str) -> None:
        self.raw = raw
        self.where = where

    def get(self, dotted: str, kind: type, required: bool) -> Any:
        value: Any = self.raw
        for part in dotted.split("."):
            value = value.get(part) if isinstance(value, Mapping) else None
        if value is None:
            if required:
                raise ConfigError(f"{self.where}: missing required field '{dotted}'")
            return None
        if not isinstance(value, kind) or (isinstance(value, str) and not value.strip()):
            raise ConfigError(f"{self.where}: '{dotted}' must be a non-empty {kind.__name__}, got {value!r}")
        return value


def _url(value: str | None, dotted: str, where: str) -> str | None:
    if value is not None and not re.match(r"^https?://[^/\s]+", value):
        raise ConfigError(f"{where}: '{dotted}' must be an http(s) URL, got {value!r}")
    return value.rstrip("/") if value and dotted == "api_url" else value


def _build(name: str, raw: Mapping[str, Any], sources: tuple[Path, ...], origin: str) -> Profile:
    where = " + ".join(str(path) for path in sources)
    fields = _Fields(raw, where)
    declared = fields.get("name", str, required=False)
    if declared is not None and declared != name:
        raise ConfigError(f"{where}: name = {declared!r} does not match the file name {name!r}")
    transport = fields.get("mcp.transport", str, required=True)
    if transport not in TRANSPORTS:
        allowed = ", ".join(TRANSPORTS)
        raise ConfigError(f"{where}: 'mcp.transport' must be one of {allowed}, got {transport!r}")
    mcp_url = _url(fields.get("mcp.url", str, required=transport != "stdio"), "mcp.url", where)
    send_token = fields.get("mcp.send_token", bool, required=False)
    relay_enabled = fields.get("relay.enabled", bool, required=False) or False
    upstream = _url(fields.get("relay.upstream", str, required=relay_enabled), "relay.upstream", where)
    token_env = fields.get("token_env", str, required=False)
    if token_env is not None and not re.match(r"^[A-Za-z_][A-Za-z0-9_]*$", token_env):
        raise ConfigError(f"{where}: 'token_env' must be an environment variable name, got {token_env!r}")
    return Profile(
        name=name,
        description=fields.get("description", str, required=False) or "",
        api_url=cast(str, _url(fields.get("api_url", str, required=True), "api_url", where)),
        mcp=McpEndpoint(
            transport=cast(Transport, transport),
            url=mcp_url,
            send_token=bool(token_env) if send_token is None else send_token,
        ),
        relay=ProfileRelay(enabled=relay_enabled, upstream=upstream),
        token_env=token_env,
        sources=sources,
        origin=origin,
    )


def _profile_files(directory: Path) -> dict[str, Path]:
    if not directory.is_dir():
        return {}
    files: dict[str, Path] = {}
    for path in sorted(directory.glob("*.toml")):
        if not _NAME.match(path.stem):
            raise ConfigError(f"{path}: profile file names must be letters, digits, '.', '_' or '-'")
        files[path.stem] = path
    return files


def read_profiles(config: ProfileSource) -> tuple[dict[str, Profile], dict[str, ConfigError]]:
    """Every profile by name, plus the error of each profile whose files are broken (the rest still load)."""
    shipped = _profile_files(shipped_profiles_dir())
    user = _profile_files(config.user_profiles_dir)
    profiles: dict[str, Profile] = {}
    problems: dict[str, ConfigError] = {}
    for name in sorted(set(shipped) | set(user)):
        merged: dict[str, Any] = {}
        sources: dict[str, Path] = {}
        try:
            for origin, path in (("shipped", shipped.get(name)), ("user", user.get(name))):
                if path is None:
                    continue
                raw, text = _read_toml(path)
                _check_keys(raw, path, text)
                merged = _merge(merged, raw)
                sources[origin] = path
            profiles[name] = _build(name, merged, tuple(sources.values()), "+".join(sources))
        except ConfigError as exc:
            problems[name] = exc
    return profiles, problems


def load_profiles(config: ProfileSource) -> dict[str, Profile]:
    """Every profile by name: the shipped ones, with the user's config directory merged over them.

    Strict: the first broken profile file raises its ConfigError (file and line).
    """
    profiles, problems = read_profiles(config)
    if problems:
        raise next(iter(problems.values()))
    return profiles


def get_profile(config: ProfileSource, name: str) -> Profile:
    """The profile called `name` (other profiles' broken files do not matter); unknown names list the rest."""
    profiles, problems = read_profiles(config)
    if name in problems:
        raise problems[name]
    if name not in profiles:
        raise ConfigError(f"unknown profile {name!r} (available: {', '.join(sorted(profiles))})")
    return profiles[name]


def active_profile_path(config: ProfileSource) -> Path:
    """The one-line file where `devhub profile use` records the chosen profile."""
    return config.config_dir / ACTIVE_PROFILE_FILE


def active_profile_name(config: ProfileSource, explicit: str | None = None) -> str:
    """The profile devhub runs with: explicit > the Settings' (--profile / DEVHUB_PROFILE) > recorded > 'dev'."""
    if explicit:
        return explicit
    if config.profile:
        return config.profile
    try:
        recorded = active_profile_path(config).read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        recorded = ""
    except OSError as exc:
        raise ConfigError(f"{active_profile_path(config)}: cannot read: {exc.strerror or exc}") from exc
    return recorded or DEFAULT_PROFILE


def active_profile(config: ProfileSource, explicit: str | None = None) -> Profile:
    """The Profile named by `active_profile_name`."""
    return get_profile(config, active_profile_name(config, explicit))


def record_active_profile(config: ProfileSource, name: str) -> Path:
    """Write `name` to the active-profile file (atomically) and return its path."""
    path = active_profile_path(config)
    atomic_write(path, f"{name}\n".encode())
    return path


def atomic_write(path: Path, data: bytes, mode: int | None = None) -> None:
    """Replace `path` with `data` at once (temp file, fsync, rename); `mode` None: the umask default."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temp = path.with_name(f".{path.name}.devhub-{os.getpid()}.tmp")
    try:
        fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o666 if mode is None else mode)
        try:
            os.write(fd, data)
            if mode is not None:
                os.fchmod(fd, mode)  # the umask may have narrowed the mode given to open
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(temp, path)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
    directory = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)
