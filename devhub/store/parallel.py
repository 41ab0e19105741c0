"""Parse workplan files on worker processes while the single writer inserts their rows in file order.

A cold build spends most of its time in the Python parser, which one process runs on one core.
`ParsePool` hands chunks of files to a few worker processes and gives the chunks back in the
order they came in, so the writer inserts exactly what, and in exactly the order, a serial build
would: the dump of a parallel build equals a serial one byte for byte. While the oldest chunk is
still being parsed, the writer parses the newest chunk no worker has been sent yet itself: that
hides the workers' start-up and keeps every core busy.

The pool starts only once a sync has more than `threshold` files to parse (a watcher's few
files, a warm restart and small workspaces never pay the start-up), and it is stopped when the
sync ends: no idle worker outlives a build. A worker is a plain `python -c` child speaking
length-prefixed pickles on its stdin and stdout: nothing is forked from a process that runs
other threads, and, unlike multiprocessing's spawn, the parent's main script is never imported
again. If a worker cannot start or dies, its files are parsed in-process: slower, same result.
"""

from __future__ import annotations

import itertools
import json
import logging
import os
import pickle
import queue
import struct
import subprocess
import sys
import threading
from collections import deque
from collections.abc import Generator, Iterable, Iterator
from dataclasses import dataclass, field
from typing import IO, Any

from devhub.store.rows import FileRows, ParseJob, parse_file_rows

log = logging.getLogger("devhub.store")

# Below this many files to parse, starting workers (a fresh interpreter each, ~0.2 s of CPU) costs
# more than the other cores save: parsing runs at roughly 1 ms a file.
POOL_THRESHOLD = 400
CHUNK_FILES = 16  # files per request to a worker: big enough to amortise the hand-off
CHUNK_BYTES = 512 * 1024
MAX_WORKERS = 4  # parsing is one stage of three; past a few workers the writer is the bottleneck
SENT_PER_WORKER = 2  # requests a worker holds: one it parses, one waiting, so it never idles between
STOP_TIMEOUT_S = 5.0

_HEADER = struct.Struct("!Q")
_BOOT = "import json, sys; sys.path[:] = json.loads(sys.argv[1]); from devhub.store.parallel import serve; serve()"


def default_workers() -> int:
    """Parse workers for this machine: one per core the process may run on (0 on a single core)."""
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        cores = os.cpu_count() or 1
    return 0 if cores < 2 else min(cores, MAX_WORKERS)


@dataclass(eq=False)
class ParseItem:
    """Something the writer applies in order; `job` is set when it has a file to parse, `rows` once parsed."""

    job: ParseJob | None
    rows: FileRows | None = None
    payload: Any = field(default=None, repr=False)  # what the writer needs to apply it


class _Chunk:
    """A run of consecutive items; its files are parsed together, here or by one worker."""

    def __init__(self, items: list[ParseItem]) -> None:
        self.items = items
        self.jobs = [item.job for item in items if item.job is not None]
        self.worker: _Worker | None = None  # set once sent
        self.answered = threading.Event()
        self.answer: bytes | None = None  # the worker's pickled rows; None once answered: the worker died

    @property
    def unsent(self) -> bool:
        return self.worker is None and bool(self.jobs)

    def fill(self, results: list[FileRows]) -> None:
        waiting = (item for item in self.items if item.job is not None)
        for item, rows in zip(waiting, results, strict=True):
            item.rows = rows
        self.jobs = []

    def parse_here(self) -> None:
        if self.jobs:
            self.fill(parse_file_rows(self.jobs))


class _Worker:
    """One parse process: requests go to its stdin (from a sender thread), answers come back in order.

    It says it is ready (an empty frame) once its imports are done; until then the writer parses
    by itself, so a slow start never stalls the build.
    """

    def __init__(self) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-c", _BOOT, json.dumps(sys.path)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            close_fds=True,
        )
        self.sent: deque[_Chunk] = deque()  # unanswered, oldest first
        self.ready = threading.Event()  # set once it said so
        self.alive = True
        self._lock = threading.Lock()  # `alive` and `sent` change together
        self._outbox: queue.SimpleQueue[bytes | None] = queue.SimpleQueue()
        self._threads = [
            threading.Thread(target=self._send, name="devhub-parse-send", daemon=True),
            threading.Thread(target=self._receive, name="devhub-parse-receive", daemon=True),
        ]
        for thread in self._threads:
            thread.start()

    def send(self, chunk: _Chunk) -> bool:
        with self._lock:
            if not self.alive:
                return False
            chunk.worker = self
            self.sent.append(chunk)
        self._outbox.put(pickle.dumps(chunk.jobs, protocol=pickle.HIGHEST_PROTOCOL))
        return True

    def _send(self) -> None:
        pipe = self.process.stdin
        assert pipe is not None
        try:
            while (body := self._outbox.get()) is not None:
                pipe.write(_HEADER.pack(len(body)) + body)
                pipe.flush()
        except (OSError, ValueError):
            pass  # the worker is gone: the receiver sees its stdout close
        finally:
            try:
                pipe.close()  # the end of its input: the worker exits
            except OSError:
                pass

    def _receive(self) -> None:
        pipe = self.process.stdout
        assert pipe is not None
        try:
            if _read_frame(pipe) is not None:
                self.ready.set()
                while (body := _read_frame(pipe)) is not None:
                    with self._lock:
                        if not self.sent:  # retired: what it still says is not listened to
                            break
                        chunk = self.sent.popleft()
                    chunk.answer = body  # unpickled by the writer: rows made on this thread would sit in its arena
                    chunk.answered.set()
        except Exception as exc:  # a torn or garbled answer: the worker counts as dead
            log.warning("read model: a parse worker's answer could not be read (%s)", exc)
        with self._lock:
            self.alive = False
            held, self.sent = list(self.sent), deque()
        for chunk in held:  # answered without results: the writer parses them itself
            chunk.answered.set()
        self._outbox.put(None)

    def retire(self) -> None:
        """Stop trusting it (it answered something else than rows): what it holds is parsed by the writer."""
        with self._lock:
            self.alive = False
            held, self.sent = list(self.sent), deque()
        for chunk in held:
            chunk.answer = None
            chunk.answered.set()
        self._outbox.put(None)  # the end of its input

    def stop(self) -> None:
        self._outbox.put(None)
        try:
            self.process.wait(STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        for thread in self._threads:
            thread.join(STOP_TIMEOUT_S)
        if self.process.stdout is not None:
            self.process.stdout.close()


class ParsePool:
    """Ordered parsing over worker processes started on first need; `close` (or `with`) stops them."""

    def __init__(self, workers: int, *, threshold: int | None = None) -> None:
        self.workers = workers
        self.threshold = POOL_THRESHOLD if threshold is None else threshold
        self._running: list[_Worker] = []
        self.started = 0  # worker processes this pool started (tests and benchmarks look)

    def __enter__(self) -> ParsePool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Stop the workers and wait for them to exit: nothing is left running after a build."""
        running, self._running = self._running, []
        for worker in running:
            worker.stop()

    def in_order(self, items: Iterable[ParseItem]) -> Generator[ParseItem, None, None]:
        """Every item, in the order given, each with its `rows` once it had a `job`."""
        source = iter(items)
        ahead: deque[ParseItem] = deque()
        to_parse = 0
        if self.workers > 0:
            for item in source:  # look ahead (reading is cheap) to learn whether the pool pays off
                ahead.append(item)
                to_parse += item.job is not None
                if to_parse > self.threshold:
                    break
        if to_parse <= self.threshold or not self._start():
            for item in itertools.chain(_drain(ahead), source):  # one at a time: the bytes are never all held
                if item.job is not None and item.rows is None:
                    item.rows = parse_file_rows([item.job])[0]
                yield item
            return
        yield from self._pipeline(_chunks(ahead, source))

    def _start(self) -> bool:
        if not self._running:
            try:
                for _ in range(self.workers):
                    self._running.append(_Worker())
                    self.started += 1
            except OSError as exc:  # no processes to be had (limits): parse here with whatever started
                log.warning("read model: a parse worker could not start (%s)", exc)
        return bool(self._running)

    def _pipeline(self, chunks: Iterator[_Chunk]) -> Iterator[ParseItem]:
        window: deque[_Chunk] = deque()
        depth = (SENT_PER_WORKER + 2) * len(self._running)  # bounded look-ahead: what is sent, plus some
        while True:
            while len(window) < depth and (chunk := next(chunks, None)) is not None:
                window.append(chunk)
            if not window:
                return
            self._dispatch(window)
            head = window[0]
            if head.unsent:
                head.parse_here()  # every worker is full: the writer takes the oldest itself
            elif head.jobs and not head.answered.is_set():
                victim = next((c for c in reversed(window) if c.unsent), None)
                if victim is not None:
                    victim.parse_here()  # use the wait: parse the newest chunk no worker has
                    continue
                head.answered.wait()
            if head.jobs:
                results = _unpickle(head.answer)
                if results is not None and _well_formed(results, len(head.jobs)):
                    head.fill(results)
                else:
                    if head.answer is not None and head.worker is not None:
                        head.worker.retire()
                    head.parse_here()  # its worker died, or answered something else than rows for each file
            window.popleft()
            yield from head.items

    def _dispatch(self, window: deque[_Chunk]) -> None:
        """Send the oldest unsent chunks to ready workers with room, least loaded first."""
        for chunk in window:
            if not chunk.unsent:
                continue
            free = [w for w in self._running if w.ready.is_set() and w.alive and len(w.sent) < SENT_PER_WORKER]
            if not free or not min(free, key=lambda w: len(w.sent)).send(chunk):
                return


def _unpickle(answer: bytes | None) -> Any:
    if answer is None:
        return None
    try:
        return pickle.loads(answer)
    except Exception as exc:  # a garbled answer: the files are parsed here
        log.warning("read model: a parse worker's answer could not be read (%s)", exc)
        return None


def _well_formed(results: object, files: int) -> bool:
    """An answer is one table -> rows mapping per file sent; anything else is not trusted."""
    if not isinstance(results, list) or len(results) != files:
        log.warning("read model: a parse worker's answer did not match its request; parsing here")
        return False
    return all(isinstance(rows, dict) and all(isinstance(r, list) for r in rows.values()) for rows in results)


def _chunks(ahead: deque[ParseItem], rest: Iterator[ParseItem]) -> Iterator[_Chunk]:
    """Items grouped into runs of at most CHUNK_FILES files to parse or CHUNK_BYTES of them.

    The look-ahead is consumed as it goes: a parsed file's bytes and rows are not kept to the end.
    """
    items: list[ParseItem] = []
    files = size = 0
    for source in (_drain(ahead), rest):
        for item in source:
            items.append(item)
            if item.job is not None:
                files += 1
                size += len(item.job[2])
                if files >= CHUNK_FILES or size >= CHUNK_BYTES:
                    yield _Chunk(items)
                    items, files, size = [], 0, 0
    if items:
        yield _Chunk(items)


def _drain(items: deque[ParseItem]) -> Iterator[ParseItem]:
    while items:
        yield items.popleft()


def _read_frame(pipe: IO[bytes]) -> bytes | None:
    """One length-prefixed frame, or None at a clean end of input; EOFError when torn mid-frame."""
    header = pipe.read(_HEADER.size)
    if not header:
        return None
    if len(header) < _HEADER.size:
        raise EOFError("torn frame header")
    (length,) = _HEADER.unpack(header)
    body = pipe.read(length)
    if len(body) < length:
        raise EOFError("torn frame")
    return body


def serve() -> None:
    """A parse worker's loop: jobs in on stdin, their rows out on stdout, until stdin closes."""
    import signal

    import devhub.workplans  # noqa: F401  (imported before saying ready: the parse itself is then all that is left)

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C stops the writer, which then closes our input

    answers = os.fdopen(os.dup(sys.stdout.fileno()), "wb")
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())  # a stray print must not corrupt the answers
    answers.write(_HEADER.pack(0))
    answers.flush()
    requests = sys.stdin.buffer
    while (body := _read_frame(requests)) is not None:
        rows = parse_file_rows(pickle.loads(body))
        out = pickle.dumps(rows, protocol=pickle.HIGHEST_PROTOCOL)
        answers.write(_HEADER.pack(len(out)) + out)
        answers.flush()
