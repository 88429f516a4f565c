"""The SQLite hot path (plain ``sqlite3``) and SQLAlchemy read and write the same values."""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from rules.core.model import Action, ActionKind, Finding, Outcome, OutcomeStatus, Strike
from rules.storage.raw_sqlite import db_value
from rules.storage.sql_store import SqlStore
from rules.storage.tables import actions, cases, handled_messages, strikes
from tests.fakes import message

BEIJING = timezone(timedelta(hours=8))
AT = datetime(2026, 3, 1, 9, 30, 0, 5, tzinfo=BEIJING)  # 01:30:00.000005 UTC


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[SqlStore]:
    opened = await SqlStore.open(f"sqlite+aiosqlite:///{tmp_path / 'gg.db'}")
    yield opened
    await opened.close()


def raw_column(store: SqlStore, sql: str) -> list[object]:
    path = store.engine.url.database
    assert path is not None
    with sqlite3.connect(path) as conn:
        return [row[0] for row in conn.execute(sql)]


async def test_a_timestamp_is_stored_as_sqlalchemy_stores_it(store: SqlStore) -> None:
    await store.add_strike(Strike("qq:1", "qq:2", 1, AT, None))  # through SQLAlchemy
    assert await store.claim_message("qq:1", "m1", AT)  # through sqlite3
    (by_alchemy,) = raw_column(store, "SELECT at FROM strikes")
    (by_raw,) = raw_column(store, "SELECT at FROM handled_messages")
    assert by_raw == by_alchemy == "2026-03-01 01:30:00.000005" == db_value(AT)
    async with store.engine.connect() as conn:  # and SQLAlchemy reads it back, aware
        read = (await conn.execute(select(handled_messages.c.at))).scalar_one()
    assert read == AT and read.tzinfo is not None


async def test_strike_windows_compare_timestamps_to_the_microsecond(store: SqlStore) -> None:
    await store.add_strike(Strike("qq:1", "qq:2", 2, AT, None))
    await store.add_strike(Strike("qq:1", "qq:2", 1, AT + timedelta(days=3), None))
    assert await store.strike_weight("qq:1", "qq:2", AT) == 3
    assert await store.strike_weight("qq:1", "qq:2", AT + timedelta(microseconds=1)) == 1
    assert await store.strike_weight("qq:1", "qq:2", AT.astimezone(UTC)) == 3
    assert await store.strike_weight("qq:1", "qq:3", AT) == 0


async def test_cases_written_raw_read_back_through_sqlalchemy(store: SqlStore) -> None:
    event = message("赌博")
    finding = Finding("keyword", "gambling", "赌博", 0, 2)
    case_id = await store.open_case(event, (finding,), 1, AT, strike_weight=2)
    async with store.engine.connect() as conn:
        row = (await conn.execute(select(cases).where(cases.c.id == case_id))).one()
        strike = (await conn.execute(select(strikes.c.weight, strikes.c.voided))).one()
    assert row.findings == [
        {"detector": "keyword", "category": "gambling", "match": "赌博"}
        | {"start": 0, "end": 2, "detail": ""}
    ]
    assert row.created_at == AT
    assert (strike.weight, strike.voided) == (2, False)


async def test_a_naive_timestamp_is_refused(store: SqlStore) -> None:
    with pytest.raises(ValueError, match="naive"):
        await store.claim_message("qq:1", "m1", AT.replace(tzinfo=None))


async def test_sqlite_errors_surface_as_sqlalchemy_errors(store: SqlStore) -> None:
    with pytest.raises(IntegrityError):  # no such case: the foreign key holds
        outcome = Outcome(Action(ActionKind.DELETE, "qq:1", "qq:2"), OutcomeStatus.DONE)
        await store.record_outcomes(424242, (outcome,), AT)
    async with store.engine.connect() as conn:  # nothing half-written
        assert (await conn.execute(select(actions))).all() == []
