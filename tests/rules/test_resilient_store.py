"""Storage through a database outage: moderation goes on, the writes land afterwards.

The same scenario runs on a healthy store and on one whose database goes away
in the middle; the engine must decide exactly the same, and afterwards the
database must hold exactly the same records. On PostgreSQL the outage is a
real partition (a proxy that stops answering); on SQLite the store is pointed
at a port where nothing listens.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.engine import make_url
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.ext.asyncio import create_async_engine

from rules.config import Config, DetectorSettings, parse_config
from rules.core.model import ActionKind, ChatEvent, Decision, Platform
from rules.core.ports import Store
from rules.detectors.base import Detector
from rules.moderation.engine import Engine
from rules.officers.outbox import OutboxSender
from rules.shared_state.memory import MemoryState
from rules.storage import Storage
from rules.storage.database import Database
from rules.storage.resilient import (
    PROVISIONAL_BASE,
    OutageGuard,
    ResilientCompliance,
    ResilientJournal,
    ResilientOutbox,
    is_outage,
)
from rules.storage.tables import actions, cases, handled_messages, outbox, strikes
from rules.storage.transactions import AlchemyTransactions, Transactions
from tests.fakes import T0, Clock, FakeGateway, WordListDetector, message
from tests.faults.proxy import CuttableProxy

WORDS = {"赌博": "gambling", "笨蛋": "insult", "反动": "politics"}


def make_engine(store: Store, clock: Clock) -> Engine:
    cfg: Config = parse_config({"escalation": {"officers": ["qq:900"], "batch_window": "1s"}})
    detectors: list[Detector[DetectorSettings]] = [WordListDetector(WORDS)]  # type: ignore[list-item]
    return Engine(cfg, detectors, store, clock=clock)


def events() -> tuple[list[ChatEvent], list[ChatEvent]]:
    """Before the outage, and during it (the ladder climbs for qq:2001 across it)."""
    before = [message("笨蛋", message_id="b1"), message("赌博", user="qq:2002", message_id="b2")]
    during = [
        message("又是笨蛋", message_id="d1", at=T0 + timedelta(minutes=1)),
        message("今天开会", user="qq:2003", message_id="d2"),
        message("笨蛋笨蛋", message_id="d3", at=T0 + timedelta(minutes=2)),
        message("反动言论", user="qq:2004", message_id="d4"),  # critical: kick + report
        message("反动言论", user="qq:2004", message_id="d4"),  # delivered twice: acted on once
        message("赌博", user="qq:2005", card="新人", message_id="d5"),  # a member not seen before
    ]
    return before, during


def decided(decision: Decision) -> tuple[object, ...]:
    return (decision.step, decision.strikes_added, tuple(a.kind for a in decision.actions))


@dataclass
class Outage:
    storage: Storage
    cut: Callable[[], None]
    restore: Callable[[], None]

    @property
    def guard(self) -> OutageGuard:
        assert self.storage.guard is not None
        return self.storage.guard


async def tolerant(url: str, answer_within: timedelta | None = None) -> Storage:
    """Storage that rides out outages (as the bot opens it)."""
    return await Storage.open(url, answer_within=answer_within, shared=MemoryState())


def point_at(storage: Storage, database: Database, transactions: Transactions) -> None:
    """Make every repository the guard wraps (and the guard's ping) use ``database``."""
    journal, outbox, compliance = storage.journal, storage.outbox, storage.compliance
    assert isinstance(journal, ResilientJournal) and isinstance(outbox, ResilientOutbox)
    assert isinstance(compliance, ResilientCompliance) and storage.guard is not None
    journal.inner.database = outbox.inner.database = compliance.inner.database = database
    storage.guard.database = database
    journal.inner.transactions = outbox.inner.transactions = transactions


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.asynccontextmanager
async def outage_store(url: str) -> AsyncIterator[Outage]:
    parsed = make_url(url)
    if parsed.get_backend_name() == "postgresql":
        assert parsed.port is not None
        async with CuttableProxy(parsed.host or "127.0.0.1", parsed.port) as proxy:
            via = parsed.set(port=proxy.port).render_as_string(hide_password=False)
            storage = await tolerant(via, answer_within=timedelta(seconds=1))
            yield Outage(storage, proxy.cut, proxy.restore)
            await storage.close()
        return
    # A SQLite file cannot become unreachable: point the repositories at a closed port
    # instead (through SQLAlchemy, since the journal otherwise writes the file with sqlite3).
    storage = await tolerant(url)
    real, real_transactions = storage.database, storage.transactions
    nowhere = Database(
        create_async_engine(f"postgresql+asyncpg://gg:gg@127.0.0.1:{closed_port()}/gg")
    )

    def cut() -> None:
        point_at(storage, nowhere, AlchemyTransactions(nowhere))

    def restore() -> None:
        point_at(storage, real, real_transactions)

    yield Outage(storage, cut, restore)
    restore()
    await storage.close()
    await nowhere.close()


async def until(condition: Callable[[], bool], within: float = 20.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while not condition():
        assert loop.time() < deadline, "condition not met in time"
        await asyncio.sleep(0.05)


async def records(storage: Storage) -> dict[str, Any]:
    async with storage.database.read() as conn:
        case_rows = (
            await conn.execute(
                select(cases.c.id, cases.c.message_id, cases.c.step).order_by(cases.c.message_id)
            )
        ).all()
        ids = {row.id for row in case_rows}
        linked = (await conn.execute(select(actions.c.case_id, actions.c.kind))).all()
        weights = (
            await conn.execute(
                select(strikes.c.member_id, func.sum(strikes.c.weight))
                .group_by(strikes.c.member_id)
                .order_by(strikes.c.member_id)
            )
        ).all()
        reports = (await conn.execute(select(outbox.c.case_id, outbox.c.text))).all()
        claimed = (await conn.execute(select(func.count()).select_from(handled_messages))).scalar()
    assert all(case_id in ids for case_id, _ in linked)  # every outcome names a real case
    for case_id, text in reports:
        assert case_id in ids and f"#{case_id}" in text  # reports name the real case
    return {
        "cases": [(row.message_id, row.step) for row in case_rows],
        "actions": sorted(kind for _, kind in linked),
        "strikes": [tuple(row) for row in weights],
        "reports": len(reports),
        "claimed": claimed,
    }


async def test_moderation_goes_on_through_an_outage_and_every_write_lands(
    db_url: str, tmp_path: Any, caplog: pytest.LogCaptureFixture
) -> None:
    before, during = events()

    reference = await tolerant(f"sqlite+aiosqlite:///{tmp_path / 'ref.db'}")
    engine = make_engine(reference.journal, Clock())
    expected = [decided(await engine.handle(e, FakeGateway())) for e in before + during]
    want = await records(reference)
    await reference.close()

    caplog.set_level(logging.WARNING, logger="rules.storage.resilient")
    async with outage_store(db_url) as outage:
        storage, guard = outage.storage, outage.guard
        guard.retry_initial = guard.retry_max = 0.1
        gateway = FakeGateway()
        engine = make_engine(storage.journal, Clock())
        got = [decided(await engine.handle(e, gateway)) for e in before]
        outage.cut()
        during_decisions = [await engine.handle(e, gateway) for e in during]
        got += [decided(d) for d in during_decisions]
        assert guard.in_outage and guard.queued > 0
        # moderation went on: deleted, warned, muted, kicked, all with provisional cases
        acted = [d for d in during_decisions if d.case_id is not None]
        assert len(acted) == 4 and all(d.case_id <= PROVISIONAL_BASE for d in acted)
        assert {ActionKind.DELETE, ActionKind.MUTE, ActionKind.KICK} <= set(gateway.kinds())
        assert await OutboxSender(storage.outbox, {Platform.QQ: gateway}).flush() == 0  # wait

        await asyncio.sleep(0.5)  # retries fail meanwhile, quietly
        outage.restore()
        await until(lambda: not guard.in_outage)
        assert guard.queued == 0
        assert got == expected  # the outage changed nothing the engine decided
        assert await records(storage) == want  # and nothing was lost or written twice
        after = await engine.handle(message("笨蛋", message_id="a1"), gateway)
        assert after.case_id is not None and after.case_id > 0  # direct writes again

    logged = [r.getMessage() for r in caplog.records]
    assert len([m for m in logged if "database unreachable" in m]) == 1
    assert len([m for m in logged if "database reachable again" in m]) == 1


async def test_a_bad_write_fails_as_before_and_is_not_queued(db_url: str) -> None:
    storage = await tolerant(db_url)
    gateway = FakeGateway()
    decision = await make_engine(storage.journal, Clock()).handle(message("赌博"), gateway)
    assert decision.case_id is not None
    with pytest.raises(IntegrityError):  # an outcome for a case that does not exist
        await storage.journal.record_outcomes(decision.case_id + 1000, decision.outcomes, T0)
    assert storage.guard is not None
    assert not storage.guard.in_outage and storage.guard.queued == 0
    await storage.close()


def test_outage_errors_are_told_from_statement_errors() -> None:
    assert is_outage(ConnectionRefusedError())
    assert is_outage(TimeoutError())
    assert is_outage(OperationalError("SELECT 1", {}, Exception("database is locked")))
    assert not is_outage(IntegrityError("INSERT", {}, Exception("duplicate key")))
    assert not is_outage(ValueError("naive datetime given to the store"))
