"""MCP client configs: where each client keeps them, the `dev-hub` entry in its shape, and safe rewrites.

Every rewrite keeps every other entry and key (JSON key order and indentation,
TOML comments), migrates a legacy `state-hub` entry, is atomic with the previous
content saved as `<file>.bak`, writes nothing when the entry is already right,
and references the token by environment variable only.
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from devhub.agents.profiles import Profile, atomic_write
from devhub.errors import ConfigError

CLIENTS: tuple[str, ...] = ("claude-code", "claude-desktop", "cursor", "vscode", "codex")
SERVER_NAME = "dev-hub"
LEGACY_SERVER_NAME = "state-hub"
BACKUP_SUFFIX = ".bak"

# Keys of a server entry that devhub writes; any other key in an existing dev-hub
# entry (timeouts, enabled flags, tool allow-lists) is the user's and is kept.
MANAGED_KEYS = frozenset(
    {
        "type",
        "transport",
        "url",
        "serverUrl",
        "headers",
        "command",
        "args",
        "env",
        "bearer_token_env_var",
        "http_headers",
        "env_http_headers",
    }
)

Scope = Literal["project", "user"]
Status = Literal["created", "updated", "unchanged", "would-create", "would-update", "missing", "error"]


@dataclass(frozen=True)
class ClientConfig:
    """One config file of one client; `primary`: the file created when the client is named but has none."""

    client: str
    scope: Scope
    path: Path
    servers_key: str
    primary: bool

    @property
    def is_toml(self) -> bool:
        return self.path.suffix == ".toml"


@dataclass
class Outcome:
    """What happened to one client config file."""

    target: ClientConfig
    status: Status
    detail: str = ""
    backup: Path | None = None
    migrated: bool = False
    entry: dict[str, Any] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        return {
            "client": self.target.client,
            "scope": self.target.scope,
            "path": str(self.target.path),
            "status": self.status,
            "detail": self.detail,
            "backup": str(self.backup) if self.backup else None,
            "migrated_legacy_entry": self.migrated,
            "entry": self.entry,
        }


def _app_config_dir(home: Path, env: Mapping[str, str], platform: str) -> Path:
    if platform == "darwin":
        return home / "Library" / "Application Support"
    if platform == "win32":
        return Path(env["APPDATA"]) if env.get("APPDATA") else home / "AppData" / "Roaming"
    return Path(env["XDG_CONFIG_HOME"]) if env.get("XDG_CONFIG_HOME") else home / ".config"


def client_configs(
    home: Path, project: Path, env: Mapping[str, str], platform: str = sys.platform
) -> list[ClientConfig]:
    """Every config file devhub knows for every client, project files before user files."""
    app_dir = _app_config_dir(home, env, platform)
    codex_home = Path(env["CODEX_HOME"]) if env.get("CODEX_HOME") else home / ".codex"
    return [
        ClientConfig("claude-code", "project", project / ".mcp.json", "mcpServers", True),
        ClientConfig("claude-code", "user", home / ".claude.json", "mcpServers", False),
        ClientConfig("claude-desktop", "user", app_dir / "Claude" / "claude_desktop_config.json", "mcpServers", True),
        ClientConfig("cursor", "project", project / ".cursor" / "mcp.json", "mcpServers", True),
        ClientConfig("cursor", "user", home / ".cursor" / "mcp.json", "mcpServers", False),
        ClientConfig("vscode", "project", project / ".vscode" / "mcp.json", "servers", True),
        ClientConfig("vscode", "user", app_dir / "Code" / "User" / "mcp.json", "servers", False),
        ClientConfig("codex", "user", codex_home / "config.toml", "mcp_servers", True),
    ]


def _stdio(profile: Profile) -> dict[str, Any]:
    return {"command": "devhub", "args": ["mcp", "--profile", profile.name]}


def _bearer(profile: Profile, reference: str) -> dict[str, Any]:
    if not (profile.mcp.send_token and profile.token_env):
        return {}
    return {"headers": {"Authorization": f"Bearer {reference.format(profile.token_env)}"}}


def desired_entry(client: str, profile: Profile) -> dict[str, Any]:
    """The `dev-hub` server entry for `client` under `profile`, in that client's own shape."""
    transport, url = profile.mcp.transport, profile.mcp.url
    if client == "claude-desktop" or transport == "stdio":
        stdio = _stdio(profile)
        return {"type": "stdio", **stdio} if client == "vscode" else stdio
    if client == "claude-code":  # Claude Code expands ${VAR} in url and headers of .mcp.json
        return {"type": transport, "url": url, **_bearer(profile, "${{{}}}")}
    if client == "cursor":  # Cursor picks streamable HTTP or SSE itself; it interpolates ${env:NAME}
        return {"url": url, **_bearer(profile, "${{env:{}}}")}
    if client == "vscode":
        return {"type": transport, "url": url, **_bearer(profile, "${{env:{}}}")}
    if client == "codex":
        if transport == "sse":  # Codex speaks stdio and streamable HTTP only: bridge through devhub
            return _stdio(profile)
        entry: dict[str, Any] = {"url": url}
        if profile.mcp.send_token and profile.token_env:
            entry["bearer_token_env_var"] = profile.token_env
        return entry
    raise ConfigError(f"unknown client {client!r} (known: {', '.join(CLIENTS)})")


# --- parsing ---------------------------------------------------------------------------------


def _read_text(path: Path) -> str:
    try:
        return path.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: not UTF-8 text (byte {exc.start})") from exc
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror or exc}") from exc


def _parse_json(target: ClientConfig, text: str) -> dict[str, Any]:
    if not text.strip():
        return {}
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        hint = ""
        if target.client == "vscode" and re.search(r"^\s*//|/\*", text, re.MULTILINE):
            hint = " (devhub rewrites strict JSON only: remove the comments or add the entry by hand)"
        raise ConfigError(f"{target.path}:{exc.lineno}:{exc.colno}: invalid JSON: {exc.msg}{hint}") from exc
    if not isinstance(document, dict):
        kind = type(document).__name__
        raise ConfigError(f"{target.path}:1: expected a JSON object at the top, got {kind}")
    servers = document.get(target.servers_key)
    if servers is not None and not isinstance(servers, dict):
        raise ConfigError(f"{target.path}: '{target.servers_key}' must be an object")
    return document


def _parse_toml(target: ClientConfig, text: str) -> Any:
    import tomlkit
    from tomlkit.exceptions import ParseError

    try:
        document = tomlkit.parse(text)
    except ParseError as exc:
        reason = re.sub(r"\s+at line \d+ col \d+$", "", str(exc))
        raise ConfigError(f"{target.path}:{exc.line}:{exc.col}: invalid TOML: {reason}") from exc
    servers = document.get(target.servers_key)
    if servers is not None and not isinstance(servers, dict):
        raise ConfigError(f"{target.path}: '{target.servers_key}' must be a table")
    return document


def read_servers(target: ClientConfig, text: str | None = None) -> dict[str, Any]:
    """The server entries of a client config (from disk unless `text` is given); ConfigError if malformed."""
    text = _read_text(target.path) if text is None else text
    if target.is_toml:
        servers = _parse_toml(target, text).get(target.servers_key)
        return dict(servers.unwrap()) if servers is not None else {}
    return dict(_parse_json(target, text).get(target.servers_key) or {})


# --- rewriting -------------------------------------------------------------------------------


def _merged_entry(existing: Any, desired: Mapping[str, Any]) -> dict[str, Any]:
    """`desired`, plus the user's own (unmanaged) keys of an existing entry."""
    if not isinstance(existing, dict):
        return dict(desired)
    return {**desired, **{k: v for k, v in existing.items() if k not in MANAGED_KEYS}}


def _with_entry(servers: Mapping[str, Any], desired: Mapping[str, Any]) -> dict[str, Any]:
    """Servers with `dev-hub` set where it (or else the legacy entry) stood, the legacy entry gone."""
    anchor = SERVER_NAME if SERVER_NAME in servers else LEGACY_SERVER_NAME
    updated: dict[str, Any] = {}
    for name, value in servers.items():
        if name == anchor:
            updated[SERVER_NAME] = _merged_entry(servers.get(SERVER_NAME), desired)
        elif name not in (SERVER_NAME, LEGACY_SERVER_NAME):
            updated[name] = value
    updated.setdefault(SERVER_NAME, dict(desired))
    return updated


def _indent_of(text: str) -> str:
    found = re.search(r"^([ \t]+)\S", text, re.MULTILINE)
    if not found:
        return "  "
    return "\t" if "\t" in found.group(1) else found.group(1)


def _render_json(target: ClientConfig, text: str, desired: Mapping[str, Any]) -> str:
    document = _parse_json(target, text)
    servers = document.get(target.servers_key) or {}
    new_servers = _with_entry(servers, desired)
    if target.servers_key in document:
        document = {k: (new_servers if k == target.servers_key else v) for k, v in document.items()}
    else:
        document = {**document, target.servers_key: new_servers}
    rendered = json.dumps(document, indent=_indent_of(text), ensure_ascii=False)
    return rendered + ("\n" if not text or text.endswith("\n") else "")


def _render_toml(target: ClientConfig, text: str, desired: Mapping[str, Any]) -> str:
    import tomlkit

    document = _parse_toml(target, text)
    servers = document.get(target.servers_key)
    if servers is None:
        servers = tomlkit.table(is_super_table=True)
        document[target.servers_key] = servers
    if LEGACY_SERVER_NAME in servers:
        del servers[LEGACY_SERVER_NAME]
    entry = servers.get(SERVER_NAME)
    if entry is None or not isinstance(entry, dict):
        if entry is not None:
            del servers[SERVER_NAME]
        entry = tomlkit.table()
        for key, value in desired.items():
            entry[key] = value
        entry.add(tomlkit.nl())  # keep a blank line before whatever table follows
        servers[SERVER_NAME] = entry
    else:
        for key in [k for k in entry if k in MANAGED_KEYS and k not in desired]:
            del entry[key]
        for key, value in desired.items():
            if entry.get(key) != value:
                entry[key] = value
    return tomlkit.dumps(document)


def _servers_unchanged(target: ClientConfig, old_text: str, new_text: str) -> bool:
    if target.is_toml:
        return old_text == new_text
    # JSON is compared by content and key order so an already-right file is never reformatted.
    old = json.loads(old_text) if old_text.strip() else {}
    return json.dumps(old) == json.dumps(json.loads(new_text))


def apply_profile(target: ClientConfig, profile: Profile, *, create: bool, dry_run: bool) -> Outcome:
    """Point `target`'s dev-hub entry at `profile`; errors become an 'error' Outcome, the file untouched."""
    desired = desired_entry(target.client, profile)
    exists = target.path.exists()
    if not exists and not create:
        return Outcome(target, "missing", "no such file")
    try:
        old_text = _read_text(target.path) if exists else ""
        render = _render_toml if target.is_toml else _render_json
        new_text = render(target, old_text, desired)
        migrated = LEGACY_SERVER_NAME in read_servers(target, old_text)
        entry = read_servers(target, new_text).get(SERVER_NAME, {})
        if exists and _servers_unchanged(target, old_text, new_text):
            return Outcome(target, "unchanged", "already points at " + profile.name, entry=entry)
        if dry_run:
            status: Status = "would-update" if exists else "would-create"
            return Outcome(target, status, entry=entry, migrated=migrated)
        real_path = target.path.resolve()  # a symlinked dotfile keeps its link; its target is rewritten
        backup = None
        if exists:
            mode = real_path.stat().st_mode & 0o7777
            backup = real_path.with_name(real_path.name + BACKUP_SUFFIX)
            atomic_write(backup, old_text.encode("utf-8"), mode)
            atomic_write(real_path, new_text.encode("utf-8"), mode)
        else:
            atomic_write(real_path, new_text.encode("utf-8"))
        detail = "migrated the legacy state-hub entry" if migrated else ""
        return Outcome(target, "updated" if exists else "created", detail, backup, migrated, entry)
    except ConfigError as exc:
        return Outcome(target, "error", exc.detail)
    except OSError as exc:
        return Outcome(target, "error", f"{target.path}: cannot write: {exc.strerror or exc}")


# --- which profile a client points at -----------------------------------------------------------


def matching_profiles(entry: Mapping[str, Any], profiles: Iterable[Profile]) -> list[str]:
    """Names of the profiles whose MCP endpoint `entry` points at (URL, or `devhub mcp --profile NAME`)."""
    args = entry.get("args")
    if isinstance(args, list) and "--profile" in args:
        index = args.index("--profile")
        named = args[index + 1] if index + 1 < len(args) else None
        return [p.name for p in profiles if p.name == named]
    url = entry.get("url") or entry.get("serverUrl")
    if not isinstance(url, str):
        return []
    return [p.name for p in profiles if p.mcp.url and p.mcp.url.rstrip("/") == url.rstrip("/")]


@dataclass(frozen=True)
class ClientState:
    """Which profile one existing client config points at."""

    target: ClientConfig
    state: Literal["profile", "not configured", "legacy", "custom", "error"]
    profiles: tuple[str, ...] = ()
    detail: str = ""

    def as_json(self) -> dict[str, Any]:
        return {
            "client": self.target.client,
            "scope": self.target.scope,
            "path": str(self.target.path),
            "state": self.state,
            "profiles": list(self.profiles),
            "detail": self.detail,
        }


def client_state(target: ClientConfig, profiles: Iterable[Profile]) -> ClientState:
    """Read `target` and say which profile its dev-hub entry points at."""
    try:
        servers = read_servers(target)
    except ConfigError as exc:
        return ClientState(target, "error", detail=exc.detail)
    entry = servers.get(SERVER_NAME)
    if not isinstance(entry, dict):
        if LEGACY_SERVER_NAME in servers:
            return ClientState(target, "legacy", detail="legacy state-hub entry; run `devhub profile use`")
        return ClientState(target, "not configured")
    names = matching_profiles(entry, profiles)
    if names:
        return ClientState(target, "profile", tuple(names))
    where = entry.get("url") or " ".join([str(entry.get("command", "")), *map(str, entry.get("args") or [])])
    return ClientState(target, "custom", detail=str(where).strip())
