"""Commands on the QQ path under nonebug: OneBot events in, the exact API calls out.

Each test gets its own CommandService on a fresh in-memory store (so reports it
queues never reach the session's outbox loop) and its own group ids.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from typing import Any

import pytest
from nonebot.adapters.onebot.v11 import Adapter, Bot, Message, MessageSegment
from nonebug import App
from sqlalchemy import select

from rules.commands import CommandService, Edge
from rules.commands.table import HANDLERS
from rules.config import parse_config
from rules.core.model import Platform
from rules.moderation.engine import Engine
from rules.runtime import CommandRepositories
from rules.storage import Storage
from rules.storage.tables import audit_log, outbox
from tests.fakes import WordListDetector

BOT = "10000"
OFFICER = 900001
ADMIN, MEMBER, TARGET, OWNER = 30001, 30002, 30003, 30004
_ids = iter(range(800_000, 900_000))


@pytest.fixture
async def service(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[CommandService]:
    from plugins.guard import get_runtime
    from plugins.onebot_guard import get_gateway

    runtime = get_runtime()
    config = parse_config({"escalation": {"officers": [f"qq:{OFFICER}"]}})
    storage = await Storage.open("sqlite+aiosqlite://")
    engine = Engine(config, [WordListDetector({"测试赌局": "gambling"})], storage.journal)  # type: ignore[list-item]
    commands = CommandService(engine, CommandRepositories(storage), handlers=HANDLERS)
    gateway = get_gateway()
    commands.register(Platform.QQ, Edge(gateway, gateway))
    monkeypatch.setattr(runtime, "commands", commands)
    monkeypatch.setattr(gateway, "verify_delay", 0.0)
    yield commands
    await storage.close()


def _event(**fields: Any) -> Any:
    base = {"time": int(time.time()), "self_id": int(BOT), "post_type": "message", "font": 0}
    return Adapter.json_to_event({**base, "raw_message": "", **fields})


def group_message(group: int, user: int, segments: list[Any], role: str, **extra: Any) -> Any:
    return _event(
        message_type="group",
        sub_type="normal",
        message_id=next(_ids),
        group_id=group,
        user_id=user,
        message=segments,
        sender={"user_id": user, "nickname": "nick", "card": "某某+办公室", "role": role},
        **extra,
    )


def private_message(user: int, text: str) -> Any:
    return _event(
        message_type="private",
        sub_type="friend",
        message_id=next(_ids),
        user_id=user,
        message=[{"type": "text", "data": {"text": text}}],
        sender={"user_id": user, "nickname": "officer"},
    )


def text(value: str) -> dict[str, Any]:
    return {"type": "text", "data": {"text": value}}


def at(user: int) -> dict[str, Any]:
    return {"type": "at", "data": {"qq": str(user)}}


MEMBER_LIST = [
    {"user_id": ADMIN, "card": "王五+办公室", "role": "admin"},
    {"user_id": MEMBER, "card": "李四+教务处", "role": "member"},
    {"user_id": TARGET, "card": "张三+办公室", "role": "member"},
    {"user_id": OWNER, "card": "赵六+校办", "role": "owner"},
]


KICKED = "已将 张三+办公室(30003) 移出本群，原因：广告（案件 #1）。"


def expect_bot_role(ctx: Any, group: int) -> None:
    ctx.should_call_api(
        "get_group_member_info",
        {"group_id": group, "user_id": int(BOT), "no_cache": True},
        {"user_id": int(BOT), "role": "admin"},
    )


def expect_reply(ctx: Any, group: int, event: Any, reply: str) -> None:
    message = Message([MessageSegment.reply(event.message_id), MessageSegment.text(reply)])
    ctx.should_call_api("send_group_msg", {"group_id": group, "message": message}, {})


async def audit_outcomes(service: CommandService) -> list[tuple[str, str]]:
    async with service.store.storage.database.read() as conn:  # type: ignore[attr-defined]
        rows = await conn.execute(select(audit_log.c.actor_id, audit_log.c.outcome))
        return [(r[0], r[1]) for r in rows]


async def test_admin_mutes_by_mention_and_the_mute_is_verified(
    app: App, service: CommandService
) -> None:
    group = next(_ids)
    async with app.test_api() as ctx:
        bot = ctx.create_bot(base=Bot, self_id=BOT)
        event = group_message(
            group, ADMIN, [text("/禁言 "), at(TARGET), text(" 10分钟 刷屏")], "admin"
        )
        expect_bot_role(ctx, group)
        ctx.should_call_api("get_group_member_list", {"group_id": group}, MEMBER_LIST)
        ctx.should_call_api(
            "set_group_ban", {"group_id": group, "user_id": TARGET, "duration": 600}, None
        )
        ctx.should_call_api(
            "get_group_member_info",
            {"group_id": group, "user_id": TARGET, "no_cache": True},
            {"user_id": TARGET, "role": "member", "shut_up_timestamp": int(time.time()) + 600},
        )
        expect_reply(ctx, group, event, "已禁言 张三+办公室(30003) 10分钟，原因：刷屏（案件 #1）。")
        await bot.handle_event(event)
    assert await audit_outcomes(service) == [(f"qq:{ADMIN}", f"ok: mute qq:{TARGET}: done")]


async def test_a_member_is_refused_even_with_an_admin_looking_card(
    app: App, service: CommandService
) -> None:
    group = next(_ids)
    async with app.test_api() as ctx:
        bot = ctx.create_bot(base=Bot, self_id=BOT)
        event = group_message(group, MEMBER, [text("/kick "), at(TARGET)], "member")
        event.sender.card = "管理员+群主"
        expect_bot_role(ctx, group)
        expect_reply(ctx, group, event, "抱歉，只有本群群主、管理员或负责人可以使用 /踢出。")
        await bot.handle_event(event)
    [(actor, outcome)] = await audit_outcomes(service)
    assert actor == f"qq:{MEMBER}" and outcome.startswith("refused")


async def test_cq_codes_in_a_reason_are_sent_as_text(app: App, service: CommandService) -> None:
    group = next(_ids)
    async with app.test_api() as ctx:
        bot = ctx.create_bot(base=Bot, self_id=BOT)
        event = group_message(
            group, OWNER, [text("/warn "), at(TARGET), text(" [CQ:at,qq=all] 看这里")], "owner"
        )
        expect_bot_role(ctx, group)
        ctx.should_call_api("get_group_member_list", {"group_id": group}, MEMBER_LIST)
        notice = Message(
            [
                MessageSegment.at(TARGET),
                MessageSegment.text(" 管理员提醒：[CQ:at,qq=all] 看这里。请遵守群规。"),
            ]
        )
        ctx.should_call_api("send_group_msg", {"group_id": group, "message": notice}, {})
        await bot.handle_event(event)  # the @-notice is the answer: no second message


async def officer_kicks(ctx: Any, bot: Bot, group: int) -> None:
    """The officer removes 张三 from ``group`` by private message; the kick is verified."""
    ctx.should_call_api("get_group_member_list", {"group_id": group}, MEMBER_LIST)
    ctx.should_call_api(
        "set_group_kick",
        {"group_id": group, "user_id": TARGET, "reject_add_request": False},
        None,
    )
    ctx.should_call_api(
        "get_group_member_list", {"group_id": group}, MEMBER_LIST[:2] + MEMBER_LIST[3:]
    )
    ctx.should_call_api(
        "send_private_msg",
        {"user_id": OFFICER, "message": Message(MessageSegment.text(KICKED))},
        {},
    )
    await bot.handle_event(private_message(OFFICER, f"/踢出 {group} 张三 广告"))


async def test_officer_kicks_by_private_message_naming_the_group(
    app: App, service: CommandService
) -> None:
    group = next(_ids)
    async with app.test_api() as ctx:
        bot = ctx.create_bot(base=Bot, self_id=BOT)
        expect_bot_role(ctx, group)  # the bot has seen the group
        await bot.handle_event(group_message(group, MEMBER, [text("早上好")], "member"))
        await officer_kicks(ctx, bot, group)


async def test_officer_commands_a_group_the_bot_has_not_heard_from_since_start(
    app: App, service: CommandService
) -> None:
    group = next(_ids)  # no event from it yet: the account learns it from its group list
    async with app.test_api() as ctx:
        bot = ctx.create_bot(base=Bot, self_id=BOT)
        ctx.should_call_api("get_group_list", {}, [{"group_id": 1}, {"group_id": group}])
        expect_bot_role(ctx, group)
        await officer_kicks(ctx, bot, group)


async def test_a_stranger_cannot_command_a_group_by_private_message(
    app: App, service: CommandService
) -> None:
    async with app.test_api() as ctx:
        bot = ctx.create_bot(base=Bot, self_id=BOT)
        reply = "抱歉，您不是该群的负责人，不能私聊管理该群。"
        ctx.should_call_api(
            "send_private_msg",
            {"user_id": MEMBER, "message": Message(MessageSegment.text(reply))},
            {},
        )
        await bot.handle_event(private_message(MEMBER, "/禁言 123456 张三 10m"))


async def test_report_as_a_reply_reaches_the_officer(app: App, service: CommandService) -> None:
    group = next(_ids)
    async with app.test_api() as ctx:
        bot = ctx.create_bot(base=Bot, self_id=BOT)
        event = group_message(
            group,
            MEMBER,
            [{"type": "reply", "data": {"id": "555"}}, at(TARGET), text(" /举报 拉人进群")],
            "member",
        )
        ctx.should_call_api(  # the adapter fetches the quoted message itself
            "get_msg",
            {"message_id": 555},
            {
                "time": int(time.time()),
                "message_type": "group",
                "message_id": 555,
                "real_id": 555,
                "sender": {"user_id": TARGET, "nickname": "zs", "card": "张三+办公室"},
                "message": [text("来玩测试赌局 加我")],
            },
        )
        expect_bot_role(ctx, group)
        expect_reply(ctx, group, event, "已收到您的举报，已转交负责人处理，谢谢。")
        await bot.handle_event(event)
    async with service.store.storage.database.read() as conn:  # type: ignore[attr-defined]
        [(officer, report)] = (await conn.execute(select(outbox.c.officer_id, outbox.c.text))).all()
    assert officer == f"qq:{OFFICER}"
    assert "被举报：张三+办公室(30003)" in report and "消息：来玩测试赌局 加我" in report
    assert "系统检测：赌博「测试赌局」" in report


async def test_other_plugins_commands_and_plain_text_get_no_answer(
    app: App, service: CommandService
) -> None:
    group = next(_ids)
    async with app.test_api() as ctx:
        bot = ctx.create_bot(base=Bot, self_id=BOT)
        expect_bot_role(ctx, group)
        await bot.handle_event(group_message(group, ADMIN, [text("/天气 北京")], "admin"))
        await bot.handle_event(group_message(group, ADMIN, [text("禁言 张三")], "admin"))
    assert await audit_outcomes(service) == []
