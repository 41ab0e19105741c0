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

Envelopes are taken in seq order and sent over a small connection pool, up to
`max_in_flight` calls at once (relay/flight.py). Each envelope names the objects it touches (its
sequence keys: a task, a workplan, a message thread, a decision); an envelope waits while a call
touching one of them is on the wire, so each object's writes arrive in the order they were made
while unrelated writes travel side by side. An envelope whose target has no upstream id yet is
*held*; later envelopes of the same target (same order key) wait behind it, while other targets
keep flowing. A held envelope is routed again once nothing before it is on the wire, so an
acknowledged create (whose answer gives the id) always releases what names it in the same pass:
creation before reference, a reply after its root. A run the hub marks (`group`) goes out as one
call, e.g. the parts of a bulk status sync as one POST /tasks/bulk-status-sync; if the upstream
refuses the call, its envelopes go out one by one.

Anything but an acknowledgement or a refusal (5xx, no answer, 401/403) stops new sends; the calls
on the wire are let finish, and the failing envelope is retried alone, exactly as when delivery
was sequential — so `stuck`, backoff and pauses mean what they meant. The position (see
relay/position.py) holds the finished seqs above the contiguous prefix, so calls finishing out of
order are recorded exactly; it is persisted write-behind, and only ever for answered envelopes, so
a crash anywhere means a resend — which the upstream's Idempotency-Key makes harmless.
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
from relay.flight import Attempt, Flight, Unit
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


@dataclass(frozen=True)
class Batch:
    """Envelopes from the queue (contiguous, in seq order) carried by one upstream call."""

    members: tuple[dict[str, Any], ...]
    request: UpstreamRequest


RouteFn = Callable[[dict[str, Any]], Awaitable[Send | Hold]]
OrderKeyFn = Callable[[dict[str, Any]], Hashable | None]
SequenceKeysFn = Callable[[dict[str, Any]], tuple[Hashable, ...]]
# The run starting at queue[index] that goes out as one call; "more" when the run may go on past the
# loaded queue (load more and ask again), None when the envelope goes out alone.
GroupFn = Callable[[Sequence[dict[str, Any]], int], "Batch | Literal['more'] | None"]
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
    # Calls on the wire at once (1: strictly one after the other). Independent envelopes only: see
    # the module docstring for what waits for what.
    max_in_flight: int = 8
    compact_every: int = 1024  # finished envelopes are dropped from the in-memory queue this often


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
        sequence_keys: SequenceKeysFn | None = None,
        group: GroupFn | None = None,
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
        self._sequence_keys = sequence_keys
        self._group = group
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
        self._tried: set[int] = set()  # head seqs of calls that went out and failed (a resend is a retry)
        self._single_only: set[int] = set()  # seqs of runs the upstream refused as one call
        self._groups_refused_by_route = False  # the upstream has no such route: every run goes out singly
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
        flight = Flight()
        try:
            while not self._stopping:
                outcome = await self._scan(flight)
                if outcome != "again":
                    return outcome
            return "stopped"
        finally:
            await flight.abandon()

    async def _scan(self, flight: Flight) -> Outcome | Literal["again"]:
        """One walk over the queue, sending up to `max_in_flight` calls at once.

        "again": a call failed and its envelope was then settled alone, or a run was refused as one
        call; the walk starts over from the first unfinished envelope.
        """
        self._compact_queue(0)
        blocked: set[Hashable] = set()
        held: dict[int, str] = {}
        troubled: list[tuple[Unit, Attempt]] = []
        index = 0
        compact_at = self.settings.compact_every
        while not self._stopping and not troubled:
            if index >= compact_at:  # (what stays before the index: held envelopes and calls on the wire)
                index = self._compact_queue(index)
                compact_at = index + self.settings.compact_every
            if len(flight) >= max(1, self.settings.max_in_flight):
                troubled += await self._landed(flight)
                continue
            if index >= len(self._queue):
                self._current = None
                if await self._load_more():
                    continue
                if not len(flight):
                    break
                troubled += await self._landed(flight)  # writes offered meanwhile are taken next turn
                continue
            envelope = self._queue[index]
            seq = envelope["seq"]
            if self._position.is_done(seq) or flight.carries(seq):
                index += 1
                continue
            self._current = envelope
            key = self._safe_order_key(envelope)
            if key is not None and key in blocked:
                self._hold(held, envelope, "waiting behind an earlier held write to the same target")
                index += 1
                continue
            step = await self._next_unit(index, flight, blocked, held)
            if isinstance(step, str):  # an object it touches is on the wire, or a create it may wait for is
                troubled += await self._landed(flight, every=step == "drain")
                continue
            if isinstance(step, Hold):
                self._hold(held, envelope, step.reason)
                if key is not None:
                    blocked.add(key)
                index += 1
                continue
            if isinstance(step, int):  # dead-lettered without sending, or a run held whole
                index += step
                continue
            flight.start(step, self._attempt(step))
            index += len(step.members)
        troubled += await self._landed(flight, every=True)
        if troubled and not self._stopping:
            outcome = await self._recover(troubled)
            if outcome != "done":
                self._set_holds(len(held) + self._held_after(index, blocked), held)
                return outcome
            return "again"
        self._set_holds(len(held), held)
        self._current = None
        return "stopped" if self._stopping else "done"

    def _hold(self, held: dict[int, str], envelope: dict[str, Any], reason: str) -> None:
        held[envelope["seq"]] = reason
        self._failures.finished(envelope["seq"])
        self._held, self._hold_reasons = len(held), held

    async def _next_unit(
        self, index: int, flight: Flight, blocked: set[Hashable], held: dict[int, str]
    ) -> Unit | Hold | Literal["wait", "drain"] | int:
        """The call for queue[index]: a unit to start; a Hold; "wait" for the next call on the wire to land,
        "drain" for all of them; or how many envelopes were settled here (dead-lettered, or a run held)."""
        envelope = self._queue[index]
        batch = await self._batch_at(index)
        if batch is not None:
            keys = frozenset(k for member in batch.members for k in self._keys_of(member))
            if flight.busy(keys):
                return "wait"
            behind = [m for m in batch.members if (k := self._safe_order_key(m)) is not None and k in blocked]
            if not behind:
                return Unit(batch.members, batch.request, keys, batched=True)
            # Never sent in part: what went out alone now might be carried by the whole run after a restart,
            # under the run's key, and be applied twice. So the run waits whole.
            for member in batch.members:
                self._hold(held, member, "waiting behind an earlier held write to the same target (one bulk call)")
                if (member_key := self._safe_order_key(member)) is not None:
                    blocked.add(member_key)
            return len(batch.members)
        keys = frozenset(self._keys_of(envelope))
        if flight.busy(keys):
            return "wait"
        try:
            route = await self._route(envelope)
        except RouteUnavailable:
            await self._settle_before_raising(flight)
            raise  # passing: retried with backoff by _run
        except Exception as exc:  # a malformed envelope or a bug: the same on every attempt
            await self._dead_letter_unsendable(envelope, f"could not be prepared: {type(exc).__name__}: {exc}")
            return 1
        if isinstance(route, Hold):
            # A call still on the wire may be the create (or thread root) this one waits for: route it
            # again once they landed, as sequential delivery would have.
            return "drain" if len(flight) else route
        return Unit((envelope,), route.request, keys)

    def _keys_of(self, envelope: dict[str, Any]) -> tuple[Hashable, ...]:
        """The objects an envelope touches: its order key, plus what the hub's sequence keys add."""
        key = self._safe_order_key(envelope)
        keys: tuple[Hashable, ...] = () if key is None else (key,)
        if self._sequence_keys is not None:
            try:
                keys += self._sequence_keys(envelope)
            except Exception:  # routing it will tell; until then it shares no object
                log.exception("relay: the sequence keys of seq %s could not be computed", envelope.get("seq"))
        return keys

    async def _batch_at(self, index: int) -> Batch | None:
        """The run starting at queue[index] to send as one call, when the hub groups it and nothing forbids it."""
        if self._group is None or self._groups_refused_by_route:
            return None
        while True:
            try:
                found = self._group(self._queue, index)
            except Exception:
                log.exception("relay: grouping at seq %s failed; sending it alone", self._queue[index].get("seq"))
                return None
            if found != "more":
                break
            if not await self._load_more():
                return None  # the journal ends inside the run: it was cut, so what is there goes out alone
        if found is None or any(seq in self._single_only for seq in (m["seq"] for m in found.members)):
            return None
        return found

    async def _settle_before_raising(self, flight: Flight) -> None:
        """Let the calls on the wire land (their acknowledgements count) before the loop backs off."""
        for unit, attempt in await flight.landed(every=True):
            if await self._apply(unit, attempt):
                self._failures.failed(attempt.detail or f"upstream answered {self._status_of(attempt)}")

    async def _landed(self, flight: Flight, *, every: bool = False) -> list[tuple[Unit, Attempt]]:
        """Apply what came back; the calls that failed (not acknowledged, not refused) are returned."""
        troubled = []
        for unit, attempt in await flight.landed(every=every):
            if await self._apply(unit, attempt):
                troubled.append((unit, attempt))
        return troubled

    def _compact_queue(self, index: int) -> int:
        """Drop finished envelopes from the queue; the index of the same next envelope afterwards."""
        done = self._position.is_done
        kept = [e for e in self._queue[:index] if not done(e["seq"])]
        self._queue = kept + [e for e in self._queue[index:] if not done(e["seq"])]
        return len(kept)

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

    # -- one call, and what its answer means ---------------------------------------------------------

    async def _attempt(self, unit: Unit) -> Attempt:
        """Send the unit's call once (runs as a task of its own); an acknowledgement's hook runs here,
        so what the answer taught (a created object's fleet id) is recorded before the unit lands."""
        hook = (lambda: self._reach("after_send")) if self._crash else None
        try:
            answer = await self._upstream.send(unit.request, on_headers=hook)
        except EnvelopeUnsendable as exc:  # nothing went out, and nothing ever will
            return Attempt("unsendable", detail=exc.detail, sent=False)
        except CredentialsUnusable as exc:
            return Attempt("pause", detail=paused_text(exc.detail), sent=False)
        except UpstreamUnreachable as exc:
            return Attempt("offline", detail=exc.detail)
        verdict = classify(answer)
        if verdict is Verdict.ACK:
            self._reach("after_ack")
            for member in unit.members:
                await self._acknowledged(member, answer)
            return Attempt("ack", answer)
        if verdict is Verdict.DEAD:
            return Attempt("refused", answer)
        if verdict is Verdict.PAUSE:
            reason = f"upstream refused our credentials ({answer.status}): {short(answer.text)}"
            return Attempt("pause", answer, paused_text(reason))
        return Attempt("retry", answer)

    async def _apply(self, unit: Unit, attempt: Attempt) -> bool:
        """Count and settle what one call came to; True when it failed (retry, offline or pause)."""
        if attempt.sent:
            self._count_send(unit)
        if attempt.answer is not None:
            self._last_status = attempt.answer.status
        request = unit.request
        if attempt.kind == "ack":
            self._delivered += len(unit.members)
            self._last_success = time.time()
            if self._error_transient:
                self._last_error, self._error_transient = None, False
            self._offline_attempt = 0
            for member in unit.members:
                self._settled(member, answered=True)
            return False
        if unit.batched and attempt.kind in ("refused", "unsendable"):
            self._refused_as_one(unit, attempt)
            return True  # its envelopes go out one by one: walk again
        if attempt.kind == "unsendable":
            await self._dead_letter_unsendable(unit.head, attempt.detail)
            return False
        if attempt.kind == "refused":
            answer = attempt.answer
            assert answer is not None
            await self._dead_letter(
                unit.head,
                answer.status,
                answer.text,
                f"seq {unit.head['seq']} ({request.method} {request.path}) dead-lettered: upstream answered "
                f"{answer.status}: {short(answer.text)}",
            )
            return False
        if attempt.sent:
            self._tried.add(unit.seqs[0])
        return True

    def _refused_as_one(self, unit: Unit, attempt: Attempt) -> None:
        """The upstream refused a run as one call: its envelopes go out singly (and are judged singly)."""
        self._single_only.update(unit.seqs)
        status = attempt.answer.status if attempt.answer is not None else None
        if status in (404, 405) and attempt.answer is not None and not _names_items(attempt.answer):
            self._groups_refused_by_route = True  # no such route upstream: stop asking
        log.warning(
            "relay: %s %s carrying seqs %s..%s was refused (%s): sending them one by one",
            unit.request.method,
            unit.request.path,
            unit.seqs[0],
            unit.seqs[-1],
            status if status is not None else attempt.detail,
        )

    async def _recover(self, troubled: list[tuple[Unit, Attempt]]) -> Outcome:
        """After a failed call: pause, go offline, or retry the earliest failing unit alone until it settles."""
        failing = [(u, a) for u, a in troubled if not (u.batched and a.kind in ("refused", "unsendable"))]
        if not failing:
            return "done"  # only runs refused as one call: walk again, sending them singly
        failing.sort(key=lambda pair: pair[0].seqs[0])
        for _unit, attempt in failing[1:]:  # counted, but only the earliest can make the relay `stuck`
            self._failures.failed(attempt.detail or f"upstream answered {self._status_of(attempt)}")
        for kind in ("pause", "offline", "retry"):
            first = next(((u, a) for u, a in failing if a.kind == kind), None)
            if first is not None:
                return await self._after_failure(*first)
        return "done"

    async def _after_failure(self, unit: Unit, attempt: Attempt) -> Outcome:
        """Handle one failed call of `unit`, then keep retrying it alone (backoff, Retry-After) until it settles."""
        tries = 0
        while not self._stopping:
            if attempt.kind == "pause":
                self._pause(attempt.detail)
                return "paused"
            if attempt.kind == "offline":
                self._last_error, self._error_transient = attempt.detail, True
                self._failed(attempt.detail, unit.head)
                self._must_probe = True
                self._set_state("stuck" if self._failures.stuck else "offline")
                return "offline"
            if attempt.kind != "retry":
                return "done"  # acknowledged, dead-lettered, or a run to send singly
            tries += 1
            answer = attempt.answer
            assert answer is not None
            wait = parse_retry_after(answer)
            delay = min(wait, self.settings.retry_after_max) if wait is not None else self._backoff.delay(tries)
            self._error_transient = True
            request = unit.request
            self._last_error = (
                f"upstream answered {answer.status} for seq {unit.head['seq']} ({request.method} {request.path}); "
                f"retrying in {delay:.1f}s"
            )
            self._failed(self._last_error, unit.head)
            await self._sleep(delay, writes_wake=False)
            if self._stopping:
                break
            attempt = await self._attempt(unit)
            if not await self._apply(unit, attempt) or attempt.kind in ("refused", "unsendable"):
                return "done"
        return "stopped"

    @staticmethod
    def _status_of(attempt: Attempt) -> int | None:
        return attempt.answer.status if attempt.answer is not None else None

    def _count_send(self, unit: Unit) -> None:
        self._sent += 1
        if unit.seqs[0] in self._tried:  # (a resend after a restart is not counted)
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
        self._tried.discard(envelope["seq"])
        self._single_only.discard(envelope["seq"])
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


def _names_items(answer: Answer) -> bool:
    """True when a refusal is about the items (a detail object naming tasks), not a missing route."""
    document = answer.json()
    return isinstance(document, dict) and isinstance(document.get("detail"), (dict, list))
