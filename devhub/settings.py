"""One typed Settings for every layer; this module is the only reader of os.environ."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Literal

from devhub.errors import ConfigError
from devhub.store.repofiles import DEFAULT_MAX_WORKPLAN_BYTES

Role = Literal["dev", "fleet"]

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8000
DEFAULT_JOURNAL_MAX_BYTES = 256 * 1024 * 1024
DEFAULT_LOG_MAX_BYTES = 5 * 1024 * 1024  # per daemon.log file; 3 rotated files are kept besides it
MIN_LOG_MAX_BYTES = 1024
DEFAULT_SEARCH_BUDGET_MS = 1000  # a search past this is stopped and refused (400 "too expensive")
MAX_BODY_BYTES = 64 * 1024
IDEMPOTENCY_RETENTION_SECONDS = 14 * 24 * 3600


def _platform_dir(kind: Literal["data", "config"]) -> Path:
    import platformdirs

    if kind == "data":
        return Path(platformdirs.user_data_dir("devhub", appauthor=False))
    return Path(platformdirs.user_config_dir("devhub", appauthor=False))


@dataclass(frozen=True)
class Settings:
    """Where devhub keeps things and how the daemon is reached; passed down, never global."""

    data_dir: Path
    config_dir: Path
    host: str = DEFAULT_HOST
    port: int = DEFAULT_PORT
    profile: str = "dev"
    role: Role = "dev"
    upstream: str | None = None  # overrides the profile's relay upstream
    relay_enabled: bool = True
    token: str | None = None  # DEVHUB_TOKEN: bearer token required for writes
    journal_max_bytes: int = DEFAULT_JOURNAL_MAX_BYTES
    log_max_bytes: int = DEFAULT_LOG_MAX_BYTES
    search_budget_seconds: float = DEFAULT_SEARCH_BUDGET_MS / 1000
    max_workplan_bytes: int = DEFAULT_MAX_WORKPLAN_BYTES  # DEVHUB_MAX_WORKPLAN_BYTES: larger files are not read
    env: Mapping[str, str] = field(default_factory=dict, repr=False)  # snapshot for profile token lookups

    # Files inside the data and config directories.
    @property
    def database_path(self) -> Path:
        return self.data_dir / "readmodel.sqlite"

    @property
    def journal_dir(self) -> Path:
        return self.data_dir / "journal"

    @property
    def relay_dir(self) -> Path:
        """The relay's files: cursor (read by `devhub journal`), dead_letters.jsonl, message_ids.jsonl."""
        return self.data_dir / "relay"

    @property
    def lock_path(self) -> Path:
        return self.data_dir / "daemon.lock"

    @property
    def daemon_info_path(self) -> Path:
        return self.data_dir / "daemon.json"

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

    def with_overrides(self, **changes: object) -> Settings:
        """A copy with the given non-None fields replaced."""
        return replace(self, **{k: v for k, v in changes.items() if v is not None})  # type: ignore[arg-type]


def read_env_var(name: str) -> str | None:
    """The environment variable's value as of now (re-read, unlike Settings.env), or None when unset or empty."""
    return os.environ.get(name) or None


def load_settings(environ: Mapping[str, str] | None = None, **overrides: object) -> Settings:
    """Build the Settings from the environment, then apply explicit (CLI) overrides."""
    env = dict(os.environ if environ is None else environ)
    data_dir = Path(env["DEVHUB_DATA_DIR"]) if env.get("DEVHUB_DATA_DIR") else _platform_dir("data")
    config_dir = Path(env["DEVHUB_CONFIG_DIR"]) if env.get("DEVHUB_CONFIG_DIR") else _platform_dir("config")
    port = DEFAULT_PORT
    if env.get("DEVHUB_PORT"):
        try:
            port = int(env["DEVHUB_PORT"])
        except ValueError as exc:
            raise ConfigError(f"DEVHUB_PORT: not an integer: {env['DEVHUB_PORT']!r}") from exc
    max_bytes = DEFAULT_JOURNAL_MAX_BYTES
    if env.get("DEVHUB_JOURNAL_MAX_BYTES"):
        try:
            max_bytes = int(env["DEVHUB_JOURNAL_MAX_BYTES"])
        except ValueError as exc:
            raise ConfigError(f"DEVHUB_JOURNAL_MAX_BYTES: not an integer: {env['DEVHUB_JOURNAL_MAX_BYTES']!r}") from exc
    log_max_bytes = DEFAULT_LOG_MAX_BYTES
    if env.get("DEVHUB_LOG_MAX_BYTES"):
        raw = env["DEVHUB_LOG_MAX_BYTES"]
        if not raw.strip().isdigit() or int(raw) < MIN_LOG_MAX_BYTES:
            raise ConfigError(f"DEVHUB_LOG_MAX_BYTES: {raw!r} is not a whole number of bytes >= {MIN_LOG_MAX_BYTES}")
        log_max_bytes = int(raw)
    search_budget_ms = DEFAULT_SEARCH_BUDGET_MS
    if env.get("DEVHUB_SEARCH_BUDGET_MS"):
        raw = env["DEVHUB_SEARCH_BUDGET_MS"]
        if not raw.strip().isdigit() or int(raw) < 1:
            raise ConfigError(f"DEVHUB_SEARCH_BUDGET_MS: {raw!r} is not a whole number of milliseconds >= 1")
        search_budget_ms = int(raw)
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
    config = Settings(
        data_dir=data_dir.expanduser().resolve(),
        config_dir=config_dir.expanduser().resolve(),
        host=env.get("DEVHUB_HOST") or DEFAULT_HOST,
        port=port,
        profile=env.get("DEVHUB_PROFILE") or "dev",
        upstream=env.get("DEVHUB_UPSTREAM") or None,
        token=env.get("DEVHUB_TOKEN") or None,
        journal_max_bytes=max_bytes,
        log_max_bytes=log_max_bytes,
        search_budget_seconds=search_budget_ms / 1000,
        max_workplan_bytes=max_workplan_bytes,
        env=env,
    )
    for key in ("data_dir", "config_dir"):
        value = overrides.get(key)
        if value is not None:
            overrides[key] = Path(str(value)).expanduser().resolve()
    return config.with_overrides(**overrides)
