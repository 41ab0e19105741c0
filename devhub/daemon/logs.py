"""The daemon's logging: every record goes through a queue to one thread, so no request waits on a disk or terminal.

    any logger ──▶ QueueHandler (root) ──▶ queue ──▶ QueueListener thread
                                                      ├──▶ <data dir>/daemon.log, rotated at
                                                      │    DEVHUB_LOG_MAX_BYTES (5 MiB), 3 older files kept
                                                      └──▶ stderr, unless stderr already is daemon.log
                                                           (`devhub up --detach`)

Installed before the app is built: the MCP SDK calls `logging.basicConfig` with a rich terminal handler,
which is a no-op once the root logger has a handler (its traceback rendering cost ~50 ms per 500, on the
event loop). A record's traceback is formatted in the listener thread too, as plain text, once.
"""

from __future__ import annotations

import logging
import os
import queue
import sys
from logging.handlers import QueueHandler, QueueListener, RotatingFileHandler
from pathlib import Path

LOG_BACKUPS = 3
LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
# Log lines are for people: a refusal's detail past this is cut, so one bad request stays one short line.
MAX_DETAIL_CHARS = 300

_api_log = logging.getLogger("devhub.adapters.api")


class _DeferredQueueHandler(QueueHandler):
    """Queues the record with its exc_info intact, so the traceback is rendered by the listener, not the caller."""

    def prepare(self, record: logging.LogRecord) -> logging.LogRecord:
        record.msg = record.getMessage()
        record.args = None
        return record


class _DaemonLogFile(RotatingFileHandler):
    """daemon.log with rotation; when it is also the process's stderr, stderr follows it to the new file."""

    def __init__(self, path: Path, max_bytes: int, *, carries_stderr: bool) -> None:
        super().__init__(path, maxBytes=max_bytes, backupCount=LOG_BACKUPS, encoding="utf-8")
        self.carries_stderr = carries_stderr

    def doRollover(self) -> None:
        super().doRollover()
        if self.carries_stderr and self.stream is not None:
            # Otherwise stray stderr output (a crash in a thread, faulthandler) keeps growing a rotated file.
            sys.stderr.flush()
            os.dup2(self.stream.fileno(), 2)


def _is_same_file(fd: int, path: Path) -> bool:
    try:
        here, there = os.fstat(fd), path.stat()
    except OSError:
        return False
    return (here.st_dev, here.st_ino) == (there.st_dev, there.st_ino)


class DaemonLogging:
    """The running listener; `stop` drains the queue and hands the handlers to the root logger directly."""

    def __init__(self, listener: QueueListener, queue_handler: logging.Handler) -> None:
        self._listener = listener
        self._queue_handler = queue_handler

    def stop(self) -> None:
        self._listener.stop()
        root = logging.getLogger()
        root.removeHandler(self._queue_handler)
        for handler in self._listener.handlers:
            root.addHandler(handler)  # the last words of a stopping daemon are written straight away


def start_daemon_logging(log_path: Path, max_bytes: int) -> DaemonLogging:
    """Route every logger through one queue to daemon.log (and stderr) until `stop`."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    stderr_is_log = _is_same_file(2, log_path)
    formatter = logging.Formatter(LOG_FORMAT)
    handlers: list[logging.Handler] = [_DaemonLogFile(log_path, max_bytes, carries_stderr=stderr_is_log)]
    if not stderr_is_log:
        handlers.append(logging.StreamHandler(sys.stderr))
    for handler in handlers:
        handler.setFormatter(formatter)
    records: queue.SimpleQueue[logging.LogRecord] = queue.SimpleQueue()
    listener = QueueListener(records, *handlers)
    queue_handler = _DeferredQueueHandler(records)
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(queue_handler)
    root.setLevel(logging.WARNING)
    logging.getLogger("devhub").setLevel(logging.INFO)
    listener.start()
    return DaemonLogging(listener, queue_handler)


def log_refusal(method: str, path: str, status: int, detail: str) -> None:
    """One line per refused request, without a traceback: the client's mistake is not the daemon's."""
    _api_log.info("refused %s %s: %s %s", method, one_line(path, 200), status, one_line(detail))


def one_line(text: str, limit: int = MAX_DETAIL_CHARS) -> str:
    """`text` on one line (no forged log lines from a request's values), cut at `limit` characters."""
    flat = "".join(c if c.isprintable() else repr(c)[1:-1] for c in " ".join(str(text).split()))
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"
