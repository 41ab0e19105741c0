"""The same-stack floor for a durable HTTP write: Litestar + uvicorn, append one JSON line, fsync, answer.

Run as its own process (`python -m benchmarks.write_floor_app --port 0 --file PATH`); it prints
`listening <url>` once it answers. uvicorn is configured exactly as the daemon configures it
(devhub/daemon/run.py: lifespan on, warning log level, no log config, no access log, the same
listening-socket helper), so the difference to devhub's `POST /progress/` is devhub's own write path.

The handler does the least a durable write can: parse the JSON body, serialise one line, append it
and fsync in a worker thread (as devhub's journal does, so the event loop keeps serving), then answer
201 with a small JSON body. No group commit: one fsync per request, which is what issue 18 measured.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import threading
from pathlib import Path
from typing import Any

import uvicorn
from litestar import Litestar, Request, post

from devhub.daemon.ports import bind_listening_socket


def make_app(path: Path) -> Litestar:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    lock = threading.Lock()
    counter = [0]

    def append(line: bytes) -> int:
        with lock:  # one writer at a time, like a journal without group commit
            os.write(fd, line)
            os.fsync(fd)
            counter[0] += 1
            return counter[0]

    @post("/progress/", status_code=201)
    async def add(request: Request[Any, Any, Any]) -> dict[str, Any]:
        body = json.loads(await request.body())
        line = json.dumps(body, separators=(",", ":")).encode() + b"\n"
        seq = await asyncio.to_thread(append, line)
        return {"seq": seq, "summary": body.get("summary")}

    return Litestar([add], on_shutdown=[lambda: os.close(fd)])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--file", type=Path, required=True)
    args = parser.parse_args()
    sock = bind_listening_socket("127.0.0.1", args.port)
    port = sock.getsockname()[1]
    config = uvicorn.Config(
        make_app(args.file), lifespan="on", log_level="warning", log_config=None, access_log=False,
        timeout_graceful_shutdown=10,
    )
    server = uvicorn.Server(config)

    def announce() -> None:
        # server.run picks the event loop (uvloop when installed) exactly as the daemon's does.
        while not server.started and not server.should_exit:
            threading.Event().wait(0.01)
        print(f"listening http://127.0.0.1:{port}", flush=True)

    threading.Thread(target=announce, daemon=True).start()
    server.run(sockets=[sock])
    return 0


if __name__ == "__main__":
    sys.exit(main())
