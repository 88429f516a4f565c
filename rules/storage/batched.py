"""The store's hot path: what every violation (and a member's first sight) writes or reads.

Mixed into :class:`rules.storage.sql_store.SqlStore`. Two costs shaped it:

- **Per call**: through SQLAlchemy's asyncio layer and aiosqlite, every statement,
  cursor, commit and pool reset is a hand-off to the connection's thread and back:
  nine for a one-row claim, about 1.7 ms of CPU and, on a busy event loop, a wait
  for the loop at each step, all while holding SQLite's one write lock. So on a
  SQLite file each transaction here is one hand-off to a worker thread that runs
  the statements through ``sqlite3`` itself (:mod:`rules.storage.raw_sqlite`:
  SQLAlchemy's per-statement work cost more than SQLite's). In memory, where the
  database lives in the async engine's one connection, and on PostgreSQL, the
  same work runs as SQLAlchemy statements (:class:`AlchemyOps`) through
  ``AsyncConnection.run_sync``.
- **Per row**: concurrent calls are group-committed (:class:`rules.core.batching.Batcher`):
  while one batch runs, the next collects, and each batch is one transaction
  with one statement per kind of row. Writes that are not needed for the next
  decision (outcomes, reports, members) also wait a few milliseconds for company.

Every call still returns only once its rows are committed.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any, Protocol, TypeVar

from sqlalchemy import (
    Connection,
    Table,
    bindparam,
    func,
    insert,
    select,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncEngine

from rules.core.batching import Batcher
from rules.core.model import ChatEvent, Finding, Outcome, Strike, masked_text
from rules.storage.base import StoreBase
from rules.storage.raw_sqlite import KEYS, REFRESH, SqliteFile, apply_pragmas
from rules.storage.tables import (
    actions,
    cases,
    groups,
    handled_messages,
    members,
    outbox,
    strikes,
)
from rules.text.normalize import fold

R = TypeVar("R")

LINGER = 0.005  # seconds a write nobody waits on to decide may wait for others


def sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    """SQLAlchemy's ``connect`` event: :func:`~rules.storage.raw_sqlite.apply_pragmas`."""
    apply_pragmas(dbapi_connection)


def fields(value: Any) -> dict[str, Any]:
    """A flat dataclass as a dict (``dataclasses.asdict`` deep-copies: slow on the hot path)."""
    return {f.name: getattr(value, f.name) for f in dataclasses.fields(value)}


def strike_row(strike: Strike) -> dict[str, object]:
    return {**fields(strike), "voided": False}


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


@dataclasses.dataclass(frozen=True, slots=True)
class _Report:
    officer_id: str
    text: str
    case_id: int | None
    at: datetime
    due: datetime | None
    held: bool


@dataclasses.dataclass(frozen=True, slots=True)
class _ReportMark:
    item_id: int
    at: datetime  # sent at, or next attempt at
    sent: bool
    error: str = ""


class BatchedStoreMixin(StoreBase):
    """Claims, strike reads, cases, outcomes, reports and members, batched (see module doc)."""

    def __init__(self, engine: AsyncEngine) -> None:
        super().__init__(engine)
        url = engine.url
        self._file: SqliteFile | None = None  # a SQLite file: the hot path bypasses SQLAlchemy
        if url.get_backend_name() == "sqlite" and url.database not in (None, "", ":memory:"):
            self._file = SqliteFile(url.database)
        self._claims = Batcher(self._claim_messages)
        self._weights = Batcher(self._strike_weights)
        self._cases = Batcher(self._open_cases)
        self._outcomes = Batcher(self._record_outcomes, linger=LINGER)
        self._reports = Batcher(self._enqueue_reports, linger=LINGER)
        self._report_marks = Batcher(self._mark_reports, linger=LINGER)
        self._members = Batcher(self._note_members, linger=LINGER)

    async def _close_batched(self) -> None:
        # what was submitted before the close still lands (outcomes linger for company)
        for batcher in (
            self._claims,
            self._weights,
            self._cases,
            self._outcomes,
            self._reports,
            self._report_marks,
            self._members,
        ):
            await batcher.flush()
        if self._file is not None:
            await self._file.close()

    async def _transaction(self, work: Callable[[Ops], R]) -> R:
        """Run ``work`` in one write transaction (serialised with every other write)."""
        if self._file is None:
            async with self._write() as conn:
                return await conn.run_sync(lambda sync: work(AlchemyOps(sync)))
        assert self._write_lock is not None  # SQLite always has one
        async with self._write_lock:
            return await self._file.write(work)

    async def _query(self, work: Callable[[Ops], R]) -> R:
        if self._file is None:
            async with self.engine.connect() as conn:
                return await conn.run_sync(lambda sync: work(AlchemyOps(sync)))
        return await self._file.read(work)

    # -- claims and strikes -------------------------------------------------

    async def claim_message(self, group_id: str, message_id: str, at: datetime) -> bool:
        return await self._claims.submit(_Claim(group_id, message_id, at))

    async def _claim_messages(self, claims: list[_Claim]) -> list[bool]:
        return await self._transaction(lambda ops: _claim_rows(ops, claims))

    async def strike_weight(self, group_id: str, member_id: str, since: datetime) -> int:
        return await self._weights.submit(_WeightQuery(group_id, member_id, since))

    async def _strike_weights(self, queries: list[_WeightQuery]) -> list[int]:
        return await self._query(
            lambda ops: ops.strike_weights([(q.group_id, q.member_id, q.since) for q in queries])
        )

    # -- cases and outcomes -------------------------------------------------

    async def open_case(
        self,
        event: ChatEvent,
        findings: tuple[Finding, ...],
        step: int,
        at: datetime,
        strike_weight: int = 0,
    ) -> int:
        """Record a decision's evidence (and its strike, in the same transaction); its id."""
        return await self._cases.submit(_NewCase(event, findings, step, at, strike_weight))

    async def _open_cases(self, new: list[_NewCase]) -> list[int]:
        return await self._transaction(lambda ops: _case_rows(ops, new))

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
        await self._transaction(lambda ops: ops.insert("actions", rows))
        return [None] * len(batch)

    # -- officer reports ----------------------------------------------------

    async def enqueue_report(
        self,
        officer_id: str,
        text: str,
        case_id: int | None,
        at: datetime,
        due: datetime | None = None,
        held: bool = False,
    ) -> int:
        """Queue a report for an officer, to be sent from ``due`` (default: at once).

        A ``held`` report is not sent on its own: it waits for the officer's digest.
        """
        return await self._reports.submit(_Report(officer_id, text, case_id, at, due, held))

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
                "kind": "held" if r.held else "report",
            }
            for r in reports
        ]
        return await self._transaction(lambda ops: ops.insert_ids("outbox", rows))

    async def mark_report_sent(self, item_id: int, at: datetime) -> None:
        await self._report_marks.submit(_ReportMark(item_id, at, sent=True))

    async def mark_report_failed(self, item_id: int, error: str, retry_at: datetime) -> None:
        await self._report_marks.submit(_ReportMark(item_id, retry_at, sent=False, error=error))

    async def _mark_reports(self, marks: list[_ReportMark]) -> list[None]:
        sent = [(m.item_id, m.at) for m in marks if m.sent]
        failed = [(m.item_id, m.at, m.error[:1000]) for m in marks if not m.sent]
        await self._transaction(lambda ops: ops.mark_reports(sent, failed))
        return [None] * len(marks)

    # -- members ------------------------------------------------------------

    async def note_member(self, event: ChatEvent) -> None:
        """Remember the group and the member (card, role, last seen)."""
        await self._members.submit(event)

    async def _note_members(self, events: list[ChatEvent]) -> list[None]:
        def upsert(ops: Ops) -> None:
            ops.insert("groups", _group_rows(events))
            ops.insert("members", _member_rows(events))

        await self._transaction(upsert)
        return [None] * len(events)


# ---------------------------------------------------------------------- the statements


class Ops(Protocol):
    """The hot path's statements on one connection, in one transaction (or read).

    Rows are dicts in column order; every row of one call has the same columns.
    Implemented by :class:`AlchemyOps` and :class:`rules.storage.raw_sqlite.RawOps`.
    """

    def claim(self, rows: Sequence[Mapping[str, Any]]) -> set[tuple[str, str]]: ...

    def strike_weights(self, queries: Sequence[tuple[str, str, datetime]]) -> list[int]: ...

    def insert(self, table: str, rows: Sequence[Mapping[str, Any]]) -> None: ...

    def insert_ids(self, table: str, rows: Sequence[Mapping[str, Any]]) -> list[int]: ...

    def mark_reports(
        self, sent: Sequence[tuple[int, datetime]], failed: Sequence[tuple[int, datetime, str]]
    ) -> None: ...


def _expanding(name: str) -> Any:
    return bindparam(name, expanding=True)


# Built once: SQLAlchemy then reuses their cache keys and compiled forms. Pairs are
# looked up as ``a IN (...) AND b IN (...)`` (an index search on SQLite, which scans
# the table for a row-value IN list), then filtered to the exact pairs in Python.
_STRIKE_FILTER = (
    strikes.c.group_id.in_(_expanding("groups")),
    strikes.c.member_id.in_(_expanding("ids")),
    strikes.c.voided.is_(False),
)
# Summed in the database: a member's whole strike history is never fetched row by row.
_STRIKE_SUMS = (
    select(strikes.c.group_id, strikes.c.member_id, func.sum(strikes.c.weight))
    .where(*_STRIKE_FILTER, strikes.c.at >= bindparam("since"))
    .group_by(strikes.c.group_id, strikes.c.member_id)
)
_STRIKES_BETWEEN = select(
    strikes.c.group_id, strikes.c.member_id, strikes.c.weight, strikes.c.at
).where(*_STRIKE_FILTER, strikes.c.at >= bindparam("since"), strikes.c.at < bindparam("until"))
_REPORT_SENT = (
    update(outbox)
    .where(outbox.c.id == bindparam("key"))
    .values(sent_at=bindparam("when"), attempts=outbox.c.attempts + 1, image=None)
)
_REPORT_FAILED = (
    update(outbox)
    .where(outbox.c.id == bindparam("key"))
    .values(
        attempts=outbox.c.attempts + 1,
        last_error=bindparam("error"),
        next_attempt_at=bindparam("when"),
    )
)
_TABLES = {t.name: t for t in (handled_messages, groups, members, cases, strikes, actions, outbox)}
_INSERT = {name: insert(table) for name, table in _TABLES.items()}
# What ``insert_ids`` returns after the id: what tells a batch's rows apart.
_RETURNING_KEY = {
    "cases": ("group_id", "member_id", "message_id"),
    "outbox": ("officer_id", "case_id"),
}
_INSERT_RETURNING = {
    name: insert(_TABLES[name]).returning(_TABLES[name].c.id, *(_TABLES[name].c[k] for k in key))
    for name, key in _RETURNING_KEY.items()
}
_INSERT_ONE = {name: insert(_TABLES[name]).returning(_TABLES[name].c.id) for name in _RETURNING_KEY}


def _conflict_safe(dialect: Any, table: Table) -> Any:
    """Insert rows; a row whose key exists already (another process was first) updates
    the columns in ``REFRESH`` (or is skipped, returning the keys of the rows that went in)."""
    keys = list(KEYS[table.name])
    refresh = REFRESH[table.name]
    stmt = dialect.insert(table)
    if refresh:
        return stmt.on_conflict_do_update(
            index_elements=keys, set_={name: stmt.excluded[name] for name in refresh}
        )
    return stmt.on_conflict_do_nothing(index_elements=keys).returning(
        *(table.c[name] for name in keys)
    )


_NEW_ROWS = {
    dialect.dialect.name: {name: _conflict_safe(dialect, _TABLES[name]) for name in REFRESH}
    for dialect in (postgresql, sqlite)
}


class AlchemyOps:
    """:class:`Ops` as SQLAlchemy statements, one statement per kind of row."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def _statement(self, table: str) -> Any:
        if table in REFRESH:  # rows two processes may race to add
            return _NEW_ROWS[self.conn.dialect.name][table]
        return _INSERT[table]

    def claim(self, rows: Sequence[Mapping[str, Any]]) -> set[tuple[str, str]]:
        return {(g, m) for g, m in self.conn.execute(self._statement("handled_messages"), rows)}

    def strike_weights(self, queries: Sequence[tuple[str, str, datetime]]) -> list[int]:
        """The batch's windows start a few milliseconds apart: strikes since the latest
        start are summed per member in the database; the few between the earliest and
        the latest start are fetched and counted for the queries whose window holds them.
        """
        pairs = _pairs((g, m) for g, m, _ in queries)
        earliest, latest = min(q[2] for q in queries), max(q[2] for q in queries)
        found = self.conn.execute(_STRIKE_SUMS, {**pairs, "since": latest})
        sums = {(g, m): int(w) for g, m, w in found}
        edge: dict[tuple[str, str], list[tuple[datetime, int]]] = {}
        if earliest < latest:
            params = {**pairs, "since": earliest, "until": latest}
            for group_id, member_id, weight, at in self.conn.execute(_STRIKES_BETWEEN, params):
                edge.setdefault((group_id, member_id), []).append((at, weight))
        return [
            sums.get((g, m), 0) + sum(w for at, w in edge.get((g, m), ()) if at >= since)
            for g, m, since in queries
        ]

    def insert(self, table: str, rows: Sequence[Mapping[str, Any]]) -> None:
        if rows:
            self.conn.execute(self._statement(table), list(rows))

    def insert_ids(self, table: str, rows: Sequence[Mapping[str, Any]]) -> list[int]:
        """One multi-row statement when the key rows tell them apart (RETURNING comes
        back in no set order, and SQLAlchemy can only keep the order on SQLite by
        sending one row per statement); otherwise one statement per row."""
        key = _RETURNING_KEY[table]
        keys = [tuple(row[k] for k in key) for row in rows]
        if len(set(keys)) == len(keys):
            found = self.conn.execute(_INSERT_RETURNING[table], list(rows))
            by_key = {tuple(row[1:]): int(row[0]) for row in found}
            return [by_key[k] for k in keys]
        return [int(self.conn.execute(_INSERT_ONE[table], row).scalar_one()) for row in rows]

    def mark_reports(
        self, sent: Sequence[tuple[int, datetime]], failed: Sequence[tuple[int, datetime, str]]
    ) -> None:
        if sent:
            self.conn.execute(_REPORT_SENT, [{"key": i, "when": at} for i, at in sent])
        if failed:
            rows = [{"key": i, "when": at, "error": error} for i, at, error in failed]
            self.conn.execute(_REPORT_FAILED, rows)


def _pairs(pairs: Iterable[tuple[str, str]]) -> dict[str, list[str]]:
    """Bind values for a pair lookup: the distinct firsts and seconds."""
    firsts, seconds = set(), set()
    for a, b in pairs:
        firsts.add(a)
        seconds.add(b)
    return {"groups": sorted(firsts), "ids": sorted(seconds)}


def _claim_rows(ops: Ops, claims: list[_Claim]) -> list[bool]:
    """True for the first sight of a (group, message), in the store or in this batch.

    Each (group, message) is inserted once, skipping conflicts; only the rows that went
    in count, so one claimed earlier (or meanwhile by another process) is not first.
    """
    keys = [(c.group_id, c.message_id) for c in claims]
    rows: dict[tuple[str, str], dict[str, Any]] = {}
    for c, k in zip(claims, keys, strict=True):
        rows.setdefault(k, {"group_id": c.group_id, "message_id": c.message_id, "at": c.at})
    won = ops.claim(list(rows.values()))
    first: list[bool] = []
    for k in keys:
        first.append(k in won)
        won.discard(k)  # a second copy in the same batch is not first
    return first


def _case_rows(ops: Ops, new: list[_NewCase]) -> list[int]:
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
                "findings": [fields(f) for f in case.findings],
                "step": case.step,
                "status": "open",
                "created_at": case.at,
            }
        )
    case_ids = ops.insert_ids("cases", rows)
    strike_rows = [
        strike_row(Strike(c.event.group_id, c.event.member.id, c.strike_weight, c.at, case_id))
        for c, case_id in zip(new, case_ids, strict=True)
        if c.strike_weight
    ]
    ops.insert("strikes", strike_rows)
    return case_ids


def _group_rows(events: list[ChatEvent]) -> list[dict[str, Any]]:
    """Each event's group (first seen, last activity), once."""
    latest = {e.group_id: e for e in events}
    return [
        {
            "id": g,
            "platform": e.platform.value,
            "name": "",
            "first_seen": e.time,
            "last_activity": e.time,
        }
        for g, e in latest.items()
    ]


def _member_rows(events: list[ChatEvent]) -> list[dict[str, Any]]:
    """Each event's member (card, nickname, role, last seen), once: the last word wins."""
    latest = {(e.group_id, e.member.id): e for e in events}
    return [
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
    ]
