"""The daemon's lifecycle: one per data directory (a lock), bind, serve, stop gracefully.

uvicorn owns the event loop and the SIGTERM/SIGINT handlers (graceful shutdown, then the
app's lifespan closes the hub); the lock is an flock, so `kill -9` frees it at once.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import sys
import time
from typing import Any

from devhub.config import Config
from devhub.errors import AlreadyRunning, ConfigError
from devhub.lockfile import FileLock, LockHeld

log = logging.getLogger("devhub.daemon")


def _holder_text(holder: dict[str, Any]) -> str:
    url = holder.get("url") or "unknown URL"
    return f"pid {holder.get('pid', '?')} at {url}"


class Daemon:
    """Starts the hub for one Config and blocks until it is stopped."""

    def __init__(self, config: Config, *, profile_name: str, relay_settings: dict[str, Any]) -> None:
        self.config = config
        self.profile_name = profile_name
        self.relay_settings = relay_settings

    def _check_exposure(self) -> None:
        from devhub.api.security import is_loopback_host

        if not is_loopback_host(self.config.host) and not self.config.token:
            raise ConfigError(
                f"refusing to listen on non-loopback address {self.config.host} without a token: "
                "set DEVHUB_TOKEN (every request will then need 'Authorization: Bearer <token>')"
            )

    def run(self) -> int:
        """Serve until SIGTERM/SIGINT; returns the process exit code."""
        import uvicorn

        from devhub.api.app import create_app
        from devhub.api.security import SecurityMiddleware
        from devhub.hub import Hub
        from devhub.logs import start_daemon_logging
        from devhub.ports import bind_listening_socket

        self._check_exposure()
        lock = FileLock(self.config.lock_path)
        try:
            lock.acquire({"pid": os.getpid(), "starting": True})
        except LockHeld as held:
            raise AlreadyRunning(
                f"a devhub daemon already runs for {self.config.data_dir} ({_holder_text(held.holder)}); "
                "use `devhub status` or `devhub down`"
            ) from None
        # Only the lock holder may write (and rotate) daemon.log.
        log_listener = start_daemon_logging(self.config.log_path, self.config.log_max_bytes)
        try:
            sock = bind_listening_socket(self.config.host, self.config.port)
            port = sock.getsockname()[1]
            config = self.config.with_overrides(port=port)
            hub = Hub(config, profile_name=self.profile_name, relay_settings=self.relay_settings)
            app = SecurityMiddleware(create_app(hub), bind_host=config.host, token=config.token)  # type: ignore[arg-type]
            server = uvicorn.Server(
                uvicorn.Config(
                    app,
                    lifespan="on",
                    log_level="warning",
                    log_config=None,  # uvicorn's records go through our queue too (devhub.logs)
                    access_log=False,
                    timeout_graceful_shutdown=10,
                )
            )
            info = {
                "pid": os.getpid(),
                "url": config.base_url,
                "host": config.host,
                "port": port,
                "role": config.role,
                "profile": self.profile_name,
                "data_dir": str(config.data_dir),
                "started": time.time(),
            }
            lock.update(info)
            self.config.daemon_info_path.write_text(json.dumps(info, indent=2) + "\n", encoding="utf-8")
            _announce(config)
            # uvicorn shuts down gracefully on SIGTERM/SIGINT, then re-raises the signal to the handler
            # that was installed before it; a no-op here lets our own clean-up run and exit 0.
            for signum in (signal.SIGTERM, signal.SIGINT):
                signal.signal(signum, _stopped_by_signal)
            server.run(sockets=[sock])
            return 0 if server.started else 1
        finally:
            self.config.daemon_info_path.unlink(missing_ok=True)
            log_listener.stop()  # drains the queue: every record logged so far reaches the file
            lock.release()


def _stopped_by_signal(signum: int, _frame: object) -> None:
    log.info("stopped by signal %s", signum)


def _announce(config: Config) -> None:
    base = config.base_url
    lines = [
        f"devhub {config.role} hub for {config.data_dir}",
        f"  dashboard  {base}/",
        f"  API        {base}/state/health",
        f"  API docs   {base}/schema",
        f"  MCP        {base}/mcp",
    ]
    print("\n".join(lines), file=sys.stderr, flush=True)
