"""A small, fast HTTP client for the local daemon (stdlib only: `devhub status` must start instantly)."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any

from devhub.errors import DaemonRefused, NotRunning
from devhub.service.local import daemon_holder
from devhub.settings import Settings


class DaemonClient:
    """JSON requests to a running daemon, with its bearer token when one is configured."""

    def __init__(self, base_url: str, token: str | None = None, timeout: float = 10.0) -> None:
        self.base_url = base_url.rstrip("/")
        self.token = token
        self.timeout = timeout

    @classmethod
    def for_running(cls, config: Settings) -> DaemonClient:
        """A client for the daemon that owns `config.data_dir`; NotRunning when there is none."""
        holder = daemon_holder(config)
        if not holder or not holder.get("url"):
            raise NotRunning(f"no devhub daemon runs for {config.data_dir}; start one with `devhub up`")
        return cls(str(holder["url"]), config.token)

    def request(self, method: str, path: str, body: Any = None, headers: dict[str, str] | None = None) -> Any:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(self.base_url + path, data=data, method=method)
        request.add_header("Accept", "application/json")
        if data is not None:
            request.add_header("Content-Type", "application/json")
        if self.token:
            request.add_header("Authorization", f"Bearer {self.token}")
        for key, value in (headers or {}).items():
            request.add_header(key, value)
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                payload = response.read()
        except urllib.error.HTTPError as exc:
            raw = exc.read()
            try:
                problem = json.loads(raw)
            except ValueError:
                problem = {"detail": raw.decode(errors="replace")[:500]}
            raise DaemonRefused(exc.code, problem if isinstance(problem, dict) else {"detail": str(problem)}) from None
        except (urllib.error.URLError, OSError) as exc:
            raise NotRunning(f"the daemon at {self.base_url} does not answer ({exc})") from None
        return json.loads(payload) if payload else None

    def get(self, path: str) -> Any:
        return self.request("GET", path)
