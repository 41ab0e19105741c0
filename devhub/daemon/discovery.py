"""Find the daemon that owns a data directory, and ask whether it answers: read-only, stdlib only."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from devhub.daemon.lockfile import is_locked
from devhub.settings import INFO_FILE, LOCK_FILE


def lock_holder(data_dir: Path) -> dict[str, Any] | None:
    """What the running daemon wrote into the data dir's lock (pid, url), or None when no process holds it."""
    return is_locked(data_dir / LOCK_FILE)


def running_url(data_dir: Path) -> str | None:
    """The URL of the daemon holding the data dir's lock, once it has one (None while it starts or when none runs)."""
    holder = lock_holder(data_dir)
    url = holder.get("url") if holder else None
    return str(url) if url else None


def read_info(data_dir: Path) -> dict[str, Any] | None:
    """The data dir's daemon.json (pid, url, role, ...), or None when absent or half-written."""
    try:
        data = json.loads((data_dir / INFO_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def answers(url: str, token: str | None = None, timeout: float = 2.0) -> bool:
    """True when GET {url}/state/health returns 200 within `timeout` seconds."""
    request = urllib.request.Request(url.rstrip("/") + "/state/health", method="GET")
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return bool(response.status == 200)
    except (urllib.error.URLError, OSError, ValueError):
        return False
