"""The engine end to end on the real store (SQLite and PostgreSQL) with a recording gateway."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any, ClassVar

import pytest
from sqlalchemy import select

from rules.config import Config, DetectorSettings, KeywordSettings, parse_config
from rules.core.model import ActionKind, ChatEvent, Finding, OutcomeStatus, Platform, Role
from rules.detectors.base import Detector
from rules.moderation.engine import Engine
from rules.officers.outbox import OutboxSender
from rules.storage import Storage
from rules.storage.tables import actions, cases
from tests.fakes import T0, Clock, FakeGateway, WordListDetector, message

WORDS = {"赌博": "gambling", "笨蛋": "insult", "反动": "politics"}


class NoteDetector(Detector[KeywordSettings]):
    """Flags 'card!' as a reminder-only finding (stands in for the nickname detector)."""

    name: ClassVar[str] = "note"
    section: ClassVar[str] = "keywords"
    feeds_ladder: ClassVar[bool] = False

    def check(self, event: ChatEvent, settings: KeywordSettings) -> list[Finding]:
        return (
            [Finding("note", "nickname", "card", 0, 4, "请改名片")] if "card!" in event.text else []
        )


@pytest.fixture
async def storage(db_url: str) -> AsyncIterator[Storage]:
    storage = await Storage.open(db_url)
    yield storage
    await storage.close()


def make_engine(storage: Storage, clock: Clock, **config: Any) -> Engine:
    cfg: Config = parse_config({"escalation": {"officers": ["qq:900"]}, **config})
    detectors: list[Detector[DetectorSettings]] = [
        WordListDetector(WORDS),  # type: ignore[list-item]
        NoteDetector(),  # type: ignore[list-item]
    ]
    return Engine(cfg, detectors, storage.journal, clock=clock)


async def test_clean_message_does_nothing(storage: Storage) -> None:
    gateway = FakeGateway()
    decision = await make_engine(storage, Clock()).handle(message("今天开会"), gateway)
    assert decision.findings == () and gateway.performed == []


async def test_ladder_escalates_and_strikes_expire(storage: Storage) -> None:
    clock, gateway = Clock(), FakeGateway()
    engine = make_engine(storage, clock)
    first = await engine.handle(message("你个笨蛋"), gateway)
    assert [a.kind for a in first.actions] == [ActionKind.DELETE, ActionKind.WARN]
    assert "第1次" in first.actions[1].text
    second = await engine.handle(message("笨蛋"), gateway)
    assert [a.kind for a in second.actions] == [ActionKind.DELETE, ActionKind.MUTE, ActionKind.WARN]
    assert second.actions[1].duration == timedelta(minutes=10)
    assert "禁言10分钟" in second.actions[2].text
    later = T0 + timedelta(days=31)  # both strikes expire
    third = await engine.handle(message("笨蛋", at=later), gateway)
    assert third.step == 1 and [a.kind for a in third.actions][-1] is ActionKind.WARN


async def test_critical_category_kicks_and_reports(storage: Storage) -> None:
    gateway = FakeGateway()
    decision = await make_engine(storage, Clock()).handle(message("反动言论"), gateway)
    assert ActionKind.KICK in gateway.kinds()
    assert "移出" in gateway.performed[-1].text
    escalate = [o for o in decision.outcomes if o.action.kind is ActionKind.ESCALATE]
    assert escalate[0].status is OutcomeStatus.DONE
    clock = Clock()
    sender = OutboxSender(storage.outbox, {Platform.QQ: gateway}, clock=clock)
    assert await sender.flush() == 0  # held for the batch window
    clock.advance(timedelta(seconds=20))
    assert await sender.flush() == 1
    officer, text = gateway.private[0]
    assert officer == "qq:900" and f"#{decision.case_id}" in text and "反动言论" in text


async def test_exempt_members_are_never_acted_against(storage: Storage) -> None:
    engine = make_engine(storage, Clock(), moderation={"exempt_ids": ["qq:7"]})
    gateway = FakeGateway()
    for event in (
        message("赌博", role=Role.ADMIN),
        message("赌博", role=Role.OWNER),
        message("赌博", user="qq:7"),
        message("赌博", user="qq:900"),  # an officer
    ):
        decision = await engine.handle(event, gateway)
        assert decision.findings and decision.actions == ()
    assert gateway.performed == []


async def test_one_message_is_acted_on_once(storage: Storage) -> None:
    engine = make_engine(storage, Clock())
    gateway = FakeGateway()
    event = message("赌博", message_id="same")
    await engine.handle(event, gateway)
    again = await engine.handle(event, gateway)
    assert again.actions == () and "already handled" in again.notes[0]
    assert gateway.kinds().count(ActionKind.DELETE) == 1


async def test_dry_run_decides_and_records_but_does_not_act(storage: Storage) -> None:
    gateway = FakeGateway()
    engine = make_engine(storage, Clock(), moderation={"dry_run": True})
    decision = await engine.handle(message("反动"), gateway)
    assert gateway.performed == [] and gateway.private == []
    assert {o.status for o in decision.outcomes} == {OutcomeStatus.DRY_RUN}
    async with storage.database.engine.connect() as conn:
        assert len((await conn.execute(select(cases))).all()) == 1
    assert await storage.outbox.due_reports(Clock()() + timedelta(days=1)) == []


async def test_wechat_fallbacks_are_recorded_with_the_case(storage: Storage) -> None:
    gateway = FakeGateway(platform=Platform.WECHAT)
    engine = make_engine(storage, Clock())
    event = message("赌博", group="wechat:r@chatroom", user="wechat:wxid_a")
    decision = await engine.handle(event, gateway)  # high: step 2 = mute, impossible on WeChat
    assert gateway.kinds() == [ActionKind.WARN]
    assert "禁言" not in gateway.performed[0].text  # the notice tells what really happened
    statuses = {o.action.kind: o.status for o in decision.outcomes}
    assert statuses[ActionKind.DELETE] is OutcomeStatus.SKIPPED
    assert statuses[ActionKind.MUTE] is OutcomeStatus.SUBSTITUTED
    assert statuses[ActionKind.ESCALATE] is OutcomeStatus.DONE
    async with storage.database.engine.connect() as conn:
        rows = (await conn.execute(select(actions.c.kind, actions.c.status))).all()
    assert ("mute", "substituted") in rows and ("delete", "skipped") in rows


async def test_failed_platform_action_is_recorded_and_reported(storage: Storage) -> None:
    gateway = FakeGateway(fail={ActionKind.KICK})
    decision = await make_engine(storage, Clock()).handle(message("反动"), gateway)
    kick = next(o for o in decision.outcomes if o.action.kind is ActionKind.KICK)
    assert kick.status is OutcomeStatus.FAILED
    assert "移出" not in gateway.performed[-1].text  # not claimed as done
    [report] = await storage.outbox.due_reports(Clock()() + timedelta(minutes=1))
    assert "kick: failed" in report.text


async def test_group_policy_override_applies(storage: Storage) -> None:
    engine = make_engine(storage, Clock(), groups={"qq:55": {"keywords": {"enabled": False}}})
    gateway = FakeGateway()
    assert (await engine.handle(message("赌博", group="qq:55"), gateway)).findings == ()
    assert (await engine.handle(message("赌博", group="qq:56"), gateway)).findings != ()


async def test_reminder_findings_remind_without_strikes(storage: Storage) -> None:
    gateway = FakeGateway()
    engine = make_engine(storage, Clock())
    decision = await engine.handle(message("card!"), gateway)
    assert gateway.kinds() == [ActionKind.REMIND] and "请改名片" in gateway.performed[0].text
    assert decision.strikes_added == 0
    assert (
        await storage.journal.strike_weight("qq:1001", "qq:2001", Clock()() - timedelta(days=1))
        == 0
    )


async def test_language_setting_switches_to_english(storage: Storage) -> None:
    gateway = FakeGateway()
    engine = make_engine(storage, Clock(), moderation={"language": "en"})
    await engine.handle(message("笨蛋"), gateway)
    assert "violation 1" in gateway.performed[-1].text
