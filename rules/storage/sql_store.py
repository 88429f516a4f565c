"""SqlStore: the Store port on SQLAlchemy 2 async (aiosqlite by default, asyncpg too).

``SqlStore.open(url)`` creates the engine, applies migrations and, for SQLite,
turns on WAL, foreign keys and a busy timeout. ``sqlite+aiosqlite://`` with no
path is an in-memory database (used by ``scan`` without ``--db`` and by tests).

What every violation touches (claim, strike read, case and strike, outcomes,
officer report and its delivery marks) and the first sight of a member are
group-committed: concurrent calls share one transaction or query
(:class:`rules.batching.Batcher`), with one statement per kind of row. Through
SQLAlchemy and aiosqlite a transaction costs about a millisecond of CPU and
nine thread hand-offs whatever it holds, and SQLite takes one writer at a
time, so one transaction per call capped the bot at a few hundred violations
per second and made every write queue behind the others. Each call still
returns only once its rows are committed.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import (
    Column,
    ColumnElement,
    Table,
    and_,
    bindparam,
    event,
    insert,
    or_,
    select,
    update,
)
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


def _fields(value: Any) -> dict[str, Any]:
    """A flat dataclass as a dict (``dataclasses.asdict`` deep-copies: slow on the hot path)."""
    return {f.name: getattr(value, f.name) for f in dataclasses.fields(value)}


def _strike_row(strike: Strike) -> dict[str, object]:
    return {**_fields(strike), "voided": False}


def _seconds(value: timedelta | None) -> int | None:
    return None if value is None else int(value.total_seconds())


@dataclasses.dataclass(frozen=True, slots=True)
class _Claim:
    group_id: str
    message_id: str
    at: datetime


@dataclasses.dataclass(frozen=True, slots=True)
class _WeightQuery:
    group_id: str
    member_id: str
    since: datetime


@dataclasses.dataclass(frozen=True, slots=True)
class _Report:
    officer_id: str
    text: str
    case_id: int | None
    at: datetime
    due: datetime | None


@dataclasses.dataclass(frozen=True, slots=True)
class _ReportMark:
    item_id: int
    at: datetime  # sent at, or next attempt at
    sent: bool
    error: str = ""


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


def _pairs_in(
    first: Column[str], second: Column[str], pairs: Iterable[tuple[str, str]]
) -> ColumnElement[bool]:
    """``(first, second) IN pairs``, written so SQLite searches the (first, second) index.

    Given a row-value IN list, SQLite scans the whole table; one ``first = ? AND
    second IN (...)`` per distinct ``first`` is an index search each.
    """
    by_first: dict[str, set[str]] = {}
    for a, b in pairs:
        by_first.setdefault(a, set()).add(b)
    return or_(*(and_(first == a, second.in_(sorted(bs))) for a, bs in by_first.items()))


async def _insert_returning_ids(
    conn: AsyncConnection, table: Table, rows: list[dict[str, Any]], key: tuple[str, ...]
) -> list[int]:
    """Insert ``rows``; their new ids, in order.

    One multi-row statement when ``key`` tells the rows apart (RETURNING comes back in
    no set order, and SQLAlchemy can only keep the order on SQLite by sending one row
    per statement); otherwise one statement per row.
    """
    keys = [tuple(row[k] for k in key) for row in rows]
    if len(set(keys)) == len(keys):
        stmt = insert(table).returning(table.c.id, *(table.c[k] for k in key))
        by_key = {tuple(found[1:]): int(found[0]) for found in await conn.execute(stmt, rows)}
        return [by_key[k] for k in keys]
    stmt = insert(table).returning(table.c.id)
    return [int((await conn.execute(stmt, row)).scalar_one()) for row in rows]


async def _upsert_groups(conn: AsyncConnection, events: list[ChatEvent]) -> None:
    """Record each event's group (first seen, last activity): one statement per kind."""
    latest = {e.group_id: e for e in events}
    known = set(
        (await conn.execute(select(groups.c.id).where(groups.c.id.in_(list(latest))))).scalars()
    )
    if known:
        await conn.execute(
            update(groups)
            .where(groups.c.id == bindparam("key"))
            .values(last_activity=bindparam("seen")),
            [{"key": g, "seen": e.time} for g, e in latest.items() if g in known],
        )
    new = [
        {
            "id": g,
            "platform": e.platform.value,
            "name": "",
            "first_seen": e.time,
            "last_activity": e.time,
        }
        for g, e in latest.items()
        if g not in known
    ]
    if new:
        await conn.execute(insert(groups), new)


async def _upsert_members(conn: AsyncConnection, events: list[ChatEvent]) -> None:
    """Record each event's member (card, nickname, role, last seen): one statement per kind."""
    latest = {(e.group_id, e.member.id): e for e in events}  # the last word wins
    known = {
        (g, m)
        for g, m in await conn.execute(
            select(members.c.group_id, members.c.member_id).where(
                _pairs_in(members.c.group_id, members.c.member_id, latest)
            )
        )
    }
    if known:
        await conn.execute(
            update(members)
            .where(members.c.group_id == bindparam("g"))
            .where(members.c.member_id == bindparam("m"))
            .values(
                card=bindparam("new_card"),
                nickname=bindparam("new_nickname"),
                role=bindparam("new_role"),
                last_seen=bindparam("seen"),
            ),
            [
                {
                    "g": g,
                    "m": m,
                    "new_card": e.member.card,
                    "new_nickname": e.member.nickname,
                    "new_role": e.member.role.value,
                    "seen": e.time,
                }
                for (g, m), e in latest.items()
                if (g, m) in known
            ],
        )
    new = [
        {
            "group_id": g,
            "member_id": m,
            "card": e.member.card,
            "nickname": e.member.nickname,
            "role": e.member.role.value,
            "first_seen": e.time,
            "last_seen": e.time,
        }
        for (g, m), e in latest.items()
        if (g, m) not in known
    ]
    if new:
        await conn.execute(insert(members), new)


class SqlStore(WordsStoreMixin, ComplianceStoreMixin):
    """Durable state in a SQL database. Create with :meth:`open`."""

    def __init__(self, engine: AsyncEngine) -> None:
        super().__init__(engine)
        self._claims = Batcher(self._claim_messages)
        self._weights = Batcher(self._strike_weights)
        self._cases = Batcher(self._open_cases)
        self._outcomes = Batcher(self._record_outcomes)
        self._reports = Batcher(self._enqueue_reports)
        self._report_marks = Batcher(self._mark_reports)
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
        return await self._claims.submit(_Claim(group_id, message_id, at))

    async def _claim_messages(self, claims: list[_Claim]) -> list[bool]:
        """True for the first sight of a (group, message), in the store or in this batch."""
        keys = [(c.group_id, c.message_id) for c in claims]
        try:
            async with self._write() as conn:
                taken = {
                    (g, m)
                    for g, m in await conn.execute(
                        select(handled_messages.c.group_id, handled_messages.c.message_id).where(
                            _pairs_in(
                                handled_messages.c.group_id, handled_messages.c.message_id, keys
                            )
                        )
                    )
                }
                first: list[bool] = []
                for k in keys:
                    first.append(k not in taken)
                    taken.add(k)
                rows = [
                    {"group_id": c.group_id, "message_id": c.message_id, "at": c.at}
                    for c, fresh in zip(claims, first, strict=True)
                    if fresh
                ]
                if rows:
                    await conn.execute(insert(handled_messages), rows)
        except IntegrityError:  # claimed meanwhile by another process (PostgreSQL)
            if len(claims) > 1:
                raise  # the batcher retries each claim alone
            return [False]
        return first

    async def note_member(self, event: ChatEvent) -> None:
        await self._members.submit(event)

    async def _note_members(self, events: list[ChatEvent]) -> list[None]:
        async with self._write() as conn:
            await _upsert_groups(conn, events)
            await _upsert_members(conn, events)
        return [None] * len(events)

    # -- strikes and cases --------------------------------------------------

    async def strike_weight(self, group_id: str, member_id: str, since: datetime) -> int:
        return await self._weights.submit(_WeightQuery(group_id, member_id, since))

    async def _strike_weights(self, queries: list[_WeightQuery]) -> list[int]:
        """Each query's sum of unvoided strike weights since its own ``since``."""
        members_asked = [(q.group_id, q.member_id) for q in queries]
        query = (
            select(strikes.c.group_id, strikes.c.member_id, strikes.c.weight, strikes.c.at)
            .where(_pairs_in(strikes.c.group_id, strikes.c.member_id, members_asked))
            .where(strikes.c.at >= min(q.since for q in queries))
            .where(strikes.c.voided.is_(False))
        )
        weights: dict[tuple[str, str], list[tuple[datetime, int]]] = {}
        async with self.engine.connect() as conn:
            for group_id, member_id, weight, at in await conn.execute(query):
                weights.setdefault((group_id, member_id), []).append((at, weight))
        return [
            sum(w for at, w in weights.get((q.group_id, q.member_id), ()) if at >= q.since)
            for q in queries
        ]

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
                    "findings": [_fields(f) for f in case.findings],
                    "step": case.step,
                    "status": "open",
                    "created_at": case.at,
                }
            )
        async with self._write() as conn:
            case_ids = await _insert_returning_ids(
                conn, cases, rows, ("group_id", "member_id", "message_id")
            )
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
        return await self._reports.submit(_Report(officer_id, text, case_id, at, due))

    async def _enqueue_reports(self, reports: list[_Report]) -> list[int]:
        rows = [
            {
                "officer_id": r.officer_id,
                "text": r.text,
                "case_id": r.case_id,
                "created_at": r.at,
                "next_attempt_at": r.due or r.at,
                "attempts": 0,
                "last_error": "",
            }
            for r in reports
        ]
        async with self._write() as conn:
            return await _insert_returning_ids(conn, outbox, rows, ("officer_id", "case_id"))

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
        await self._report_marks.submit(_ReportMark(item_id, at, sent=True))

    async def mark_report_failed(self, item_id: int, error: str, retry_at: datetime) -> None:
        await self._report_marks.submit(_ReportMark(item_id, retry_at, sent=False, error=error))

    async def _mark_reports(self, marks: list[_ReportMark]) -> list[None]:
        sent = [{"key": m.item_id, "when": m.at} for m in marks if m.sent]
        failed = [
            {"key": m.item_id, "when": m.at, "error": m.error[:1000]} for m in marks if not m.sent
        ]
        async with self._write() as conn:
            if sent:
                await conn.execute(
                    update(outbox)
                    .where(outbox.c.id == bindparam("key"))
                    .values(sent_at=bindparam("when"), attempts=outbox.c.attempts + 1),
                    sent,
                )
            if failed:
                await conn.execute(
                    update(outbox)
                    .where(outbox.c.id == bindparam("key"))
                    .values(
                        attempts=outbox.c.attempts + 1,
                        last_error=bindparam("error"),
                        next_attempt_at=bindparam("when"),
                    ),
                    failed,
                )
        return [None] * len(marks)

    # -- audit log ----------------------------------------------------------

    async def record_audit(self, entry: AuditEntry) -> None:
        async with self._write() as conn:
            await conn.execute(insert(audit_log).values(**dataclasses.asdict(entry)))
