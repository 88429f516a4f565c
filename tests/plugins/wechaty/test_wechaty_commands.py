"""Commands on the WeChat path: the real python-wechaty client against the fake puppet service."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from sqlalchemy import select

from rules.storage.tables import audit_log, outbox
from tests.plugins.wechaty.conftest import BANNED, OFFICER, ROOM
from tests.plugins.wechaty.fake_puppet import FakePuppetService

if TYPE_CHECKING:
    from plugins.wechaty_guard.service import WechatService

MEMBER = "wxid_member1"
ADMIN = "wxid_admin"


def _room(fake: FakePuppetService) -> None:
    fake.add_contact(MEMBER, "小李")
    fake.add_contact(ADMIN, "王主任")
    fake.add_contact("wxid_member2", "小王")
    fake.add_room(
        ROOM,
        "办公室工作群",
        {MEMBER: "李四+办公室", ADMIN: "王五+办公室", "wxid_member2": "王二+财务处"},
        admin_ids=[ADMIN],
    )


async def _audit(service: WechatService) -> list[tuple[str, str]]:
    """The audit log, once the command's entry is written (after its reply went out)."""
    for _ in range(300):
        async with service.runtime.storage.database.engine.connect() as conn:
            rows = (await conn.execute(select(audit_log.c.actor_id, audit_log.c.outcome))).all()
        if rows:
            return [(r[0], r[1]) for r in rows]
        await asyncio.sleep(0.01)
    return []


async def test_room_admin_warns_by_mention(service: WechatService, fake: FakePuppetService) -> None:
    _room(fake)
    assert await service.supervisor.wait_connected(3)
    fake.post_text(ROOM, ADMIN, "/警告 @小李\u2005 别刷屏", mention_ids=[MEMBER])
    await fake.wait_until(lambda: len(fake.texts_to(ROOM)) == 1)
    notice = fake.texts_to(ROOM)[0]
    assert notice.mentonal_ids == [MEMBER]
    assert notice.text.endswith("管理员提醒：别刷屏。请遵守群规。")
    assert await _audit(service) == [(f"wechat:{ADMIN}", f"ok: warn wechat:{MEMBER}: done")]


async def test_member_is_refused_and_mute_is_not_a_wechat_action(
    service: WechatService, fake: FakePuppetService
) -> None:
    _room(fake)
    assert await service.supervisor.wait_connected(3)
    fake.post_text(ROOM, MEMBER, "/踢出 王二+财务处")
    await fake.wait_until(lambda: len(fake.texts_to(ROOM)) == 1)
    assert fake.texts_to(ROOM)[0].text == "抱歉，只有本群群主、管理员或负责人可以使用 /踢出。"
    fake.post_text(ROOM, ADMIN, "/禁言 王二+财务处 10分钟")
    await fake.wait_until(lambda: len(fake.texts_to(ROOM)) == 2)
    assert fake.texts_to(ROOM)[1].text == "该平台不支持「禁言」。"
    assert fake.removed == []


async def test_officer_removes_by_private_message(
    service: WechatService, fake: FakePuppetService
) -> None:
    _room(fake)
    assert await service.supervisor.wait_connected(3)
    fake.post_private(OFFICER, f"/kick {ROOM} 王二+财务处 广告")
    await fake.wait_until(lambda: fake.removed == [(ROOM, "wxid_member2")])
    await fake.wait_until(lambda: len(fake.texts_to(OFFICER)) == 1)
    assert fake.texts_to(OFFICER)[0].text.startswith(
        "已将 王二+财务处(wxid_member2) 移出本群，原因：广告（案件 #"
    )


async def test_member_appeals_by_private_message(
    service: WechatService, fake: FakePuppetService
) -> None:
    _room(fake)
    assert await service.supervisor.wait_connected(3)
    fake.post_text(ROOM, MEMBER, f"转发：{BANNED}")  # a violation: warned, case #1
    await fake.wait_until(lambda: len(fake.texts_to(ROOM)) == 1)
    await fake.wait_until(lambda: service.bridge.events_handled == 1)
    case_id = service.decisions[-1].case_id
    fake.post_private(MEMBER, f"/申诉 #{case_id} 我是转发提醒大家")
    await fake.wait_until(lambda: len(fake.texts_to(MEMBER)) == 1)
    assert fake.texts_to(MEMBER)[0].text == (
        f"申诉已提交（案件 #{case_id}），处理结果会私信告知您。"
    )
    async with service.runtime.storage.database.engine.connect() as conn:
        queued = (await conn.execute(select(outbox.c.officer_id, outbox.c.text))).all()
    assert any(who == f"wechat:{OFFICER}" and "我是转发提醒大家" in text for who, text in queued)
