"""ResilientStore: the SQL store that lets moderation go on while the database is down.

When a call fails because the database is unreachable (refused, dropped, not
answering within ``[database] timeout``), the store says so once in the log and
switches to **write-behind**: the moderation writes (claims, members, cases,
strikes, outcomes, officer reports, audit lines, card timelines) are queued in
memory, in order, and a background task retries them with backoff; when the
database answers again it writes the queue in order, says so once, and the
store goes back to writing directly. The engine does not notice, except that:

- ``open_case`` returns a *provisional* case id (a large negative number) for a
  case written later; queued writes that name it (outcomes, strikes, reports,
  including the ``#id`` in a report's text) get the real id when they land.
- ``strike_weight`` answers from what this process last read plus the strikes it
  wrote or queued since, so the ladder keeps climbing for a member during the
  outage (strikes expiring meanwhile, or added by other processes, are missed).
- ``claim_message`` asks the shared state (Redis, or this process's memory)
  first; the database row follows when it can.
- ``due_reports`` is empty (reports wait in the database, and so are not lost).

Reads not listed here (custom words, exports, commands) fail as before. The
queue lives in this process: writes queued when the process stops during an
outage are logged as lost at :meth:`close`.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import time
from collections import OrderedDict, deque
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError

from rules.core.model import ChatEvent, Finding, Outcome, Strike
from rules.core.ports import AuditEntry, OutboxItem, SharedState
from rules.members.compliance import ComplianceRecord
from rules.shared_state.memory import MemoryState
from rules.storage.sql_store import SqlStore

log = logging.getLogger(__name__)

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
    method: str  # a SqlStore method
    args: tuple[Any, ...]
    provisional: int | None = None  # open_case: the id handed out for it


class ResilientStore(SqlStore):
    """A :class:`SqlStore` with write-behind during database outages."""

    def __init__(self, engine: Any) -> None:
        super().__init__(engine)
        self.shared: SharedState = MemoryState()  # Runtime sets the real one
        self.retry_initial = 0.5
        self.retry_max = 5.0
        self._queue: deque[_Write] = deque()
        self._outage_since: float | None = None
        self._recovery: asyncio.Task[None] | None = None
        self._provisional = itertools.count(PROVISIONAL_BASE, -1)
        self._case_ids: OrderedDict[int, int] = OrderedDict()  # provisional -> real
        self._last_weights: OrderedDict[tuple[str, str], int] = OrderedDict()  # last read
        self._queued_weights: dict[tuple[str, str], int] = {}

    @property
    def in_outage(self) -> bool:
        return self._outage_since is not None

    @property
    def queued(self) -> int:
        return len(self._queue)

    # -- the write path -------------------------------------------------------

    async def _submit(self, write: _Write) -> tuple[bool, Any]:
        """(True, result) when written now; (False, None) when queued for later."""
        if self._outage_since is None:
            try:
                return True, await self._apply(write)
            except Exception as exc:
                if not is_outage(exc):
                    raise
                self._begin_outage(exc)
        if len(self._queue) >= MAX_QUEUED:
            raise RuntimeError(f"database unreachable and {MAX_QUEUED} writes already queued")
        self._queue.append(write)
        return False, None

    async def _apply(self, write: _Write) -> Any:
        method = getattr(SqlStore, write.method)
        return await method(self, *self._resolve(write))

    def _real(self, case_id: int | None) -> int | None:
        if case_id is None or case_id >= 0:
            return case_id
        return self._case_ids.get(case_id, case_id)

    def _resolve(self, write: _Write) -> tuple[Any, ...]:
        """The write's arguments with provisional case ids replaced by real ones."""
        args = write.args
        if write.method == "record_outcomes":
            return (self._real(args[0]), *args[1:])
        if write.method == "add_strike":
            return (replace(args[0], case_id=self._real(args[0].case_id)),)
        if write.method == "enqueue_report" and args[2] is not None and args[2] < 0:
            real = self._real(args[2])
            text = args[1].replace(f"#{args[2]}", f"#{real}")
            return (args[0], text, real, *args[3:])
        return args

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
                await self._ping()
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
            for key, weight in self._queued_weights.items():  # those strikes are written now
                self._count_weight(*key, weight, written=True)
            self._queued_weights.clear()
            log.warning(
                "database reachable again after %.0fs: %d queued write(s) landed",
                down_for,
                landed,
            )
            return

    async def _ping(self) -> None:
        async with self.engine.connect() as conn:
            await conn.exec_driver_sql("SELECT 1")

    async def _drain(self) -> int:
        """Write the queue in order; an outage error stops it (the rest stays queued)."""
        landed = 0
        while self._queue:
            write = self._queue[0]
            try:
                result = await self._apply(write)
            except Exception as exc:
                if is_outage(exc):
                    raise
                log.error("queued %s could not be written, dropped: %s", write.method, exc)
            else:
                landed += 1
                if write.provisional is not None:
                    self._case_ids[write.provisional] = int(result)
                    if len(self._case_ids) > MAX_QUEUED:
                        self._case_ids.popitem(last=False)
            self._queue.popleft()
        return landed

    def _count_weight(self, group_id: str, member_id: str, weight: int, written: bool) -> None:
        """Keep the outage answer of :meth:`strike_weight` up to date with a new strike."""
        key = (group_id, member_id)
        if not written:
            self._queued_weights[key] = self._queued_weights.get(key, 0) + weight
        elif key in self._last_weights:
            self._last_weights[key] += weight

    # -- Store methods with an outage answer ------------------------------------

    async def claim_message(self, group_id: str, message_id: str, at: datetime) -> bool:
        if not await self.shared.claim(f"message:{group_id}:{message_id}", CLAIM_TTL):
            return False
        done, first = await self._submit(_Write("claim_message", (group_id, message_id, at)))
        return bool(first) if done else True

    async def note_member(self, event: ChatEvent) -> None:
        await self._submit(_Write("note_member", (event,)))

    async def strike_weight(self, group_id: str, member_id: str, since: datetime) -> int:
        key = (group_id, member_id)
        if self._outage_since is None:
            try:
                weight = await super().strike_weight(group_id, member_id, since)
            except Exception as exc:
                if not is_outage(exc):
                    raise
                self._begin_outage(exc)
            else:
                self._last_weights[key] = weight
                self._last_weights.move_to_end(key)
                if len(self._last_weights) > MAX_REMEMBERED:
                    self._last_weights.popitem(last=False)
                return weight
        return self._last_weights.get(key, 0) + self._queued_weights.get(key, 0)

    async def add_strike(self, strike: Strike) -> None:
        done, _ = await self._submit(_Write("add_strike", (strike,)))
        self._count_weight(strike.group_id, strike.member_id, strike.weight, done)

    async def open_case(
        self,
        event: ChatEvent,
        findings: tuple[Finding, ...],
        step: int,
        at: datetime,
        strike_weight: int = 0,
    ) -> int:
        write = _Write("open_case", (event, findings, step, at, strike_weight))
        write.provisional = next(self._provisional)
        done, case_id = await self._submit(write)
        if strike_weight:
            self._count_weight(event.group_id, event.member.id, strike_weight, done)
        return int(case_id) if done else write.provisional

    async def record_outcomes(
        self, case_id: int, outcomes: tuple[Outcome, ...], at: datetime
    ) -> None:
        await self._submit(_Write("record_outcomes", (case_id, outcomes, at)))

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
        done, item_id = await self._submit(
            _Write("enqueue_report", (officer_id, text, case_id, at, due, held))
        )
        return int(item_id) if done else 0

    async def due_reports(self, now: datetime, limit: int = 50) -> list[OutboxItem]:
        if self._outage_since is None:
            try:
                return await super().due_reports(now, limit)
            except Exception as exc:
                if not is_outage(exc):
                    raise
                self._begin_outage(exc)
        return []  # reports wait in the database until it answers

    async def mark_report_sent(self, item_id: int, at: datetime) -> None:
        await self._submit(_Write("mark_report_sent", (item_id, at)))

    async def mark_report_failed(self, item_id: int, error: str, retry_at: datetime) -> None:
        await self._submit(_Write("mark_report_failed", (item_id, error, retry_at)))

    async def record_audit(self, entry: AuditEntry) -> None:
        await self._submit(_Write("record_audit", (entry,)))

    async def flag_member(
        self, group_id: str, member_id: str, problem: str, at: datetime
    ) -> ComplianceRecord:
        await self._submit(_Write("flag_member", (group_id, member_id, problem, at)))
        return ComplianceRecord(group_id, member_id, problem, at, None, None)

    async def mark_reminded(
        self, group_id: str, member_id: str, problem: str, at: datetime
    ) -> None:
        await self._submit(_Write("mark_reminded", (group_id, member_id, problem, at)))

    async def mark_acted(self, group_id: str, member_id: str, at: datetime) -> None:
        await self._submit(_Write("mark_acted", (group_id, member_id, at)))

    async def clear_compliance(self, group_id: str, member_id: str) -> None:
        await self._submit(_Write("clear_compliance", (group_id, member_id)))

    # -- closing --------------------------------------------------------------

    async def close(self, drain_for: float = 5.0) -> None:
        """Try to land what is queued (for at most ``drain_for`` seconds), then close."""
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
        await super().close()
