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

Each wraps its repository by composition: a queued write is the call itself,
replayed as it was made. Reads not listed here (custom words, exports,
commands) fail as before. The queue lives in this process: writes queued when
the process stops during an outage are logged as lost at :meth:`OutageGuard.close`.
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
from rules.core.records import ComplianceRecord, HeldReport
from rules.storage.compliance import ComplianceRepository
from rules.storage.database import Database
from rules.storage.journal import ModerationJournal
from rules.storage.outbox import OutboxRepository

log = logging.getLogger(__name__)

T = TypeVar("T")

PROVISIONAL_BASE = -1_000_000_001  # provisional case ids count down from here
CLAIM_TTL = timedelta(days=1)  # a message is "already handled" for a day in the shared state
MAX_QUEUED = 100_000  # writes kept during an outage; more are refused (and logged)
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
    name: str  # what it writes, for the log
    apply: Callable[[], Awaitable[Any]]  # the call, made again until it lands
    provisional: int | None = None  # open_case: the id handed out for it


class OutageGuard:
    """The outage state, the queue of writes, and the recovery (see module doc)."""

    def __init__(self, database: Database) -> None:
        self.database = database
        self.retry_initial = 0.5
        self.retry_max = 5.0
        self.recovered: list[Callable[[], None]] = []  # called when the queue has landed
        self._queue: deque[_Write] = deque()
        self._outage_since: float | None = None
        self._recovery: asyncio.Task[None] | None = None
        self._provisional = itertools.count(PROVISIONAL_BASE, -1)
        self._case_ids: OrderedDict[int, int] = OrderedDict()  # provisional -> real

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
        self, name: str, apply: Callable[[], Awaitable[T]], provisional: int | None = None
    ) -> tuple[bool, T | None]:
        """(True, result) when written now; (False, None) when queued for later."""
        if self._outage_since is None:
            try:
                return True, await apply()
            except Exception as exc:
                if not is_outage(exc):
                    raise
                self._begin_outage(exc)
        if len(self._queue) >= MAX_QUEUED:
            raise RuntimeError(f"database unreachable and {MAX_QUEUED} writes already queued")
        self._queue.append(_Write(name, apply, provisional))
        return False, None

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
            for done in self.recovered:
                done()
            log.warning(
                "database reachable again after %.0fs: %d queued write(s) landed",
                down_for,
                landed,
            )
            return

    async def _drain(self) -> int:
        """Write the queue in order; an outage error stops it (the rest stays queued)."""
        landed = 0
        while self._queue:
            write = self._queue[0]
            try:
                result = await write.apply()
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
        return landed

    async def close(self, drain_for: float = 5.0) -> None:
        """Try to land what is queued (for at most ``drain_for`` seconds)."""
        if self._recovery is not None:
            self._recovery.cancel()
        if self._queue:
            try:
                await asyncio.wait_for(self._drain(), drain_for)
            except Exception as exc:
                log.error(
                    "database still unreachable at shutdown (%s): %d queued write(s) lost",
                    type(exc).__name__,
                    len(self._queue),
                )


class ResilientJournal:
    """The moderation journal with write-behind during outages (the engine's Store)."""

    def __init__(self, inner: ModerationJournal, guard: OutageGuard, shared: SharedState) -> None:
        self.inner = inner
        self.guard = guard
        self.shared = shared  # claims during an outage
        self._last_weights: OrderedDict[tuple[str, str], int] = OrderedDict()  # last read
        self._queued_weights: dict[tuple[str, str], int] = {}
        guard.recovered.append(self._strikes_landed)

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
        done, first = await self.guard.write(
            "claim", lambda: self.inner.claim_message(group_id, message_id, at)
        )
        return bool(first) if done else True

    async def note_member(self, event: ChatEvent) -> None:
        await self.guard.write("member", lambda: self.inner.note_member(event))

    async def strike_weight(self, group_id: str, member_id: str, since: datetime) -> int:
        key = (group_id, member_id)
        answered, weight = await self.guard.read(
            lambda: self.inner.strike_weight(group_id, member_id, since)
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
        def add() -> Awaitable[None]:
            case_id = strike.case_id
            real = case_id if case_id is None else self.guard.real(case_id)
            return self.inner.add_strike(replace(strike, case_id=real))

        done, _ = await self.guard.write("strike", add)
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
            "case",
            lambda: self.inner.open_case(event, findings, step, at, strike_weight),
            provisional,
        )
        if strike_weight:
            self._count_weight(event.group_id, event.member.id, strike_weight, done)
        return int(case_id) if done and case_id is not None else provisional

    async def record_outcomes(
        self, case_id: int, outcomes: tuple[Outcome, ...], at: datetime
    ) -> None:
        real = self.guard.real
        await self.guard.write(
            "outcomes", lambda: self.inner.record_outcomes(real(case_id), outcomes, at)
        )

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

        def enqueue() -> Awaitable[int]:
            real = case_id if case_id is None else self.guard.real(case_id)
            named = text.replace(f"#{case_id}", f"#{real}") if real != case_id else text
            return self.inner.enqueue_report(officer_id, named, real, at, due, held)

        done, item_id = await self.guard.write("report", enqueue)
        return int(item_id) if done and item_id is not None else 0

    async def record_audit(self, entry: AuditEntry) -> None:
        await self.guard.write("audit line", lambda: self.inner.record_audit(entry))


class ResilientOutbox:
    """The outbox with write-behind for delivery marks; nothing is due during an outage."""

    def __init__(self, inner: OutboxRepository, guard: OutageGuard) -> None:
        self.inner = inner
        self.guard = guard

    async def close(self) -> None:
        await self.inner.close()

    async def due_reports(self, now: datetime, limit: int = 50) -> list[OutboxItem]:
        answered, due = await self.guard.read(lambda: self.inner.due_reports(now, limit))
        return due if answered and due is not None else []  # reports wait in the database

    async def mark_report_sent(self, item_id: int, at: datetime) -> None:
        await self.guard.write("sent mark", lambda: self.inner.mark_report_sent(item_id, at))

    async def mark_report_failed(self, item_id: int, error: str, retry_at: datetime) -> None:
        await self.guard.write(
            "failed mark", lambda: self.inner.mark_report_failed(item_id, error, retry_at)
        )

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

    async def get_compliance(self, group_id: str, member_id: str) -> ComplianceRecord | None:
        return await self.inner.get_compliance(group_id, member_id)

    async def flagged_members(self) -> list[tuple[str, str]]:
        return await self.inner.flagged_members()

    async def flag_member(
        self, group_id: str, member_id: str, problem: str, at: datetime
    ) -> ComplianceRecord:
        await self.guard.write(
            "card timeline", lambda: self.inner.flag_member(group_id, member_id, problem, at)
        )
        return ComplianceRecord(group_id, member_id, problem, at, None, None)

    async def mark_reminded(
        self, group_id: str, member_id: str, problem: str, at: datetime
    ) -> None:
        await self.guard.write(
            "card reminder", lambda: self.inner.mark_reminded(group_id, member_id, problem, at)
        )

    async def mark_acted(self, group_id: str, member_id: str, at: datetime) -> None:
        await self.guard.write(
            "card action", lambda: self.inner.mark_acted(group_id, member_id, at)
        )

    async def clear_compliance(self, group_id: str, member_id: str) -> None:
        await self.guard.write(
            "card cleared", lambda: self.inner.clear_compliance(group_id, member_id)
        )
