"""The unread lane: notices nothing would read are dropped when their frame is read.

NapCat reports the bot's own deletions (``group_recall``) and mutes (``group_ban``)
with a notice each, so a raid brings about one such notice per violation. What the
lane must keep: a notice moderation reads, or one another plugin or a follower could
take, still becomes the adapter's event; and what moderation reads is exactly
``READ_NOTICES`` (the two cannot drift apart).
"""

from __future__ import annotations

from typing import Any

import pytest
from nonebot import get_adapter
from nonebot.adapters.onebot.v11 import Adapter, Bot, Event, NoticeEvent
from nonebug import App

from tests.e2e.onebot_client import Call, FakeOneBot

BOT = 10000
GROUP = 55
USER = 66


def notice(notice_type: str, **extra: Any) -> dict[str, Any]:
    base = {"time": 1_700_000_000, "self_id": BOT, "post_type": "notice"}
    return base | {"notice_type": notice_type, "group_id": GROUP, "user_id": USER} | extra


# What real implementations send that moderation has no use for (NapCat's names).
UNREAD = {
    "our recall": notice("group_recall", operator_id=BOT, message_id=9),
    "our mute": notice("group_ban", sub_type="ban", operator_id=BOT, duration=600),
    "someone's unmute": notice("group_ban", sub_type="lift_ban", operator_id=77, duration=0),
    "poke": notice("notify", sub_type="poke", target_id=BOT),
    "file upload": notice(
        "group_upload", file={"id": "f", "name": "a.txt", "size": 1, "busid": 102}
    ),
    "friend recall": {
        "time": 1_700_000_000,
        "self_id": BOT,
        "post_type": "notice",
        "notice_type": "friend_recall",
        "user_id": USER,
        "message_id": 9,
    },
    "emoji reaction": notice("group_msg_emoji_like", message_id=9, likes=[]),
}
READ = {
    "joined": notice("group_increase", sub_type="approve", operator_id=0),
    "left": notice("group_decrease", sub_type="leave", operator_id=USER),
    "removed by us": notice("group_decrease", sub_type="kick", operator_id=BOT),
    "made admin": notice("group_admin", sub_type="set"),
    "new card": notice("group_card", card_new="张三+办公室", card_old=""),
}


def received(data: dict[str, Any]) -> Any:
    """What the OneBot connection's receive loop makes of a frame."""
    return get_adapter(Adapter).json_to_event(data)


@pytest.mark.parametrize("data", UNREAD.values(), ids=UNREAD.keys())
def test_a_notice_nothing_reads_is_dropped(data: dict[str, Any]) -> None:
    assert received(dict(data)) is None
    # the class's own parser (what plugins and tests call) is untouched
    assert isinstance(Adapter.json_to_event(dict(data)), NoticeEvent)


@pytest.mark.parametrize("data", READ.values(), ids=READ.keys())
def test_a_notice_moderation_reads_takes_the_adapters_path(data: dict[str, Any]) -> None:
    assert isinstance(received(dict(data)), NoticeEvent)


def test_the_lane_drops_exactly_what_the_reader_ignores() -> None:
    from plugins.onebot_guard.events import READ_NOTICES

    assert {d["notice_type"] for d in READ.values()} == READ_NOTICES
    assert not READ_NOTICES & {d["notice_type"] for d in UNREAD.values()}


@pytest.mark.parametrize("data", UNREAD.values(), ids=UNREAD.keys())
async def test_the_reader_makes_nothing_of_an_unread_notice(app: App, data: dict[str, Any]) -> None:
    # what the full lane would have done with it: no core event, no note in the routes
    from plugins.onebot_guard.accounts import Accounts
    from plugins.onebot_guard.events import EventReader

    event = Adapter.json_to_event(dict(data))
    accounts = Accounts(lambda: {})
    async with app.test_api() as ctx:
        bot = ctx.create_bot(base=Bot, self_id=str(BOT))
        assert await EventReader(accounts).read(bot, event) is None
    assert accounts.routes.member(str(GROUP), str(USER)) is None


async def test_another_plugins_notice_matcher_gets_the_notice(app: App) -> None:
    from nonebot import on_notice

    matcher = on_notice(temp=True)
    try:
        taken = received(dict(UNREAD["our recall"]))
    finally:
        matcher.destroy()
    assert isinstance(taken, NoticeEvent)
    assert received(dict(UNREAD["our recall"])) is None  # matcher gone: dropped again


async def test_a_message_matcher_does_not_keep_notices(app: App) -> None:
    from nonebot import on_message

    matcher = on_message(temp=True)
    try:
        assert received(dict(UNREAD["our mute"])) is None
    finally:
        matcher.destroy()


def test_a_follower_without_a_text_filter_gets_every_notice() -> None:
    from plugins.onebot_guard import intake

    async def follower(bot: Bot, event: Event) -> None: ...

    intake.after_moderation(follower)
    try:
        taken = received(dict(UNREAD["poke"]))
    finally:
        intake.stop_following(follower)
    assert isinstance(taken, NoticeEvent)


def test_the_test_client_reports_the_bots_own_actions_as_napcat_does() -> None:
    qq = FakeOneBot("ws://unused", BOT, "t", [])
    qq.senders[9] = (GROUP, USER)

    def call(action: str, **params: Any) -> dict[str, Any] | None:
        return qq.own_notice(Call(action, params, 0.0, str(BOT)))

    recall = call("delete_msg", message_id=9)
    assert recall is not None and recall["notice_type"] == "group_recall"
    assert (recall["group_id"], recall["user_id"], recall["operator_id"]) == (GROUP, USER, BOT)
    mute = call("set_group_ban", group_id=GROUP, user_id=USER, duration=600)
    assert mute is not None and (mute["notice_type"], mute["sub_type"]) == ("group_ban", "ban")
    unmute = call("set_group_ban", group_id=GROUP, user_id=USER, duration=0)
    assert unmute is not None and unmute["sub_type"] == "lift_ban"
    kick = call("set_group_kick", group_id=GROUP, user_id=USER)
    assert kick is not None and (kick["notice_type"], kick["sub_type"]) == (
        "group_decrease",
        "kick",
    )
    assert call("delete_msg", message_id=10) is None  # a message it never sent
    assert call("send_group_msg", group_id=GROUP, message="x") is None


# ------------------------------------------------------------------ the notices it reads


@pytest.fixture
def lanes(monkeypatch: pytest.MonkeyPatch) -> dict[str, list[Event]]:
    """Which way handled events went: moderation called directly, or nonebot's dispatch."""
    import nonebot.adapters.onebot.v11.bot as adapter_bot

    from plugins.onebot_guard import intake

    seen: dict[str, list[Event]] = {"fast": [], "full": []}

    async def full_dispatch(bot: Bot, event: Event) -> None:
        seen["full"].append(event)

    async def moderate(bot: Bot, event: Event) -> None:
        seen["fast"].append(event)

    monkeypatch.setattr(adapter_bot, "handle_event", full_dispatch)  # what the adapter calls
    monkeypatch.setattr(intake, "moderate", moderate)
    return seen


REQUEST = {
    "time": 1_700_000_000,
    "self_id": BOT,
    "post_type": "request",
    "request_type": "group",
    "sub_type": "add",
    "group_id": GROUP,
    "user_id": USER,
    "comment": "",
    "flag": "f1",
}


@pytest.mark.parametrize("data", [*READ.values(), REQUEST], ids=[*READ.keys(), "join request"])
async def test_a_notice_or_request_skips_nonebots_dispatch_while_only_moderation_listens(
    app: App, lanes: dict[str, list[Event]], data: dict[str, Any]
) -> None:
    from nonebot import on_notice, on_request

    async with app.test_api() as ctx:
        bot = ctx.create_bot(base=Bot, self_id=str(BOT))
        await bot.handle_event(received(dict(data)))
        assert len(lanes["fast"]) == 1 and lanes["full"] == []
        # another plugin listening to that kind: it gets nonebot's dispatch
        matcher = (on_request if data["post_type"] == "request" else on_notice)(temp=True)
        try:
            await bot.handle_event(received(dict(data)))
        finally:
            matcher.destroy()
        assert len(lanes["fast"]) == 1 and len(lanes["full"]) == 1


def test_in_the_bot_only_moderation_listens_to_notices_and_requests() -> None:
    # the plugins the bot loads (conftest loads the same) register no notice or request
    # matcher: a plugin that did would turn the unread and fast lanes off for them
    from plugins.onebot_guard.patches import only_moderation_listens

    assert only_moderation_listens("notice") and only_moderation_listens("request")
