"""The outage queue on disk: kept before the bot acts, replayed in order after a restart.

During a database outage every queued write is also appended (fsync'd) to a
local spool; a process that stops or dies during the outage leaves them there,
and the next start writes them first, with the provisional case numbers
replaced by the real ones. The queue is bounded and says so loudly when full.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import create_async_engine

from rules.config import DetectorSettings, parse_config
from rules.core.model import ActionKind
from rules.detectors.base import Detector
from rules.moderation.engine import Engine
from rules.shared_state.memory import MemoryState
from rules.storage import Storage, resilient
from rules.storage.database import Database
from rules.storage.resilient import PROVISIONAL_BASE
from rules.storage.spool import Spool, SpooledWrite, SpoolError
from rules.storage.tables import actions, cases, outbox, unsettled_cases
from rules.storage.transactions import AlchemyTransactions
from tests.fakes import Clock, FakeGateway, WordListDetector, message
from tests.rules.test_resilient_store import closed_port, point_at

WORDS = {"反动": "politics", "笨蛋": "insult"}


async def test_the_spool_keeps_what_was_not_acknowledged_in_order(tmp_path: Path) -> None:
    path = tmp_path / "outage.spool"
    spool = Spool(path)
    for seq in (1, 2, 3):
        await spool.append(SpooledWrite(seq, "case", (f"arg{seq}", {"x": seq}), -seq))
    await spool.acknowledge(1)
    await spool.close()
    again = Spool(path)
    assert [(w.seq, w.args[0], w.provisional) for w in again.load()] == [
        (2, "arg2", -2),
        (3, "arg3", -3),
    ]
    assert again.last_seq == 3
    with path.open("ab") as fh:  # a crash in the middle of an append
        fh.write(b"\x40\x00\x00\x00\x01\x02")
    third = Spool(path)
    assert [w.seq for w in third.load()] == [2, 3]  # the torn record is dropped
    await third.append(SpooledWrite(4, "case", (), None))  # and appends follow the last whole one
    await third.close()
    assert [w.seq for w in Spool(path).load()] == [2, 3, 4]


async def test_a_spool_is_one_process_s_own(tmp_path: Path) -> None:
    path = tmp_path / "outage.spool"
    first, second = Spool(path), Spool(path)
    await first.append(SpooledWrite(1, "case", (), None))
    with pytest.raises(SpoolError, match="in use by another process"):
        await second.append(SpooledWrite(1, "case", (), None))
    await first.close()
    await second.close()


async def test_a_spool_whose_writes_all_landed_is_removed(tmp_path: Path) -> None:
    path = tmp_path / "outage.spool"
    spool = Spool(path)
    await spool.append(SpooledWrite(1, "case", (), None))
    await spool.acknowledge(1)
    await spool.clear()
    assert not path.exists()
    await spool.close()


def make_engine(storage: Storage) -> Engine:
    cfg = parse_config({"escalation": {"officers": ["qq:900"], "batch_window": "1s"}})
    detectors: list[Detector[DetectorSettings]] = [WordListDetector(WORDS)]  # type: ignore[list-item]
    return Engine(cfg, detectors, storage.journal, clock=Clock())


async def records(url: str) -> dict[str, Any]:
    engine = create_async_engine(url)
    async with engine.connect() as conn:
        found = {
            "cases": (await conn.execute(select(cases.c.id, cases.c.message_id))).all(),
            "actions": (
                await conn.execute(select(actions.c.case_id, actions.c.kind, actions.c.status))
            ).all(),
            "reports": (await conn.execute(select(outbox.c.case_id, outbox.c.text))).all(),
            "unsettled": (await conn.execute(select(unsettled_cases.c.case_id))).all(),
        }
    await engine.dispose()
    return found


async def test_writes_queued_in_an_outage_survive_a_stop_and_land_at_the_next_start(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'gg.db'}"
    spool = tmp_path / "gg.db.outage-spool"
    storage = await Storage.open(url, shared=MemoryState(), spool=spool)
    real, real_transactions = storage.database, storage.transactions
    nowhere = Database(
        create_async_engine(f"postgresql+asyncpg://gg:gg@127.0.0.1:{closed_port()}/gg")
    )
    point_at(storage, nowhere, AlchemyTransactions(nowhere))  # the database goes away
    engine, gateway = make_engine(storage), FakeGateway()
    decisions = [
        await engine.handle(message("反动言论", user="qq:2001", message_id="m1"), gateway),
        await engine.handle(message("你个笨蛋", user="qq:2002", message_id="m2"), gateway),
    ]
    assert all(d.case_id is not None and d.case_id <= PROVISIONAL_BASE for d in decisions)
    assert ActionKind.KICK in gateway.kinds()  # moderation went on
    assert spool.stat().st_size > 0  # on disk before the bot acted
    caplog.set_level(logging.ERROR, logger="rules.storage.resilient")
    assert storage.guard is not None
    await storage.guard.close(drain_for=0.5)  # stopped during the outage
    assert any("kept in" in r.getMessage() for r in caplog.records)
    point_at(storage, real, real_transactions)
    storage.guard = None
    await storage.close()
    await nowhere.close()
    assert spool.exists()
    assert (await records(url))["cases"] == []  # nothing reached the database

    restarted = await Storage.open(url, shared=MemoryState(), spool=spool)  # the next start
    found = await records(url)
    await restarted.close()
    assert sorted(m for _, m in found["cases"]) == ["m1", "m2"]
    ids = {case_id for case_id, _ in found["cases"]}
    assert {case_id for case_id, _, _ in found["actions"]} == ids  # real ids, not provisional
    assert all(status == "done" for _, _, status in found["actions"])
    [(report_case, text)] = found["reports"]
    assert report_case in ids and f"#{report_case}" in text and "kick: done" in text
    assert found["unsettled"] == []  # settled in order after their intents
    assert not spool.exists()


async def test_a_full_outage_queue_is_loud_and_refuses_more(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(resilient, "MAX_QUEUED", 4)  # one violation: 4 writes
    url = f"sqlite+aiosqlite:///{tmp_path / 'gg.db'}"
    storage = await Storage.open(url, shared=MemoryState(), spool=tmp_path / "spool")
    real, real_transactions = storage.database, storage.transactions
    nowhere = Database(
        create_async_engine(f"postgresql+asyncpg://gg:gg@127.0.0.1:{closed_port()}/gg")
    )
    point_at(storage, nowhere, AlchemyTransactions(nowhere))
    caplog.set_level(logging.ERROR, logger="rules.storage.resilient")
    engine, gateway = make_engine(storage), FakeGateway()
    await engine.handle(message("笨蛋", user="qq:2001", message_id="m1"), gateway)
    done = len(gateway.performed)
    with pytest.raises(RuntimeError, match="writes already queued"):
        await engine.handle(message("笨蛋", user="qq:2002", message_id="m2"), gateway)
    with pytest.raises(RuntimeError):
        await engine.handle(message("笨蛋", user="qq:2003", message_id="m3"), gateway)
    assert len(gateway.performed) == done  # nothing done that could not be recorded
    full = [r for r in caplog.records if "outage queue is full" in r.getMessage()]
    assert len(full) == 1  # said once, loudly, not per event
    point_at(storage, real, real_transactions)
    await storage.close()
    await nowhere.close()
