"""`devhub mcp`: the dev-hub MCP server over stdio, every tool a RemoteHub call to a hub's REST API.

For the dev profile (any profile whose relay is on: a local buffering hub) that hub is this
data directory's daemon, started with `devhub up --detach` when none runs; the start runs in
the background, so the MCP handshake is answered at once and the first tool call waits for it.
Any other profile (fleet) talks to the profile's api_url and never starts anything.
Nothing may print to stdout here: stdout is the MCP channel.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from devhub.errors import DevhubError
from devhub.settings import Settings

if TYPE_CHECKING:
    from devhub.agents.profiles import Profile

DAEMON_START_TIMEOUT_SECONDS = 60.0


class DaemonStartFailed(DevhubError):
    status = 503
    title = "Daemon did not start"


@dataclass(frozen=True)
class Target:
    """Where the tools go: a fixed URL (remote hub), or this data directory's local daemon."""

    profile: str
    url: str | None  # None: the local daemon, found (or started) through the data-dir lock
    token: str | None


def resolve_target(config: Settings, profile_name: str | None) -> Target:
    """The hub `devhub mcp --profile NAME` talks to (the active profile when no name is given)."""
    from devhub.agents.profiles import active_profile_name, get_profile

    name = active_profile_name(config, profile_name)
    profile: Profile = get_profile(config, name)
    if profile.relay.enabled:
        return Target(profile=name, url=None, token=config.token)
    return Target(profile=name, url=profile.api_url, token=config.secret(profile.token_env))


class LocalDaemon:
    """Finds the data directory's daemon URL, starting `devhub up --detach` once if none runs."""

    def __init__(self, config: Settings, profile: str) -> None:
        self.config = config
        self.profile = profile
        self._starter: subprocess.Popen[bytes] | None = None
        self._lock = asyncio.Lock()

    def running_url(self) -> str | None:
        from devhub.daemon.discovery import running_url  # not devhub.service.local: that pulls in the read model

        return running_url(self.config.data_dir)

    def start_in_background(self) -> None:
        """Launch `devhub up --detach` unless a daemon already owns the data directory."""
        if self._starter is None and self.running_url() is None:
            self._starter = self._launch()

    def _launch(self) -> subprocess.Popen[bytes]:
        from devhub.daemon.spawn import devhub_command

        args = devhub_command(
            [
                "--data-dir",
                str(self.config.data_dir),
                "--config-dir",
                str(self.config.config_dir),
                "up",
                "--detach",
                "--profile",
                self.profile,
            ]
        )
        # stdout is the MCP channel: what the starter says is collected and passed on to stderr (the client's log).
        return subprocess.Popen(
            args, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=dict(os.environ)
        )

    async def url(self) -> str:
        """The running daemon's URL, waiting for a start in progress (or starting one)."""
        async with self._lock:
            if self._starter is not None and self._starter.poll() is None:
                return await self._wait_for_start(self._starter)
            url = self.running_url()
            if url is not None:
                return url
            self._starter = self._launch()
            return await self._wait_for_start(self._starter)

    async def _wait_for_start(self, starter: subprocess.Popen[bytes]) -> str:
        deadline = time.monotonic() + DAEMON_START_TIMEOUT_SECONDS
        while time.monotonic() < deadline:
            code = starter.poll()
            url = self.running_url()
            if code is not None:
                said = _relay_output(starter)
                if url is not None:
                    return url  # ours answers (`up --detach` exits 0 only then), or a concurrent start won
                reason = said.strip().splitlines()[-1] if said.strip() else f"see {self.config.log_path}"
                raise DaemonStartFailed(
                    f"no devhub daemon runs for {self.config.data_dir} and `devhub up --detach` failed "
                    f"(exit {code}): {reason}"
                )
            await asyncio.sleep(0.05)
        raise DaemonStartFailed(
            f"the daemon for {self.config.data_dir} did not answer within "
            f"{DAEMON_START_TIMEOUT_SECONDS:.0f}s; see {self.config.log_path}"
        )


def _relay_output(starter: subprocess.Popen[bytes]) -> str:
    """What the finished starter printed, passed on to stderr (it exited, so reading cannot block)."""
    if starter.stdout is None or starter.stdout.closed:
        return ""
    text = starter.stdout.read().decode(errors="replace")
    starter.stdout.close()
    if text:
        sys.stderr.write(text)
        sys.stderr.flush()
    return text


def serve(config: Settings, profile_name: str | None) -> None:
    """Serve MCP on stdin/stdout until the client closes it."""
    import anyio

    from devhub.adapters.mcp.server import build_server
    from devhub.service.remote import RemoteHub

    target = resolve_target(config, profile_name)
    local = LocalDaemon(config, target.profile) if target.url is None else None
    if local is not None:
        local.start_in_background()
        backend = RemoteHub(local.url, token=target.token, user_agent="devhub-mcp-stdio")
    else:
        assert target.url is not None
        backend = RemoteHub(target.url, token=target.token, user_agent="devhub-mcp-stdio")
    server = build_server(backend)

    async def run() -> None:
        try:
            await server.run_stdio_async()
        finally:
            await backend.aclose()

    anyio.run(run)
