"""SqlStore: the Store port on SQLAlchemy 2 async (aiosqlite by default, asyncpg too).

``SqlStore.open(url)`` creates the engine, applies migrations and, for SQLite,
turns on WAL, foreign keys and a busy timeout. ``sqlite+aiosqlite://`` with no
path is an in-memory database (used by ``scan`` without ``--db`` and by tests).

The writes every violation makes (``open_case``, ``record_outcomes``) and the
first sight of a member (``note_member``) are group-committed: concurrent calls
share one transaction (:class:`rules.batching.Batcher`). A transaction through
SQLAlchemy and aiosqlite costs about a millisecond of CPU whatever it holds,
and SQLite takes one writer at a time, so one transaction per call capped the
bot at a few hundred violations per second and made every write queue behind
the others. Each call still returns only once its rows are committed.
"""

from __future__ import annotations

import dataclasses
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import event, func, insert, select, update
from sqlalchemy.engine import make_url
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine
from sqlalchemy.pool import AsyncAdaptedQueuePool

from rules.batching import Batcher
from rules.model import ChatEvent, Finding, Outcome, Strike, masked_text
from rules.normalize import fold
from rules.ports import AuditEntry, OutboxItem
from rules.storage import migrate
from rules.storage.compliance import ComplianceStoreMixin
from rules.storage.tables import (
    actions,
    audit_log,
    cases,
    groups,
    handled_messages,
    members,
    outbox,
    strikes,
)
from rules.storage.words import WordsStoreMixin


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=5000")
    # WAL + NORMAL: commits skip the fsync (done at checkpoints); the database
    # cannot be corrupted, a power cut may lose only the last transactions.
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def resolve_url(url: str, root: Path) -> str:
    """Make a relative SQLite path absolute under ``root`` and create its folder."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:"):
        path = Path(parsed.database)
        if not path.is_absolute():
            path = root / path
        path.parent.mkdir(parents=True, exist_ok=True)
        return parsed.set(database=str(path)).render_as_string(hide_password=False)
    return url


def safe_url(url: str) -> str:
    """The URL with any password hidden, for banners and logs."""
    return make_url(url).render_as_string(hide_password=True)


def _strike_row(strike: Strike) -> dict[str, object]:
    return {**dataclasses.asdict(strike), "voided": False}


def _seconds(value: timedelta | None) -> int | None:
    return None if value is None else int(value.total_seconds())


@dataclasses.dataclass(frozen=True, slots=True)
class _NewCase:
    event: ChatEvent
    findings: tuple[Finding, ...]
    step: int
    at: datetime
    strike_weight: int


@dataclasses.dataclass(frozen=True, slots=True)
class _Outcomes:
    case_id: int
    outcomes: tuple[Outcome, ...]
    at: datetime


async def _note_member(conn: AsyncConnection, event: ChatEvent) -> None:
    """Upsert the event's group (last activity) and member (card, role, last seen)."""
    at = event.time
    updated = await conn.execute(
        update(groups).where(groups.c.id == event.group_id).values(last_activity=at)
    )
    if updated.rowcount == 0:
        await conn.execute(
            insert(groups).values(
                id=event.group_id,
                platform=event.platform.value,
                name="",
                first_seen=at,
                last_activity=at,
            )
        )
    member = {
        "card": event.member.card,
        "nickname": event.member.nickname,
        "role": event.member.role.value,
        "last_seen": at,
    }
    updated = await conn.execute(
        update(members)
        .where(members.c.group_id == event.group_id)
        .where(members.c.member_id == event.member.id)
        .values(**member)
    )
    if updated.rowcount == 0:
        await conn.execute(
            insert(members).values(
                group_id=event.group_id,
                member_id=event.member.id,
                first_seen=at,
                **member,
            )
        )


class SqlStore(WordsStoreMixin, ComplianceStoreMixin):
    """Durable state in a SQL database. Create with :meth:`open`."""

    def __init__(self, engine: AsyncEngine) -> None:
        super().__init__(engine)
        self._cases = Batcher(self._open_cases)
        self._outcomes = Batcher(self._record_outcomes)
        self._members = Batcher(self._note_members)

    @classmethod
    async def open(cls, url: str) -> SqlStore:
        parsed = make_url(url)
        kwargs: dict[str, Any] = {}
        if parsed.get_backend_name() == "sqlite" and parsed.database in (None, "", ":memory:"):
            # An in-memory database lives in its one connection. Lend it to one user at a
            # time: shared (StaticPool), a reader's rollback on return undid another task's
            # uncommitted write transaction, so concurrent writes were silently lost.
            kwargs = {
                "poolclass": AsyncAdaptedQueuePool,
                "pool_size": 1,
                "max_overflow": 0,
                "connect_args": {"check_same_thread": False},
            }
        engine = create_async_engine(url, **kwargs)
        if parsed.get_backend_name() == "sqlite":
            event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        await migrate.upgrade(engine)
        return cls(engine)

    async def close(self) -> None:
        await self.engine.dispose()

    # -- members and groups -------------------------------------------------

    async def claim_message(self, group_id: str, message_id: str, at: datetime) -> bool:
        try:
            async with self._write() as conn:
                await conn.execute(
                    insert(handled_messages).values(group_id=group_id, message_id=message_id, at=at)
                )
        except IntegrityError:
            return False
        return True

    async def note_member(self, event: ChatEvent) -> None:
        await self._members.submit(event)

    async def _note_members(self, events: list[ChatEvent]) -> list[None]:
        async with self._write() as conn:
            for event in events:
                await _note_member(conn, event)
        return [None] * len(events)

    # -- strikes and cases --------------------------------------------------

    async def strike_weight(self, group_id: str, member_id: str, since: datetime) -> int:
        query = (
            select(func.coalesce(func.sum(strikes.c.weight), 0))
            .where(strikes.c.group_id == group_id)
            .where(strikes.c.member_id == member_id)
            .where(strikes.c.at >= since)
            .where(strikes.c.voided.is_(False))
        )
        async with self.engine.connect() as conn:
            return int((await conn.execute(query)).scalar_one())

    async def add_strike(self, strike: Strike) -> None:
        async with self._write() as conn:
            await conn.execute(insert(strikes).values(_strike_row(strike)))

    async def open_case(
        self,
        event: ChatEvent,
        findings: tuple[Finding, ...],
        step: int,
        at: datetime,
        strike_weight: int = 0,
    ) -> int:
        return await self._cases.submit(_NewCase(event, findings, step, at, strike_weight))

    async def _open_cases(self, new: list[_NewCase]) -> list[int]:
        rows = []
        for case in new:
            evidence = masked_text(case.event.text, case.findings)
            rows.append(
                {
                    "group_id": case.event.group_id,
                    "member_id": case.event.member.id,
                    "member_card": case.event.member.card,
                    "message_id": case.event.message_id,
                    "evidence": evidence,
                    "normalized": fold(evidence),
                    "findings": [dataclasses.asdict(f) for f in case.findings],
                    "step": case.step,
                    "status": "open",
                    "created_at": case.at,
                }
            )
        async with self._write() as conn:
            result = await conn.execute(
                insert(cases).returning(cases.c.id, sort_by_parameter_order=True), rows
            )
            case_ids = [int(case_id) for case_id in result.scalars()]
            strike_rows = [
                _strike_row(
                    Strike(c.event.group_id, c.event.member.id, c.strike_weight, c.at, case_id)
                )
                for c, case_id in zip(new, case_ids, strict=True)
                if c.strike_weight
            ]
            if strike_rows:
                await conn.execute(insert(strikes), strike_rows)
        return case_ids

    async def record_outcomes(
        self, case_id: int, outcomes: tuple[Outcome, ...], at: datetime
    ) -> None:
        if outcomes:
            await self._outcomes.submit(_Outcomes(case_id, outcomes, at))

    async def _record_outcomes(self, batch: list[_Outcomes]) -> list[None]:
        rows = [
            {
                "case_id": item.case_id,
                "kind": o.action.kind.value,
                "target_id": o.action.target_id,
                "status": o.status.value,
                "detail": o.detail,
                "duration_s": _seconds(o.action.duration),
                "at": item.at,
            }
            for item in batch
            for o in item.outcomes
        ]
        async with self._write() as conn:
            await conn.execute(insert(actions), rows)
        return [None] * len(batch)

    # -- officer outbox -----------------------------------------------------

    async def enqueue_report(
        self,
        officer_id: str,
        text: str,
        case_id: int | None,
        at: datetime,
        due: datetime | None = None,
    ) -> int:
        async with self._write() as conn:
            result = await conn.execute(
                insert(outbox)
                .values(
                    officer_id=officer_id,
                    text=text,
                    case_id=case_id,
                    created_at=at,
                    next_attempt_at=due or at,
                    attempts=0,
                    last_error="",
                )
                .returning(outbox.c.id)
            )
            return int(result.scalar_one())

    async def due_reports(self, now: datetime, limit: int = 50) -> list[OutboxItem]:
        query = (
            select(outbox.c.id, outbox.c.officer_id, outbox.c.text, outbox.c.attempts)
            .add_columns(outbox.c.case_id)
            .where(outbox.c.sent_at.is_(None))
            .where(outbox.c.next_attempt_at <= now)
            .order_by(outbox.c.id)
            .limit(limit)
        )
        async with self.engine.connect() as conn:
            rows = (await conn.execute(query)).all()
        return [OutboxItem(r.id, r.officer_id, r.text, r.attempts, r.case_id) for r in rows]

    async def mark_report_sent(self, item_id: int, at: datetime) -> None:
        async with self._write() as conn:
            await conn.execute(
                update(outbox)
                .where(outbox.c.id == item_id)
                .values(sent_at=at, attempts=outbox.c.attempts + 1)
            )

    async def mark_report_failed(self, item_id: int, error: str, retry_at: datetime) -> None:
        async with self._write() as conn:
            await conn.execute(
                update(outbox)
                .where(outbox.c.id == item_id)
                .values(
                    attempts=outbox.c.attempts + 1,
                    last_error=error[:1000],
                    next_attempt_at=retry_at,
                )
            )

    # -- audit log ----------------------------------------------------------

    async def record_audit(self, entry: AuditEntry) -> None:
        async with self._write() as conn:
            await conn.execute(insert(audit_log).values(**dataclasses.asdict(entry)))
