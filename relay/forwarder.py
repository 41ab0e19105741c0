"""The relay loop: replay pending journal envelopes, oldest first, to the upstream, exactly once in effect.

State machine (SPEC §7):

    offline ──probe answers──▶ online ──queue drained──▶ idle ──write / file change──▶ online
       ▲  ◀── no answer (refused, reset, timeout) ──┘                                    │
       └───────────────────────────────────────────────────────── no answer ◀────────────┘
    online ──401/403──▶ auth_failed ──token changed / `relay now`──▶ offline (probe at once)
    online ──the same envelope failed `stuck_after` times in a row──▶ stuck ──it is finished──▶ online

An envelope that cannot be sent for a local reason (not encodable or serialisable, a bug
while preparing it) is dead-lettered with that reason at once: retrying cannot help, and
everything behind it must not wait. `stuck` is for failures that might pass (5xx, no answer
to this call while the health probe answers, the read model unavailable): the envelope is
retried with backoff, and the status names it and the error.

Delivery is sequential in seq order. An envelope whose target has no upstream id yet
is *held*; later envelopes of the same target (same order key) wait behind it so each
task's writes arrive in order, while other targets keep flowing. The position (see
relay/position.py) is persisted write-behind, and only ever for answered envelopes, so a
crash anywhere means a resend — which the upstream's Idempotency-Key makes harmless.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Hashable, Iterator, Sequence
from dataclasses import dataclass
from itertools import islice
from typing import Any, Literal, Protocol

from relay.backoff import Backoff, CrashPlan
from relay.dead_letters import DeadLetters
from relay.errors import CredentialsUnusable, EnvelopeUnsendable, RouteUnavailable
from relay.failures import Failures, paused_text, short
from relay.position import Holds, Position, PositionFile
from relay.status import RelayActivity, RelayStatus, count_queue, first_pending_ts, iso
from relay.upstream import PAUSE_STATUSES, Answer, Upstream, UpstreamRequest, UpstreamUnreachable, Verdict, classify
from relay.upstream import retry_after_seconds as parse_retry_after

log = logging.getLogger("relay.forwarder")

State = Literal["idle", "online", "offline", "stuck", "auth_failed", "stopped"]
Outcome = Literal["done", "offline", "paused", "stopped"]


class JournalLike(Protocol):
    """What the forwarder needs from relay.journal.Journal."""

    @property
    def last_seq(self) -> int: ...

    def records(self, after_seq: int = 0) -> Iterator[dict[str, Any]]: ...


@dataclass(frozen=True)
class Send:
    """Route an envelope to this upstream call."""

    request: UpstreamRequest


@dataclass(frozen=True)
class Hold:
    """The envelope cannot be addressed upstream yet (e.g. no state_hub_task_id); `reason` says why."""

    reason: str


RouteFn = Callable[[dict[str, Any]], Awaitable[Send | Hold]]
OrderKeyFn = Callable[[dict[str, Any]], Hashable | None]
AckFn = Callable[[dict[str, Any], Answer], Awaitable[None]]


@dataclass(frozen=True)
class ForwarderTunables:
    """Tunables; the defaults are the SPEC's."""

    backoff_cap: float = 15.0
    backoff_initial: float = 0.1
    retry_after_max: float = 600.0  # an upstream asking for more than this is waited for this long
    load_batch: int = 2000
    min_probe_gap: float = 0.2  # a burst of writes while offline probes at most this often
    # The position is stored at most this often while draining: its fsyncs would otherwise queue in
    # the disk's journal ahead of the upstream's own (on one machine). A crash resends at most this much.
    persist_interval: float = 0.1
    stuck_after: int = 3  # failed attempts of one envelope in a row before the relay reports `stuck`


class Forwarder:
    """Owns the relay task; `wake`, `status` are cheap and sync (event-loop thread), `stop` is async."""

    def __init__(
        self,
        *,
        journal: JournalLike,
        position_file: PositionFile,
        dead_letters: DeadLetters,
        upstream: Upstream,
        route: RouteFn,
        order_key: OrderKeyFn,
        token: Callable[[], str | None] = lambda: None,
        settings: ForwarderTunables | None = None,
        on_ack: AckFn | None = None,
        on_change: Callable[[RelayStatus], None] | None = None,
        crash: CrashPlan | None = None,
    ) -> None:
        self.settings = settings or ForwarderTunables()
        self._journal = journal
        self._position_file = position_file
        self._dead_letters = dead_letters
        self._upstream = upstream
        self._route = route
        self._order_key = order_key
        self._token = token
        self._on_ack = on_ack
        self._on_change = on_change
        self._crash = crash
        self._backoff = Backoff(self.settings.backoff_cap, self.settings.backoff_initial)
        self._position = position_file.load()
        self._rewound_from: int | None = None
        if self._position.watermark > journal.last_seq:
            # The journal ends below what was relayed: its last line was cut at open (a torn or
            # corrupted tail). Those seqs will be handed out again to new writes, which must not be
            # mistaken for delivered ones; what was cut had reached the upstream already.
            self._rewound_from = self._position.watermark
            self._position = Position(journal.last_seq)
        self._queue: list[dict[str, Any]] = []  # loaded, unfinished envelopes in seq order
        self._loaded_through = self._position.watermark
        self._wake_event = asyncio.Event()
        self._resume_event = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._persist_task: asyncio.Task[None] | None = None
        self._dirty = False
        self._stopping = False
        self._state: State = "offline"
        self._must_probe = True  # no call has been answered yet, or the last one got no answer
        self._failures = Failures(self.settings.stuck_after)
        self._current: dict[str, Any] | None = None  # the envelope being routed or sent
        self._state_since = time.time()
        self._offline_attempt = 0
        self._last_probe = 0.0
        self._failed_token: str | None = None
        self._held = 0
        self._hold_reasons: dict[int, str] = {}
        self._stored_holds = self._position.holds  # what the position file says the last pass held
        self._dead_count = 0
        self._sent = 0
        self._delivered = 0
        self._retries = 0  # sends of an envelope already sent (its earlier attempt failed)
        self._last_sent_seq: int | None = None
        self._last_status: int | None = None
        self._last_success: float | None = None
        self._last_error: str | None = None
        self._error_transient = False  # an outage or auth error, cleared by the next success
        self._next_attempt_at: float | None = None

    # -- public surface ---------------------------------------------------------------------------

    async def start(self) -> None:
        """Count existing dead letters and start the relay task."""
        self._dead_count = await asyncio.to_thread(len, self._dead_letters)
        if self._rewound_from is None and await asyncio.to_thread(self._journal_diverged):
            # The envelope the cursor stopped at is not the one the journal holds at that seq: the
            # journal was replaced (an old copy restored). Nothing tells which of its envelopes went
            # out, so all are resent; the upstream's idempotency makes the resend harmless.
            self._rewound_from = self._position.watermark
            self._position = Position(0)
            self._loaded_through = 0
        if self._rewound_from is not None:
            log.warning(
                "relay cursor was at seq %s but the journal (ending at %s) does not hold what was delivered "
                "there; resuming from seq %s",
                self._rewound_from,
                self._journal.last_seq,
                self._position.watermark + 1,
            )
            await asyncio.to_thread(
                self._position_file.store, self._position.snapshot(), None, self._position.watermark_id
            )
        self._task = asyncio.create_task(self._run(), name="devhub-relay")

    def _journal_diverged(self) -> bool:
        """True when the journal holds another envelope at the cursor's seq than the one delivered there."""
        expected = self._position.watermark_id
        if expected is None or self._position.watermark == 0:
            return False  # an older cursor file, or nothing delivered yet: nothing to compare
        first = next(iter(self._journal.records(after_seq=self._position.watermark - 1)), None)
        if first is None or first["seq"] != self._position.watermark:
            return False  # compacted away (or burned): what is left starts after the cursor
        return bool(first.get("id") != expected)

    @property
    def dead_letters(self) -> DeadLetters:
        """The dead-letter store (the dashboard lists its entries)."""
        return self._dead_letters

    def wake(self, resume: bool = False) -> None:
        """Something changed (a write, a file): look again now. resume=True also lifts an auth pause and waits."""
        self._wake_event.set()
        if resume:
            self._resume_event.set()

    def offer(self, envelopes: Sequence[dict[str, Any]]) -> None:
        """Envelopes just made durable, in seq order: queued without re-reading the journal, then a wake.

        Only the next seq in line is taken; anything else (a gap, a read in flight) is left for the
        journal read, so the queue stays in seq order and nothing is queued twice.
        """
        for envelope in envelopes:
            if envelope["seq"] != self._loaded_through + 1:
                break
            self._loaded_through = envelope["seq"]
            if not self._position.is_done(envelope["seq"]):
                self._queue.append(envelope)
        self.wake()

    async def stop(self) -> None:
        """Stop the loop (an in-flight call is abandoned and will be resent) and persist the position."""
        self._stopping = True
        self.wake(resume=True)
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self._persist_task is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await self._persist_task
        if self._dirty:
            holds = Holds.of(self._held, self._hold_reasons)
            await asyncio.to_thread(
                self._position_file.store, self._position.snapshot(), None, self._position.watermark_id, holds
            )
        await self._upstream.close()
        self._set_state("stopped")

    def status(self) -> RelayStatus:
        """The relay's state for GET /relay, /orient, the dashboard and `devhub relay status`."""
        queue = count_queue(
            last_seq=self._journal.last_seq,
            position=self._position,
            dead_letters=self._dead_count,
            holds=Holds(self._held, dict(self._hold_reasons)),
            oldest_pending_ts=first_pending_ts(self._queue, self._position),
        )
        next_attempt = None
        if self._next_attempt_at is not None:
            next_attempt = round(max(0.0, self._next_attempt_at - time.monotonic()), 3)
        failures = self._failures
        activity = RelayActivity(
            last_success=iso(self._last_success),
            last_error=self._last_error,
            last_status=self._last_status,
            sent=self._sent,
            delivered=self._delivered,
            retries=self._retries,
            consecutive_failures=failures.consecutive,
            last_failure=failures.last_reason,
            last_failure_at=iso(failures.last_at),
            failing_envelope_id=failures.envelope_id,
            failing_seq=failures.envelope_seq,
            failing_attempts=failures.envelope_attempts,
            state_since=iso(self._state_since),
            backoff_cap_seconds=self.settings.backoff_cap,
            next_attempt_in_seconds=next_attempt,
        )
        return RelayStatus(state=self._state, upstream=self._upstream.base_url, queue=queue, activity=activity)

    # -- the loop ---------------------------------------------------------------------------------

    async def _run(self) -> None:
        while not self._stopping:
            try:
                await self._step()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # a closed read model, a full disk, a bug must not end relaying for good
                if isinstance(exc, RouteUnavailable):
                    log.warning("relay: %s", exc.detail)
                    reason = f"cannot route seq {(self._current or {}).get('seq')} yet: {exc.detail}"
                else:
                    log.exception("relay step failed")
                    reason = f"internal error: {type(exc).__name__}: {exc}"
                self._failed(reason, self._current)
                self._offline_attempt += 1
                await self._sleep(self._backoff.delay(self._offline_attempt), writes_wake=False)

    async def _step(self) -> None:
        self._wake_event.clear()
        if self._state == "auth_failed":
            await self._wait_for_new_token()
            return
        if self._must_probe:
            while await self._load_more():  # keeps pending / oldest-age figures right while offline
                pass
            if not await self._probe():
                return
        outcome = await self._pass()
        if outcome == "done":
            self._set_state("idle")
            self._publish()
            await self._wake_event.wait()

    async def _probe(self) -> bool:
        """Wait the current backoff (a write or `relay now` cuts it short), then GET /state/health."""
        delay = self._backoff.delay(self._offline_attempt)
        await self._sleep(delay, writes_wake=True)
        if self._stopping:
            return False
        since_last = time.monotonic() - self._last_probe
        if since_last < self.settings.min_probe_gap:  # a write storm while offline must not become a probe storm
            await asyncio.sleep(self.settings.min_probe_gap - since_last)
        self._resume_event.clear()
        self._last_probe = time.monotonic()
        self._offline_attempt += 1
        try:
            answer = await self._upstream.probe()
        except UpstreamUnreachable as exc:
            self._failures.failed(exc.detail)
            self._last_error, self._error_transient = exc.detail, True
            self._set_state("offline")  # stuck or not, nothing answers now
            return False
        except CredentialsUnusable as exc:
            self._pause(paused_text(exc.detail))
            return False
        if answer.status in PAUSE_STATUSES:
            self._pause(paused_text(f"upstream refused our credentials ({answer.status}): {short(answer.text)}"))
            return False
        if answer.status >= 500:
            self._last_error = f"upstream health check answered {answer.status}"
            self._failures.failed(self._last_error)
            self._set_state("offline")
            return False
        self._failures.succeeded()
        self._must_probe = False
        if not self._failures.stuck:  # a stuck envelope keeps growing the wait between its attempts
            self._offline_attempt = 0
        self._set_state(self._moving_state())
        return True

    async def _wait_for_new_token(self) -> None:
        """Paused: resume on `relay now` or when the token differs from the one that was refused."""
        self._next_attempt_at = None
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._resume_event.wait(), timeout=min(self.settings.backoff_cap, 5.0) or 1.0)
        if self._stopping:
            return
        if self._resume_event.is_set() or self._token() != self._failed_token:
            self._resume_event.clear()
            self._offline_attempt = 0
            self._must_probe = True
            self._set_state("offline")  # probe at once, then deliver

    async def _pass(self) -> Outcome:
        """Deliver every unfinished envelope in seq order; holds skip their target's later envelopes."""
        self._set_state(self._moving_state())
        blocked: set[Hashable] = set()
        held: dict[int, str] = {}
        index = 0
        while not self._stopping:
            if index >= len(self._queue):
                self._current = None
                if not await self._load_more():
                    break
                continue
            envelope = self._queue[index]
            self._current = envelope
            try:
                key = self._order_key(envelope)
                if key is not None and key in blocked:
                    route: Send | Hold = Hold("waiting behind an earlier held write to the same target")
                else:
                    route = await self._route(envelope)
                    if isinstance(route, Hold) and key is not None:
                        blocked.add(key)
            except RouteUnavailable:
                raise  # passing: retried with backoff by _run
            except Exception as exc:  # a malformed envelope or a bug: the same on every attempt
                await self._dead_letter_unsendable(envelope, f"could not be prepared: {type(exc).__name__}: {exc}")
                self._queue.pop(index)
                continue
            if isinstance(route, Hold):
                held[envelope["seq"]] = route.reason
                self._failures.finished(envelope["seq"])
                index += 1
                continue
            outcome = await self._deliver(envelope, route.request)
            if outcome != "done":
                self._set_holds(len(held) + self._held_after(index, blocked), held)
                return outcome
            self._queue.pop(index)
            self._held = len(held)
            self._hold_reasons = held
        self._set_holds(len(held), held)
        self._current = None
        return "stopped" if self._stopping else "done"

    def _set_holds(self, count: int, reasons: dict[int, str]) -> None:
        """The pass's holds; stored with the position when they changed, for `relay status` with no daemon."""
        self._held, self._hold_reasons = count, reasons
        if Holds.of(count, reasons) != self._stored_holds:
            self._mark_dirty()

    def _held_after(self, index: int, blocked: set[Hashable]) -> int:
        return sum(1 for e in self._queue[index + 1 :] if (k := self._safe_order_key(e)) is not None and k in blocked)

    def _safe_order_key(self, envelope: dict[str, Any]) -> Hashable | None:
        try:
            return self._order_key(envelope)
        except Exception:  # its own turn dead-letters it; here it only must not break the count
            return None

    async def _load_more(self) -> bool:
        """Append the next batch of journal envelopes after what is loaded; False when there is none."""
        if self._journal.last_seq <= self._loaded_through:
            return False
        batch = await asyncio.to_thread(self._read_batch, self._loaded_through)
        if not batch:
            return False  # never skip ahead: what we could not read is read again next pass
        fresh = [e for e in batch if e["seq"] > self._loaded_through]  # offer() may have queued some meanwhile
        if fresh:
            self._loaded_through = fresh[-1]["seq"]
            self._queue.extend(e for e in fresh if not self._position.is_done(e["seq"]))
        return True

    def _read_batch(self, after_seq: int) -> list[dict[str, Any]]:
        return list(islice(self._journal.records(after_seq=after_seq), self.settings.load_batch))

    async def _deliver(self, envelope: dict[str, Any], request: UpstreamRequest) -> Outcome:
        """Send until the answer settles it: acknowledged or dead-lettered ("done"), offline, or paused."""
        attempt = 0
        while not self._stopping:
            resend = envelope["seq"] == self._last_sent_seq  # (a resend after a restart is not counted)
            hook = (lambda: self._reach("after_send")) if self._crash else None
            try:
                answer = await self._upstream.send(request, on_headers=hook)
            except EnvelopeUnsendable as exc:  # nothing went out, and nothing ever will
                await self._dead_letter_unsendable(envelope, exc.detail)
                return "done"
            except CredentialsUnusable as exc:
                self._pause(paused_text(exc.detail))
                return "paused"
            except UpstreamUnreachable as exc:
                self._count_send(envelope, resend)
                self._last_error, self._error_transient = exc.detail, True
                self._failed(exc.detail, envelope)
                self._must_probe = True
                self._set_state("stuck" if self._failures.stuck else "offline")
                return "offline"
            self._count_send(envelope, resend)
            self._last_status = answer.status
            verdict = classify(answer)
            if verdict is Verdict.ACK:
                self._reach("after_ack")
                await self._acknowledged(envelope, answer)
                self._delivered += 1
                self._last_success = time.time()
                if self._error_transient:
                    self._last_error, self._error_transient = None, False
                self._offline_attempt = 0
                self._settled(envelope, answered=True)
                return "done"
            if verdict is Verdict.DEAD:
                await self._dead_letter(
                    envelope,
                    answer.status,
                    answer.text,
                    f"seq {envelope['seq']} ({request.method} {request.path}) dead-lettered: upstream answered "
                    f"{answer.status}: {short(answer.text)}",
                )
                return "done"
            if verdict is Verdict.PAUSE:
                self._pause(paused_text(f"upstream refused our credentials ({answer.status}): {short(answer.text)}"))
                return "paused"
            attempt += 1
            wait = parse_retry_after(answer)
            delay = min(wait, self.settings.retry_after_max) if wait is not None else self._backoff.delay(attempt)
            self._error_transient = True
            self._last_error = (
                f"upstream answered {answer.status} for seq {envelope['seq']} ({request.method} {request.path}); "
                f"retrying in {delay:.1f}s"
            )
            self._failed(self._last_error, envelope)
            await self._sleep(delay, writes_wake=False)
        return "stopped"

    def _count_send(self, envelope: dict[str, Any], resend: bool) -> None:
        self._sent += 1
        self._last_sent_seq = envelope["seq"]
        if resend:
            self._retries += 1

    async def _acknowledged(self, envelope: dict[str, Any], answer: Answer) -> None:
        """Run the on_ack hook; its failure is logged, never a reason to send a delivered envelope again."""
        if self._on_ack is None:
            return
        try:
            await self._on_ack(envelope, answer)
        except Exception as exc:
            log.exception("relay: after delivering seq %s, the acknowledgement hook failed", envelope.get("seq"))
            self._last_error = f"seq {envelope.get('seq')} delivered, but recording the answer failed: {exc}"
            self._error_transient = False  # stays visible after the success that follows

    def _failed(self, reason: str, envelope: dict[str, Any] | None) -> None:
        """Count a failed attempt; the same envelope failing `stuck_after` times in a row makes the relay stuck."""
        self._failures.failed(reason, envelope)
        if self._failures.stuck:
            self._error_transient = True
            self._last_error = self._failures.stuck_error()
            if self._state in ("online", "idle", "offline"):
                self._set_state("stuck")
            self._publish()

    def _settled(self, envelope: dict[str, Any], *, answered: bool) -> None:
        """The envelope is acknowledged or dead-lettered: nothing is stuck on it (and if answered, the link works)."""
        if answered:
            self._failures.succeeded()
        self._failures.finished(envelope["seq"])
        self._finish(envelope["seq"], envelope.get("id"))
        if self._state == "stuck":
            self._set_state(self._moving_state())

    def _moving_state(self) -> State:
        """`online`, unless the envelope at the head keeps failing: never `online` while nothing moves."""
        return "stuck" if self._failures.stuck else "online"

    async def _dead_letter(self, envelope: dict[str, Any], status: int | None, text: str, why: str) -> None:
        """Record a refused envelope (status None: never sent) and finish it."""
        await asyncio.to_thread(self._dead_letters.add, envelope, status, text)
        self._dead_count += 1
        self._error_transient = False
        self._last_error = why
        log.warning("relay: %s", why)
        self._settled(envelope, answered=status is not None)

    async def _dead_letter_unsendable(self, envelope: dict[str, Any], reason: str) -> None:
        """A local reason (not encodable, not serialisable, a bug): a dead letter now, and the queue moves on."""
        self._failures.last_reason, self._failures.last_at = reason, time.time()
        why = f"seq {envelope.get('seq')} (envelope {envelope.get('id')}) dead-lettered without sending: {reason}"
        await self._dead_letter(envelope, None, f"not sent: {reason}", why)

    def _pause(self, reason: str) -> None:
        self._failed_token = self._token()
        self._error_transient = True
        self._last_error = reason
        log.warning("relay: %s", self._last_error)
        self._set_state("auth_failed")

    # -- position ---------------------------------------------------------------------------------

    def _finish(self, seq: int, envelope_id: str | None = None) -> None:
        self._position.finish(seq, envelope_id)
        self._hold_reasons.pop(seq, None)
        self._mark_dirty()

    def _mark_dirty(self) -> None:
        self._dirty = True
        if self._persist_task is None or self._persist_task.done():
            self._persist_task = asyncio.create_task(self._persist(), name="devhub-relay-cursor")

    async def _persist(self) -> None:
        """Write-behind: keep storing the latest snapshot until nothing new was finished meanwhile."""
        first = True
        while self._dirty:
            if not first:
                await asyncio.sleep(self.settings.persist_interval)
            first = False
            self._dirty = False
            snapshot, watermark_id = self._position.snapshot(), self._position.watermark_id
            holds = Holds.of(self._held, self._hold_reasons)
            hook = (lambda: self._reach("cursor_write")) if self._crash else None
            try:
                await asyncio.to_thread(self._position_file.store, snapshot, hook, watermark_id, holds)
                self._stored_holds = holds
            except OSError as exc:  # the cursor only ever lags: a resend, never a loss
                self._dirty = True
                self._last_error = f"could not persist the relay cursor: {exc}"
                log.warning("relay: %s", self._last_error)
                await asyncio.sleep(1.0)

    def _reach(self, point: str) -> None:
        if self._crash is not None:
            self._crash.reached(point)

    # -- helpers ----------------------------------------------------------------------------------

    async def _sleep(self, delay: float, *, writes_wake: bool) -> None:
        """Sleep up to `delay`; `relay now` always cuts it short, a new write only when `writes_wake`."""
        if delay <= 0:
            return
        self._next_attempt_at = time.monotonic() + delay
        event = self._wake_event if writes_wake else self._resume_event
        try:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(event.wait(), timeout=delay)
        finally:
            self._next_attempt_at = None
        if not writes_wake and self._resume_event.is_set():
            self._resume_event.clear()

    def _set_state(self, state: State) -> None:
        if state == self._state:
            return
        self._state = state
        self._state_since = time.time()
        self._publish()

    def _publish(self) -> None:
        if self._on_change is not None:
            try:
                self._on_change(self.status())
            except Exception:  # a dashboard listener must never break relaying
                log.exception("relay state listener failed")
