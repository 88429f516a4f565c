"""Outage tolerance: moderation goes on while the database is down, its writes land later.

When a call fails because the database is unreachable (refused, dropped, not
answering within ``[database] timeout``), :class:`OutageGuard` says so once in
the log and switches to **write-behind**: the writes of the repositories it
wraps are queued in memory, in order, and a background task retries with
backoff; when the database answers again it writes the queue in order, says so
once, and writes go direct again. Three wrappers use one guard (one queue, so
writes land in the order they were made):

- :class:`ResilientJournal` (claims, members, cases, strikes, outcomes, officer
  reports, audit lines). ``open_case`` returns a *provisional* case id (a large
  negative number) for a case written later; queued writes that name it
  (outcomes, strikes, reports, including the ``#id`` in a report's text) get
  the real id when they land. ``strike_weight`` answers from what this process
  last read plus the strikes it wrote or queued since, so the ladder keeps
  climbing for a member during the outage (strikes expiring meanwhile, or added
  by other processes, are missed). ``claim_message`` asks the shared state
  (Redis, or this process's memory) first; the database row follows when it can.
- :class:`ResilientOutbox`: ``due_reports`` is empty during an outage (reports
  wait in the database, and so are not lost); delivery marks are queued.
- :class:`ResilientCompliance`: card timelines are queued.

Each wraps its repository by composition: a queued write is the call itself
(a name the guard knows and its arguments), replayed as it was made. Reads not
listed here (custom words, exports, commands) fail as before.

**On disk.** With a spool (:class:`rules.storage.spool.Spool`, ``[database]
outage_spool``) every queued write is also appended to a local file and the
caller goes on only once it is there: a case decided during an outage is
durable before it is carried out, and writes still queued when the process
stops or dies are replayed, in order, at the next start
(:meth:`OutageGuard.replay`, before anything else is written). The queue is
bounded (:data:`MAX_QUEUED` writes); when it is full the bot says so loudly
(an error in the log, repeated every :data:`FULL_LOG_EVERY` refusals) and new
writes fail: the engine then acts on nothing it could not record.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import time
from collections import OrderedDict, deque
from collections.abc import Awaitable, Callable, Collection, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any, TypeVar

from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError

from rules.core.model import ChatEvent, Finding, Outcome, Strike
from rules.core.ports import AuditEntry, OutboxItem, SharedState
from rules.core.records import CaseIntent, CaseSettlement, ComplianceRecord, HeldReport
from rules.storage.compliance import ComplianceRepository
from rules.storage.database import Database
from rules.storage.journal import ModerationJournal
from rules.storage.outbox import OutboxRepository
from rules.storage.spool import Spool, SpooledWrite

log = logging.getLogger(__name__)

T = TypeVar("T")

PROVISIONAL_BASE = -1_000_000_001  # provisional case ids count down from here
CLAIM_TTL = timedelta(days=1)  # a message is "already handled" for a day in the shared state
MAX_QUEUED = 100_000  # writes kept during an outage; more are refused (and logged)
FULL_LOG_EVERY = 1_000  # a full queue is logged at its first refusal and every this many
MAX_REMEMBERED = 50_000  # members whose strike weight is cached for an outage
_CONNECTION_SQLSTATES = ("08", "53", "57P")  # connection, resources, shutdown / starting up


def is_outage(exc: BaseException) -> bool:
    """Whether ``exc`` means the database cannot be reached (not a bad statement)."""
    if isinstance(exc, OSError | PoolTimeoutError):  # OSError covers TimeoutError
        return True
    if isinstance(exc, DBAPIError):
        if exc.connection_invalidated or isinstance(exc, OperationalError | InterfaceError):
            return True
        code = str(getattr(exc.orig, "sqlstate", None) or getattr(exc.orig, "pgcode", "") or "")
        return code.startswith(_CONNECTION_SQLSTATES)
    return False


@dataclass(slots=True)
class _Write:
    name: str  # a write the guard knows (OutageGuard.register), for the log and the spool
    args: tuple[Any, ...]  # its arguments, as the call was made
    provisional: int | None = None  # a case: the id handed out for it
    seq: int = 0  # its place in the spool


class OutageGuard:
    """The outage state, the queue of writes, and the recovery (see module doc)."""

    def __init__(self, database: Database, spool: Spool | None = None) -> None:
        self.database = database
        self.spool = spool
        self.retry_initial = 0.5
        self.retry_max = 5.0
        self.recovered: list[Callable[[], None]] = []  # called when the queue has landed
        self._writers: dict[str, Callable[..., Awaitable[Any]]] = {}
        self._replays: dict[str, Callable[..., Awaitable[Any]]] = {}
        self._queue: deque[_Write] = deque()
        self._seq = itertools.count(1)
        self._outage_since: float | None = None
        self._recovery: asyncio.Task[None] | None = None
        self._provisional = itertools.count(PROVISIONAL_BASE, -1)
        self._case_ids: OrderedDict[int, int] = OrderedDict()  # provisional -> real
        self._refused = 0

    def register(
        self,
        name: str,
        writer: Callable[..., Awaitable[Any]],
        replay: Callable[..., Awaitable[Any]] | None = None,
    ) -> None:
        """Name a write (``writer(*args)``), so a queued or spooled one can be made again
        (by ``replay(*args)`` if given: it was acted on already, whatever happened since)."""
        self._writers[name] = writer
        self._replays[name] = replay or writer

    @property
    def in_outage(self) -> bool:
        return self._outage_since is not None

    @property
    def queued(self) -> int:
        return len(self._queue)

    def provisional_id(self) -> int:
        return next(self._provisional)

    def real(self, case_id: int) -> int:
        """The real id of a case written since (itself when not provisional, or not yet)."""
        return case_id if case_id >= 0 else self._case_ids.get(case_id, case_id)

    async def write(
        self, name: str, *args: Any, provisional: int | None = None
    ) -> tuple[bool, Any]:
        """(True, result) when written now; (False, None) when queued for later."""
        if self._outage_since is None:
            try:
                return True, await self._writers[name](*args)
            except Exception as exc:
                if not is_outage(exc):
                    raise
                self._begin_outage(exc)
        if len(self._queue) >= MAX_QUEUED:
            self._refuse(name)
        write = _Write(name, args, provisional, next(self._seq))
        self._queue.append(write)
        if self.spool is not None:
            await self.spool.append(SpooledWrite(write.seq, name, args, provisional))
        return False, None

    def _refuse(self, name: str) -> None:
        self._refused += 1
        if self._refused % FULL_LOG_EVERY == 1:
            log.error(
                "database unreachable and the outage queue is full (%d writes): %d write(s) "
                "refused so far, this one a %s; nothing is done that cannot be recorded",
                MAX_QUEUED,
                self._refused,
                name,
            )
        raise RuntimeError(f"database unreachable and {MAX_QUEUED} writes already queued")

    async def read(self, query: Callable[[], Awaitable[T]]) -> tuple[bool, T | None]:
        """(True, result) when the database answered; (False, None) during an outage."""
        if self._outage_since is None:
            try:
                return True, await query()
            except Exception as exc:
                if not is_outage(exc):
                    raise
                self._begin_outage(exc)
        return False, None

    async def replay(self) -> int:
        """Land the writes a previous run left in the spool, in order (at start, before any
        other write). Returns how many were found; an outage meanwhile keeps the rest queued
        (and the guard in its outage, retrying)."""
        if self.spool is None:
            return 0
        left = await asyncio.to_thread(self.spool.load)
        self._seq = itertools.count(self.spool.last_seq + 1)
        if not left:
            await self.spool.clear()
            return 0
        lowest = min((w.provisional for w in left if w.provisional is not None), default=0)
        self._provisional = itertools.count(min(lowest - 1, PROVISIONAL_BASE), -1)
        self._queue.extend(_Write(w.name, w.args, w.provisional, w.seq) for w in left)
        log.warning(
            "outage spool %s: %d write(s) queued before the last stop; writing them first",
            self.spool.path,
            len(left),
        )
        try:
            landed = await self._drain()
        except Exception as exc:
            if not is_outage(exc):
                raise
            self._begin_outage(exc)
            return len(left)
        await self.spool.clear()
        log.warning("outage spool: %d write(s) from before the last stop landed", landed)
        return len(left)

    def _begin_outage(self, exc: BaseException) -> None:
        if self._outage_since is not None:
            return
        self._outage_since = time.monotonic()
        log.warning(
            "database unreachable (%s: %s): moderation continues, writes are queued "
            "and retried until it answers",
            type(exc).__name__,
            str(exc).splitlines()[0][:200] if str(exc) else "no answer",
        )
        self._recovery = asyncio.get_running_loop().create_task(
            self._recover(), name="database-recovery"
        )

    async def _recover(self) -> None:
        delay = self.retry_initial
        while True:
            await asyncio.sleep(delay)
            try:
                await self.database.ping()
                landed = await self._drain()
            except Exception as exc:
                if not is_outage(exc):
                    log.exception("database recovery failed; will retry")
                delay = min(delay * 2, self.retry_max)
                continue
            # The queue is empty and nothing awaited since: new writes go direct again.
            assert self._outage_since is not None
            down_for = time.monotonic() - self._outage_since
            self._outage_since = None
            self._refused = 0
            for done in self.recovered:
                done()
            log.warning(
                "database reachable again after %.0fs: %d queued write(s) landed",
                down_for,
                landed,
            )
            if self.spool is not None:
                await self.spool.clear()
            return

    async def _drain(self) -> int:
        """Write the queue in order; an outage error stops it (the rest stays queued)."""
        landed = 0
        while self._queue:
            write = self._queue[0]
            try:
                result = await self._replays[write.name](*write.args)
            except Exception as exc:
                if is_outage(exc):
                    raise
                log.error("queued %s could not be written, dropped: %s", write.name, exc)
            else:
                landed += 1
                if write.provisional is not None:
                    self._case_ids[write.provisional] = int(result)
                    if len(self._case_ids) > MAX_QUEUED:
                        self._case_ids.popitem(last=False)
            self._queue.popleft()
            if self.spool is not None:
                await self.spool.acknowledge(write.seq)
        return landed

    async def close(self, drain_for: float = 5.0) -> None:
        """Try to land what is queued (for at most ``drain_for`` seconds); what is left stays
        in the spool for the next start (without one, it is lost, and logged)."""
        if self._recovery is not None:
            self._recovery.cancel()
        if self._queue:
            try:
                await asyncio.wait_for(self._drain(), drain_for)
            except Exception as exc:
                if self.spool is not None:
                    log.error(
                        "database still unreachable at shutdown (%s): %d queued write(s) kept "
                        "in %s, written at the next start",
                        type(exc).__name__,
                        len(self._queue),
                        self.spool.path,
                    )
                else:
                    log.error(
                        "database still unreachable at shutdown (%s): %d queued write(s) lost",
                        type(exc).__name__,
                        len(self._queue),
                    )
        if self.spool is not None:
            if not self._queue:
                await self.spool.clear()
            await self.spool.close()


class ResilientJournal:
    """The moderation journal with write-behind during outages (the engine's Store)."""

    def __init__(self, inner: ModerationJournal, guard: OutageGuard, shared: SharedState) -> None:
        self.inner = inner
        self.guard = guard
        self.shared = shared  # claims during an outage
        self._last_weights: OrderedDict[tuple[str, str], int] = OrderedDict()  # last read
        self._queued_weights: dict[tuple[str, str], int] = {}
        guard.recovered.append(self._strikes_landed)
        real = guard.real
        guard.register("claim", inner.claim_message)
        guard.register("member", inner.note_member)
        guard.register("strike", lambda strike: inner.add_strike(_real_strike(strike, real)))
        guard.register("case", inner.open_case)
        # replayed, an intent writes its case whoever claimed the message meanwhile: the
        # decision was acted on already
        guard.register(
            "intent",
            inner.open_intent,
            replay=lambda intent: inner.open_intent(replace(intent, claim_required=False)),
        )
        guard.register("settlement", lambda s: inner.settle_case(_real_settlement(s, real)))
        guard.register("interruption", lambda ids: inner.interrupt([real(i) for i in ids]))
        guard.register(
            "outcomes", lambda case_id, *rest: inner.record_outcomes(real(case_id), *rest)
        )
        guard.register("report", lambda *args: _enqueue_real(inner, real, *args))
        guard.register("audit line", inner.record_audit)

    async def close(self) -> None:
        """Wait for the journal's batches (after :meth:`OutageGuard.close`)."""
        await self.inner.close()

    def _strikes_landed(self) -> None:
        for key, weight in self._queued_weights.items():
            self._count_weight(*key, weight, written=True)
        self._queued_weights.clear()

    def _count_weight(self, group_id: str, member_id: str, weight: int, written: bool) -> None:
        """Keep the outage answer of :meth:`strike_weight` up to date with a new strike."""
        key = (group_id, member_id)
        if not written:
            self._queued_weights[key] = self._queued_weights.get(key, 0) + weight
        elif key in self._last_weights:
            self._last_weights[key] += weight

    async def claim_message(self, group_id: str, message_id: str, at: datetime) -> bool:
        if not await self.shared.claim(f"message:{group_id}:{message_id}", CLAIM_TTL):
            return False
        done, first = await self.guard.write("claim", group_id, message_id, at)
        return bool(first) if done else True

    async def note_member(self, event: ChatEvent) -> None:
        await self.guard.write("member", event)

    async def strike_weight(self, group_id: str, member_id: str, since: datetime) -> int:
        key = (group_id, member_id)
        # Strikes kept in memory stand only while nothing waits to be written: during an
        # outage and its replay the store is asked (the answer counts the queue below).
        cached = not (self.guard.in_outage or self.guard.queued)
        if not cached and self.inner.tally is not None:
            self.inner.tally.clear()
        answered, weight = await self.guard.read(
            lambda: self.inner.strike_weight(group_id, member_id, since, cached)
        )
        if answered:
            assert weight is not None
            self._last_weights[key] = weight
            self._last_weights.move_to_end(key)
            if len(self._last_weights) > MAX_REMEMBERED:
                self._last_weights.popitem(last=False)
            return weight
        return self._last_weights.get(key, 0) + self._queued_weights.get(key, 0)

    async def add_strike(self, strike: Strike) -> None:
        done, _ = await self.guard.write("strike", strike)
        self._count_weight(strike.group_id, strike.member_id, strike.weight, done)

    async def open_case(
        self,
        event: ChatEvent,
        findings: tuple[Finding, ...],
        step: int,
        at: datetime,
        strike_weight: int = 0,
    ) -> int:
        provisional = self.guard.provisional_id()
        done, case_id = await self.guard.write(
            "case", event, findings, step, at, strike_weight, provisional=provisional
        )
        if strike_weight:
            self._count_weight(event.group_id, event.member.id, strike_weight, done)
        return int(case_id) if done and case_id is not None else provisional

    async def open_intent(self, intent: CaseIntent) -> int | None:
        """The case's id; a provisional one while the intent waits in the queue (on disk
        with a spool: the caller acts only once it is there). An intent that claims its
        message asks the shared state first, as :meth:`claim_message` does."""
        event = intent.event
        if intent.claim is not None and not await self.shared.claim(
            f"message:{event.group_id}:{intent.claim}", CLAIM_TTL
        ):
            return None
        provisional = self.guard.provisional_id()
        done, case_id = await self.guard.write("intent", intent, provisional=provisional)
        if done and case_id is None:
            return None  # the database refused the claim (another process, earlier)
        if intent.strike_weight:
            self._count_weight(event.group_id, event.member.id, intent.strike_weight, done)
        return int(case_id) if done else provisional

    async def settle_case(self, settlement: CaseSettlement) -> None:
        await self.guard.write("settlement", settlement)

    async def interrupt(self, case_ids: list[int]) -> None:
        await self.guard.write("interruption", list(case_ids))

    async def record_outcomes(
        self, case_id: int, outcomes: tuple[Outcome, ...], at: datetime
    ) -> None:
        await self.guard.write("outcomes", case_id, outcomes, at)

    async def enqueue_report(
        self,
        officer_id: str,
        text: str,
        case_id: int | None,
        at: datetime,
        due: datetime | None = None,
        held: bool = False,
    ) -> int:
        """The report's id; 0 while it waits in the queue for the database."""
        done, item_id = await self.guard.write("report", officer_id, text, case_id, at, due, held)
        return int(item_id) if done and item_id is not None else 0

    async def record_audit(self, entry: AuditEntry) -> None:
        await self.guard.write("audit line", entry)


def _real_strike(strike: Strike, real: Callable[[int], int]) -> Strike:
    return strike if strike.case_id is None else replace(strike, case_id=real(strike.case_id))


def _real_settlement(settlement: CaseSettlement, real: Callable[[int], int]) -> CaseSettlement:
    """The settlement of a case written since: its real id, also where its report names it."""
    case_id = real(settlement.case_id)
    if case_id == settlement.case_id:
        return settlement
    report = settlement.report
    if report is not None:
        report = report.replace(f"#{settlement.case_id}", f"#{case_id}")
    return replace(settlement, case_id=case_id, report=report)


def _enqueue_real(
    inner: ModerationJournal,
    real: Callable[[int], int],
    officer_id: str,
    text: str,
    case_id: int | None,
    at: datetime,
    due: datetime | None,
    held: bool,
) -> Awaitable[int]:
    """Queue a report naming a case written since by its real id (in its text too)."""
    named = case_id if case_id is None else real(case_id)
    if named != case_id:
        text = text.replace(f"#{case_id}", f"#{named}")
    return inner.enqueue_report(officer_id, text, named, at, due, held)


class ResilientOutbox:
    """The outbox with write-behind for delivery marks; nothing is due during an outage."""

    def __init__(self, inner: OutboxRepository, guard: OutageGuard) -> None:
        self.inner = inner
        self.guard = guard
        guard.register("sent mark", inner.mark_report_sent)
        guard.register("failed mark", inner.mark_report_failed)

    async def close(self) -> None:
        await self.inner.close()

    async def due_reports(self, now: datetime, limit: int = 50) -> list[OutboxItem]:
        answered, due = await self.guard.read(lambda: self.inner.due_reports(now, limit))
        return due if answered and due is not None else []  # reports wait in the database

    async def mark_report_sent(self, item_id: int, at: datetime) -> None:
        await self.guard.write("sent mark", item_id, at)

    async def mark_report_failed(self, item_id: int, error: str, retry_at: datetime) -> None:
        await self.guard.write("failed mark", item_id, error, retry_at)

    async def held_reports(self, officer_id: str) -> list[HeldReport]:
        return await self.inner.held_reports(officer_id)

    async def enqueue_digest(
        self,
        officer_id: str,
        parts: Sequence[tuple[str, bytes | None]],
        held_ids: Collection[int],
        key: str,
        at: datetime,
    ) -> bool:
        return await self.inner.enqueue_digest(officer_id, parts, held_ids, key, at)

    async def release_held(self, keep: Collection[str], at: datetime) -> int:
        return await self.inner.release_held(keep, at)


class ResilientCompliance:
    """Card timelines with write-behind; their reads fail during an outage as before."""

    def __init__(self, inner: ComplianceRepository, guard: OutageGuard) -> None:
        self.inner = inner
        self.guard = guard
        guard.register("card timeline", inner.flag_member)
        guard.register("card reminder", inner.mark_reminded)
        guard.register("card action", inner.mark_acted)
        guard.register("card cleared", inner.clear_compliance)

    async def get_compliance(self, group_id: str, member_id: str) -> ComplianceRecord | None:
        return await self.inner.get_compliance(group_id, member_id)

    async def flagged_members(self) -> list[tuple[str, str]]:
        return await self.inner.flagged_members()

    async def flag_member(
        self, group_id: str, member_id: str, problem: str, at: datetime
    ) -> ComplianceRecord:
        await self.guard.write("card timeline", group_id, member_id, problem, at)
        return ComplianceRecord(group_id, member_id, problem, at, None, None)

    async def mark_reminded(
        self, group_id: str, member_id: str, problem: str, at: datetime
    ) -> None:
        await self.guard.write("card reminder", group_id, member_id, problem, at)

    async def mark_acted(self, group_id: str, member_id: str, at: datetime) -> None:
        await self.guard.write("card action", group_id, member_id, at)

    async def clear_compliance(self, group_id: str, member_id: str) -> None:
        await self.guard.write("card cleared", group_id, member_id)
