"""Group commit (Batcher) and per-key ordering (KeyedLock), alone and inside the journal."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from rules.core.batching import Batcher, KeyedLock
from rules.core.model import Action, ActionKind, EventKind, Finding, Outcome, OutcomeStatus, Role
from rules.storage import Storage
from rules.storage.database import resolve_url
from rules.storage.journal import ModerationJournal
from rules.storage.outbox import OutboxRepository
from rules.storage.tables import actions, cases, members, outbox, strikes
from rules.storage.transactions import AlchemyTransactions
from tests.fakes import T0, message
from tests.services import fresh_pg_database


async def test_concurrent_calls_share_a_batch_and_get_their_own_results() -> None:
    batches: list[list[int]] = []

    async def double(items: list[int]) -> list[int]:
        batches.append(items)
        await asyncio.sleep(0)
        return [2 * i for i in items]

    batcher = Batcher(double)
    first = await batcher.submit(1)  # alone: runs at once, by itself
    results = await asyncio.gather(*(batcher.submit(i) for i in range(10, 15)))
    assert first == 2 and results == [20, 22, 24, 26, 28]
    assert batches == [[1], [10, 11, 12, 13, 14]]


async def test_batches_are_capped_and_the_queue_drains() -> None:
    batches: list[list[int]] = []

    async def echo(items: list[int]) -> list[int]:
        batches.append(items)
        return items

    batcher = Batcher(echo, max_size=4)
    assert await asyncio.gather(*(batcher.submit(i) for i in range(10))) == list(range(10))
    assert [len(b) for b in batches] == [4, 4, 2]


async def test_one_bad_item_fails_alone() -> None:
    async def strict(items: list[int]) -> list[int]:
        if any(i < 0 for i in items):
            raise ValueError("negative")
        return items

    batcher = Batcher(strict)
    results = await asyncio.gather(*(batcher.submit(i) for i in (1, -1, 2)), return_exceptions=True)
    assert results[0] == 1 and results[2] == 2
    assert isinstance(results[1], ValueError)


async def test_an_item_still_runs_when_its_caller_stops_waiting() -> None:
    ran: list[int] = []
    release = asyncio.Event()

    async def slow(items: list[int]) -> list[int]:
        await release.wait()
        ran.extend(items)
        return items

    batcher = Batcher(slow)
    waiting = asyncio.create_task(batcher.submit(7))
    await asyncio.sleep(0.01)
    waiting.cancel()
    release.set()
    with pytest.raises(asyncio.CancelledError):
        await waiting
    await batcher.submit(8)  # runs after the first batch finished
    assert ran == [7, 8]


async def test_keyed_lock_orders_one_key_and_lets_others_through() -> None:
    lock = KeyedLock()
    log: list[str] = []
    gate = asyncio.Event()

    async def hold(key: str, name: str, wait: bool) -> None:
        async with lock.hold(key):
            log.append(f"{name} in")
            if wait:
                await gate.wait()
            log.append(f"{name} out")

    first = asyncio.create_task(hold("a", "a1", wait=True))
    await asyncio.sleep(0)
    second = asyncio.create_task(hold("a", "a2", wait=False))
    other = asyncio.create_task(hold("b", "b1", wait=False))
    await asyncio.sleep(0.01)
    assert log == ["a1 in", "b1 in", "b1 out"]  # b is not held up by a
    gate.set()
    await asyncio.gather(first, second, other)
    assert log[3:] == ["a1 out", "a2 in", "a2 out"]
    assert len(lock) == 0  # nothing kept for keys nobody holds


# ---------------------------------------------------------------------- the store


@pytest.fixture(params=["sqlite3", "sqlalchemy", "postgresql"])
async def storage(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Storage]:
    """The journal on a SQLite file through sqlite3 (the bot's way) and through SQLAlchemy
    (the statements as PostgreSQL runs them, on SQLite), and on PostgreSQL."""
    async with contextlib.AsyncExitStack() as stack:
        url = resolve_url("sqlite+aiosqlite:///gg.db", tmp_path)
        if request.param == "postgresql":
            url = await stack.enter_async_context(fresh_pg_database())
        storage = await Storage.open(url)
        if request.param == "sqlalchemy":
            through = AlchemyTransactions(storage.database)
            storage.journal = ModerationJournal(storage.database, through)
            storage.outbox = OutboxRepository(storage.database, through)
        yield storage
        await storage.close()


async def test_concurrent_claims_of_one_message_have_one_winner(storage: Storage) -> None:
    claims = [storage.journal.claim_message("qq:1", m, T0) for m in ("a", "b", "a", "c", "a")]
    assert await asyncio.gather(*claims) == [True, True, False, True, False]
    assert await storage.journal.claim_message("qq:1", "b", T0) is False
    assert await storage.journal.claim_message("qq:2", "a", T0) is True  # message ids are per group


async def test_concurrent_cases_get_their_own_ids_and_strikes(storage: Storage) -> None:
    finding = (Finding("keyword", "insult", "笨蛋", 0, 2),)
    events = [message(f"笨蛋 {n}", user=f"qq:{n}", message_id=f"m{n}") for n in range(6)]
    # two cases of one member without message ids: keys that cannot tell rows apart
    joins = [replace(message("x", user="qq:99"), kind=EventKind.JOIN, message_id=None)] * 2
    opened = [
        storage.journal.open_case(e, finding, 1, T0, strike_weight=n + 1)
        for n, e in enumerate(events)
    ]
    opened += [storage.journal.open_case(e, finding, 0, T0) for e in joins]
    ids = await asyncio.gather(*opened)
    assert len(set(ids)) == len(ids)
    async with storage.database.engine.connect() as conn:
        by_id = {r.id: r for r in await conn.execute(select(cases))}
        strike_rows = (await conn.execute(select(strikes))).all()
    for case_id, event in zip(ids, events + joins, strict=True):
        assert by_id[case_id].member_id == event.member.id
        assert by_id[case_id].evidence == event.text
    assert {(s.case_id, s.member_id, s.weight) for s in strike_rows} == {
        (case_id, event.member.id, n + 1)
        for n, (case_id, event) in enumerate(zip(ids, events, strict=False))
    }


async def test_concurrent_reports_and_outcomes_land_where_they_belong(storage: Storage) -> None:
    case_id = await storage.journal.open_case(message("笨蛋"), (), 1, T0)
    report_ids = await asyncio.gather(
        *(storage.journal.enqueue_report(f"qq:{n}", f"report {n}", case_id, T0) for n in range(5))
    )
    done = Outcome(Action(ActionKind.DELETE, "qq:1001", "qq:2001"), OutcomeStatus.DONE, "ok")
    failed = Outcome(Action(ActionKind.MUTE, "qq:1001", "qq:2001"), OutcomeStatus.FAILED, "no")
    await asyncio.gather(
        storage.journal.record_outcomes(case_id, (done,), T0),
        storage.journal.record_outcomes(case_id, (failed, done), T0),
        storage.journal.record_outcomes(case_id, (), T0),
    )
    async with storage.database.engine.connect() as conn:
        texts = {r.id: r.text for r in await conn.execute(select(outbox))}
        kinds = sorted(r.kind for r in await conn.execute(select(actions)))
    assert [texts[i] for i in report_ids] == [f"report {n}" for n in range(5)]
    assert kinds == ["delete", "delete", "mute"]


async def test_members_are_upserted_together_and_the_last_word_wins(storage: Storage) -> None:
    await storage.journal.note_member(message("hi", user="qq:1", card="旧名片"))
    await asyncio.gather(
        storage.journal.note_member(message("hi", user="qq:1", card="新名片", role=Role.ADMIN)),
        storage.journal.note_member(
            message("hi", user="qq:2", card="张三", at=T0 + timedelta(hours=1))
        ),
        storage.journal.note_member(message("hi", user="qq:2", card="张三+办公室")),
    )
    async with storage.database.engine.connect() as conn:
        rows = {r.member_id: r for r in await conn.execute(select(members))}
    assert rows["qq:1"].card == "新名片" and rows["qq:1"].role == "admin"
    assert rows["qq:2"].card == "张三+办公室"
    assert len(rows) == 2


async def test_batched_strike_reads_keep_each_window(storage: Storage) -> None:
    for hours, user in ((0, "qq:1"), (5, "qq:1"), (5, "qq:2")):
        event = message("笨蛋", user=user, at=T0 + timedelta(hours=hours))
        await storage.journal.open_case(event, (), 1, event.time, strike_weight=1)
    weights = await asyncio.gather(
        storage.journal.strike_weight("qq:1001", "qq:1", T0),
        storage.journal.strike_weight("qq:1001", "qq:1", T0 + timedelta(hours=1)),
        storage.journal.strike_weight("qq:1001", "qq:2", T0),
        storage.journal.strike_weight("qq:1001", "qq:3", T0),
    )
    assert weights == [2, 1, 1, 0]


async def test_memory_store_keeps_writes_made_while_others_read() -> None:
    """One in-memory connection: a reader's rollback must never undo another's write."""
    storage = await Storage.open("sqlite+aiosqlite://")

    async def writes() -> None:
        for n in range(30):
            await storage.journal.enqueue_report("qq:1", f"r{n}", None, T0)

    async def reads() -> None:
        for _ in range(100):
            await storage.outbox.due_reports(T0)

    await asyncio.gather(writes(), reads(), reads())
    assert len(await storage.outbox.due_reports(T0, limit=100)) == 30
    await storage.close()


async def test_writes_submitted_before_close_land(tmp_path: Path) -> None:
    url = resolve_url("sqlite+aiosqlite:///gg.db", tmp_path)
    storage = await Storage.open(url)
    case_id = await storage.journal.open_case(message("笨蛋"), (), 1, T0)
    done = Outcome(Action(ActionKind.DELETE, "qq:1001", "qq:2001"), OutcomeStatus.DONE, "ok")
    # outcomes and members linger for company: still queued when the close begins
    pending = [
        asyncio.create_task(storage.journal.record_outcomes(case_id, (done,), T0)),
        asyncio.create_task(storage.journal.note_member(message("hi", user="qq:7"))),
    ]
    await asyncio.sleep(0)
    await storage.close()
    await asyncio.gather(*pending)
    again = await Storage.open(url)
    async with again.database.engine.connect() as conn:
        kinds = [r.kind for r in await conn.execute(select(actions))]
        seen = [r.member_id for r in await conn.execute(select(members))]
    await again.close()
    assert kinds == ["delete"] and "qq:7" in seen
