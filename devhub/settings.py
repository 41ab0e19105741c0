"""One typed Settings for every layer, built once per process by `load_settings`.

This module is the only reader of os.environ for settings: every DEVHUB_* variable is parsed here
(a bad value is one ConfigError naming it), merged with the CLI's overrides and the resolved
profile, and handed down. The one exception is `read_env_var`, which re-reads a token at send time.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from devhub.agents.profiles import ProfileRelay, active_profile_name, get_profile
from devhub.errors import ConfigError
from devhub.store.repofiles import DEFAULT_MAX_WORKPLAN_BYTES

if TYPE_CHECKING:
    from relay.backoff import CrashPlan

Role = Literal["dev", "fleet"]

# The daemon's files in its data directory (daemon/discovery.py reads them without a Settings).
LOCK_FILE = "daemon.lock"
INFO_FILE = "daemon.json"
DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8000
DEFAULT_JOURNAL_MAX_BYTES = 256 * 1024 * 1024
DEFAULT_LOG_MAX_BYTES = 5 * 1024 * 1024  # per daemon.log file; 3 rotated files are kept besides it
MIN_LOG_MAX_BYTES = 1024
DEFAULT_SEARCH_BUDGET_MS = 1000  # a search past this is stopped and refused (400 "too expensive")
MAX_BODY_BYTES = 64 * 1024
IDEMPOTENCY_RETENTION_SECONDS = 14 * 24 * 3600
DEFAULT_RELAY_BACKOFF_CAP = 15.0  # seconds: the longest wait between relay retries and health probes
DEFAULT_RELAY_TIMEOUT = 10.0  # seconds: one upstream request
DEFAULT_RELAY_IN_FLIGHT = 8  # relay calls on the wire at once (issue 18: what the upstream ingests here)


def _platform_dir(kind: Literal["data", "config"]) -> Path:
    import platformdirs

    if kind == "data":
        return Path(platformdirs.user_data_dir("devhub", appauthor=False))
    return Path(platformdirs.user_config_dir("devhub", appauthor=False))


@dataclass(frozen=True)
class RelayConfig:
    """Everything the relay needs to start, and the one decision whether it runs (`enabled`)."""

    role: Role
    profile_relay: ProfileRelay
    upstream: str | None  # --upstream / DEVHUB_UPSTREAM, else the profile's
    token_env: str | None  # the profile's token variable, re-read at send time
    switched_off: bool  # --no-relay
    backoff_cap: float = DEFAULT_RELAY_BACKOFF_CAP
    request_timeout: float = DEFAULT_RELAY_TIMEOUT
    crash_at: str | None = None  # DEVHUB_TEST_CRASH_AT, already checked
    # -- relay concurrency (issue 18) --
    max_in_flight: int = DEFAULT_RELAY_IN_FLIGHT  # DEVHUB_RELAY_IN_FLIGHT: upstream calls at once
    bulk_runs: bool = True  # DEVHUB_RELAY_BULK: a bulk status sync goes upstream as one call

    @property
    def enabled(self) -> bool:
        """The relay runs on a dev hub whose profile relays, unless --no-relay, and only with an upstream."""
        return self.role == "dev" and self.profile_relay.enabled and not self.switched_off and bool(self.upstream)

    @property
    def disabled_reason(self) -> str | None:
        """Why the relay does not run (None when it does), as `relay status` reports it."""
        if self.role == "fleet":
            return "fleet role: this hub is authoritative"
        if self.switched_off:
            return "turned off with --no-relay"
        if not self.profile_relay.enabled:
            return "the profile does not relay"
        if not self.upstream:
            return "no upstream configured"
        return None

    def crash_plan(self) -> CrashPlan | None:
        """A fresh crash-test plan (it counts passes, so each forwarder gets its own)."""
        from relay.backoff import CrashPlan

        return CrashPlan.parse(self.crash_at)


@dataclass(frozen=True)
class Settings:
    """Where devhub keeps things and how the daemon is reached; passed down, never global."""

    data_dir: Path
    config_dir: Path
    host: str = DEFAULT_HOST
    port: int = DEFAULT_PORT
    profile: str | None = None  # the profile's name (None: not chosen; the recorded choice, else dev)
    # The resolved profile's [relay] table (no profile resolved: no relay).
    profile_relay: ProfileRelay = field(default_factory=lambda: ProfileRelay(enabled=False, upstream=None))
    token_env: str | None = None  # the resolved profile's token variable
    role: Role = "dev"
    upstream: str | None = None  # overrides the profile's relay upstream
    no_relay: bool = False  # --no-relay
    relay_backoff_cap: float = DEFAULT_RELAY_BACKOFF_CAP
    relay_timeout: float = DEFAULT_RELAY_TIMEOUT
    crash_at: str | None = None  # DEVHUB_TEST_CRASH_AT (test hook)
    token: str | None = None  # DEVHUB_TOKEN: bearer token required for writes
    journal_max_bytes: int = DEFAULT_JOURNAL_MAX_BYTES
    log_max_bytes: int = DEFAULT_LOG_MAX_BYTES
    search_budget_seconds: float = DEFAULT_SEARCH_BUDGET_MS / 1000
    max_workplan_bytes: int = DEFAULT_MAX_WORKPLAN_BYTES  # DEVHUB_MAX_WORKPLAN_BYTES: larger files are not read
    env: Mapping[str, str] = field(default_factory=dict, repr=False)  # snapshot for profile token lookups
    database_url: str | None = field(default=None, repr=False)  # --database / DEVHUB_DATABASE_URL (may hold a password)
    # -- dashboard time series --
    relay_sample_seconds: float = 60.0  # DEVHUB_RELAY_SAMPLE_SECONDS: how often the relay queue is sampled
    # -- fleet snapshot (devhub/service/fleet_snapshot.py) --
    snapshot_interval: float = 60.0  # DEVHUB_SNAPSHOT_INTERVAL: seconds between refreshes while online; 0: off
    snapshot_stale_seconds: float = 180.0  # DEVHUB_SNAPSHOT_STALE_SECONDS: older than this reads as stale
    snapshot_max_messages: int = 10_000  # DEVHUB_SNAPSHOT_MAX_MESSAGES: the newest kept, older dropped
    snapshot_agents: tuple[str, ...] = ()  # DEVHUB_SNAPSHOT_AGENTS: agents besides the registered repos' slugs
    # -- relay concurrency (issue 18) --
    relay_in_flight: int = DEFAULT_RELAY_IN_FLIGHT  # DEVHUB_RELAY_IN_FLIGHT
    relay_bulk: bool = True  # DEVHUB_RELAY_BULK

    @property
    def relay(self) -> RelayConfig:
        """The relay's configuration and whether it runs, derived from the fields above."""
        return RelayConfig(
            role=self.role,
            profile_relay=self.profile_relay,
            upstream=self.upstream or self.profile_relay.upstream,
            token_env=self.token_env,
            switched_off=self.no_relay,
            backoff_cap=self.relay_backoff_cap,
            request_timeout=self.relay_timeout,
            crash_at=self.crash_at,
            max_in_flight=self.relay_in_flight,
            bulk_runs=self.relay_bulk,
        )

    # Files inside the data and config directories.
    @property
    def database_path(self) -> Path:
        return self.data_dir / "readmodel.sqlite"

    @property
    def journal_dir(self) -> Path:
        return self.data_dir / "journal"

    @property
    def relay_dir(self) -> Path:
        """The relay's files: cursor (read by `devhub journal`), dead_letters.jsonl, fleet_ids.jsonl."""
        return self.data_dir / "relay"

    @property
    def lock_path(self) -> Path:
        return self.data_dir / LOCK_FILE

    @property
    def daemon_info_path(self) -> Path:
        return self.data_dir / INFO_FILE

    @property
    def log_path(self) -> Path:
        return self.data_dir / "daemon.log"

    @property
    def registry_path(self) -> Path:
        return self.config_dir / "repos.json"

    @property
    def user_profiles_dir(self) -> Path:
        return self.config_dir / "profiles"

    @property
    def base_url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    def secret(self, env_var: str | None) -> str | None:
        """The value of a token environment variable named by a profile, if set."""
        if not env_var:
            return None
        value = self.env.get(env_var)
        return value or None

    @property
    def fleet_database_url(self) -> str | None:
        """The PostgreSQL store a fleet hub keeps its authoritative state in (None: the journal, on SQLite)."""
        return self.database_url if self.role == "fleet" else None

    def with_overrides(self, **changes: object) -> Settings:
        """A copy with the given non-None fields replaced."""
        return replace(self, **{k: v for k, v in changes.items() if v is not None})  # type: ignore[arg-type]


def read_env_var(name: str) -> str | None:
    """The environment variable's value as of now (re-read, unlike Settings.env), or None when unset or empty."""
    return os.environ.get(name) or None


def _integer(env: Mapping[str, str], name: str, default: int, minimum: int, unit: str) -> int:
    raw = env.get(name)
    if not raw:
        return default
    try:
        value = int(raw.strip())
    except ValueError:
        raise ConfigError(f"{name}: {raw!r} is not a whole number of {unit} >= {minimum}") from None
    if value < minimum:
        raise ConfigError(f"{name}: {raw!r} is not a whole number of {unit} >= {minimum}")
    return value


def _switch(env: Mapping[str, str], name: str, default: bool) -> bool:
    """An on/off setting: 1/true/yes/on or 0/false/no/off (unset or empty: the default)."""
    raw = (env.get(name) or "").strip().lower()
    if not raw:
        return default
    if raw in ("1", "true", "yes", "on"):
        return True
    if raw in ("0", "false", "no", "off"):
        return False
    raise ConfigError(f"{name}: {env[name]!r} is not one of 1/true/yes/on or 0/false/no/off")


def _seconds(env: Mapping[str, str], name: str, default: float) -> float:
    raw = env.get(name)
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ConfigError(f"{name}: not a number of seconds: {raw!r}") from None
    if not value >= 0 or value == float("inf"):
        raise ConfigError(f"{name}: must be a finite number of seconds >= 0, got {raw!r}")
    return value


def _snapshot_interval(env: Mapping[str, str]) -> float:
    """DEVHUB_SNAPSHOT_INTERVAL: 0 turns the fleet snapshot off, else at least 0.1 s (no tight refresh loop)."""
    value = _seconds(env, "DEVHUB_SNAPSHOT_INTERVAL", 60.0)
    if 0 < value < 0.1:
        raw = env["DEVHUB_SNAPSHOT_INTERVAL"]
        raise ConfigError(f"DEVHUB_SNAPSHOT_INTERVAL: must be 0 (off) or at least 0.1 seconds, got {raw!r}")
    return value


def _crash_at(env: Mapping[str, str]) -> str | None:
    raw = env.get("DEVHUB_TEST_CRASH_AT") or None
    if raw is not None:
        from relay.backoff import CrashPlan

        try:
            CrashPlan.parse(raw)
        except ValueError as exc:
            raise ConfigError(f"DEVHUB_TEST_CRASH_AT: {exc}") from None
    return raw


def _database_url(raw: str | None, name: str) -> str | None:
    """A PostgreSQL connection URL (libpq's `postgresql://…` form), or None when not given."""
    if not raw:
        return None
    if not raw.startswith(("postgresql://", "postgres://")):
        shown = re.sub(r"//([^:/@]*):[^@/]*@", r"//\1:***@", raw)  # never echo a password
        raise ConfigError(
            f"{name}: not a postgresql:// connection URL: {shown!r} (e.g. postgresql://devhub@db:5432/devhub)"
        )
    return raw


def _role(raw: str | None) -> Role | None:
    if raw is None:
        return None
    if raw not in ("dev", "fleet"):
        raise ConfigError(f"role: must be 'dev' or 'fleet', got {raw!r}")
    return "fleet" if raw == "fleet" else "dev"


def load_settings(
    environ: Mapping[str, str] | None = None,
    *,
    resolve_profile: bool = True,
    **overrides: object,
) -> Settings:
    """Build the process's Settings: environment, then explicit (CLI) overrides, then the resolved profile.

    Overrides are Settings fields (None means "not given"); `profile` names the profile explicitly.
    The profile is chosen as `active_profile_name` says and its relay block and token variable are
    copied in; an explicit role wins, else the `fleet` profile makes a fleet hub. With
    `resolve_profile=False` the profile is left as named (for commands that inspect broken profiles).
    Every DEVHUB_* variable is parsed here; a bad value is a ConfigError naming the variable.
    """
    env = dict(os.environ if environ is None else environ)
    data_dir = Path(env["DEVHUB_DATA_DIR"]) if env.get("DEVHUB_DATA_DIR") else _platform_dir("data")
    config_dir = Path(env["DEVHUB_CONFIG_DIR"]) if env.get("DEVHUB_CONFIG_DIR") else _platform_dir("config")
    port = DEFAULT_PORT
    if env.get("DEVHUB_PORT"):
        try:
            port = int(env["DEVHUB_PORT"])
        except ValueError as exc:
            raise ConfigError(f"DEVHUB_PORT: not an integer: {env['DEVHUB_PORT']!r}") from exc
        if not 0 <= port <= 65535:
            raise ConfigError(f"DEVHUB_PORT: not a port number (0-65535): {env['DEVHUB_PORT']!r}")
    max_bytes = DEFAULT_JOURNAL_MAX_BYTES
    if env.get("DEVHUB_JOURNAL_MAX_BYTES"):
        try:
            max_bytes = int(env["DEVHUB_JOURNAL_MAX_BYTES"])
        except ValueError as exc:
            raise ConfigError(f"DEVHUB_JOURNAL_MAX_BYTES: not an integer: {env['DEVHUB_JOURNAL_MAX_BYTES']!r}") from exc
    log_max_bytes = _integer(env, "DEVHUB_LOG_MAX_BYTES", DEFAULT_LOG_MAX_BYTES, MIN_LOG_MAX_BYTES, "bytes")
    search_budget_ms = _integer(env, "DEVHUB_SEARCH_BUDGET_MS", DEFAULT_SEARCH_BUDGET_MS, 1, "milliseconds")
    max_workplan_bytes = DEFAULT_MAX_WORKPLAN_BYTES
    if env.get("DEVHUB_MAX_WORKPLAN_BYTES"):
        try:
            max_workplan_bytes = int(env["DEVHUB_MAX_WORKPLAN_BYTES"])
        except ValueError:
            max_workplan_bytes = 0
        if max_workplan_bytes <= 0:
            raise ConfigError(
                f"DEVHUB_MAX_WORKPLAN_BYTES: not a positive integer: {env['DEVHUB_MAX_WORKPLAN_BYTES']!r}"
            )
    upstream = env.get("DEVHUB_UPSTREAM") or None
    if upstream is not None and not upstream.startswith(("http://", "https://")):
        raise ConfigError(f"DEVHUB_UPSTREAM: not an http(s) URL: {upstream!r}")
    settings = Settings(
        data_dir=data_dir.expanduser().resolve(),
        config_dir=config_dir.expanduser().resolve(),
        host=env.get("DEVHUB_HOST") or DEFAULT_HOST,
        port=port,
        profile=env.get("DEVHUB_PROFILE") or None,
        upstream=upstream,
        token=env.get("DEVHUB_TOKEN") or None,
        journal_max_bytes=max_bytes,
        log_max_bytes=log_max_bytes,
        search_budget_seconds=search_budget_ms / 1000,
        max_workplan_bytes=max_workplan_bytes,
        relay_backoff_cap=_seconds(env, "DEVHUB_RELAY_BACKOFF_CAP", DEFAULT_RELAY_BACKOFF_CAP),
        relay_timeout=_seconds(env, "DEVHUB_RELAY_TIMEOUT", DEFAULT_RELAY_TIMEOUT),
        crash_at=_crash_at(env),
        env=env,
        database_url=_database_url(env.get("DEVHUB_DATABASE_URL"), "DEVHUB_DATABASE_URL"),
        relay_sample_seconds=_seconds(env, "DEVHUB_RELAY_SAMPLE_SECONDS", 60.0),
        # -- fleet snapshot --
        snapshot_interval=_snapshot_interval(env),
        snapshot_stale_seconds=_seconds(env, "DEVHUB_SNAPSHOT_STALE_SECONDS", 180.0),
        snapshot_max_messages=_integer(env, "DEVHUB_SNAPSHOT_MAX_MESSAGES", 10_000, 1, "messages"),
        snapshot_agents=tuple(a.strip() for a in (env.get("DEVHUB_SNAPSHOT_AGENTS") or "").split(",") if a.strip()),
        relay_in_flight=_integer(env, "DEVHUB_RELAY_IN_FLIGHT", DEFAULT_RELAY_IN_FLIGHT, 1, "calls"),
        relay_bulk=_switch(env, "DEVHUB_RELAY_BULK", True),
    )
    for key in ("data_dir", "config_dir"):
        value = overrides.get(key)
        if value is not None:
            overrides[key] = Path(str(value)).expanduser().resolve()
    if overrides.get("database_url") is not None:
        overrides["database_url"] = _database_url(str(overrides["database_url"]), "--database")
    explicit_profile = overrides.pop("profile", None)
    role = _role(overrides.pop("role", None))  # type: ignore[arg-type]
    settings = settings.with_overrides(**overrides)
    if not resolve_profile:
        return settings.with_overrides(profile=explicit_profile, role=role)
    return _with_profile(settings, str(explicit_profile) if explicit_profile else None, role)


def _with_profile(settings: Settings, explicit: str | None, role: Role | None) -> Settings:
    name = active_profile_name(settings, explicit)
    try:
        profile = get_profile(settings, name)
    except ConfigError as exc:
        if explicit is None and settings.env.get("DEVHUB_PROFILE") == name:
            raise ConfigError(f"DEVHUB_PROFILE: {exc.detail}") from None
        raise
    return replace(
        settings,
        profile=profile.name,
        profile_relay=profile.relay,
        token_env=profile.token_env,
        role=role or ("fleet" if profile.name == "fleet" else settings.role),
    )
