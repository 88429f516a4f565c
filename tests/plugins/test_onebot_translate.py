"""Pure parts of the QQ edge: segments -> text/cards/mentions, and message pacing."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from nonebot.adapters.onebot.v11 import Adapter

from rules.core.model import Role, SharedCard
from tests.e2e.onebot_client import group_message_event

# The plugin package can only be imported once nonebot has loaded it (session
# fixture), so its modules are imported inside the tests.


def raw_event(message: Any) -> dict[str, Any]:
    """A group message as the implementation sends it (JSON)."""
    return group_message_event(1, 55, 66, message, 9, {"card": "李四+教务处", "role": "admin"})


def event(message: Any) -> Any:
    return Adapter.json_to_event(raw_event(message))


def test_replies_and_mentions_stay_out_of_the_text() -> None:
    from plugins.onebot_guard.translate import group_message, read_message

    ev = event(
        [
            {"type": "reply", "data": {"id": "123"}},
            {"type": "at", "data": {"qq": "777"}},
            {"type": "text", "data": {"text": " 在吗"}},
            {"type": "face", "data": {"id": "1"}},
            {"type": "at", "data": {"qq": "all"}},
        ]
    )
    chat = group_message(ev, read_message(ev))
    assert chat.text == "在吗"
    assert chat.mentions == ("qq:777", "qq:all")
    assert chat.reply_to == "123"
    assert chat.member.role is Role.ADMIN and chat.member.card == "李四+教务处"
    assert chat.group_id == "qq:55" and chat.member.id == "qq:66" and chat.message_id == "9"


def test_cq_code_text_is_text() -> None:
    from plugins.onebot_guard.translate import group_message, read_message

    ev = event([{"type": "text", "data": {"text": "[CQ:at,qq=all] hi"}}])
    chat = group_message(ev, read_message(ev))
    assert chat.text == "[CQ:at,qq=all] hi" and chat.mentions == ()


def test_cards_from_share_json_xml_and_forward() -> None:
    from plugins.onebot_guard.translate import group_message, read_message

    mini = {
        "app": "com.tencent.miniapp_01",
        "prompt": "[QQ小程序]砍一刀",
        "meta": {"detail_1": {"desc": "帮我砍价", "qqdocurl": "https://b23.tv/x", "preview": "p"}},
    }
    xml = '<msg url="https://example.com/a" brief="[分享]标题"><title>标题</title></msg>'
    ev = event(
        [
            {"type": "share", "data": {"url": "https://t.cn/abc", "title": "拼团"}},
            {"type": "json", "data": {"data": json.dumps(mini, ensure_ascii=False)}},
            {"type": "xml", "data": {"data": xml}},
            {"type": "json", "data": {"data": "{not json"}},
            {
                "type": "forward",
                "data": {
                    "id": "f1",
                    "content": [
                        {
                            "type": "node",
                            "data": {
                                "content": [
                                    {"type": "text", "data": {"text": "加我领红包"}},
                                    {
                                        "type": "share",
                                        "data": {"url": "https://evil.example", "title": ""},
                                    },
                                ]
                            },
                        },
                    ],
                },
            },
        ]
    )
    segments = read_message(ev)
    chat = group_message(ev, segments)
    assert SharedCard("https://t.cn/abc", "拼团") in chat.cards
    assert SharedCard("https://b23.tv/x", "[QQ小程序]砍一刀") in chat.cards
    assert SharedCard("https://example.com/a", "[分享]标题") in chat.cards
    assert any(c.url == "https://evil.example" for c in chat.cards)
    assert "加我领红包" in chat.text
    assert segments.forwards == []


def test_forward_without_content_is_left_for_the_caller() -> None:
    from plugins.onebot_guard.translate import read_message

    ev = event([{"type": "forward", "data": {"id": "f9"}}])
    assert read_message(ev).forwards == ["f9"]


def test_long_text_is_cut() -> None:
    from plugins.onebot_guard.translate import MAX_TEXT, group_message, read_message

    ev = event([{"type": "text", "data": {"text": "字" * (MAX_TEXT + 500)}}])
    assert len(group_message(ev, read_message(ev)).text) == MAX_TEXT


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def test_pacer_limits_bursts_and_gives_up_past_max_wait() -> None:
    from plugins.onebot_guard.throttle import Pacer, Throttled

    clock = FakeClock()
    pacer = Pacer(
        group_rate=1.0, group_burst=2, global_rate=100, global_burst=100, max_wait=0.5, clock=clock
    )
    await pacer.slot("g")
    await pacer.slot("g")
    with pytest.raises(Throttled):
        await pacer.slot("g")  # would wait 1 s > 0.5 s
    await pacer.slot("other")  # other groups have their own bucket


async def test_notices_to_one_member_are_coalesced() -> None:
    from plugins.onebot_guard.throttle import Pacer

    pacer = Pacer(member_gap=0.2, max_wait=5)
    sent: list[str] = []

    async def send(text: str) -> None:
        sent.append(text)

    key = ("g", "u", "warn")
    first = await pacer.notice(key, "g", "warn 1", send)
    waiting = asyncio.create_task(pacer.notice(key, "g", "warn 2", send))
    await asyncio.sleep(0.05)
    folded = await pacer.notice(key, "g", "muted 10m", send)
    second = await waiting
    assert sent == ["warn 1", "muted 10m"]
    assert first == "sent" and "coalesced" in folded and "1 coalesced" in second
