"""The daemon's lifecycle: one per data directory (a lock), bind, serve, stop gracefully.

uvicorn owns the event loop and the SIGTERM/SIGINT handlers (graceful shutdown, then the
app's lifespan closes the hub); the lock is an flock, so `kill -9` frees it at once.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import signal
import sys
import time
from collections.abc import Callable
from typing import Any

from devhub.daemon.lockfile import FileLock, FileLockHeld
from devhub.errors import AlreadyRunning, ConfigError, DaemonError, DevhubError, StorageFull, from_os_error
from devhub.settings import Settings

log = logging.getLogger("devhub.daemon.run")


def _holder_text(holder: dict[str, Any]) -> str:
    url = holder.get("url") or "unknown URL"
    return f"pid {holder.get('pid', '?')} at {url}"


class Daemon:
    """Starts the hub for one Settings and blocks until it is stopped."""

    def __init__(self, config: Settings) -> None:
        self.config = config

    def _check_exposure(self) -> None:
        from devhub.adapters.api.security import is_loopback_host

        if not is_loopback_host(self.config.host) and not self.config.token:
            raise ConfigError(
                f"refusing to listen on non-loopback address {self.config.host} without a token: "
                "set DEVHUB_TOKEN (every request will then need 'Authorization: Bearer <token>')"
            )

    def run(self) -> int:
        """Serve until SIGTERM/SIGINT; returns the process exit code."""
        import uvicorn

        from devhub.adapters.api.security import SecurityMiddleware
        from devhub.daemon.app import compose_app
        from devhub.daemon.logs import start_daemon_logging
        from devhub.daemon.ports import bind_listening_socket
        from devhub.service.hub import Hub

        self._check_exposure()
        lock = FileLock(self.config.lock_path)
        try:
            lock.acquire({"pid": os.getpid(), "starting": True})
        except FileLockHeld as held:
            raise AlreadyRunning(
                f"a devhub daemon already runs for {self.config.data_dir} ({_holder_text(held.holder)}); "
                "use `devhub status` or `devhub down`"
            ) from None
        except OSError as exc:
            raise from_os_error(exc, f"cannot take the daemon lock {self.config.lock_path}") from None
        # Only the lock holder may write (and rotate) daemon.log.
        log_listener = start_daemon_logging(self.config.log_path, self.config.log_max_bytes)
        try:
            sock = bind_listening_socket(self.config.host, self.config.port)
            port = sock.getsockname()[1]
            config = self.config.with_overrides(port=port)
            hub = Hub(config)
            app = SecurityMiddleware(compose_app(hub), bind_host=config.host, token=config.token)  # type: ignore[arg-type]
            guard = StartGuard(app, config, on_started=lambda: _announce(config))
            server = uvicorn.Server(
                uvicorn.Config(
                    guard,
                    lifespan="on",
                    log_level="warning",
                    log_config=None,  # uvicorn's records go through our queue too (devhub.daemon.logs)
                    access_log=False,
                    timeout_graceful_shutdown=10,
                )
            )
            logging.getLogger("uvicorn.error").addFilter(guard.quiet_failed_start)  # after uvicorn set logging up
            info = {
                "pid": os.getpid(),
                "url": config.base_url,
                "host": config.host,
                "port": port,
                "role": config.role,
                "profile": hub.profile_name,
                "data_dir": str(config.data_dir),
                "started": time.time(),
            }
            try:
                lock.update(info)
                self.config.daemon_info_path.write_text(json.dumps(info, indent=2) + "\n", encoding="utf-8")
            except OSError as exc:
                raise from_os_error(exc, f"cannot record the running daemon in {self.config.data_dir}") from None
            # uvicorn shuts down gracefully on SIGTERM/SIGINT, then re-raises the signal to the handler
            # that was installed before it; a no-op here lets our own clean-up run and exit 0.
            for signum in (signal.SIGTERM, signal.SIGINT):
                signal.signal(signum, _stopped_by_signal)
            try:
                server.run(sockets=[sock])
            except SystemExit:  # uvicorn's way to end a failed start
                if guard.error is not None:
                    raise guard.error from None
                raise
            return 0 if server.started else 1
        finally:
            with contextlib.suppress(OSError):
                self.config.daemon_info_path.unlink(missing_ok=True)
            log_listener.stop()  # drains the queue: every record logged so far reaches the file
            lock.release()


class StartGuard:
    """The app, except that a hub which cannot start for a known reason ends `up` with that reason in one line.

    Without it, uvicorn prints the traceback litestar hands over with the failed lifespan start;
    the reason is kept here and raised by Daemon.run once uvicorn gives up. It also tells when
    the start succeeded, so the URLs are announced only then.
    """

    def __init__(self, app: Any, config: Settings, *, on_started: Callable[[], None]) -> None:
        self.app = app
        self.config = config
        self.on_started = on_started
        self.error: DevhubError | None = None

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "lifespan":
            await self.app(scope, receive, send)
            return

        async def send_quietly(message: Any) -> None:
            if message["type"] == "lifespan.startup.failed":
                # Sent from inside litestar's `except`, so the failure is the exception being handled.
                self.error = start_error(sys.exc_info()[1], self.config)
                if self.error is not None:
                    message = {**message, "message": ""}
            await send(message)
            if message["type"] == "lifespan.startup.complete":
                self.on_started()  # announce the URLs only once they work

        await self.app(scope, receive, send_quietly)

    def quiet_failed_start(self, record: logging.LogRecord) -> bool:
        """Drop uvicorn's own 'startup failed' line when the reason is about to be printed instead."""
        return self.error is None or "startup failed" not in record.getMessage()


def start_error(exc: BaseException | None, config: Settings) -> DevhubError | None:
    """A start-up failure as the one error `up` reports, or None for a bug (whose traceback is kept)."""
    import sqlite3

    from relay.errors import JournalError

    while isinstance(exc, BaseExceptionGroup) and len(exc.exceptions) == 1:
        exc = exc.exceptions[0]
    if isinstance(exc, DevhubError):
        return exc
    if isinstance(exc, OSError):
        return from_os_error(exc, "the hub could not start")
    if isinstance(exc, JournalError):
        return DaemonError(f"the hub could not start: {exc}")
    if isinstance(exc, sqlite3.Error):
        database = config.database_path
        if "full" in str(exc):
            return StorageFull(f"the hub could not start: the disk holding {database} is full; free some space")
        return DaemonError(f"the hub could not start: the read model {database} cannot be opened ({exc})")
    return None


def _stopped_by_signal(signum: int, _frame: object) -> None:
    log.info("stopped by signal %s", signum)


def _announce(config: Settings) -> None:
    base = config.base_url
    lines = [
        f"devhub {config.role} hub for {config.data_dir}",
        f"  dashboard  {base}/",
        f"  API        {base}/state/health",
        f"  API docs   {base}/schema",
        f"  MCP        {base}/mcp",
    ]
    print("\n".join(lines), file=sys.stderr, flush=True)
