"""Slash commands on WeChat: room and private messages to ``rules.commands``, replies back.

A room message starting with ``/`` (or ``／``) is moderated first, like any
message, then run as a command unless its sender was just removed. WeChat puts
the @mentions in the text (``@小李\u2005``); they are taken out, the mentioned ids
come from the message's mention list. Private messages from anyone may carry a
command (members appeal by private message); the command layer decides who may
do what. Commands run as their own tasks, so a long one (``/检查名片``) never
holds up the room's moderation.
"""

from __future__ import annotations

import asyncio
import logging
import re
from typing import TYPE_CHECKING, Any

from rules.commands import CommandRequest, CommandService, Edge
from rules.commands.spec import PREFIXES
from rules.core.model import ChatEvent, Member, Platform, qualify

if TYPE_CHECKING:
    from plugins.wechaty_guard.bridge import PrivateMessage
    from plugins.wechaty_guard.gateway import WechatyGateway
    from plugins.wechaty_guard.relay import WechatEdge

log = logging.getLogger("groupguard.wechaty")

# WeChat writes a mention as "@name" followed by a four-per-em space (or a space).
_MENTION = re.compile(r"@[^\s\u2005@]+[\u2005 ]?")


def looks_like_command(text: str) -> bool:
    return text.lstrip().startswith(PREFIXES)


def strip_mentions(text: str, count: int) -> str:
    """``text`` without its first ``count`` @mentions (the ones the mention list names)."""
    return _MENTION.sub("", text, count=count) if count else text


class WechatCommands:
    """Runs commands for one WeChat connection.

    Replies go out on the connection the command came in on (``gateway``); the
    command layer acts on WeChat rooms through ``edge`` (relayed to the process
    holding the connection when this one does not), e.g. for an officer's
    private command from QQ.
    """

    def __init__(
        self, service: CommandService, gateway: WechatyGateway, edge: WechatEdge | None = None
    ) -> None:
        self.service = service
        self.gateway = gateway
        self._tasks: set[asyncio.Task[Any]] = set()
        acting = edge if edge is not None else gateway
        service.register(Platform.WECHAT, Edge(acting, acting))

    def from_room(self, event: ChatEvent) -> None:
        """Run a room message's command in the background (no-op for other messages)."""
        if not looks_like_command(event.text):
            return
        request = CommandRequest(
            platform=Platform.WECHAT,
            caller=event.member,
            text=strip_mentions(event.text, len(event.mentions)),
            time=event.time,
            group_id=event.group_id,
            mentions=event.mentions,
            bot_id=event.bot_id,
        )
        self._spawn(request, event.group_id)

    async def from_private(self, message: PrivateMessage) -> None:
        if not looks_like_command(message.text):
            return
        me = self.gateway.supervisor.self_id
        request = CommandRequest(
            platform=Platform.WECHAT,
            caller=Member(message.sender_id),
            text=message.text,
            time=message.time,
            bot_id=qualify(Platform.WECHAT, me) if me else None,
        )
        self._spawn(request, None, reply_to=message.sender_id)

    def _spawn(self, request: CommandRequest, room: str | None, reply_to: str = "") -> None:
        task = asyncio.create_task(self._run(request, room, reply_to))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _run(self, request: CommandRequest, room: str | None, reply_to: str) -> None:
        try:
            reply = await self.service.handle(request)
            if not reply:
                return
            if room is not None:
                await self.gateway.say(room, reply)
            else:
                await self.gateway.send_private(reply_to, reply)
        except Exception:  # the audit log has the command; the reply is what failed
            log.exception("WeChat: command reply not sent")

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.wait(self._tasks, timeout=1.0)
