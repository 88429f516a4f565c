"""The QQ edge under nonebug: OneBot events in, the exact API calls out.

Each test uses its own group ids (the plugin's caches and the engine's flood
windows live for the session) and a test engine with a known word list and no
officers, so nothing is queued for the session's outbox.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from nonebot import get_adapter
from nonebot.adapters.onebot.v11 import Adapter, Bot, Message, MessageSegment
from nonebug import App
from sqlalchemy import func, select

from rules.config import parse_config
from rules.core.model import Action, ActionKind, OutcomeStatus
from rules.core.ports import NOMINAL_CAPABILITIES
from rules.detectors.flood import FloodDetector
from rules.moderation.engine import Engine
from rules.storage.tables import cases
from tests.fakes import WordListDetector

WORDS = {"测试脏话": "insult", "测试赌局": "gambling"}
BOT = "10000"
_ids = iter(range(700_000, 800_000))


def new_group() -> int:
    return next(_ids)


@pytest.fixture
def engine(monkeypatch: pytest.MonkeyPatch) -> Iterator[Engine]:
    from plugins.guard import get_runtime
    from plugins.onebot_guard import get_gateway

    runtime = get_runtime()
    config = parse_config(
        {
            "ladder": {
                "steps": ["warn", "mute 10m", "kick"],
                "escalate_severity": "critical",
                "severity": {"flood": "high", "gambling": "high", "insult": "medium"},
            },
            "flood": {"repeat": 3},
        }
    )
    test_engine = Engine(
        config,
        [WordListDetector(WORDS), FloodDetector()],  # type: ignore[list-item]
        runtime.storage.journal,
    )
    monkeypatch.setattr(runtime, "engine", test_engine)
    monkeypatch.setattr(get_gateway(), "verify_delay", 0.0)
    yield test_engine


def group_message(
    group: int,
    user: int,
    message: Any,
    *,
    message_id: int = 1,
    role: str = "member",
    parse: Callable[[dict[str, Any]], Any] = Adapter.json_to_event,
) -> Any:
    return parse(
        {
            "time": int(time.time()),
            "self_id": int(BOT),
            "post_type": "message",
            "message_type": "group",
            "sub_type": "normal",
            "message_id": message_id,
            "group_id": group,
            "user_id": user,
            "message": message,
            "raw_message": "",
            "font": 0,
            "sender": {"user_id": user, "nickname": "nick", "card": "张三+办公室", "role": role},
        }
    )


def text(value: str) -> list[dict[str, Any]]:
    return [{"type": "text", "data": {"text": value}}]


def expect_role(ctx: Any, group: int, role: str, self_id: str = BOT) -> None:
    ctx.should_call_api(
        "get_group_member_info",
        {"group_id": group, "user_id": int(self_id), "no_cache": True},
        {"user_id": int(self_id), "role": role},
    )


def notice(group: int, user: int, text_: str) -> Message:
    return Message([MessageSegment.at(user), MessageSegment.text(" " + text_)])


async def next_case(engine: Engine) -> int:
    """The number the next case will get (tests share one store)."""
    from plugins.guard import get_runtime

    async with get_runtime().storage.database.read() as conn:
        return int((await conn.execute(select(func.max(cases.c.id)))).scalar() or 0) + 1


def with_case(notice_text: str, case_id: int) -> str:
    """A group notice with the case reference members appeal with."""
    return f"{notice_text}（案件 #{case_id}；如有异议，请私聊本机器人发送：/申诉 #{case_id} 理由）"


def received(data: dict[str, Any]) -> Any:
    """What the OneBot connection's receive loop makes of a frame (the raw lane takes
    ordinary group messages there; see ``intake.read_frame``)."""
    return get_adapter(Adapter).json_to_event(data)


# The same event as the adapter's validated model, and as the receive loop reads it.
PARSERS = pytest.mark.parametrize("parse", [Adapter.json_to_event, received], ids=["event", "raw"])


@PARSERS
async def test_banned_word_is_deleted_and_warned(
    app: App, engine: Engine, parse: Callable[[dict[str, Any]], Any]
) -> None:
    group, user = new_group(), 3001
    async with app.test_api() as ctx:
        bot = ctx.create_bot(base=Bot, self_id=BOT)
        expect_role(ctx, group, "admin")
        ctx.should_call_api("delete_msg", {"message_id": 11}, None)
        warn = with_case(
            "请勿发布违规内容（辱骂攻击），本条已处理。这是您第1次违规，请遵守群规。",
            await next_case(engine),
        )
        ctx.should_call_api(
            "send_group_msg",
            {"group_id": group, "message": notice(group, user, warn)},
            {"message_id": 99},
        )
        message = group_message(group, user, text("你是测试脏话"), message_id=11, parse=parse)
        await bot.handle_event(message)


@PARSERS
async def test_clean_message_makes_no_calls_after_role(
    app: App, engine: Engine, parse: Callable[[dict[str, Any]], Any]
) -> None:
    group = new_group()
    async with app.test_api() as ctx:
        bot = ctx.create_bot(base=Bot, self_id=BOT)
        expect_role(ctx, group, "admin")
        await bot.handle_event(group_message(group, 3002, text("今天下午三点开会"), parse=parse))
        await bot.handle_event(group_message(group, 3002, text("收到"), message_id=2, parse=parse))


async def test_member_bot_only_warns(app: App, engine: Engine) -> None:
    group, user = new_group(), 3003
    async with app.test_api() as ctx:
        bot = ctx.create_bot(base=Bot, self_id=BOT)
        expect_role(ctx, group, "member")
        warn = with_case(
            "请勿发布违规内容（辱骂攻击），本条已处理。这是您第1次违规，请遵守群规。",
            await next_case(engine),
        )
        ctx.should_call_api(
            "send_group_msg", {"group_id": group, "message": notice(group, user, warn)}, {}
        )
        await bot.handle_event(group_message(group, user, text("测试脏话"), message_id=5))


async def test_flood_mutes_on_third_repeat_and_verifies(app: App, engine: Engine) -> None:
    """Same text three times (an @ and punctuation do not make it different) -> mute."""
    group, user = new_group(), 3004
    async with app.test_api() as ctx:
        bot = ctx.create_bot(base=Bot, self_id=BOT)
        expect_role(ctx, group, "owner")
        await bot.handle_event(group_message(group, user, text("在吗"), message_id=1))
        await bot.handle_event(group_message(group, user, text("在吗？"), message_id=2))
        ctx.should_call_api("get_msg", {"message_id": 77}, None)  # the adapter's reply lookup
        ctx.should_call_api("delete_msg", {"message_id": 3}, None)
        ctx.should_call_api(
            "set_group_ban", {"group_id": group, "user_id": user, "duration": 600}, None
        )
        ctx.should_call_api(
            "get_group_member_info",
            {"group_id": group, "user_id": user, "no_cache": True},
            {"user_id": user, "role": "member", "shut_up_timestamp": int(time.time()) + 600},
        )
        warn = with_case(
            "因发布违规内容（刷屏），已被禁言10分钟。这是您第2次违规。", await next_case(engine)
        )
        ctx.should_call_api(
            "send_group_msg", {"group_id": group, "message": notice(group, user, warn)}, {}
        )
        third = [
            {"type": "reply", "data": {"id": "77"}},
            {"type": "at", "data": {"qq": "4444"}},
            {"type": "text", "data": {"text": " 在 吗"}},
        ]
        await bot.handle_event(group_message(group, user, third, message_id=3))


async def test_mute_not_effective_is_failed(app: App, engine: Engine) -> None:
    """A mute the implementation reports as done but QQ did not apply is recorded as FAILED."""
    group, user = new_group(), 3005
    async with app.test_api() as ctx:
        bot = ctx.create_bot(base=Bot, self_id=BOT)
        expect_role(ctx, group, "admin")
        ctx.should_call_api("delete_msg", {"message_id": 21}, None)
        ctx.should_call_api(
            "set_group_ban", {"group_id": group, "user_id": user, "duration": 600}, None
        )
        for _ in range(2):
            ctx.should_call_api(
                "get_group_member_info",
                {"group_id": group, "user_id": user, "no_cache": True},
                {"user_id": user, "role": "member", "shut_up_timestamp": 0},
            )
        # the mute failed, so the warning does not claim it
        warn = with_case(
            "请勿发布违规内容（赌博），本条已处理。这是您第2次违规，请遵守群规。",
            await next_case(engine),
        )
        ctx.should_call_api(
            "send_group_msg", {"group_id": group, "message": notice(group, user, warn)}, {}
        )
        await bot.handle_event(group_message(group, user, text("来测试赌局"), message_id=21))


async def test_join_fetches_member_and_join_request_is_answered(app: App, engine: Engine) -> None:
    from plugins.onebot_guard import get_gateway

    group, user = new_group(), 3006
    async with app.test_api() as ctx:
        bot = ctx.create_bot(base=Bot, self_id=BOT)
        request = Adapter.json_to_event(
            {
                "time": int(time.time()),
                "self_id": int(BOT),
                "post_type": "request",
                "request_type": "group",
                "sub_type": "add",
                "group_id": group,
                "user_id": user,
                "comment": "我是新同事",
                "flag": "flag-1",
            }
        )
        expect_role(ctx, group, "admin")
        await bot.handle_event(request)
        ctx.should_call_api(
            "set_group_add_request",
            {"flag": "flag-1", "sub_type": "add", "approve": False, "reason": "身份不明"},
            None,
        )
        outcome = await get_gateway().perform(
            Action(ActionKind.REJECT_JOIN, f"qq:{group}", f"qq:{user}", text="身份不明")
        )
        assert outcome.status is OutcomeStatus.DONE
        # a second answer has no pending request to answer
        again = await get_gateway().perform(
            Action(ActionKind.APPROVE_JOIN, f"qq:{group}", f"qq:{user}")
        )
        assert again.status is OutcomeStatus.FAILED

        join = Adapter.json_to_event(
            {
                "time": int(time.time()),
                "self_id": int(BOT),
                "post_type": "notice",
                "notice_type": "group_increase",
                "sub_type": "approve",
                "group_id": group,
                "user_id": user,
                "operator_id": 0,
            }
        )
        ctx.should_call_api(
            "get_group_member_info",
            {"group_id": group, "user_id": user, "no_cache": True},
            {"user_id": user, "role": "member", "card": "", "nickname": "小王"},
        )
        await bot.handle_event(join)
        known = get_gateway().routes.member(str(group), str(user))
        assert known is not None and known.nickname == "小王"


async def test_capabilities_follow_the_bots_role(
    app: App, engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    from plugins.onebot_guard import get_gateway

    gateway = get_gateway()
    group = new_group()
    async with app.test_api() as ctx:
        bot = ctx.create_bot(base=Bot, self_id=BOT)
        expect_role(ctx, group, "member")
        await bot.handle_event(group_message(group, 3007, text("早上好")))
        assert gateway.capabilities(f"qq:{group}") == frozenset(
            {ActionKind.WARN, ActionKind.REMIND}
        )
        promoted = Adapter.json_to_event(
            {
                "time": int(time.time()),
                "self_id": int(BOT),
                "post_type": "notice",
                "notice_type": "group_admin",
                "sub_type": "set",
                "group_id": group,
                "user_id": int(BOT),
            }
        )
        await bot.handle_event(promoted)
        assert gateway.capabilities(f"qq:{group}") == NOMINAL_CAPABILITIES[gateway.platform]
    # the account is gone: within the reconnect grace its actions would wait for it...
    assert gateway.capabilities(f"qq:{group}") == NOMINAL_CAPABILITIES[gateway.platform]
    # ...after it, no connected bot serves the group any more: nothing is possible
    monkeypatch.setattr(gateway, "reconnect_grace", 0.0)
    assert gateway.capabilities(f"qq:{group}") == frozenset()


async def test_admins_are_never_muted_or_kicked(app: App, engine: Engine) -> None:
    from plugins.onebot_guard import get_gateway

    gateway = get_gateway()
    group, admin = new_group(), 3008
    async with app.test_api() as ctx:
        bot = ctx.create_bot(base=Bot, self_id=BOT)
        expect_role(ctx, group, "owner")
        await bot.handle_event(group_message(group, admin, text("通知"), role="admin"))
        for kind in (ActionKind.MUTE, ActionKind.KICK):
            outcome = await gateway.perform(
                Action(kind, f"qq:{group}", f"qq:{admin}", duration=None)
            )
            assert outcome.status is OutcomeStatus.FAILED
            assert "admin" in outcome.detail


async def test_api_failure_is_a_failed_outcome(app: App, engine: Engine) -> None:
    from nonebot.adapters.onebot.v11 import ActionFailed

    from plugins.onebot_guard import get_gateway

    group = new_group()
    async with app.test_api() as ctx:
        bot = ctx.create_bot(base=Bot, self_id=BOT)
        expect_role(ctx, group, "admin")
        await bot.handle_event(group_message(group, 3009, text("好的")))
        ctx.should_call_api(
            "delete_msg",
            {"message_id": 5},
            exception=ActionFailed(status="failed", retcode=100, wording="消息不存在"),
        )
        outcome = await get_gateway().perform(
            Action(ActionKind.DELETE, f"qq:{group}", "qq:3009", message_id="5")
        )
        assert outcome.status is OutcomeStatus.FAILED
        assert "消息不存在" in outcome.detail


async def test_a_notice_held_back_by_the_rate_limit_is_skipped_not_failed(
    app: App, engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    from plugins.onebot_guard import get_gateway
    from plugins.onebot_guard.throttle import Pacer

    gateway = get_gateway()
    # one notice per group at a time, and none may wait: the second is held back
    monkeypatch.setattr(gateway, "pacer", Pacer(group_rate=0.01, group_burst=1, max_wait=0))
    group = new_group()
    async with app.test_api() as ctx:
        bot = ctx.create_bot(base=Bot, self_id=BOT)
        expect_role(ctx, group, "admin")
        await bot.handle_event(group_message(group, 3011, text("好的")))
        ctx.should_call_api(
            "send_group_msg", {"group_id": group, "message": notice(group, 3011, "注意")}, {}
        )
        warns = [
            Action(ActionKind.WARN, f"qq:{group}", f"qq:{user}", text="注意")
            for user in (3011, 3012)
        ]
        sent, held = [await gateway.perform(w) for w in warns]
    assert sent.status is OutcomeStatus.DONE
    assert held.status is OutcomeStatus.SKIPPED and held.detail.startswith("not sent (rate")


async def test_two_accounts_one_group_moderated_once(app: App, engine: Engine) -> None:
    """Two of our QQ accounts in one group: the admin one moderates, the other stays quiet."""
    group, user = new_group(), 3010
    async with app.test_api() as ctx:
        adapter = ctx.create_adapter(base=Adapter)
        member_bot = ctx.create_bot(base=Bot, adapter=adapter, self_id="10001")
        admin_bot = ctx.create_bot(base=Bot, adapter=adapter, self_id="10002")
        expect_role(ctx, group, "member", self_id="10001")
        await member_bot.handle_event(
            group_message(group, user, text("早")).model_copy(update={"self_id": 10001})
        )
        expect_role(ctx, group, "admin", self_id="10002")
        await admin_bot.handle_event(
            group_message(group, user, text("早"), message_id=2).model_copy(
                update={"self_id": 10002}
            )
        )
        # now the admin account serves the group; the member account's copy is ignored
        await member_bot.handle_event(
            group_message(group, user, text("测试脏话"), message_id=3).model_copy(
                update={"self_id": 10001}
            )
        )
        ctx.should_call_api("delete_msg", {"message_id": 4}, None)
        warn = with_case(
            "请勿发布违规内容（辱骂攻击），本条已处理。这是您第1次违规，请遵守群规。",
            await next_case(engine),
        )
        ctx.should_call_api(
            "send_group_msg", {"group_id": group, "message": notice(group, user, warn)}, {}
        )
        await admin_bot.handle_event(
            group_message(group, user, text("测试脏话"), message_id=4).model_copy(
                update={"self_id": 10002}
            )
        )


async def test_private_report_is_plain_text_and_falls_over(app: App, engine: Engine) -> None:
    """User text with CQ codes goes out as a text segment; a failing account is skipped."""
    from nonebot.adapters.onebot.v11 import ActionFailed

    from plugins.onebot_guard import get_gateway

    report = "原文：[CQ:at,qq=all] 测试脏话"
    async with app.test_api() as ctx:
        adapter = ctx.create_adapter(base=Adapter)
        ctx.create_bot(base=Bot, adapter=adapter, self_id="10003")
        ctx.create_bot(base=Bot, adapter=adapter, self_id="10004")
        ctx.should_call_api(
            "send_private_msg",
            {"user_id": 90001, "message": Message(MessageSegment.text(report))},
            exception=ActionFailed(status="failed", retcode=1, wording="not a friend"),
        )
        ctx.should_call_api(
            "send_private_msg",
            {"user_id": 90001, "message": Message(MessageSegment.text(report))},
            {"message_id": 1},
        )
        await get_gateway().send_private("qq:90001", report)
