"""Intent before effect: what the store holds before, while and after the engine acts.

A decision is written (case, strike, planned actions, reports owed, unsettled)
before any platform call; the outcomes settle it; a report waits for them (or
for its deadline) so the officer reads what happened; a stop tells which cases
are still in flight. On a SQLite file and on PostgreSQL.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from rules.config import DetectorSettings, parse_config
from rules.core.model import Action, ActionKind, Outcome, OutcomeStatus, Platform
from rules.detectors.base import Detector
from rules.moderation.engine import REPORT_HOLD, Engine
from rules.officers.outbox import OutboxSender
from rules.shared_state.memory import MemoryState
from rules.storage import Storage
from rules.storage.tables import actions, outbox, unsettled_cases
from tests.fakes import Clock, FakeGateway, WordListDetector, message

WORDS = {"反动": "politics", "笨蛋": "insult"}


@pytest.fixture
async def storage(db_url: str) -> AsyncIterator[Storage]:
    opened = await Storage.open(db_url)
    yield opened
    await opened.close()


def make_engine(storage: Storage, clock: Clock) -> Engine:
    config = parse_config({"escalation": {"officers": ["qq:900"], "batch_window": "1s"}})
    detectors: list[Detector[DetectorSettings]] = [WordListDetector(WORDS)]  # type: ignore[list-item]
    return Engine(config, detectors, storage.journal, clock=clock)


class HeldGateway(FakeGateway):
    """Carries out nothing of ``kind`` until the test lets it go."""

    def __init__(self, kind: ActionKind) -> None:
        super().__init__()
        self.kind = kind
        self.reached = asyncio.Event()
        self.go = asyncio.Event()

    async def perform(self, action: Action) -> Outcome:
        if action.kind is self.kind:
            self.reached.set()
            await self.go.wait()
        return await super().perform(action)


async def rows(storage: Storage) -> dict[str, Any]:
    async with storage.database.read() as conn:
        planned = (
            await conn.execute(
                select(actions.c.seq, actions.c.kind, actions.c.status).order_by(actions.c.seq)
            )
        ).all()
        reports = (
            await conn.execute(select(outbox.c.text, outbox.c.next_attempt_at, outbox.c.sent_at))
        ).all()
        unsettled = (await conn.execute(select(unsettled_cases.c.case_id))).scalars().all()
    return {
        "actions": [(seq, kind, status) for seq, kind, status in planned],
        "reports": reports,
        "unsettled": list(unsettled),
    }


async def test_the_decision_is_recorded_before_the_first_call_and_settled_after(
    storage: Storage,
) -> None:
    clock = Clock()
    gateway = HeldGateway(ActionKind.DELETE)  # the very first call waits
    engine = make_engine(storage, clock)
    handling = asyncio.create_task(engine.handle(message("反动言论"), gateway))
    await asyncio.wait_for(gateway.reached.wait(), 5)

    during = await rows(storage)  # the platform has not answered anything yet
    assert during["actions"] == [
        (0, "delete", "planned"),
        (1, "kick", "planned"),
        (2, "warn", "planned"),
        (3, "escalate", "done"),  # the report is queued with the case
    ]
    assert len(during["unsettled"]) == 1 and len(engine.in_flight_cases) == 1
    [(text, due, sent)] = during["reports"]
    assert sent is None and due == clock() + REPORT_HOLD  # held for the outcomes
    assert f"#{during['unsettled'][0]}" in text and "kick: planned" in text
    sender = OutboxSender(storage.outbox, {Platform.QQ: gateway}, clock)
    clock.advance(timedelta(seconds=5))  # the batch window has passed, the outcomes are not in
    assert await sender.flush() == 0

    gateway.go.set()
    decision = await handling
    after = await rows(storage)
    assert [status for _, _, status in after["actions"]] == ["done"] * 4
    assert after["unsettled"] == [] and engine.in_flight_cases == set()
    [(text, _, _)] = after["reports"]
    assert f"#{decision.case_id}" in text and "kick: done" in text and "planned" not in text
    assert await sender.flush() == 1  # released: due once the batch window is over
    assert gateway.private[0][1] == text


async def test_a_report_waits_for_its_outcomes_only_until_its_deadline(storage: Storage) -> None:
    clock = Clock()
    gateway = HeldGateway(ActionKind.KICK)
    handling = asyncio.create_task(make_engine(storage, clock).handle(message("反动"), gateway))
    await asyncio.wait_for(gateway.reached.wait(), 5)
    sender = OutboxSender(storage.outbox, {Platform.QQ: gateway}, clock)
    clock.advance(REPORT_HOLD)
    assert await sender.flush() == 1  # the officer reads what is known, never nothing
    assert "delete: done" in gateway.private[0][1] or "delete: planned" in gateway.private[0][1]
    assert "kick: planned" in gateway.private[0][1]
    gateway.go.set()
    await handling
    assert await sender.flush() == 0  # sent once; the late outcomes are in the case


async def test_a_stop_tells_which_cases_are_in_flight_and_takes_nothing_new(
    storage: Storage,
) -> None:
    clock = Clock()
    gateway = HeldGateway(ActionKind.KICK)
    engine = make_engine(storage, clock)
    handling = asyncio.create_task(engine.handle(message("反动"), gateway))
    await asyncio.wait_for(gateway.reached.wait(), 5)
    engine.stop_taking()
    refused = await engine.handle(message("笨蛋"), FakeGateway())
    assert refused.case_id is None and refused.notes == ("stopping: not handled",)
    left = await engine.drain(0.1)
    assert len(left) == 1 and engine.refused == 1
    await storage.journal.interrupt(left)
    statuses = {(kind, status) for _, kind, status in (await rows(storage))["actions"]}
    assert ("kick", "interrupted") in statuses and ("delete", "done") not in statuses
    gateway.go.set()  # (it finished after all: its outcomes still land)
    await handling
    assert await engine.drain(1) == []


async def test_a_stop_waits_for_the_handling_in_flight(storage: Storage) -> None:
    gateway = HeldGateway(ActionKind.KICK)
    engine = make_engine(storage, Clock())
    handling = asyncio.create_task(engine.handle(message("反动"), gateway))
    await asyncio.wait_for(gateway.reached.wait(), 5)
    engine.stop_taking()
    asyncio.get_running_loop().call_later(0.2, gateway.go.set)
    assert await engine.drain(5) == []  # finished within the grace period
    assert handling.done() and (await rows(storage))["unsettled"] == []


async def test_substitutions_are_recorded_with_the_intent(storage: Storage) -> None:
    gateway = FakeGateway(caps=frozenset({ActionKind.WARN}))  # not an admin: no delete, no kick
    decision = await make_engine(storage, Clock()).handle(message("反动"), gateway)
    assert gateway.kinds() == [ActionKind.WARN]
    recorded = (await rows(storage))["actions"]
    assert [seq for seq, _, _ in recorded] == list(range(len(recorded)))
    by_kind = {kind: status for _, kind, status in recorded}
    assert by_kind["delete"] in ("skipped", "substituted") and by_kind["warn"] == "done"
    assert OutcomeStatus.PLANNED not in {o.status for o in decision.outcomes}


async def test_two_processes_without_redis_decide_a_message_once(db_url: str) -> None:
    """Each process's own claim says yes (no shared state): the database's claim, made in
    the decision's transaction, lets one of them act."""
    one = await Storage.open(db_url, shared=MemoryState())
    other = await Storage.open(db_url, shared=MemoryState())
    try:
        gateway = FakeGateway()
        event = message("反动言论")
        decisions = await asyncio.gather(
            make_engine(one, Clock()).handle(event, gateway),
            make_engine(other, Clock()).handle(event, gateway),
        )
        assert sorted(d.case_id is None for d in decisions) == [False, True]
        assert gateway.kinds().count(ActionKind.DELETE) == 1
    finally:
        await one.close()
        await other.close()
