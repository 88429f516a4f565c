"""The fast lane: group messages skip nonebot's dispatch only while nothing else would see them."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from nonebot.adapters.onebot.v11 import Adapter, Bot, Event
from nonebug import App

from tests.e2e.onebot_client import group_message_event, text

BOT = "10000"

# The plugin package can only be imported once nonebot has loaded it (session
# fixture), so its modules are imported inside the tests.


class Paths:
    """Which way an event went: nonebot's full dispatch, or straight to what follows moderation."""

    def __init__(self) -> None:
        self.full: list[Event] = []
        self.after_moderation: list[Event] = []


@pytest.fixture
def paths(monkeypatch: pytest.MonkeyPatch) -> Iterator[Paths]:
    import nonebot.adapters.onebot.v11.bot as adapter_bot

    from plugins.onebot_guard import intake

    seen = Paths()

    async def full_dispatch(bot: Bot, event: Event) -> None:
        seen.full.append(event)

    async def follower(bot: Bot, event: Event) -> None:
        seen.after_moderation.append(event)

    monkeypatch.setattr(adapter_bot, "handle_event", full_dispatch)  # what the adapter calls
    intake.after_moderation(follower)
    yield seen
    intake.stop_following(follower)


def own_message(segments: list[dict[str, Any]]) -> Event:
    """A group message from the bot's own account: moderation has nothing to do (no API calls)."""
    return Adapter.json_to_event(
        group_message_event(int(BOT), 55, int(BOT), segments, 9, {"role": "admin"})
    )


async def test_a_group_message_only_we_want_skips_nonebot(app: App, paths: Paths) -> None:
    async with app.test_api() as ctx:
        bot = ctx.create_bot(base=Bot, self_id=BOT)
        await bot.handle_event(own_message(text("大家好")))
    assert paths.full == []
    assert len(paths.after_moderation) == 1


async def test_another_plugins_message_matcher_restores_the_full_path(
    app: App, paths: Paths
) -> None:
    from nonebot import on_message

    matcher = on_message(temp=True)  # e.g. an operator's own plugin
    try:
        async with app.test_api() as ctx:
            bot = ctx.create_bot(base=Bot, self_id=BOT)
            await bot.handle_event(own_message(text("大家好")))
    finally:
        matcher.destroy()
    assert len(paths.full) == 1
    assert paths.after_moderation == []  # moderation runs there, as the preprocessor


async def test_a_message_quoting_another_takes_the_full_path(app: App, paths: Paths) -> None:
    # the adapter fetches the quoted message on the full path (/举报 needs it)
    quoting = [{"type": "reply", "data": {"id": "7"}}, *text("/举报 广告")]
    async with app.test_api() as ctx:
        bot = ctx.create_bot(base=Bot, self_id=BOT)
        ctx.should_call_api("get_msg", {"message_id": 7}, exception=RuntimeError("gone"))
        await bot.handle_event(own_message(quoting))
    assert len(paths.full) == 1
    assert paths.after_moderation == []


async def test_other_events_take_the_full_path(app: App, paths: Paths) -> None:
    private = Adapter.json_to_event(
        {
            "time": 1,
            "self_id": int(BOT),
            "post_type": "message",
            "message_type": "private",
            "sub_type": "friend",
            "message_id": 3,
            "user_id": 42,
            "message": text("/help"),
            "raw_message": "/help",
            "font": 0,
            "sender": {"user_id": 42, "nickname": "x"},
        }
    )
    assert private is not None
    async with app.test_api() as ctx:
        bot = ctx.create_bot(base=Bot, self_id=BOT)
        await bot.handle_event(private)
    assert len(paths.full) == 1
