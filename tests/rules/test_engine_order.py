"""The engine under concurrency: strikes counted in order per member; intent before effect."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from typing import Any

import pytest

from rules.config import DetectorSettings, parse_config
from rules.core.model import ActionKind, ChatEvent, OutcomeStatus
from rules.core.ports import Store
from rules.detectors.base import Detector
from rules.moderation.engine import Engine
from rules.storage import Storage
from tests.fakes import T0, Clock, FakeGateway, WordListDetector, message

WORDS = {"笨蛋": "insult"}


@pytest.fixture
async def storage() -> AsyncIterator[Storage]:
    storage = await Storage.open("sqlite+aiosqlite://")
    yield storage
    await storage.close()


@pytest.fixture
def store(storage: Storage) -> Store:
    """The engine's store: the moderation journal."""
    return storage.journal


def make_engine(store: Any) -> Engine:
    detectors: list[Detector[DetectorSettings]] = [WordListDetector(WORDS)]  # type: ignore[list-item]
    return Engine(parse_config({}), detectors, store, clock=Clock())


async def test_one_members_violations_climb_the_ladder_in_order(store: Store) -> None:
    engine, gateway = make_engine(store), FakeGateway()
    decisions = await asyncio.gather(*(engine.handle(message("笨蛋"), gateway) for _ in range(3)))
    assert sorted(d.step for d in decisions) == [1, 2, 3]
    others = await asyncio.gather(
        *(engine.handle(message("笨蛋", user=f"qq:{n}"), gateway) for n in range(3))
    )
    assert [d.step for d in others] == [1, 1, 1]  # other members start their own ladder


class SlowIntentStore:
    """The real store, but writing a decision waits until the test says so."""

    def __init__(self, store: Store) -> None:
        self._store = store
        self.release = asyncio.Event()
        self.writing = asyncio.Event()
        self.fail = False

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)

    async def open_intent(self, *args: Any, **kwargs: Any) -> int:
        self.writing.set()
        await self.release.wait()
        if self.fail:
            raise ConnectionError("database went away")
        return int(await self._store.open_intent(*args, **kwargs))  # type: ignore[attr-defined]


async def test_nothing_is_done_before_the_decision_is_recorded(store: Store) -> None:
    slow = SlowIntentStore(store)
    gateway = FakeGateway()
    handling = asyncio.create_task(make_engine(slow).handle(message("你个笨蛋"), gateway))
    await asyncio.wait_for(slow.writing.wait(), 5)
    await asyncio.sleep(0.05)
    assert gateway.performed == [] and not handling.done()  # not even the deletion
    slow.release.set()
    decision = await handling
    assert gateway.kinds() == [ActionKind.DELETE, ActionKind.WARN]
    assert decision.case_id is not None
    assert all(a.case_id == decision.case_id for a in decision.actions)
    assert all(o.action.case_id == decision.case_id for o in decision.outcomes)


async def test_a_failed_decision_write_does_nothing(store: Store) -> None:
    slow = SlowIntentStore(store)
    slow.fail = True
    slow.release.set()
    gateway = FakeGateway()
    with pytest.raises(ConnectionError):
        await make_engine(slow).handle(message("你个笨蛋"), gateway)
    assert gateway.performed == []  # nothing carried out that is not recorded


class SlowClaimStore:
    """The real store, but the claim waits until the test says so (and may be lost)."""

    def __init__(self, store: Store, won: bool = True) -> None:
        self._store = store
        self.release = asyncio.Event()
        self.won = won

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)

    async def claim_message(self, group_id: str, message_id: str, at: datetime) -> bool:
        await self.release.wait()
        return await self._store.claim_message(group_id, message_id, at) and self.won


async def test_a_message_claimed_elsewhere_is_not_acted_on(store: Store) -> None:
    event = message("你个笨蛋")
    assert event.message_id is not None
    assert await store.claim_message(event.group_id, event.message_id, event.time)  # elsewhere
    gateway = FakeGateway()
    decision = await make_engine(store).handle(event, gateway)
    assert gateway.performed == [] and decision.case_id is None
    assert "already handled" in decision.notes[0]


async def test_the_claim_goes_with_the_decision(store: Store) -> None:
    """On the ladder's path the message is claimed in the intent's transaction: a message
    delivered twice at once is decided once (one write on the way to the first action)."""
    slow = SlowClaimStore(store)  # a separate claim would wait forever
    gateway = FakeGateway()
    event = message("你个笨蛋")
    first, second = await asyncio.gather(
        make_engine(slow).handle(event, gateway), make_engine(slow).handle(event, gateway)
    )
    assert sorted(d.case_id is None for d in (first, second)) == [False, True]
    assert gateway.kinds() == [ActionKind.DELETE, ActionKind.WARN]


async def test_without_the_right_to_delete_the_fallback_still_applies(store: Store) -> None:
    gateway = FakeGateway(caps=frozenset({ActionKind.WARN}))
    decision = await make_engine(store).handle(message("你个笨蛋"), gateway)
    assert gateway.kinds() == [ActionKind.WARN]
    skipped = {o.action.kind: o.status for o in decision.outcomes}
    assert skipped[ActionKind.DELETE] in (OutcomeStatus.SKIPPED, OutcomeStatus.SUBSTITUTED)


class CountingMembers:
    """The real store, that also appends the time of each member write to ``writes``."""

    def __init__(self, store: Store, writes: list[datetime]) -> None:
        self._store = store
        self.writes = writes

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)

    async def note_member(self, event: ChatEvent) -> None:
        self.writes.append(event.time)
        await self._store.note_member(event)


def counting_members(store: Store, writes: list[datetime]) -> CountingMembers:
    return CountingMembers(store, writes)


async def test_a_member_is_written_once_however_many_messages_arrive(store: Store) -> None:
    writes: list[datetime] = []
    engine, gateway = make_engine(counting_members(store, writes)), FakeGateway()
    await asyncio.gather(*(engine.handle(message("你好"), gateway) for _ in range(5)))
    assert len(writes) == 1
    decision = await engine.handle(message("笨蛋"), gateway)
    assert OutcomeStatus.DONE in {o.status for o in decision.outcomes}
    assert len(writes) == 1  # same card and role: not written again


async def test_a_talking_group_keeps_its_last_activity_fresh(
    storage: Storage, store: Store
) -> None:
    writes: list[datetime] = []
    engine, gateway = make_engine(counting_members(store, writes)), FakeGateway()
    for minutes in (0, 4, 9, 12, 15, 23):  # one member, same card: only the clock moves
        await engine.handle(message("你好", at=T0 + timedelta(minutes=minutes)), gateway)
    assert writes == [T0, T0 + timedelta(minutes=12), T0 + timedelta(minutes=23)]
    activity = {g.group_id: g.last_activity for g in await storage.digest.group_activity()}
    assert activity["qq:1001"] == T0 + timedelta(minutes=23)
