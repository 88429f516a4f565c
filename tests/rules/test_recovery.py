"""Recovery after a crash or a stop: interrupted cases are settled once, never acted on again.

A case is left unsettled by cancelling the engine in the middle of its actions
(what a crash does to the process); recovery, as another run, checks what the
platform can tell, records ``unknown`` for the rest, releases the reports with
the restart line, and carries nothing out. On a SQLite file and on PostgreSQL.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from rules.config import DetectorSettings, parse_config
from rules.core.model import Action, ActionKind, Outcome, Platform
from rules.core.ports import MemberState
from rules.detectors.base import Detector
from rules.moderation.engine import Engine
from rules.moderation.recovery import PATIENCE, Recovery, alive_lease
from rules.officers.outbox import OutboxSender
from rules.shared_state.memory import MemoryState
from rules.storage import Storage
from rules.storage.tables import actions, outbox, unsettled_cases
from tests.fakes import Clock, FakeGateway, WordListDetector, message

WORDS = {"反动": "politics", "赌博": "gambling"}
CONFIG = {"escalation": {"officers": ["qq:900"], "batch_window": "1s"}}  # gambling: high


@pytest.fixture
async def storage(db_url: str) -> AsyncIterator[Storage]:
    opened = await Storage.open(db_url)
    yield opened
    await opened.close()


def make_engine(storage: Storage, clock: Clock) -> Engine:
    detectors: list[Detector[DetectorSettings]] = [WordListDetector(WORDS)]  # type: ignore[list-item]
    return Engine(parse_config(CONFIG), detectors, storage.journal, clock=clock)


class StuckGateway(FakeGateway):
    """Carries out everything before ``kind``; ``kind`` never returns (the process dies)."""

    def __init__(self, kind: ActionKind) -> None:
        super().__init__()
        self.kind = kind
        self.reached = asyncio.Event()

    async def perform(self, action: Action) -> Outcome:
        if action.kind is self.kind:
            self.performed.append(action)
            self.reached.set()
            await asyncio.Event().wait()
        return await super().perform(action)


@dataclass
class CheckingGateway(FakeGateway):
    """A platform that can say who is in the group and who is muted (MemberChecker)."""

    members: dict[str, MemberState] = field(default_factory=dict)
    down: bool = False
    asked: list[str] = field(default_factory=list)

    async def member_state(self, group_id: str, member_id: str) -> MemberState:
        self.asked.append(member_id)
        if self.down:
            raise ConnectionError("no connected QQ account")
        return self.members.get(member_id, MemberState(present=False))


async def crash_in(storage: Storage, text: str, stuck: ActionKind, clock: Clock, user: str) -> int:
    """Handle a message until ``stuck``, then kill the handling (as kill -9 would)."""
    engine = make_engine(storage, clock)
    gateway = StuckGateway(stuck)
    handling = asyncio.create_task(engine.handle(message(text, user=user), gateway))
    await asyncio.wait_for(gateway.reached.wait(), 5)
    [case_id] = engine.in_flight_cases
    handling.cancel()
    with pytest.raises(asyncio.CancelledError):
        await handling
    return case_id


async def state(storage: Storage) -> dict[str, Any]:
    async with storage.database.read() as conn:
        acts = (
            await conn.execute(
                select(actions.c.case_id, actions.c.kind, actions.c.status, actions.c.detail)
            )
        ).all()
        reports = (
            await conn.execute(select(outbox.c.case_id, outbox.c.text, outbox.c.next_attempt_at))
        ).all()
        unsettled = (await conn.execute(select(unsettled_cases.c.case_id))).scalars().all()
    return {"actions": acts, "reports": reports, "unsettled": list(unsettled)}


def recovery(storage: Storage, gateways: dict[Platform, Any], clock: Clock, **kw: Any) -> Recovery:
    return Recovery(
        parse_config(CONFIG),
        storage.unsettled,
        storage.journal,
        gateways,
        kw.pop("shared", MemoryState()),
        kw.pop("handler", "the-next-run"),
        clock=clock,
        **kw,
    )


async def test_a_crashed_case_is_checked_recorded_and_reported_once(storage: Storage) -> None:
    clock = Clock()
    kicked = await crash_in(storage, "反动言论", ActionKind.KICK, clock, "qq:2001")
    muted = await crash_in(storage, "赌博", ActionKind.MUTE, clock, "qq:2002")
    before = await state(storage)
    assert sorted(before["unsettled"]) == sorted([kicked, muted])
    assert "planned" in {s for _, _, s, _ in before["actions"]}

    until = clock() + timedelta(hours=1)
    gateway = CheckingGateway(members={"qq:2002": MemberState(True, until)})  # 2001 is gone
    result = await recovery(storage, {Platform.QQ: gateway}, clock).run()
    assert (result.settled, result.waiting) == (2, 0)
    assert gateway.performed == []  # checked, never acted on again
    after = await state(storage)
    assert after["unsettled"] == []
    outcome = {(c, k): (s, d) for c, k, s, d in after["actions"]}
    assert outcome[(kicked, "delete")][0] == "unknown"  # the platform cannot tell
    assert outcome[(kicked, "kick")] == (
        "done",
        "bot restarted; checked after the restart: no longer in the group",
    )
    assert outcome[(kicked, "warn")][0] == "unknown"
    assert outcome[(muted, "mute")][0] == "done" and "muted until" in outcome[(muted, "mute")][1]
    assert all(s != "planned" for s, _ in outcome.values())
    texts = {case: text for case, text, _ in after["reports"]}
    assert texts[kicked].startswith("【注意】群卫士在处理本案件时重启")
    assert f"#{kicked}" in texts[kicked] and "kick: done" in texts[kicked]
    assert "warn: unknown" in texts[kicked]

    sender = OutboxSender(storage.outbox, {Platform.QQ: gateway}, clock)
    assert await sender.flush() == 2  # released at once
    assert (await recovery(storage, {Platform.QQ: gateway}, clock).run()).settled == 0


async def test_a_deletion_cut_off_by_the_crash_is_unknown_not_done_again(
    storage: Storage,
) -> None:
    clock = Clock()
    case_id = await crash_in(storage, "反动", ActionKind.DELETE, clock, "qq:2001")
    gateway = CheckingGateway()
    await recovery(storage, {Platform.QQ: gateway}, clock).run()
    outcome = {k: (s, d) for c, k, s, d in (await state(storage))["actions"] if c == case_id}
    assert outcome["delete"][0] == "unknown"
    assert "cannot tell" in outcome["delete"][1]
    assert gateway.performed == []


async def test_enforcement_is_recorded_before_a_notice_waits(storage: Storage) -> None:
    """A notice may wait long in the rate limits: a crash meanwhile loses no outcome of
    the deletion and the removal, only the notice's is unknown."""
    clock = Clock()
    case_id = await crash_in(storage, "反动", ActionKind.WARN, clock, "qq:2001")
    outcome = {k: s for c, k, s, _ in (await state(storage))["actions"] if c == case_id}
    assert outcome == {"delete": "done", "kick": "done", "warn": "planned", "escalate": "done"}
    [(_, _, held)] = (await state(storage))["reports"]
    assert held > clock() + timedelta(seconds=60)  # still held: the case is not settled
    await recovery(storage, {Platform.QQ: CheckingGateway()}, clock).run()
    outcome = {k: s for c, k, s, _ in (await state(storage))["actions"] if c == case_id}
    assert outcome == {"delete": "done", "kick": "done", "warn": "unknown", "escalate": "done"}


async def test_reports_wait_for_a_platform_that_is_not_back_then_go_as_unknown(
    storage: Storage,
) -> None:
    clock = Clock()
    case_id = await crash_in(storage, "反动", ActionKind.KICK, clock, "qq:2001")
    gateway = CheckingGateway(down=True)
    recover = recovery(storage, {Platform.QQ: gateway}, clock)
    first = await recover.run()
    assert (first.settled, first.waiting) == (0, 1)
    [(_, _, held)] = (await state(storage))["reports"]
    assert held == clock() + PATIENCE  # not sent with the intent's "planned" meanwhile
    sender = OutboxSender(storage.outbox, {Platform.QQ: gateway}, clock)
    clock.advance(timedelta(minutes=5))  # (the intent's own hold has passed too)
    clock.now = min(clock.now, held - timedelta(seconds=1))
    assert await sender.flush() == 0
    clock.advance(PATIENCE)
    assert (await recover.run()).settled == 1
    kick = [(s, d) for c, k, s, d in (await state(storage))["actions"] if k == "kick"]
    assert kick[0][0] == "unknown" and "could not be checked" in kick[0][1]
    assert case_id not in (await state(storage))["unsettled"]


class HeldLeases(MemoryState):
    """Shared state where some runs are alive: their liveness leases are held."""

    shared = True

    def __init__(self, alive: set[str]) -> None:
        super().__init__()
        self.alive = alive

    async def try_lease(self, name: str, ttl: timedelta) -> bool:
        return name not in self.alive


async def test_the_cases_of_a_live_run_are_left_to_it(storage: Storage) -> None:
    clock = Clock()
    engine = make_engine(storage, clock)
    gateway = StuckGateway(ActionKind.KICK)
    handling = asyncio.create_task(engine.handle(message("反动"), gateway))
    await asyncio.wait_for(gateway.reached.wait(), 5)
    alive = HeldLeases({alive_lease(engine.handler)})
    result = await recovery(storage, {Platform.QQ: CheckingGateway()}, clock, shared=alive).run()
    assert (result.settled, result.skipped) == (0, 1)
    # its own run leaves a case in flight alone, however old
    clock.advance(timedelta(hours=1))
    own = recovery(
        storage,
        {Platform.QQ: CheckingGateway()},
        clock,
        handler=engine.handler,
        in_flight=lambda: engine.in_flight_cases,
    )
    assert (await own.run()).settled == 0
    handling.cancel()
    with pytest.raises(asyncio.CancelledError):
        await handling
    assert (await own.run()).settled == 1  # no longer in flight, old: its settle was lost


async def test_an_interrupted_case_says_so(storage: Storage) -> None:
    clock = Clock()
    case_id = await crash_in(storage, "反动", ActionKind.KICK, clock, "qq:2001")
    await storage.journal.interrupt([case_id])  # the graceful stop marked it
    await recovery(storage, {Platform.QQ: CheckingGateway()}, clock).run()
    kick = [d for c, k, s, d in (await state(storage))["actions"] if k == "kick"]
    assert kick[0].startswith("interrupted by a stop; ")


def test_the_alive_lease_is_named_after_the_run() -> None:
    assert alive_lease("host:1:ab") == "alive:host:1:ab"
