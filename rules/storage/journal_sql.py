"""The moderation journal's statements, each written once as SQLAlchemy Core, and what one
transaction does with them (:class:`JournalOps`).

Two executors run the same statement objects:

- :class:`AlchemyExecutor`: SQLAlchemy's own execution (PostgreSQL; SQLite in memory);
- :class:`rules.storage.raw_sqlite.SqliteExecutor`: the statements compiled once for the
  ``sqlite3`` module, with SQLAlchemy's own bind processors, on a SQLite file.

Where SQLAlchemy can send many rows in one statement and read back what each
returned (``executemany`` with RETURNING), :class:`JournalOps` does; ``sqlite3``
runs the same statement once per row, which costs it little.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, Protocol

from sqlalchemy import Connection, Table, bindparam, case, delete, func, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.sql import Executable

from rules.storage.tables import (
    UtcDateTime,
    actions,
    cases,
    groups,
    handled_messages,
    members,
    outbox,
    strikes,
    unsettled_cases,
)

Row = Mapping[str, Any]

# Rows two processes (or an earlier event) may add first: a conflicting insert refreshes
# these columns, or (none) is skipped and left out of what the statement returns.
REFRESH: dict[str, tuple[str, ...]] = {
    "handled_messages": (),
    "groups": ("last_activity",),
    "members": ("card", "nickname", "role", "last_seen"),
}
# What an insert returns after the new id: what tells a batch's rows apart.
RETURNING_KEY: dict[str, tuple[str, ...]] = {
    "cases": ("group_id", "member_id", "message_id"),
    "outbox": ("officer_id", "case_id"),
}
TABLES: dict[str, Table] = {
    t.name: t
    for t in (handled_messages, groups, members, cases, strikes, actions, outbox, unsettled_cases)
}


def _conflict_safe(dialect: Any, table: Table) -> Executable:
    """Insert rows; a row whose key exists already updates the columns in ``REFRESH``
    (or is skipped: the statement returns the keys of the rows that went in)."""
    keys = [column.name for column in table.primary_key.columns]
    refresh = REFRESH[table.name]
    stmt = dialect.insert(table)
    if refresh:
        return stmt.on_conflict_do_update(
            index_elements=keys, set_={name: stmt.excluded[name] for name in refresh}
        )
    return stmt.on_conflict_do_nothing(index_elements=keys).returning(
        *(table.c[name] for name in keys)
    )


# Built once: SQLAlchemy then reuses their cache keys and compiled forms.
INSERT: dict[str, dict[str, Executable]] = {
    dialect.dialect.name: {
        **{name: insert(TABLES[name]) for name in ("strikes", "actions", "unsettled_cases")},
        "owed_reports": insert(outbox),  # written with their case: no ids needed back
        **{name: _conflict_safe(dialect, TABLES[name]) for name in REFRESH},
        **{
            name: insert(TABLES[name]).returning(
                TABLES[name].c.id, *(TABLES[name].c[k] for k in key)
            )
            for name, key in RETURNING_KEY.items()
        },
    }
    for dialect in (postgresql, sqlite)
}

_ACTIVE_STRIKE = (strikes.c.voided.is_(False), strikes.c.at >= bindparam("since"))
# One member's weight since a time, summed in the database.
STRIKE_SUM = select(func.coalesce(func.sum(strikes.c.weight), 0)).where(
    strikes.c.group_id == bindparam("group_id"),
    strikes.c.member_id == bindparam("member_id"),
    *_ACTIVE_STRIKE,
)
# A batch's members at once: pairs are looked up as ``a IN (...) AND b IN (...)`` (an
# index search on SQLite, which scans the table for a row-value IN list), then filtered
# to the exact pairs in Python.
_PAIRS = (
    strikes.c.group_id.in_(bindparam("groups", expanding=True)),
    strikes.c.member_id.in_(bindparam("ids", expanding=True)),
)
STRIKE_SUMS = (
    select(strikes.c.group_id, strikes.c.member_id, func.sum(strikes.c.weight))
    .where(*_PAIRS, *_ACTIVE_STRIKE)
    .group_by(strikes.c.group_id, strikes.c.member_id)
)
# One member's strikes since a time, and a batch's members' (filtered to pairs in Python).
STRIKE_LIST = select(strikes.c.at, strikes.c.weight).where(
    strikes.c.group_id == bindparam("group_id"),
    strikes.c.member_id == bindparam("member_id"),
    *_ACTIVE_STRIKE,
)
STRIKE_LISTS = select(
    strikes.c.group_id, strikes.c.member_id, strikes.c.at, strikes.c.weight
).where(*_PAIRS, *_ACTIVE_STRIKE)
STRIKES_BETWEEN = select(
    strikes.c.group_id, strikes.c.member_id, strikes.c.weight, strikes.c.at
).where(*_PAIRS, *_ACTIVE_STRIKE, strikes.c.at < bindparam("until"))
# Who has had a strike since a time (voided ones too: a superset is all the tally
# needs), at most ``limit`` of them.
STRUCK_SINCE = (
    select(strikes.c.group_id, strikes.c.member_id)
    .where(strikes.c.at >= bindparam("since"))
    .distinct()
    .limit(bindparam("limit"))
)

REPORT_SENT = (
    update(outbox)
    .where(outbox.c.id == bindparam("key"))
    .values(sent_at=bindparam("when"), attempts=outbox.c.attempts + 1, image=None)
)
REPORT_FAILED = (
    update(outbox)
    .where(outbox.c.id == bindparam("key"))
    .values(
        attempts=outbox.c.attempts + 1,
        last_error=bindparam("error"),
        next_attempt_at=bindparam("when"),
    )
)

# A case settled (rules.core.records.CaseSettlement): each planned action's outcome, the
# reports it owes worded from them and released, and the case off the unsettled list.
ACTION_SETTLED = (
    update(actions)
    .where(actions.c.case_id == bindparam("case"), actions.c.seq == bindparam("position"))
    .values(status=bindparam("state"), detail=bindparam("note"), at=bindparam("when"))
)
REPORTS_SETTLED = (
    update(outbox)
    .where(
        outbox.c.case_id == bindparam("case"),
        outbox.c.sent_at.is_(None),
        outbox.c.kind != "digest",
    )
    .values(
        text=bindparam("body"),
        # not before a retry a failed send set for itself
        next_attempt_at=case(
            (outbox.c.attempts == 0, bindparam("due", type_=UtcDateTime())),
            else_=outbox.c.next_attempt_at,
        ),
    )
)
CASE_SETTLED = delete(unsettled_cases).where(unsettled_cases.c.case_id == bindparam("case"))
# What was still planned when the bot stopped (it stays unsettled: recovered at the next start).
INTERRUPTED = (
    update(actions)
    .where(actions.c.case_id == bindparam("case"), actions.c.status == "planned")
    .values(status="interrupted")
)


class Executor(Protocol):
    """Runs the statements above on one connection, inside one transaction (or a read)."""

    dialect: str
    many_returning: bool  # one statement for many rows, each row's RETURNING read back

    def rows(self, statement: Executable, params: Row) -> Sequence[Sequence[Any]]:
        """Run once with ``params``; the rows it returned (empty for none)."""
        ...

    def run_many(self, statement: Executable, rows: Sequence[Row]) -> None:
        """Run for each row (every row has the same columns, in the same order)."""
        ...

    def rows_many(self, statement: Executable, rows: Sequence[Row]) -> Sequence[Sequence[Any]]:
        """Run for all rows in one statement; what each returned (``many_returning`` only)."""
        ...


class AlchemyExecutor:
    """:class:`Executor` through SQLAlchemy's own execution on a (sync-facing) connection."""

    many_returning = True

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self.dialect = conn.dialect.name

    def rows(self, statement: Executable, params: Row) -> Sequence[Sequence[Any]]:
        result = self.conn.execute(statement, dict(params))
        return result.all() if result.returns_rows else []

    def run_many(self, statement: Executable, rows: Sequence[Row]) -> None:
        self.conn.execute(statement, [dict(row) for row in rows])

    def rows_many(self, statement: Executable, rows: Sequence[Row]) -> Sequence[Sequence[Any]]:
        return self.conn.execute(statement, [dict(row) for row in rows]).all()


class JournalOps:
    """The journal's work in one transaction: one statement per kind of row where it can.

    Rows are dicts in column order; every row of one call has the same columns.
    """

    def __init__(self, executor: Executor) -> None:
        self.x = executor
        self._insert = INSERT[executor.dialect]

    def claim(self, rows: Sequence[Row]) -> set[tuple[str, str]]:
        """Insert new handled messages; the (group, message) keys that went in."""
        statement = self._insert["handled_messages"]
        if self.x.many_returning:
            return {(g, m) for g, m in self.x.rows_many(statement, rows)}
        return {(g, m) for row in rows for g, m in self.x.rows(statement, row)}

    def strike_weights(self, queries: Sequence[tuple[str, str, datetime]]) -> list[int]:
        """Each (group, member, since)'s sum of unvoided strike weights since then."""
        if not self.x.many_returning:  # a statement per member costs sqlite3 little
            return [
                int(self.x.rows(STRIKE_SUM, {"group_id": g, "member_id": m, "since": s})[0][0])
                for g, m, s in queries
            ]
        # The batch's windows start a few milliseconds apart: strikes since the latest
        # start are summed per member in the database; the few between the earliest and
        # the latest start are fetched and counted for the queries whose window holds them.
        pairs = _pairs((g, m) for g, m, _ in queries)
        earliest, latest = min(q[2] for q in queries), max(q[2] for q in queries)
        found = self.x.rows(STRIKE_SUMS, {**pairs, "since": latest})
        sums = {(g, m): int(w) for g, m, w in found}
        edge: dict[tuple[str, str], list[tuple[datetime, int]]] = {}
        if earliest < latest:
            params = {**pairs, "since": earliest, "until": latest}
            for group_id, member_id, weight, at in self.x.rows(STRIKES_BETWEEN, params):
                edge.setdefault((group_id, member_id), []).append((at, weight))
        return [
            sums.get((g, m), 0) + sum(w for at, w in edge.get((g, m), ()) if at >= since)
            for g, m, since in queries
        ]

    def strike_lists(
        self, queries: Sequence[tuple[str, str, datetime]]
    ) -> list[list[tuple[datetime, int]]]:
        """Each (group, member, since)'s unvoided strikes since then, as (at, weight)."""
        if not self.x.many_returning:
            return [
                [
                    (_aware(at), int(w))
                    for at, w in self.x.rows(
                        STRIKE_LIST, {"group_id": g, "member_id": m, "since": s}
                    )
                ]
                for g, m, s in queries
            ]
        pairs = _pairs((g, m) for g, m, _ in queries)
        found: dict[tuple[str, str], list[tuple[datetime, int]]] = {}
        earliest = min(q[2] for q in queries)
        for group_id, member_id, at, weight in self.x.rows(
            STRIKE_LISTS, {**pairs, "since": earliest}
        ):
            found.setdefault((group_id, member_id), []).append((_aware(at), int(weight)))
        return [[s for s in found.get((g, m), ()) if s[0] >= since] for g, m, since in queries]

    def struck_since(self, since: datetime, limit: int) -> set[tuple[str, str]]:
        """The (group, member) pairs with a strike at or after ``since``; at most ``limit``."""
        return {(g, m) for g, m in self.x.rows(STRUCK_SINCE, {"since": since, "limit": limit})}

    def insert(self, table: str, rows: Sequence[Row]) -> None:
        """Insert ``rows`` (conflict-safe for the tables in :data:`REFRESH`)."""
        if rows:
            self.x.run_many(self._insert[table], rows)

    def insert_ids(self, table: str, rows: Sequence[Row]) -> list[int]:
        """Insert ``rows``; their new ids, in order.

        One multi-row statement when the key rows tell them apart (RETURNING comes
        back in no set order); otherwise, and on ``sqlite3``, one execution per row.
        """
        statement = self._insert[table]
        key = RETURNING_KEY[table]
        keys = [tuple(row[k] for k in key) for row in rows]
        if self.x.many_returning and len(set(keys)) == len(keys):
            by_key = {tuple(r[1:]): int(r[0]) for r in self.x.rows_many(statement, rows)}
            return [by_key[k] for k in keys]
        return [int(self.x.rows(statement, row)[0][0]) for row in rows]

    def mark_reports(
        self, sent: Sequence[tuple[int, datetime]], failed: Sequence[tuple[int, datetime, str]]
    ) -> None:
        """Outbox items sent (id, at), or failed (id, retry at, error)."""
        if sent:
            self.x.run_many(REPORT_SENT, [{"key": i, "when": at} for i, at in sent])
        if failed:
            rows = [{"key": i, "when": at, "error": error} for i, at, error in failed]
            self.x.run_many(REPORT_FAILED, rows)

    def settle(
        self,
        results: Sequence[Row],
        reports: Sequence[Row],
        settled: Sequence[int],
    ) -> None:
        """Planned actions' outcomes (case, position, state, note, when), reports' final
        text (case, body, due), and the cases no longer unsettled."""
        if results:
            self.x.run_many(ACTION_SETTLED, results)
        if reports:
            self.x.run_many(REPORTS_SETTLED, reports)
        if settled:
            self.x.run_many(CASE_SETTLED, [{"case": c} for c in settled])

    def interrupt(self, case_ids: Sequence[int]) -> None:
        """Mark what is still planned in these cases as interrupted."""
        if case_ids:
            self.x.run_many(INTERRUPTED, [{"case": c} for c in case_ids])


def _aware(value: datetime | str) -> datetime:
    """A stored time read back as an aware UTC datetime (``sqlite3`` gives SQLAlchemy's
    naive UTC text, as :class:`rules.storage.tables.UtcDateTime` wrote it)."""
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _pairs(pairs: Iterable[tuple[str, str]]) -> dict[str, list[str]]:
    """Bind values for a pair lookup: the distinct firsts and seconds."""
    firsts, seconds = set(), set()
    for a, b in pairs:
        firsts.add(a)
        seconds.add(b)
    return {"groups": sorted(firsts), "ids": sorted(seconds)}
