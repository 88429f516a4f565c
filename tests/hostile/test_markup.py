"""Nothing the bot sends on QQ carries user text as markup.

The real QQ gateway (``plugins.onebot_guard.gateway``) and the QQ command
replies (``plugins.onebot_guard.commands``) talk to a :class:`RecordingBot`, which
records every API call encoded exactly as the adapter puts it on the wire.
For hostile text (CQ codes, escaped CQ codes, HTML, odd Unicode) in messages,
cards, command arguments and officer reports, every message sent is a list of
segments: ``text`` segments holding the text verbatim, a ``reply`` quote, and
``at`` segments only of the member acted on. Never a CQ string, never an @all.
"""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import func, select

from rules.commands import CommandRequest, Edge
from rules.config import parse_config
from rules.core.model import Action, ActionKind, ChatEvent, EventKind, Member, Platform, Role
from rules.runtime import MEMORY_URL, Runtime
from rules.storage.tables import audit_log
from tests.e2e.onebot_client import group_message_event
from tests.fakes import Clock
from tests.hostile.qq import RecordingBot, assert_plain
from tests.hostile.strategies import INJECTION, hostile, hostile_text

GROUP = 1001
OFFICER = 90001
ADMIN = 300001
MEMBERS = [{"user_id": 200000 + n, "card": f"成员{n}+办公室"} for n in range(1, 6)]
CONFIG = parse_config(
    {
        "escalation": {"officers": [f"qq:{OFFICER}"], "batch_window": "1s"},
        "ladder": {"escalate_from_step": 1},
        "nickname": {"enabled": True, "format": "{name}+{dept}"},
    }
)

_message_ids = itertools.count(1)
injected = st.one_of(hostile_text(max_pieces=6), st.sampled_from(INJECTION))


@dataclass
class QQ:
    runtime: Runtime
    gateway: Any  # OneBotGateway (imported once nonebot is up)
    bot: RecordingBot
    clock: Clock

    async def audited(self) -> int:
        async with self.runtime.storage.database.engine.connect() as conn:
            return int((await conn.execute(select(func.count()).select_from(audit_log))).scalar())

    def sent_since(self, mark: int) -> list[Any]:
        return [c for c in self.bot.wire[mark:] if c.api.startswith("send_")]


@pytest.fixture(scope="module")
async def qq() -> AsyncIterator[QQ]:
    from plugins.onebot_guard.gateway import OneBotGateway
    from plugins.onebot_guard.throttle import Pacer

    bot = RecordingBot(members=MEMBERS)
    unpaced = Pacer(group_rate=1e6, group_burst=1e6, global_rate=1e6, global_burst=1e6)
    unpaced.member_gap = 0.0
    gateway = OneBotGateway(pacer=unpaced, bots=lambda: {bot.self_id: bot}, verify_delay=0.0)
    gateway.routes.seat(str(GROUP), bot.self_id)
    gateway.routes.set_bot_role(str(GROUP), bot.self_id, Role.ADMIN)
    clock = Clock()
    runtime = await Runtime.start(CONFIG, MEMORY_URL, clock=clock)
    runtime.gateways[Platform.QQ] = gateway
    assert runtime.commands is not None
    runtime.commands.register(Platform.QQ, Edge(gateway, gateway))
    yield QQ(runtime, gateway, bot, clock)
    await runtime.close()


@hostile(60)
@given(text=injected, kind=st.sampled_from([ActionKind.WARN, ActionKind.REMIND]))
async def test_notices_are_an_at_and_verbatim_text(qq: QQ, text: str, kind: ActionKind) -> None:
    mark = len(qq.bot.wire)
    outcome = await qq.gateway.perform(Action(kind, f"qq:{GROUP}", "qq:200001", text=text))
    (sent,) = qq.sent_since(mark)
    assert outcome.detail.startswith("sent")
    assert sent.params["message"][0] == {"type": "at", "data": {"qq": "200001"}}
    assert assert_plain(sent, at={"200001"}) == [" " + text]


@hostile(40)
@given(text=injected)
async def test_private_messages_are_verbatim_text(qq: QQ, text: str) -> None:
    mark = len(qq.bot.wire)
    await qq.gateway.send_private(f"qq:{OFFICER}", text)
    (sent,) = qq.sent_since(mark)
    assert assert_plain(sent) == [text]


@hostile(60)
@given(text=injected, card=injected, nickname=injected, user=st.sampled_from(MEMBERS))
async def test_moderation_and_reports_send_only_plain_text(
    qq: QQ, text: str, card: str, nickname: str, user: dict[str, Any]
) -> None:
    """A hostile message through the engine and the real gateway; reports through the outbox."""
    qq.clock.advance(timedelta(minutes=1))
    mark = len(qq.bot.wire)
    chat = ChatEvent(
        kind=EventKind.MESSAGE,
        platform=Platform.QQ,
        group_id=f"qq:{GROUP}",
        member=Member(f"qq:{user['user_id']}", card=card, nickname=nickname),
        time=qq.clock(),
        text="赌博 " + text,  # always a finding: a notice and a report follow
        message_id=str(next(_message_ids)),
    )
    await qq.runtime.engine.handle(chat, qq.gateway)
    qq.clock.advance(timedelta(seconds=2))  # the report's batch window
    await qq.runtime.outbox().flush()
    sent = qq.sent_since(mark)
    assert sent, "the violation was neither noticed nor reported"
    for call in sent:
        assert_plain(call, at={str(user["user_id"])})


def command_event(text: str, user_id: int, group: bool) -> Any:
    from nonebot.adapters.onebot.v11 import Adapter

    segments = [{"type": "text", "data": {"text": text}}]
    event = group_message_event(10000, GROUP, user_id, segments, 77, {"role": "admin"})
    if not group:
        del event["group_id"]
        event |= {"message_type": "private", "sub_type": "friend"}
    return Adapter.json_to_event(event)


COMMANDS = [
    "/警告 200001 ",
    "/禁言 200002 10分钟 ",
    "/踢出 200003 ",
    "/记录 ",
    "/举报 ",
    "/设置 set ",
]


@hostile(60)
@given(command=st.sampled_from(COMMANDS), args=injected, private=st.booleans())
async def test_command_replies_are_plain_text(
    qq: QQ, command: str, args: str, private: bool
) -> None:
    """Hostile arguments in commands (reasons, names, settings): the replies are text."""
    from plugins.onebot_guard.commands import QQCommands

    qq.clock.advance(timedelta(minutes=1))
    if private:  # an officer commanding the group by private message
        command = command.replace(" ", f" {GROUP} ", 1)
    text = command + args
    request = CommandRequest(
        platform=Platform.QQ,
        caller=Member(f"qq:{OFFICER}" if private else f"qq:{ADMIN}", role=Role.ADMIN),
        text=text,
        time=qq.clock(),
        group_id=None if private else f"qq:{GROUP}",
        bot_id="qq:10000",
    )
    assert qq.runtime.commands is not None
    mark, audited = len(qq.bot.wire), await qq.audited()
    reply = await qq.runtime.commands.handle(request)
    assert reply is not None
    assert await qq.audited() == audited + 1  # even with text no database can store
    if reply:
        user = OFFICER if private else ADMIN
        commands = QQCommands(qq.gateway, lambda: qq.runtime.commands)
        await commands.send(qq.bot, command_event(text, user, not private), reply)
    acted = {str(m["user_id"]) for m in MEMBERS}
    for call in qq.sent_since(mark):
        assert_plain(call, at=acted)
    qq.bot.members = list(MEMBERS)  # undo kicks
