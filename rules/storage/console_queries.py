"""What the officer console reads, and its sign-in links and sessions.

Read queries for the console's pages (:class:`ConsoleQueries`), written with
SQLAlchemy Core on the moderation tables, and the store of one-time sign-in
links and sessions (:class:`SqlConsoleAuth`), kept in the database so that
several bot processes share them.

Scope is applied here, in SQL: every query takes the groups the viewer may
see (``None`` = every group, for superusers and global officers), so an object
outside them is simply not found.

The case list pages by keyset (``created_at, id`` below the last row shown),
never by OFFSET, so a deep page costs what the first does. Counting by
category reads the JSON findings inside the database (SQLite ``json_each``,
PostgreSQL ``json_array_elements``) instead of decoding them in Python.

Its two tables and the indexes the case list needs are in ``tables.py``
(migration 0005).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import (
    ColumnElement,
    Select,
    Text,
    and_,
    case,
    cast,
    delete,
    exists,
    func,
    insert,
    literal,
    or_,
    select,
    tuple_,
    update,
)

from rules.core.records import CaseRow as ExportRow
from rules.storage.base import Repository
from rules.storage.database import Database
from rules.storage.tables import (
    UtcDateTime,
    actions,
    audit_log,
    case_images,
    cases,
    console_daily,
    console_days,
    console_links,
    console_sessions,
    groups,
    member_compliance,
    members,
    strikes,
    tasks,
)

CASE_STATUSES = ("open", "upheld", "pardoned")
TASK_KINDS = ("appeal", "report", "review")
EVIDENCE_PREVIEW = 120  # characters of evidence shown in the case list


# ---------------------------------------------------------------- records


@dataclass(frozen=True, slots=True)
class Cursor:
    """Where a case list page ends: the last row's time and id (keyset pagination)."""

    created_at: datetime
    id: int

    def encode(self) -> str:
        return f"{int(self.created_at.timestamp() * 1_000_000)}.{self.id}"

    @classmethod
    def decode(cls, text: str) -> Cursor | None:
        """The cursor in ``text``, or None when it is not one (never raises)."""
        from datetime import UTC

        micros, dot, case_id = text.partition(".")
        if not dot or not micros.isdigit() or not case_id.isdigit() or len(text) > 40:
            return None
        if int(case_id) >= 2**63:
            return None
        try:
            at = datetime.fromtimestamp(int(micros) / 1_000_000, UTC)
        except (OverflowError, OSError, ValueError):
            return None
        return cls(at, int(case_id))


@dataclass(frozen=True, slots=True)
class CaseFilter:
    """What the case list shows. ``scope``: the groups the viewer may see (None = all)."""

    scope: frozenset[str] | None
    group: str | None = None
    members: tuple[str, ...] = ()  # qualified ids (a bare number may be several platforms)
    category: str | None = None
    status: str | None = None
    since: datetime | None = None
    until: datetime | None = None


@dataclass(frozen=True, slots=True)
class CaseRow:
    id: int
    group_id: str
    member_id: str
    member_card: str
    preview: str
    categories: tuple[str, ...]
    status: str
    created_at: datetime
    step: int


@dataclass(frozen=True, slots=True)
class CasePage:
    rows: list[CaseRow]
    next_cursor: Cursor | None


@dataclass(frozen=True, slots=True)
class ActionRow:
    kind: str
    target_id: str
    status: str
    detail: str
    duration_s: int | None
    at: datetime


@dataclass(frozen=True, slots=True)
class StrikeRow:
    case_id: int | None
    weight: int
    at: datetime
    voided: bool


@dataclass(frozen=True, slots=True)
class TaskRow:
    id: int
    kind: str
    group_id: str
    case_id: int | None
    requester_id: str
    subject_id: str
    text: str
    evidence: str
    status: str
    created_at: datetime


@dataclass(frozen=True, slots=True)
class ImageRow:
    """A picture kept with a case: what was seen in it (its thumbnail is fetched apart)."""

    position: int
    width: int
    height: int
    text: str
    codes: tuple[str, ...]
    problem: str


@dataclass(frozen=True, slots=True)
class TaskCase:
    """What a to-do item shows of its case: the evidence and the findings."""

    id: int
    member_id: str
    member_card: str
    evidence: str
    findings: list[dict[str, Any]]
    status: str


@dataclass(frozen=True, slots=True)
class CaseDetail:
    case: CaseRow
    evidence: str  # whole, PII masked
    findings: list[dict[str, Any]]
    actions: list[ActionRow]
    strikes: list[StrikeRow]  # the member's in this group, newest first
    member_cases: list[CaseRow]  # the member's other recent cases in this group
    tasks: list[TaskRow]  # appeals, reports and review items about this case
    images: list[ImageRow] = field(default_factory=list)  # pictures kept as evidence


@dataclass
class Counts:
    """What happened in a window, for the overview: per day (oldest first) and per key."""

    days: list[int]
    by_group: dict[str, int] = field(default_factory=dict)
    by_category: dict[str, int] = field(default_factory=dict)
    by_action: dict[str, int] = field(default_factory=dict)  # carried out (done, substituted)
    failed: int = 0  # actions that failed

    def plus(self, other: Counts) -> Counts:
        """Both windows together (their days one after the other)."""

        def add(a: dict[str, int], b: dict[str, int]) -> dict[str, int]:
            return {k: a.get(k, 0) + b.get(k, 0) for k in a.keys() | b.keys()}

        return Counts(
            days=self.days + other.days,
            by_group=add(self.by_group, other.by_group),
            by_category=add(self.by_category, other.by_category),
            by_action=add(self.by_action, other.by_action),
            failed=self.failed + other.failed,
        )


@dataclass(frozen=True, slots=True)
class FailedRow:
    case_id: int
    group_id: str
    member_id: str
    kind: str
    detail: str
    at: datetime


@dataclass(frozen=True, slots=True)
class Attention:
    """What waits for someone: recent failed actions, open cases, open appeals and reports."""

    failed: list[FailedRow]
    open_cases: int
    open_tasks: int
    tasks_by_kind: dict[str, int] = field(default_factory=dict)  # appeal, report, review


@dataclass(frozen=True, slots=True)
class GroupRow:
    id: str
    name: str
    last_activity: datetime


@dataclass(frozen=True, slots=True)
class ComplianceRow:
    """A member whose card is not compliant, and where their grace timeline stands."""

    member_id: str
    card: str
    problem: str
    first_flagged_at: datetime
    last_reminded_at: datetime | None
    acted_at: datetime | None


@dataclass(frozen=True, slots=True)
class AuditRow:
    id: int
    actor_id: str
    group_id: str | None
    command: str
    outcome: str
    at: datetime


# ---------------------------------------------------------------- queries


def _categories(findings: Sequence[Any]) -> tuple[str, ...]:
    """A case's categories, each once (a finding without one counts as its detector)."""
    names = (str(f.get("category") or f.get("detector") or "?") for f in findings)
    return tuple(dict.fromkeys(names))


def _case_row(r: Any, preview: str | None = None) -> CaseRow:
    return CaseRow(
        id=int(r.id),
        group_id=r.group_id,
        member_id=r.member_id,
        member_card=r.member_card or "",
        preview=preview if preview is not None else r.preview,
        categories=_categories(r.findings or []),
        status=r.status,
        created_at=r.created_at,
        step=int(r.step),
    )


def _in_scope(column: Any, scope: Collection[str] | None) -> ColumnElement[bool]:
    return literal(True) if scope is None else column.in_(sorted(scope))


class ConsoleQueries(Repository):
    """Read queries for the console's pages, on the bot's database."""

    def __init__(self, database: Database) -> None:
        super().__init__(database)
        self.dialect = database.dialect

    # -- findings inside the database ---------------------------------------

    def _finding_category(self) -> tuple[Any, ColumnElement[Any]]:
        """A table of one case's findings, and each finding's category (or its detector)."""
        category: ColumnElement[Any]
        detector: ColumnElement[Any]
        if self.dialect == "postgresql":
            each = func.json_array_elements(cases.c.findings).table_valued("value").alias("f")
            category = each.c.value.op("->>")("category")
            detector = each.c.value.op("->>")("detector")
        else:
            each = func.json_each(cases.c.findings).table_valued("value").alias("f")
            category = func.json_extract(each.c.value, "$.category")
            detector = func.json_extract(each.c.value, "$.detector")
        return each, func.coalesce(func.nullif(category, ""), detector, "?")

    def _has_category(self, category: str) -> ColumnElement[bool]:
        each, name = self._finding_category()
        # A cheap text test first, so only cases that mention the name are parsed.
        text = cast(cases.c.findings, Text)
        quoted = {json.dumps(category), json.dumps(category, ensure_ascii=False)}
        mentions = or_(*(text.contains(q, autoescape=True) for q in sorted(quoted)))
        return and_(mentions, exists(select(literal(1)).select_from(each).where(name == category)))

    # -- the case list -------------------------------------------------------

    def _case_query(self, flt: CaseFilter) -> Select[Any]:
        query = select(
            cases.c.id,
            cases.c.group_id,
            cases.c.member_id,
            cases.c.member_card,
            func.substr(cases.c.evidence, 1, EVIDENCE_PREVIEW).label("preview"),
            cases.c.findings,
            cases.c.status,
            cases.c.created_at,
            cases.c.step,
        ).where(_in_scope(cases.c.group_id, flt.scope))
        if flt.group is not None:
            query = query.where(cases.c.group_id == flt.group)
        if flt.members:
            query = query.where(cases.c.member_id.in_(flt.members))
        if flt.status is not None:
            query = query.where(cases.c.status == flt.status)
        if flt.since is not None:
            query = query.where(cases.c.created_at >= flt.since)
        if flt.until is not None:
            query = query.where(cases.c.created_at < flt.until)
        if flt.category is not None:
            query = query.where(self._has_category(flt.category))
        return query

    async def case_page(self, flt: CaseFilter, after: Cursor | None, limit: int = 50) -> CasePage:
        """One page of cases, newest first, starting below ``after``."""
        query = self._case_query(flt)
        if after is not None:
            query = query.where(
                tuple_(cases.c.created_at, cases.c.id)
                < tuple_(literal(after.created_at, UtcDateTime), literal(after.id))
            )
        query = query.order_by(cases.c.created_at.desc(), cases.c.id.desc()).limit(limit + 1)
        async with self._read() as conn:
            rows = (await conn.execute(query)).all()
        page = [_case_row(r) for r in rows[:limit]]
        more = len(rows) > limit
        return CasePage(page, Cursor(page[-1].created_at, page[-1].id) if more else None)

    async def export_rows(self, flt: CaseFilter, tz: str, limit: int) -> list[ExportRow]:
        """The cases the list shows with these filters, newest first, as export rows
        (``rules.officers.export``: evidence masked as stored, times in ``tz``)."""
        zone = ZoneInfo(tz)
        query = (
            self._case_query(flt)
            .add_columns(cases.c.evidence)
            .order_by(cases.c.created_at.desc(), cases.c.id.desc())
            .limit(limit)
        )
        async with self._read() as conn:
            found = (await conn.execute(query)).all()
            done: dict[int, list[str]] = {}
            ids = [int(r.id) for r in found]
            for start in range(0, len(ids), 1000):  # bounded IN lists
                rows = await conn.execute(
                    select(actions.c.case_id, actions.c.kind, actions.c.status)
                    .where(actions.c.case_id.in_(ids[start : start + 1000]))
                    .order_by(actions.c.id)
                )
                for case_id, kind, status in rows:
                    done.setdefault(int(case_id), []).append(f"{kind}:{status}")
        return [
            ExportRow(
                case=int(r.id),
                time=r.created_at.astimezone(zone).isoformat(timespec="seconds"),
                group=r.group_id,
                member=r.member_id,
                card=r.member_card or "",
                findings="; ".join(
                    f"{f.get('detector')}/{f.get('category') or '-'}「{f.get('match')}」"
                    for f in r.findings or []
                    if isinstance(f, dict)
                ),
                evidence=r.evidence,
                step=int(r.step),
                status=r.status,
                actions=", ".join(done.get(int(r.id), [])),
            )
            for r in found
        ]

    # -- one case ------------------------------------------------------------

    async def case_detail(
        self, case_id: int, scope: Collection[str] | None, history: int = 10
    ) -> CaseDetail | None:
        """A case with everything the case page shows; None when absent or out of scope."""
        query = select(cases, cases.c.evidence.label("preview")).where(
            cases.c.id == case_id, _in_scope(cases.c.group_id, scope)
        )
        async with self._read() as conn:
            row = (await conn.execute(query)).first()
            if row is None:
                return None
            case_row = _case_row(row)
            done = (
                await conn.execute(
                    select(actions).where(actions.c.case_id == case_id).order_by(actions.c.id)
                )
            ).all()
            member_strikes = (
                await conn.execute(
                    select(strikes.c.case_id, strikes.c.weight, strikes.c.at, strikes.c.voided)
                    .where(strikes.c.group_id == row.group_id, strikes.c.member_id == row.member_id)
                    .order_by(strikes.c.at.desc(), strikes.c.id.desc())
                    .limit(100)
                )
            ).all()
            others = (
                await conn.execute(
                    self._case_query(
                        CaseFilter(scope=None, group=row.group_id, members=(row.member_id,))
                    )
                    .where(cases.c.id != case_id)
                    .order_by(cases.c.created_at.desc(), cases.c.id.desc())
                    .limit(history)
                )
            ).all()
            about = (
                await conn.execute(
                    select(tasks).where(tasks.c.case_id == case_id).order_by(tasks.c.id)
                )
            ).all()
            pictures = (
                await conn.execute(
                    select(
                        case_images.c.position,
                        case_images.c.width,
                        case_images.c.height,
                        case_images.c.text,
                        case_images.c.codes,
                        case_images.c.problem,
                    )
                    .where(case_images.c.case_id == case_id)
                    .order_by(case_images.c.position)
                )
            ).all()
        return CaseDetail(
            case=case_row,
            evidence=row.evidence,
            findings=[dict(f) for f in row.findings or [] if isinstance(f, dict)],
            actions=[
                ActionRow(a.kind, a.target_id, a.status, a.detail or "", a.duration_s, a.at)
                for a in done
            ],
            strikes=[
                StrikeRow(s.case_id, int(s.weight), s.at, bool(s.voided)) for s in member_strikes
            ],
            member_cases=[_case_row(r) for r in others],
            tasks=[_task_row(t) for t in about],
            images=[
                ImageRow(
                    int(p.position),
                    int(p.width),
                    int(p.height),
                    p.text or "",
                    tuple(str(c) for c in p.codes or ()),
                    p.problem or "",
                )
                for p in pictures
            ],
        )

    async def case_thumbnail(
        self, case_id: int, position: int, scope: Collection[str] | None
    ) -> bytes | None:
        """A case picture's thumbnail (JPEG or WebP); None when absent or out of scope."""
        query = (
            select(case_images.c.thumbnail)
            .select_from(case_images.join(cases, cases.c.id == case_images.c.case_id))
            .where(
                case_images.c.case_id == case_id,
                case_images.c.position == position,
                _in_scope(cases.c.group_id, scope),
            )
        )
        async with self._read() as conn:
            data = (await conn.execute(query)).scalar()
        return None if data is None else bytes(data)

    # -- the overview --------------------------------------------------------

    async def daily_counts(
        self, scope: Collection[str] | None, day_starts: Sequence[datetime], end: datetime
    ) -> list[Counts]:
        """One :class:`Counts` per day, for cases created from ``day_starts[0]`` until ``end``.

        ``day_starts`` are local midnights computed by the caller in the
        configured time zone, so the database needs no time zone support.
        Actions count on their case's day (an action follows its case within
        seconds), which lets one range scan of the cases find them. The three
        counts run at once, each on its own connection.
        """
        day = case(
            *((cases.c.created_at >= b, i) for i, b in reversed(list(enumerate(day_starts)))),
            else_=0,
        ).label("day")
        in_window = and_(
            _in_scope(cases.c.group_id, scope),
            cases.c.created_at >= day_starts[0],
            cases.c.created_at < end,
        )
        each, name = self._finding_category()
        by_group, by_category, by_action = await asyncio.gather(
            self._rows(
                select(day, cases.c.group_id, func.count())
                .where(in_window)
                .group_by(day, cases.c.group_id)
            ),
            self._rows(
                select(day, name.label("category"), func.count(func.distinct(cases.c.id)))
                .select_from(cases.join(each, literal(True)))
                .where(in_window)
                .group_by(day, name)
            ),
            self._rows(
                select(day, actions.c.kind, actions.c.status, func.count())
                .select_from(cases.join(actions, actions.c.case_id == cases.c.id))
                .where(in_window)
                .group_by(day, actions.c.kind, actions.c.status)
            ),
        )
        result = [Counts(days=[0]) for _ in day_starts]
        for index, group_id, count in by_group:
            result[int(index)].days[0] += count
            result[int(index)].by_group[group_id] = count
        for index, category, count in by_category:
            result[int(index)].by_category[category] = count
        for index, kind, status, count in by_action:
            counts = result[int(index)]
            if status == "failed":
                counts.failed += count
            elif status in ("done", "substituted"):
                counts.by_action[kind] = counts.by_action.get(kind, 0) + count
        return result

    # -- the overview's counts per finished day (migration 0009) ------------

    async def day_rollup(
        self, day_starts: Sequence[datetime], end: datetime
    ) -> list[tuple[datetime, str, str, str, int]]:
        """(day, group, dimension, key, count) of every group, for cases created from
        ``day_starts[0]`` until ``end``: the rows :meth:`store_rollup` keeps.

        Dimensions: ``case`` (the day's cases, key ""), ``category`` (cases per
        category), ``action`` (actions carried out per kind), ``failed`` (key "").
        """
        day = case(
            *((cases.c.created_at >= b, i) for i, b in reversed(list(enumerate(day_starts)))),
            else_=0,
        ).label("day")
        in_window = and_(cases.c.created_at >= day_starts[0], cases.c.created_at < end)
        each, name = self._finding_category()
        by_group, by_category, by_action = await asyncio.gather(
            self._rows(
                select(day, cases.c.group_id, func.count())
                .where(in_window)
                .group_by(day, cases.c.group_id)
            ),
            self._rows(
                select(
                    day,
                    cases.c.group_id,
                    name.label("category"),
                    func.count(func.distinct(cases.c.id)),
                )
                .select_from(cases.join(each, literal(True)))
                .where(in_window)
                .group_by(day, cases.c.group_id, name)
            ),
            self._rows(
                select(day, cases.c.group_id, actions.c.kind, actions.c.status, func.count())
                .select_from(cases.join(actions, actions.c.case_id == cases.c.id))
                .where(in_window)
                .group_by(day, cases.c.group_id, actions.c.kind, actions.c.status)
            ),
        )
        rows: dict[tuple[datetime, str, str, str], int] = {}

        def add(index: int, group_id: str, dimension: str, key: str, count: int) -> None:
            at = (day_starts[int(index)], group_id, dimension, key[:128])
            rows[at] = rows.get(at, 0) + int(count)

        for index, group_id, count in by_group:
            add(index, group_id, "case", "", count)
        for index, group_id, category, count in by_category:
            add(index, group_id, "category", str(category), count)
        for index, group_id, kind, status, count in by_action:
            if status == "failed":
                add(index, group_id, "failed", "", count)
            elif status in ("done", "substituted"):
                add(index, group_id, "action", kind, count)
        return [(*k, v) for k, v in rows.items()]

    async def rolled_up(self, first: datetime, last: datetime) -> dict[datetime, datetime]:
        """The days from ``first`` to ``last`` already counted, and when they were."""
        query = select(console_days.c.day, console_days.c.computed_at).where(
            console_days.c.day >= first, console_days.c.day <= last
        )
        async with self._read() as conn:
            return {d: at for d, at in (await conn.execute(query)).all()}

    async def store_rollup(
        self,
        days: Sequence[datetime],
        rows: Sequence[tuple[datetime, str, str, str, int]],
        computed_at: datetime,
    ) -> None:
        """Replace these days' counts with ``rows`` and mark them counted, in one transaction.

        Two processes counting the same days write the same numbers; the later
        replaces the earlier (delete, then insert, inside one transaction).
        """
        first, last = min(days), max(days)
        async with self._write() as conn:
            await conn.execute(
                delete(console_daily).where(
                    console_daily.c.day >= first, console_daily.c.day <= last
                )
            )
            await conn.execute(
                delete(console_days).where(console_days.c.day >= first, console_days.c.day <= last)
            )
            if rows:
                await conn.execute(
                    insert(console_daily),
                    [
                        {"day": d, "group_id": g, "dimension": dim, "key": k, "count": n}
                        for d, g, dim, k, n in rows
                    ],
                )
            await conn.execute(
                insert(console_days), [{"day": d, "computed_at": computed_at} for d in days]
            )

    async def rollup_counts(
        self, scope: Collection[str] | None, day_starts: Sequence[datetime]
    ) -> Counts:
        """The kept counts of these (counted) days within scope, ``days`` oldest first."""
        where = and_(
            console_daily.c.day >= day_starts[0],
            console_daily.c.day <= day_starts[-1],
            _in_scope(console_daily.c.group_id, scope),
        )
        total = func.sum(console_daily.c.count)
        per_day, per_group, per_key = await asyncio.gather(
            self._rows(
                select(console_daily.c.day, total)
                .where(where, console_daily.c.dimension == "case")
                .group_by(console_daily.c.day)
            ),
            self._rows(
                select(console_daily.c.group_id, total)
                .where(where, console_daily.c.dimension == "case")
                .group_by(console_daily.c.group_id)
            ),
            self._rows(
                select(console_daily.c.dimension, console_daily.c.key, total)
                .where(where, console_daily.c.dimension != "case")
                .group_by(console_daily.c.dimension, console_daily.c.key)
            ),
        )
        index = {d: i for i, d in enumerate(day_starts)}
        counts = Counts(days=[0] * len(day_starts))
        for day, count in per_day:
            if day in index:
                counts.days[index[day]] = int(count)
        counts.by_group = {g: int(n) for g, n in per_group}
        for dimension, key, count in per_key:
            if dimension == "category":
                counts.by_category[key] = int(count)
            elif dimension == "action":
                counts.by_action[key] = int(count)
            elif dimension == "failed":
                counts.failed += int(count)
        return counts

    async def _rows(self, query: Select[Any]) -> Sequence[Any]:
        """All rows of one query, on a connection of its own (so several run at once)."""
        async with self._read() as conn:
            return (await conn.execute(query)).all()

    async def attention(
        self, scope: Collection[str] | None, since: datetime, failed: int = 10
    ) -> Attention:
        """The latest failed actions and the open cases since ``since``; every open task."""
        async with self._read() as conn:
            rows = await conn.execute(
                select(
                    cases.c.id,
                    cases.c.group_id,
                    cases.c.member_id,
                    actions.c.kind,
                    actions.c.detail,
                    actions.c.at,
                )
                .select_from(actions.join(cases, cases.c.id == actions.c.case_id))
                .where(actions.c.status == "failed", actions.c.at >= since)
                .where(_in_scope(cases.c.group_id, scope))
                .order_by(actions.c.at.desc(), actions.c.id.desc())
                .limit(failed)
            )
            recent = [FailedRow(int(r[0]), r[1], r[2], r[3], r[4] or "", r[5]) for r in rows]
            open_cases = (
                await conn.execute(
                    select(func.count()).where(
                        _in_scope(cases.c.group_id, scope),
                        cases.c.created_at >= since,
                        cases.c.status == "open",
                    )
                )
            ).scalar_one()
            by_kind = {
                str(kind): int(count)
                for kind, count in await conn.execute(
                    select(tasks.c.kind, func.count())
                    .where(tasks.c.status == "open", _in_scope(tasks.c.group_id, scope))
                    .group_by(tasks.c.kind)
                )
            }
        return Attention(recent, int(open_cases), sum(by_kind.values()), by_kind)

    # -- groups, people, tasks and the audit log ----------------------------

    async def member_roles(self, person_id: str) -> dict[str, str]:
        """The groups where the platform last reported this person, with their role there."""
        query = select(members.c.group_id, members.c.role).where(members.c.member_id == person_id)
        async with self._read() as conn:
            return {g: r for g, r in (await conn.execute(query)).all()}

    async def known_groups(self, scope: Collection[str] | None = None) -> list[GroupRow]:
        """Groups the store has seen (by name), within scope."""
        query = (
            select(groups.c.id, groups.c.name, groups.c.last_activity)
            .where(_in_scope(groups.c.id, scope))
            .order_by(groups.c.id)
        )
        async with self._read() as conn:
            return [
                GroupRow(r.id, r.name or "", r.last_activity) for r in await conn.execute(query)
            ]

    async def noncompliant(self, group_id: str, limit: int = 500) -> list[ComplianceRow]:
        """One group's members on a card timeline, the longest flagged first."""
        query = (
            select(
                member_compliance.c.member_id,
                func.coalesce(members.c.card, "").label("card"),
                member_compliance.c.problem,
                member_compliance.c.first_flagged_at,
                member_compliance.c.last_reminded_at,
                member_compliance.c.acted_at,
            )
            .select_from(
                member_compliance.outerjoin(
                    members,
                    and_(
                        members.c.group_id == member_compliance.c.group_id,
                        members.c.member_id == member_compliance.c.member_id,
                    ),
                )
            )
            .where(member_compliance.c.group_id == group_id)
            .order_by(member_compliance.c.first_flagged_at, member_compliance.c.member_id)
            .limit(limit)
        )
        async with self._read() as conn:
            return [ComplianceRow(*row) for row in (await conn.execute(query)).all()]

    async def noncompliant_counts(self, scope: Collection[str] | None) -> dict[str, int]:
        """How many members of each group are on a card timeline not yet acted on."""
        query = (
            select(member_compliance.c.group_id, func.count())
            .where(
                member_compliance.c.acted_at.is_(None),
                _in_scope(member_compliance.c.group_id, scope),
            )
            .group_by(member_compliance.c.group_id)
        )
        async with self._read() as conn:
            return {g: int(n) for g, n in (await conn.execute(query)).all()}

    async def member_cards(self, group_id: str, member_ids: Collection[str]) -> dict[str, str]:
        """Current group cards of some members of one group."""
        if not member_ids:
            return {}
        query = select(members.c.member_id, members.c.card).where(
            members.c.group_id == group_id, members.c.member_id.in_(sorted(member_ids))
        )
        async with self._read() as conn:
            return {m: c for m, c in (await conn.execute(query)).all()}

    async def open_tasks(
        self,
        scope: Collection[str] | None,
        limit: int = 100,
        kind: str | None = None,
        group: str | None = None,
    ) -> list[TaskRow]:
        """Appeals, member reports and review items waiting for a decision, oldest first."""
        query = select(tasks).where(tasks.c.status == "open", _in_scope(tasks.c.group_id, scope))
        if kind is not None:
            query = query.where(tasks.c.kind == kind)
        if group is not None:
            query = query.where(tasks.c.group_id == group)
        query = query.order_by(tasks.c.created_at, tasks.c.id).limit(limit)
        async with self._read() as conn:
            return [_task_row(t) for t in await conn.execute(query)]

    async def task(self, task_id: int, scope: Collection[str] | None) -> TaskRow | None:
        """One to-do item; None when absent or out of scope."""
        query = select(tasks).where(tasks.c.id == task_id, _in_scope(tasks.c.group_id, scope))
        async with self._read() as conn:
            row = (await conn.execute(query)).first()
        return None if row is None else _task_row(row)

    async def task_cases(
        self, case_ids: Collection[int], scope: Collection[str] | None
    ) -> dict[int, TaskCase]:
        """The cases some to-do items are about (evidence and findings), by id."""
        if not case_ids:
            return {}
        query = select(
            cases.c.id,
            cases.c.member_id,
            cases.c.member_card,
            cases.c.evidence,
            cases.c.findings,
            cases.c.status,
        ).where(cases.c.id.in_(sorted(case_ids)), _in_scope(cases.c.group_id, scope))
        async with self._read() as conn:
            rows = (await conn.execute(query)).all()
        return {
            int(r.id): TaskCase(
                int(r.id),
                r.member_id,
                r.member_card or "",
                r.evidence,
                [dict(f) for f in r.findings or [] if isinstance(f, dict)],
                r.status,
            )
            for r in rows
        }

    async def close_task(
        self,
        task_id: int,
        scope: Collection[str] | None,
        kind: str,
        status: str,
        decided_by: str,
        at: datetime,
    ) -> bool:
        """Close an open to-do item of ``kind``; False when it is not open (or not in scope).

        One conditional UPDATE, so of two officers closing it at once one wins.
        For member reports, which no command closes.
        """
        query = (
            update(tasks)
            .where(
                tasks.c.id == task_id,
                tasks.c.kind == kind,
                tasks.c.status == "open",
                _in_scope(tasks.c.group_id, scope),
            )
            .values(status=status, decided_by=decided_by, decided_at=at)
        )
        async with self._write() as conn:
            result = await conn.execute(query)
        return bool(result.rowcount)

    async def audit_page(
        self,
        scope: Collection[str] | None,
        before_id: int | None,
        limit: int = 50,
        group: str | None = None,
        actors: tuple[str, ...] = (),
        own: str | None = None,
    ) -> tuple[list[AuditRow], int | None]:
        """Audit entries newest first (keyset on id). A scoped viewer sees their groups'
        entries and, of the entries of no group (sign-ins, exports), only ``own``'s."""
        where: ColumnElement[bool] = literal(True)
        if scope is not None:
            where = audit_log.c.group_id.in_(sorted(scope))
            if own is not None:
                mine = and_(audit_log.c.group_id.is_(None), audit_log.c.actor_id == own)
                where = or_(where, mine)
        query = select(audit_log).where(where)
        if group is not None:
            query = query.where(audit_log.c.group_id == group)
        if actors:
            query = query.where(audit_log.c.actor_id.in_(actors))
        if before_id is not None:
            query = query.where(audit_log.c.id < before_id)
        query = query.order_by(audit_log.c.id.desc()).limit(limit + 1)
        async with self._read() as conn:
            rows = (await conn.execute(query)).all()
        page = [
            AuditRow(int(r.id), r.actor_id, r.group_id, r.command, r.outcome, r.at)
            for r in rows[:limit]
        ]
        return page, (page[-1].id if len(rows) > limit else None)


def _task_row(t: Any) -> TaskRow:
    return TaskRow(
        id=int(t.id),
        kind=t.kind,
        group_id=t.group_id,
        case_id=t.case_id,
        requester_id=t.requester_id,
        subject_id=t.subject_id or "",
        text=t.text or "",
        evidence=t.evidence or "",
        status=t.status,
        created_at=t.created_at,
    )


# ---------------------------------------------------------------- sign-in links and sessions


@dataclass(frozen=True, slots=True)
class SessionRecord:
    person_id: str
    created_at: datetime
    expires_at: datetime


class SqlConsoleAuth(Repository):
    """One-time links and sessions in the database; only hashes of the secrets are stored."""

    async def add_link(
        self, token_hash: str, person_id: str, issued_by: str, at: datetime, expires_at: datetime
    ) -> None:
        async with self._write() as conn:
            await conn.execute(
                insert(console_links).values(
                    token_hash=token_hash,
                    person_id=person_id,
                    issued_by=issued_by,
                    created_at=at,
                    expires_at=expires_at,
                )
            )

    async def redeem_link(self, token_hash: str, at: datetime, address: str) -> str | None:
        """Mark an unused, unexpired link used and return its person; None otherwise.

        One conditional UPDATE: of two processes redeeming the same link at
        once, exactly one gets a row back.
        """
        query = (
            update(console_links)
            .where(
                console_links.c.token_hash == token_hash,
                console_links.c.used_at.is_(None),
                console_links.c.expires_at > at,
            )
            .values(used_at=at, used_from=address[:64])
            .returning(console_links.c.person_id)
        )
        async with self._write() as conn:
            row = (await conn.execute(query)).first()
        return None if row is None else str(row[0])

    async def add_session(
        self, token_hash: str, person_id: str, at: datetime, expires_at: datetime, address: str
    ) -> None:
        async with self._write() as conn:
            await conn.execute(
                insert(console_sessions).values(
                    token_hash=token_hash,
                    person_id=person_id,
                    created_at=at,
                    expires_at=expires_at,
                    address=address[:64],
                )
            )

    async def get_session(self, token_hash: str, at: datetime) -> SessionRecord | None:
        query = select(
            console_sessions.c.person_id,
            console_sessions.c.created_at,
            console_sessions.c.expires_at,
        ).where(console_sessions.c.token_hash == token_hash, console_sessions.c.expires_at > at)
        async with self._read() as conn:
            row = (await conn.execute(query)).first()
        return None if row is None else SessionRecord(row[0], row[1], row[2])

    async def end_session(self, token_hash: str) -> None:
        async with self._write() as conn:
            await conn.execute(
                delete(console_sessions).where(console_sessions.c.token_hash == token_hash)
            )

    async def purge(self, at: datetime) -> int:
        """Delete expired sessions and links; return how many rows went."""
        async with self._write() as conn:
            gone = await conn.execute(
                delete(console_sessions).where(console_sessions.c.expires_at <= at)
            )
            links = await conn.execute(
                delete(console_links).where(console_links.c.expires_at <= at)
            )
        return int(gone.rowcount or 0) + int(links.rowcount or 0)
