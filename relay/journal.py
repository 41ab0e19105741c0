"""The durable write journal: append-only JSON-lines segments, acknowledged only once fsynced.

Group commit: the first caller to find no flush in progress becomes the leader,
takes every queued request, writes them with one write() and one fsync(), wakes
their callers and hands leadership to the next waiter. A single writer pays no
thread hand-off; many writers share one fsync.
"""

from __future__ import annotations

import errno
import threading
import time
import zlib
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any

from relay.codec import IdClock, finish_line, iso_ms, now_ms, prepare_record
from relay.errors import CorruptJournal, DiskFull, JournalError, JournalFull, JournalLocked, JournalReadOnly
from relay.fslayer import FileLayer, LockHeld, OsFileLayer
from relay.recovery import Segment, count_corrupt, read_quarantine, recover, segment_files
from relay.reports import BadLineInfo, CompactReport, OpenReport, SegmentInfo, VerifyReport
from relay.scan import SegmentScan, check_line, iter_lines, scan_segment, segment_name
from relay.summary import parse_summary, summary_path, write_summary

RESERVED_KEYS = frozenset({"v", "id", "seq", "ts", "crc"})
ENVELOPE_VERSION = 1
LOCK_NAME = "LOCK"
LEADER_ROUNDS = 4
# Summarise the active segment each time this much was appended to it since its last summary, so an
# open after a crash decodes at most this much (plus one batch) line by line; the rest is one CRC-32.
CHECKPOINT_BYTES = 2**20


class _Request:
    """One append / append_many call waiting for its batch to be durable."""

    __slots__ = ("error", "fields_list", "prepared", "promoted", "stamps", "timestamp", "wake")

    def __init__(self, fields_list: Sequence[Mapping[str, Any]]) -> None:
        self.fields_list = fields_list
        # Serialising here, in the caller's thread, keeps the leader's serial work to a splice.
        self.prepared = [prepare_record(fields) for fields in fields_list]
        self.stamps: list[tuple[str, int, str]] | None = None  # (id, seq, crc) per record once durable
        self.timestamp = ""
        self.error: BaseException | None = None
        self.promoted = False
        self.wake: threading.Lock | None = None

    def outcome(self) -> list[dict[str, Any]]:
        if self.error is not None:
            raise self.error
        assert self.stamps is not None
        envelopes = []
        for fields, (record_id, seq, crc) in zip(self.fields_list, self.stamps, strict=True):
            envelope = dict(fields)
            envelope.update(v=ENVELOPE_VERSION, id=record_id, seq=seq, ts=self.timestamp, crc=crc)
            envelopes.append(envelope)
        return envelopes


class Journal:
    """An append-only, checksummed, segmented journal in one directory, locked to one process."""

    def __init__(
        self,
        directory: Path,
        fs: FileLayer,
        max_bytes: int,
        segment_bytes: int,
        read_only: bool,
        checkpoint_bytes: int = CHECKPOINT_BYTES,
    ) -> None:
        self.directory = directory
        self._checkpoint_bytes = max(1, checkpoint_bytes)
        self._fs = fs
        self._max_bytes = max_bytes
        # Compaction never removes the active segment, so it must stay well under the bound.
        self._segment_bytes = max(1, min(segment_bytes, max_bytes // 4))
        self._read_only = read_only
        self._lock_handle: object | None = None
        self._closed = False
        self._clock = IdClock()
        self._segments: list[Segment] = []
        self._last_seq = 0
        self._size = 0
        self._torn_at: tuple[Path, int] | None = None  # a failed write we could not cut back yet
        self._queue: list[_Request] = []
        self._queue_lock = threading.Lock()
        self._leader_active = False
        self._io_lock = threading.Lock()
        self.open_report = OpenReport(0, 0, 0, 0, 0, 0)

    @classmethod
    def open(
        cls,
        directory: Path,
        *,
        max_bytes: int = 256 * 2**20,
        segment_bytes: int = 8 * 2**20,
        fs: FileLayer | None = None,
        read_only: bool = False,
        checkpoint_bytes: int = CHECKPOINT_BYTES,
    ) -> Journal:
        """Lock (unless read_only), scan and repair the directory; never refuses because of bad content.

        read_only=True takes no lock and changes nothing: it reads a snapshot (the
        daemon may be appending meanwhile) and skips bad lines instead of moving them.
        """
        fs = fs or OsFileLayer()
        directory = Path(directory)
        journal = cls(directory, fs, max_bytes, segment_bytes, read_only, checkpoint_bytes)
        if not read_only:
            fs.makedirs(directory)
            try:
                journal._lock_handle = fs.lock(directory / LOCK_NAME)
            except LockHeld as held:
                raise JournalLocked(str(directory), held.holder) from None
        try:
            recovered = recover(fs, directory, read_only=read_only)
        except BaseException:
            journal.close()
            raise
        journal._segments = recovered.segments
        journal._last_seq = recovered.last_seq
        journal._size = sum(s.bytes for s in recovered.segments)
        if recovered.last_id:
            journal._clock.observe(recovered.last_id)
        journal.open_report = recovered.report
        return journal

    # -- properties ------------------------------------------------------------------------------

    @property
    def last_seq(self) -> int:
        """The seq of the newest durable record (0 for a journal that never held one)."""
        return self._last_seq

    @property
    def size_bytes(self) -> int:
        """Bytes held by all segments together (what max_bytes bounds)."""
        return self._size

    @property
    def max_bytes(self) -> int:
        """The size bound past which appends raise JournalFull."""
        return self._max_bytes

    # -- writing ---------------------------------------------------------------------------------

    def append(self, fields: Mapping[str, Any]) -> dict[str, Any]:
        """Append one record and return its complete envelope once it is durable on disk."""
        return self._submit([fields])[0]

    def append_many(self, fields_list: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
        """Append records all-or-nothing with consecutive seqs and one fsync; envelopes once durable."""
        if not fields_list:
            return []
        return self._submit(list(fields_list))

    def append_each(
        self, requests: Sequence[Sequence[Mapping[str, Any]]]
    ) -> list[list[dict[str, Any]] | Exception]:
        """Several independent appends in one batch (one write, one fsync), for a caller that gathered them.

        Each request is all-or-nothing like `append_many`, and gets its own outcome: its envelopes once
        durable, or the exception it would have raised (JournalFull for this one, DiskFull for the
        batch, ValueError for fields the journal cannot hold). A request that fails touches no other.
        """
        if self._read_only:
            raise JournalReadOnly(f"journal {self.directory} was opened read-only")
        outcomes: list[list[dict[str, Any]] | Exception] = []
        queued: list[_Request] = []
        for fields_list in requests:
            try:
                request = self._request(fields_list)
            except ValueError as exc:
                outcomes.append(exc)
                continue
            outcomes.append([])
            queued.append(request)
        if queued:
            self._enqueue_and_wait(queued)
        pending = iter(queued)
        for index, outcome in enumerate(outcomes):
            if isinstance(outcome, Exception):
                continue
            try:
                outcomes[index] = next(pending).outcome()
            except JournalError as exc:
                outcomes[index] = exc
        return outcomes

    def _request(self, fields_list: Sequence[Mapping[str, Any]]) -> _Request:
        if not fields_list:
            raise ValueError("an append needs at least one record")
        for fields in fields_list:
            if not RESERVED_KEYS.isdisjoint(fields):
                clash = sorted(RESERVED_KEYS.intersection(fields))
                raise ValueError(f"fields {clash} are set by the journal and may not be supplied")
        try:
            return _Request(fields_list)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"envelope is not JSON-serialisable: {exc}") from exc

    def _enqueue_and_wait(self, requests: list[_Request]) -> None:
        """Queue requests together (so one leader takes them all into one batch) and return once flushed.

        Only the first carries a wake lock: the batch that holds it holds them all, and it is also the
        one a leader would promote (the oldest waiter).
        """
        first = requests[0]
        with self._queue_lock:
            self._queue.extend(requests)
            lead = not self._leader_active
            self._leader_active = True
            if not lead:
                first.wake = wake = threading.Lock()
                wake.acquire()
        if not lead:
            wake.acquire()  # released when our batch is durable, or when we are promoted
            if not first.promoted:
                return
        self._lead(first)

    def _submit(self, fields_list: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
        if self._read_only:
            raise JournalReadOnly(f"journal {self.directory} was opened read-only")
        for fields in fields_list:
            if not RESERVED_KEYS.isdisjoint(fields):
                clash = sorted(RESERVED_KEYS.intersection(fields))
                raise ValueError(f"fields {clash} are set by the journal and may not be supplied")
        try:
            request = _Request(fields_list)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"envelope is not JSON-serialisable: {exc}") from exc
        with self._queue_lock:
            self._queue.append(request)
            lead = not self._leader_active
            self._leader_active = True
            if not lead:
                request.wake = wake = threading.Lock()
                wake.acquire()
        if not lead:
            wake.acquire()  # released when our batch is durable, or when we are promoted
            if not request.promoted:
                return request.outcome()
        self._lead(request)
        return request.outcome()

    def _lead(self, own: _Request) -> None:
        # Keep flushing while requests queue up (up to a few rounds, so one caller's latency stays
        # bounded), then hand leadership to the oldest waiter: fewer thread hand-offs, bigger batches.
        for _ in range(LEADER_ROUNDS):
            with self._queue_lock:
                batch, self._queue = self._queue, []
            if not batch:
                break
            try:
                self._flush(batch)
            except BaseException as exc:  # a bug must not leave followers waiting forever
                for request in batch:
                    if request.stamps is None and request.error is None:
                        request.error = exc
                self._release(batch, own)
                self._hand_off()
                raise
            self._release(batch, own)
        self._hand_off()

    @staticmethod
    def _release(batch: list[_Request], own: _Request) -> None:
        for request in batch:
            if request is not own and request.wake is not None:
                request.wake.release()

    def _hand_off(self) -> None:
        with self._queue_lock:
            successor = self._queue[0] if self._queue else None
            if successor is None:
                self._leader_active = False
            else:
                successor.promoted = True
        if successor is not None and successor.wake is not None:
            successor.wake.release()

    def _flush(self, batch: list[_Request]) -> None:
        with self._io_lock:
            if self._closed:
                for request in batch:
                    request.error = JournalError(f"journal {self.directory} is closed")
                return
            ms = now_ms()
            timestamp = iso_ms(ms)
            timestamp_bytes = timestamp.encode("ascii")
            next_seq = self._last_seq + 1
            size = self._size
            accepted: list[_Request] = []
            lines: list[bytes] = []
            for request in batch:
                stamps, request_lines = [], []
                for offset, prepared in enumerate(request.prepared):
                    record_id = self._clock.next(ms)
                    line = finish_line(prepared, record_id.encode("ascii"), next_seq + offset, timestamp_bytes)
                    stamps.append((record_id, next_seq + offset, line[-11:-3].decode("ascii")))
                    request_lines.append(line)
                length = sum(len(line) for line in request_lines)
                if size + length > self._max_bytes:
                    request.error = self._full_error(size, length)
                    continue
                size += length
                next_seq += len(request_lines)
                request.stamps = stamps
                request.timestamp = timestamp
                accepted.append(request)
                lines.extend(request_lines)
            if accepted:
                self._write(accepted, b"".join(lines), next_seq - 1)

    def _full_error(self, size: int, length: int) -> JournalFull:
        return JournalFull(
            f"journal {self.directory} is full: {size} of {self._max_bytes} bytes used and this write "
            f"needs {length} more; nothing was written. Let the relay deliver pending writes and compact "
            "relayed segments (`devhub journal compact`), or raise the bound (DEVHUB_JOURNAL_MAX_BYTES)."
        )

    def _write(self, accepted: list[_Request], data: bytes, last_seq: int) -> None:
        first_seq = self._last_seq + 1
        try:
            self._cut_back_failed_write()
        except OSError as exc:
            self._fail(accepted, exc, None)
            return
        active = self._segments[-1] if self._segments else None
        closing: Segment | None = None
        if active is None or active.bytes + len(data) > self._segment_bytes:
            if active is not None:
                self._fs.close(active.path)
                closing = active
            path = self.directory / segment_name(first_seq)
            active = Segment(path, first_seq, None, None, 0, dir_synced=False)
            fresh = True
        else:
            fresh = False
        previous_bytes = active.bytes
        try:
            self._fs.append(active.path, data)
            self._fs.fsync(active.path)
            if not active.dir_synced:
                self._fs.fsync_dir(self.directory)
        except OSError as exc:
            self._fail(accepted, exc, (active.path, previous_bytes, fresh))
            return
        active.dir_synced = True
        active.bytes += len(data)
        active.crc = zlib.crc32(data, active.crc)
        active.records += last_seq - first_seq + 1
        active.last_id = accepted[-1].stamps[-1][0] if accepted[-1].stamps else active.last_id
        active.first_seq = first_seq if active.first_seq is None else active.first_seq
        active.last_seq = last_seq
        if fresh:
            self._segments.append(active)
        self._last_seq = last_seq
        self._size += len(data)
        if closing is not None:
            # The closed segment never changes again: summarise it once so open need not read it
            # (only now that the next segment exists durably; until then it was the active one).
            self._summarise(closing)
        elif active.bytes - active.summarised >= self._checkpoint_bytes:
            self._summarise(active)  # a checkpoint: open decodes only what comes after it

    def _summarise(self, segment: Segment) -> None:
        """Write the segment's summary (durable bytes only); a refusal costs the next open a read, no more."""
        summary = segment.summary()
        fresh = summary is not None and segment.summarised != segment.bytes
        if fresh and summary is not None and write_summary(self._fs, self.directory, summary):
            segment.summarised = segment.bytes

    def _fail(self, accepted: list[_Request], exc: OSError, written: tuple[Path, int, bool] | None) -> None:
        """Undo a failed write (cut the partial bytes away) and give every request of the batch the error."""
        if written is not None:
            path, previous_bytes, fresh = written
            self._torn_at = (path, previous_bytes)
            try:
                self._cut_back_failed_write()
                if fresh:
                    self._fs.remove(path)
            except OSError:
                pass  # retried before the next write; a leftover tail is cut at the next open anyway
        error: JournalError
        if exc.errno in (errno.ENOSPC, errno.EDQUOT):
            error = DiskFull(
                f"the disk holding the journal {self.directory} is full ({exc.strerror}); nothing was "
                "written and every earlier record is intact. Free some space and retry."
            )
        else:
            error = JournalError(f"writing the journal {self.directory} failed: {exc}; nothing was written")
        for request in accepted:
            request.stamps = None
            request.error = error

    def _cut_back_failed_write(self) -> None:
        if self._torn_at is None:
            return
        path, size = self._torn_at
        if self._fs.exists(path):
            self._fs.truncate(path, size)
            self._fs.fsync(path)
        self._torn_at = None

    # -- reading ---------------------------------------------------------------------------------

    def records(self, after_seq: int = 0) -> Iterator[dict[str, Any]]:
        """Verified records with seq > after_seq, in seq order, up to last_seq as of this call."""
        with self._io_lock:
            limit = self._last_seq
            paths = [(s.path, s.verified) for s in self._segments if s.last_seq is not None and s.last_seq > after_seq]
        if limit <= after_seq:
            return
        previous = 0
        for path, verified in paths:
            try:
                data = self._fs.read(path)
            except FileNotFoundError:
                continue  # compacted meanwhile: it held only relayed records
            for offset, line, complete in iter_lines(data):
                record, reason = check_line(line, complete, previous)
                if record is None:
                    if self._read_only:
                        continue  # reported by open / verify; a snapshot reader must not stop here
                    if not verified:
                        # Open trusted this closed segment's summary and did not read it: the line rotted
                        # after the segment was closed. Skip it as open would have (every line is checked
                        # here, nothing bad is handed out) and drop the summary so the next open moves
                        # the line to the quarantine file.
                        self._distrust(path)
                        continue
                    raise CorruptJournal(
                        f"{path}@{offset}: {reason} (the line changed after open); reopen the journal to quarantine it",
                        path.name,
                        offset,
                    )
                previous = record["seq"]
                if previous > limit:
                    return
                if previous > after_seq:
                    yield record
                if previous == limit:
                    return  # anything after it is a write still in flight

    def _distrust(self, path: Path) -> None:
        """Remove a segment's summary so the next open reads (and quarantines) its bad line."""
        summary = summary_path(path)
        try:
            with self._io_lock:
                if self._fs.exists(summary):
                    self._fs.remove(summary)
                    self._fs.fsync_dir(self.directory)
        except OSError:
            pass  # the summary's recorded CRC no longer matches: `verify` reports it

    def segments(self) -> list[SegmentInfo]:
        """The segment files in seq order with their seq ranges, sizes and modification times."""
        with self._io_lock:
            return [self._info(s) for s in self._segments]

    def _info(self, segment: Segment) -> SegmentInfo:
        try:
            mtime = self._fs.mtime(segment.path)
        except FileNotFoundError:
            mtime = 0.0
        return SegmentInfo(segment.path, segment.first_seq, segment.last_seq, segment.bytes, mtime)

    def verify(self) -> VerifyReport:
        """Re-read and check every line (read-only): bad lines with offsets, seq gaps, an in-flight tail."""
        with self._io_lock:
            paths = [s.path for s in self._segments] if not self._read_only else None
        if paths is None:
            paths = [path for _, path in segment_files(self._fs, self.directory)]
        bad: list[BadLineInfo] = []
        gaps: list[tuple[int, int]] = []
        summaries: list[str] = []
        ok = tail = 0
        first: int | None = None
        previous = 0
        for index, path in enumerate(paths):
            try:
                data = self._fs.read(path)
            except FileNotFoundError:
                continue
            scan = scan_segment(data, previous)
            if index < len(paths) - 1:
                summary_problem = self._check_summary(path, data, scan)
                if summary_problem:
                    summaries.append(summary_problem)
            for span in scan.bad:
                in_flight = index == len(paths) - 1 and span.offset >= scan.good_end
                if in_flight and not span.raw.endswith(b"\n"):
                    tail += len(span.raw)
                else:
                    bad.append(BadLineInfo(path.name, span.offset, len(span.raw), span.reason))
            if previous and scan.first_seq is not None and scan.first_seq != previous + 1:
                gaps.append((previous, scan.first_seq))
            gaps.extend(scan.gaps)
            ok += scan.good
            if scan.first_seq is not None:
                first = scan.first_seq if first is None else first
                previous = scan.last_seq or previous
        quarantined = count_corrupt(read_quarantine(self._fs, self.directory))
        return VerifyReport(ok, first, previous or None, len(paths), bad, gaps, tail, quarantined, summaries)

    def _check_summary(self, path: Path, data: bytes, scan: SegmentScan) -> str:
        """Why a closed segment's summary, which open would trust, disagrees with its content ("" if not)."""
        try:
            summary = parse_summary(self._fs.read(summary_path(path)))
        except FileNotFoundError:
            return ""  # not summarised: open reads the segment
        if summary is None or summary.segment != path.name or summary.size != len(data):
            return ""  # open would not trust it: it reads the segment and writes a true summary
        found = (zlib.crc32(data), scan.first_seq, scan.last_seq, scan.good, scan.last_id)
        recorded = (summary.crc, summary.first_seq, summary.last_seq, summary.records, summary.last_id)
        if found == recorded:
            return ""
        fields = ("crc32", "first_seq", "last_seq", "records", "last_id")
        differ = ", ".join(f"{k} {r!r} != {f!r}" for k, r, f in zip(fields, recorded, found, strict=True) if r != f)
        return f"{summary_path(path).name} disagrees with {path.name} ({differ}) and open trusts it (same size)"

    # -- maintenance -----------------------------------------------------------------------------

    def compact(self, relayed_through_seq: int, older_than_seconds: float) -> CompactReport:
        """Remove the oldest whole segments that are fully relayed and older than the retention.

        The active (newest) segment is never removed, so the seq counter survives.
        """
        if self._read_only:
            raise JournalReadOnly(f"journal {self.directory} was opened read-only; compaction needs the lock")
        with self._io_lock:
            cutoff = time.time() - older_than_seconds
            removed: list[SegmentInfo] = []
            for segment in self._segments[:-1]:
                info = self._info(segment)
                relayed = segment.last_seq is not None and segment.last_seq <= relayed_through_seq
                if not relayed or info.mtime > cutoff:
                    break  # only a prefix goes, so the journal never has a hole
                removed.append(info)
            for info in removed:
                self._fs.remove(info.path)
                if self._fs.exists(summary_path(info.path)):
                    self._fs.remove(summary_path(info.path))  # an orphan would also be removed at open
            if removed:
                self._fs.fsync_dir(self.directory)
                self._segments = self._segments[len(removed) :]
            freed = sum(info.bytes for info in removed)
            self._size -= freed
            return CompactReport(removed, freed, len(self._segments), self._size)

    def close(self) -> None:
        """Finish the write in progress, release the lock; later appends raise JournalError."""
        with self._io_lock:
            if self._closed:
                return
            self._closed = True
            for segment in self._segments[-1:]:
                if not self._read_only and self._torn_at is None:
                    self._summarise(segment)  # the next open decodes nothing line by line
                self._fs.close(segment.path)
            if self._lock_handle is not None:
                self._fs.unlock(self._lock_handle)
                self._lock_handle = None

    def __enter__(self) -> Journal:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, value: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.close()
