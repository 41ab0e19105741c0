"""A throwaway PostgreSQL cluster for the fleet-on-PostgreSQL tests: `initdb` into a temp dir, `pg_ctl start`
on a free loopback port (and a unix socket in the temp dir), removed after the session.

PostgreSQL refuses to run as root, so under root the server runs as the `postgres` system user (else
`nobody`) through `runuser`, in a temp dir it owns. Without the server binaries the tests are skipped
with a reason; CI installs Debian's `postgresql` (.ci/run).
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import re
import shutil
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.faultproxy import free_port

SKIP_REASON = (
    "PostgreSQL server binaries (initdb, pg_ctl) not found: install Debian's `postgresql` package "
    "(CI does, in .ci/run) to run the fleet-on-PostgreSQL tests"
)


def _bin_dir() -> Path | None:
    """The newest /usr/lib/postgresql/<v>/bin (Debian keeps initdb off PATH), else initdb on PATH."""
    found = sorted(
        glob.glob("/usr/lib/postgresql/*/bin/initdb"),
        key=lambda p: [int(n) for n in re.findall(r"\d+", Path(p).parts[-3])],
    )
    if found:
        return Path(found[-1]).parent
    on_path = shutil.which("initdb")
    return Path(on_path).parent if on_path else None


def _server_user() -> str | None:
    """The user the server runs as: None (ourselves) unless we are root, then `postgres` or `nobody`."""
    if os.geteuid() != 0:
        return None
    for name in ("postgres", "nobody"):
        with contextlib.suppress(KeyError):
            pwd.getpwnam(name)
            return name
    return None


class PgCluster:
    """One running cluster: `url(db)`, `create_database()`, `restart()`, `stop()`."""

    def __init__(self, bin_dir: Path, root: Path, user: str | None) -> None:
        self.bin_dir = bin_dir
        self.root = root
        self.data = root / "data"
        self.socket_dir = root / "sock"
        self.log = root / "server.log"
        self.user = user
        self.port = free_port()

    def _run(self, program: str, *args: str, timeout: float = 60) -> None:
        command = [str(self.bin_dir / program), *args]
        if self.user is not None:
            command = ["runuser", "-u", self.user, "--", *command]
        done = subprocess.run(command, capture_output=True, text=True, timeout=timeout)
        if done.returncode != 0:
            log = self.log.read_text(errors="replace")[-3000:] if self.log.exists() else ""
            raise RuntimeError(f"{program} {' '.join(args)} failed ({done.returncode}):\n{done.stderr}\n{log}")

    def init(self) -> None:
        self.socket_dir.mkdir()
        if self.user is not None:
            entry = pwd.getpwnam(self.user)
            os.chmod(self.root, 0o755)  # the server user must reach its own files inside
            for path in (self.root, self.socket_dir):
                os.chown(path, entry.pw_uid, entry.pw_gid)
        # fsync off: the tests stop the server cleanly or kill processes, never the machine.
        self._run("initdb", "-D", str(self.data), "-A", "trust", "-U", "devhub", "-E", "UTF8", "--no-sync")

    def start(self) -> None:
        options = (
            f"-p {self.port} -k {self.socket_dir} -c listen_addresses=127.0.0.1 -c fsync=off "
            "-c full_page_writes=off -c max_connections=200"
        )
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.log), "-o", options, "-w", "-t", "60", "start")

    def stop(self, mode: str = "fast") -> None:
        self._run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "-t", "60", "stop")

    def restart(self, mode: str = "fast") -> None:
        self.stop(mode)
        self.start()

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://devhub@127.0.0.1:{self.port}/{database}"

    def create_database(self) -> str:
        """A fresh, empty database (one per test); returns its URL."""
        import psycopg

        name = f"t_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(f"CREATE DATABASE {name}")
        return self.url(name)


@contextlib.contextmanager
def throwaway_cluster() -> Iterator[PgCluster]:
    """A started cluster in a fresh temp dir, stopped and removed on exit; pytest.skip without the binaries."""
    bin_dir = _bin_dir()
    if bin_dir is None or not (bin_dir / "pg_ctl").exists():
        pytest.skip(SKIP_REASON)
    user = _server_user()
    if os.geteuid() == 0 and user is None:
        pytest.skip("running as root and neither a `postgres` nor a `nobody` user exists to run PostgreSQL as")
    root = Path(tempfile.mkdtemp(prefix="devhub-pg-"))
    cluster = PgCluster(bin_dir, root, user)
    try:
        cluster.init()
        cluster.start()
        yield cluster
    finally:
        with contextlib.suppress(Exception):
            cluster.stop("immediate")
        shutil.rmtree(root, ignore_errors=True)
