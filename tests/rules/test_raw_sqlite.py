"""The journal on a SQLite file (its Core statements run by ``sqlite3``) and SQLAlchemy
read and write the same values."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from sqlalchemy import insert, select
from sqlalchemy.dialects import sqlite
from sqlalchemy.exc import IntegrityError

from rules.core.model import Action, ActionKind, Finding, Outcome, OutcomeStatus, Strike
from rules.storage import Storage
from rules.storage.database import WriteLock
from rules.storage.journal import fields, strike_row
from rules.storage.journal_sql import INSERT
from rules.storage.raw_sqlite import compiled
from rules.storage.tables import actions, cases, handled_messages, strikes
from tests.fakes import message

BEIJING = timezone(timedelta(hours=8))
AT = datetime(2026, 3, 1, 9, 30, 0, 5, tzinfo=BEIJING)  # 01:30:00.000005 UTC


@pytest.fixture
async def storage(tmp_path: Path) -> AsyncIterator[Storage]:
    opened = await Storage.open(f"sqlite+aiosqlite:///{tmp_path / 'gg.db'}")
    yield opened
    await opened.close()


def raw_column(storage: Storage, sql: str) -> list[object]:
    path = storage.database.sqlite_file
    assert path is not None
    with sqlite3.connect(path) as conn:
        return [row[0] for row in conn.execute(sql)]


async def test_a_timestamp_is_stored_as_sqlalchemy_stores_it(storage: Storage) -> None:
    async with storage.database.write() as conn:  # through SQLAlchemy
        await conn.execute(insert(strikes).values(strike_row(Strike("qq:1", "qq:2", 1, AT, None))))
    assert await storage.journal.claim_message("qq:1", "m1", AT)  # through sqlite3
    (by_alchemy,) = raw_column(storage, "SELECT at FROM strikes")
    (by_raw,) = raw_column(storage, "SELECT at FROM handled_messages")
    assert by_raw == by_alchemy == "2026-03-01 01:30:00.000005"
    async with storage.database.read() as conn:  # and SQLAlchemy reads it back, aware
        read = (await conn.execute(select(handled_messages.c.at))).scalar_one()
    assert read == AT and read.tzinfo is not None


async def test_strike_windows_compare_timestamps_to_the_microsecond(storage: Storage) -> None:
    await storage.journal.add_strike(Strike("qq:1", "qq:2", 2, AT, None))
    await storage.journal.add_strike(Strike("qq:1", "qq:2", 1, AT + timedelta(days=3), None))
    assert await storage.journal.strike_weight("qq:1", "qq:2", AT) == 3
    assert await storage.journal.strike_weight("qq:1", "qq:2", AT + timedelta(microseconds=1)) == 1
    assert await storage.journal.strike_weight("qq:1", "qq:2", AT.astimezone(UTC)) == 3
    assert await storage.journal.strike_weight("qq:1", "qq:3", AT) == 0


async def test_cases_written_raw_read_back_through_sqlalchemy(storage: Storage) -> None:
    event = message("赌博")
    finding = Finding("keyword", "gambling", "赌博", 0, 2)
    case_id = await storage.journal.open_case(event, (finding,), 1, AT, strike_weight=2)
    async with storage.database.read() as conn:
        row = (await conn.execute(select(cases).where(cases.c.id == case_id))).one()
        strike = (await conn.execute(select(strikes.c.weight, strikes.c.voided))).one()
    assert row.findings == [fields(finding)]
    assert row.findings[0]["match"] == "赌博" and row.findings[0]["end"] == 2
    assert row.created_at == AT
    assert (strike.weight, strike.voided) == (2, False)


async def test_a_naive_timestamp_is_refused(storage: Storage) -> None:
    with pytest.raises(ValueError, match="naive"):
        await storage.journal.claim_message("qq:1", "m1", AT.replace(tzinfo=None))


async def test_sqlite_errors_surface_as_sqlalchemy_errors(storage: Storage) -> None:
    with pytest.raises(IntegrityError):  # no such case: the foreign key holds
        outcome = Outcome(Action(ActionKind.DELETE, "qq:1", "qq:2"), OutcomeStatus.DONE)
        await storage.journal.record_outcomes(424242, (outcome,), AT)
    async with storage.database.read() as conn:  # nothing half-written
        assert (await conn.execute(select(actions))).all() == []


def test_an_insert_without_every_column_is_refused_on_the_raw_path() -> None:
    """SQLAlchemy fills in a column's default; the compiled statement would not."""
    with pytest.raises(ValueError, match="no value for column"):
        compiled(INSERT["sqlite"]["strikes"], ("group_id", "member_id", "weight", "at"))


def test_the_raw_path_runs_the_statements_sqlalchemy_compiles() -> None:
    statement = INSERT["sqlite"]["handled_messages"]
    keys = ("group_id", "message_id", "at")
    form = compiled(statement, keys)
    assert form.sql == str(statement.compile(dialect=sqlite.dialect(), column_keys=list(keys)))


async def test_urgent_writes_go_before_the_writes_already_waiting() -> None:
    """The engine's decisions do not queue behind outcomes and members (WriteLock)."""
    lock = WriteLock()
    order: list[str] = []

    async def write(name: str, urgent: bool) -> None:
        await lock.acquire(urgent)
        order.append(name)
        await asyncio.sleep(0)
        lock.release()

    await lock.acquire()  # a write under way
    waiting = [asyncio.create_task(write(f"later{n}", False)) for n in range(3)]
    await asyncio.sleep(0)
    waiting.append(asyncio.create_task(write("decision", True)))
    await asyncio.sleep(0)
    lock.release()
    await asyncio.gather(*waiting)
    assert order == ["decision", "later0", "later1", "later2"]
    assert not lock.locked()


async def test_a_waiter_that_gives_up_does_not_keep_the_lock() -> None:
    lock = WriteLock()
    await lock.acquire()
    gave_up = asyncio.create_task(lock.acquire(urgent=True))
    await asyncio.sleep(0)
    gave_up.cancel()
    with pytest.raises(asyncio.CancelledError):
        await gave_up
    lock.release()
    assert not lock.locked()
    assert await asyncio.wait_for(lock.acquire(), 1)
