"""The WeChat edge's text handling on hostile input, without a puppet service.

``strip_mentions`` and ``looks_like_command`` on any text; the bridge turning
a room message (text, URL card, mini-program) into a core event when every
field the puppet hands over is hostile: 1 MB texts, odd Unicode, markup,
timestamps of any size, mention ids of any shape. The bridge is given small
stand-ins for the supervisor and gateway; its own code runs as in production.
"""

from __future__ import annotations

import math
from datetime import datetime
from types import SimpleNamespace
from typing import Any

from hypothesis import given
from hypothesis import strategies as st
from wechaty_grpc.wechaty.puppet import MessageType

from rules.core.model import MAX_NAME, MAX_TEXT, MAX_TITLE, MAX_URL, ChatEvent, EventKind
from tests.hostile.strategies import INJECTION, hostile, hostile_text

timestamps = st.one_of(
    st.none(),
    st.integers(min_value=-(2**80), max_value=2**80),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([0, 1763600000, 1763600000123, 2145888001, 10**20, -1]),
)


@hostile(150)
@given(text=st.one_of(hostile_text(), st.sampled_from(INJECTION)), count=st.integers(0, 5))
def test_strip_mentions_only_removes(text: str, count: int) -> None:
    from plugins.wechaty_guard.commands import looks_like_command, strip_mentions

    stripped = strip_mentions(text, count)
    assert len(stripped) <= len(text)
    assert stripped.count("@") >= text.count("@") - count
    if count == 0:
        assert stripped == text
    looks_like_command(stripped)


def test_strip_mentions_examples() -> None:
    from plugins.wechaty_guard.commands import strip_mentions

    assert strip_mentions("@群卫士\u2005/禁言 @张三\u2005 10分钟", 2) == "/禁言  10分钟"
    assert strip_mentions("@@@@ /help", 1) == "@@@@ /help"  # no name: not a mention


@hostile(150)
@given(timestamp=timestamps)
def test_event_time_of_any_timestamp(timestamp: Any) -> None:
    from plugins.wechaty_guard.bridge import event_time

    when = event_time(timestamp)
    assert isinstance(when, datetime) and when.tzinfo is not None


class Supervisor:
    """What the bridge asks of the supervisor: its id, the puppet's answers, event wiring."""

    self_id = "wxid_bot"

    def __init__(self, answers: dict[str, Any]) -> None:
        self.answers = answers
        self.bot = SimpleNamespace(on=lambda *args: None)
        self.puppet = SimpleNamespace(
            room_member_payload=lambda *args: None,
            message_url=lambda *args: None,
            message_mini_program=lambda *args: None,
        )

    async def call(self, request: object, name: str) -> Any:
        return self.answers[name]


class Gateway:
    def __init__(self) -> None:
        from plugins.wechaty_guard.gateway import RoomInfo

        self.info = RoomInfo("r1@chatroom", "群", "wxid_owner", frozenset(), 3, 0.0)
        self.rooms = {"r1@chatroom": self.info}

    async def room_info(self, room_id: str, refresh: bool = False) -> Any:
        return self.info


kinds = st.sampled_from(
    [
        MessageType.MESSAGE_TYPE_TEXT,
        MessageType.MESSAGE_TYPE_URL,
        MessageType.MESSAGE_TYPE_MINI_PROGRAM,
    ]
)
short = hostile_text(max_pieces=4)


@hostile(80)
@given(
    kind=kinds,
    text=hostile_text(),
    alias=short,
    name=short,
    title=short,
    url=hostile_text(),
    timestamp=timestamps,
    mentions=st.lists(short, max_size=3),
)
async def test_room_messages_become_bounded_events(
    kind: MessageType,
    text: str,
    alias: str,
    name: str,
    title: str,
    url: str,
    timestamp: Any,
    mentions: list[str],
) -> None:
    from plugins.wechaty_guard.bridge import WechatyBridge

    answers = {
        "RoomMemberPayload": SimpleNamespace(room_alias=alias),
        "MessageUrl": SimpleNamespace(title=title, description=text, url=url),
        "MessageMiniProgram": SimpleNamespace(
            appid=url, username=None, pagePath=url, title=title, description=text
        ),
    }
    seen: list[ChatEvent] = []

    async def handle(event: ChatEvent) -> None:
        seen.append(event)

    bridge = WechatyBridge(Supervisor(answers), Gateway(), handle, trusted=lambda _: False)  # type: ignore[arg-type]
    payload = SimpleNamespace(
        from_id="wxid_someone",
        room_id="r1@chatroom",
        text=text,
        type=kind,
        timestamp=timestamp,
        id="m1",
        mention_ids=mentions,
    )
    message = SimpleNamespace(
        payload=payload, message_id="m1", talker=lambda: SimpleNamespace(name=name)
    )
    await bridge._message(message)
    for event in seen:
        assert event.kind is EventKind.MESSAGE and event.time.tzinfo is not None
        assert len(event.text) <= MAX_TEXT and len(event.member.card) <= MAX_NAME
        assert len(event.member.nickname) <= MAX_NAME
        for card in event.cards:
            assert len(card.url) <= MAX_URL and len(card.title) <= MAX_TITLE
        assert not math.isnan(event.time.timestamp())
