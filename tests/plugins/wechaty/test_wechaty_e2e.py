"""The real python-wechaty client against a fake puppet service over loopback gRPC.

Covers: login, a banned word -> warning with @mention, then removal (RoomDel)
and an officer report per the ladder; a clean message -> nothing; URL cards and
mini-programs reach the core as share cards; joins and leaves with the room
alias as card; rooms the bot does not manage -> the configured fallback.
"""

from __future__ import annotations

import asyncio
import time
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from rules.core.model import ActionKind, EventKind, OutcomeStatus, Role, utcnow
from rules.officers.outbox import OutboxSender
from tests.plugins.wechaty.conftest import (
    BANNED,
    OFFICER,
    ROOM,
    close_service,
    start_service,
    wechat_config,
)
from tests.plugins.wechaty.fake_puppet import FakePuppetService

if TYPE_CHECKING:
    from plugins.wechaty_guard.bridge import PrivateMessage
    from plugins.wechaty_guard.service import WechatService

MEMBER = "wxid_member1"


def _room(fake: FakePuppetService, owner: str | None = None) -> None:
    fake.add_contact(MEMBER, "小李")
    fake.add_contact("wxid_member2", "小王")
    fake.add_room(
        ROOM,
        "办公室工作群",
        {MEMBER: "李四+办公室", "wxid_member2": "王五+财务处"},
        owner_id=owner,
    )


async def _flush_reports(service: WechatService) -> int:
    """Deliver queued officer reports now (past the batch window)."""
    later = utcnow() + timedelta(minutes=5)
    sender = OutboxSender(
        service.runtime.storage.outbox, service.runtime.gateways, clock=lambda: later
    )
    return await sender.flush()


async def test_login(service: WechatService, fake: FakePuppetService) -> None:
    start = time.perf_counter()
    assert await service.supervisor.wait_connected(3)
    print(f"login in {(time.perf_counter() - start) * 1000:.0f} ms")
    assert service.supervisor.self_id == fake.self_id
    assert fake.calls[:2] == ["Start", "Event"]  # never Stop: it logs the account out


async def test_banned_word_warns_then_removes_and_reports(
    service: WechatService, fake: FakePuppetService
) -> None:
    _room(fake)
    assert await service.supervisor.wait_connected(3)

    start = time.perf_counter()
    fake.post_text(ROOM, MEMBER, f"大家来玩{BANNED}吧")
    await fake.wait_until(lambda: len(fake.texts_to(ROOM)) == 1)
    print(f"message -> warning in {(time.perf_counter() - start) * 1000:.0f} ms")
    warning = fake.texts_to(ROOM)[0]
    assert warning.mentonal_ids == [MEMBER]
    assert warning.text.startswith("@小李 ")
    assert "违规" in warning.text
    assert fake.removed == []
    await fake.wait_until(lambda: service.bridge.events_handled == 1)
    first = service.decisions[-1]
    assert first.step == 1
    # WeChat cannot delete others' messages: recorded, not silently dropped.
    assert any(
        o.action.kind is ActionKind.DELETE and o.status is OutcomeStatus.SKIPPED
        for o in first.outcomes
    )

    start = time.perf_counter()
    fake.post_text(ROOM, MEMBER, f"再说一次{BANNED}")
    await fake.wait_until(lambda: fake.removed == [(ROOM, MEMBER)])
    await fake.wait_until(lambda: len(fake.texts_to(ROOM)) == 2)
    print(f"message -> RoomDel + warning in {(time.perf_counter() - start) * 1000:.0f} ms")
    assert "移出" in fake.texts_to(ROOM)[1].text
    await fake.wait_until(lambda: any(d.step == 2 for d in service.decisions))
    second = next(d for d in service.decisions if d.step == 2)
    assert second.step == 2
    kinds = {o.action.kind: o.status for o in second.outcomes}
    assert kinds[ActionKind.KICK] is OutcomeStatus.DONE
    assert kinds[ActionKind.ESCALATE] is OutcomeStatus.DONE

    assert await _flush_reports(service) == 1
    report = fake.texts_to(OFFICER)
    assert len(report) == 1
    assert BANNED in report[0].text and f"wechat:{MEMBER}" in report[0].text
    # The removal came back as a room-leave event and reached the core.
    await fake.wait_until(lambda: any(e.kind is EventKind.LEAVE for e in service.events))


async def test_clean_message_does_nothing(service: WechatService, fake: FakePuppetService) -> None:
    _room(fake)
    assert await service.supervisor.wait_connected(3)
    fake.post_text(ROOM, MEMBER, "明天上午九点开会，请准时参加")
    await fake.wait_until(lambda: service.bridge.events_handled == 1)
    decision = service.decisions[-1]
    assert decision.findings == () and decision.actions == ()
    assert fake.sent == [] and fake.removed == []


async def test_card_and_alias_reach_the_core(
    service: WechatService, fake: FakePuppetService
) -> None:
    _room(fake)
    assert await service.supervisor.wait_connected(3)
    seen = service.events
    fake.post_url(ROOM, MEMBER, "http://example.com/vote?id=1", "帮我砍一刀")
    fake.post_mini_program(ROOM, "wxid_member2", "wx123abc", "拼团小程序")
    fake.join(ROOM, "wxid_new", "新人", alias="赵六+人事处")
    await fake.wait_until(lambda: len(seen) == 3)
    by_kind = {(e.kind, e.member.id): e for e in seen}
    url = by_kind[(EventKind.MESSAGE, f"wechat:{MEMBER}")]
    assert url.cards[0].url == "http://example.com/vote?id=1"
    assert url.cards[0].title == "帮我砍一刀"
    assert url.member.card == "李四+办公室"
    mini = by_kind[(EventKind.MESSAGE, "wechat:wxid_member2")]
    assert mini.cards[0].url.startswith("miniprogram://wx123abc/")
    joined = by_kind[(EventKind.JOIN, "wechat:wxid_new")]
    assert joined.member.card == "赵六+人事处"
    assert joined.group_id == f"wechat:{ROOM}"


async def test_room_not_managed_falls_back_to_report(
    fake: FakePuppetService, tmp_path: Path
) -> None:
    _room(fake, owner="wxid_member2")  # someone else owns the room
    config = wechat_config(tmp_path, fake.endpoint, ladder={"steps": ["kick"]})
    service = await start_service(config)
    try:
        assert await service.supervisor.wait_connected(3)
        fake.post_text(ROOM, MEMBER, BANNED)
        await fake.wait_until(lambda: service.bridge.events_handled == 1)
        await fake.wait_until(lambda: len(fake.texts_to(ROOM)) == 1)
        decision = service.decisions[-1]
        statuses = {o.action.kind: o.status for o in decision.outcomes}
        assert statuses[ActionKind.KICK] is OutcomeStatus.SUBSTITUTED
        assert statuses[ActionKind.ESCALATE] is OutcomeStatus.DONE
        assert fake.removed == []
        assert service.gateway.capabilities(f"wechat:{ROOM}") == frozenset(
            {ActionKind.WARN, ActionKind.REMIND}
        )
        # the room owner is exempt, and known as such
        assert service.gateway.rooms[ROOM].role_of("wxid_member2") is Role.OWNER
    finally:
        await close_service(service)


async def test_private_message_from_officer_is_kept(
    service: WechatService, fake: FakePuppetService
) -> None:
    assert await service.supervisor.wait_connected(3)
    fake.add_contact("wxid_stranger", "陌生人")
    fake.post_private("wxid_stranger", "你好")
    fake.post_private(OFFICER, "/help")
    item = await _next_private(service)
    assert item.sender_id == f"wechat:{OFFICER}"
    assert item.text == "/help"
    assert service.bridge.private.empty()


async def _next_private(service: WechatService) -> PrivateMessage:
    return await asyncio.wait_for(service.bridge.private.get(), 3)


async def test_bad_alias_on_join_gets_a_reminder(fake: FakePuppetService, tmp_path: Path) -> None:
    _room(fake)
    nickname = {"enabled": True, "format": "{name}+{dept}", "departments": ["办公室", "人事处"]}
    service = await start_service(wechat_config(tmp_path, fake.endpoint, nickname=nickname))
    try:
        assert await service.supervisor.wait_connected(3)
        fake.join(ROOM, "wxid_good", "赵六", alias="赵六+人事处")
        fake.join(ROOM, "wxid_bad", "快乐小猪", alias="快乐小猪")
        await fake.wait_until(lambda: service.bridge.events_handled == 2)
        reminders = fake.texts_to(ROOM)
        assert len(reminders) == 1
        assert reminders[0].mentonal_ids == ["wxid_bad"]
        assert "群名片" in reminders[0].text
        assert fake.removed == []
    finally:
        await close_service(service)
