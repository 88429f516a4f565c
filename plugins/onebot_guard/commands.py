"""Slash commands on QQ: group and private messages to ``rules.commands``, replies back.

Commands run right after moderation, as a follower of the intake
(:func:`.intake.after_moderation`, not a nonebot matcher, which cost about 1 ms
on every message): a command in a message that was deleted never runs. A group
message whose text is not a command (:func:`is_command`) does not need them and
may take the raw lane. Only the account that serves a group answers its
commands, so two of our accounts in one group reply once. Replies go out as
plain text segments (a reply to the command in groups), so user text in them
(reasons, cards) is never read as CQ codes.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from nonebot.adapters.onebot.v11 import (
    Bot,
    Event,
    GroupMessageEvent,
    Message,
    MessageSegment,
    PrivateMessageEvent,
)

from plugins.onebot_guard.gateway import OneBotGateway
from plugins.onebot_guard.pictures import QQPictures
from plugins.onebot_guard.translate import (
    GroupMessage,
    event_time,
    group_message,
    message_segments,
    qq,
    read_segments,
)
from rules.commands import CommandRequest, CommandService, Edge, Quoted
from rules.commands.spec import PREFIXES
from rules.core.model import Member, Platform

log = logging.getLogger(__name__)


def is_command(text: str) -> bool:
    """Whether a message's plain text is a command (what :meth:`QQCommands.follow` acts on)."""
    return text.lstrip().startswith(PREFIXES)


def quoted(event: GroupMessageEvent) -> Quoted | None:
    """The message a /report or /拉黑图片 replies to: the adapter fetched it (``get_msg``)
    into ``reply``; its pictures come along."""
    reply = event.reply
    user = reply.sender.user_id if reply is not None else None
    if reply is None or user is None:
        return None
    segments = read_segments(message_segments(reply.message))
    sender = reply.sender
    member = Member(qq(user), str(sender.card or ""), str(sender.nickname or ""))
    return Quoted(
        member, segments.joined_text(), str(reply.message_id), images=tuple(segments.images)
    )


class QQCommands:
    """Runs the slash commands of QQ messages through the core's command service."""

    def __init__(
        self,
        gateway: OneBotGateway,
        service: Callable[[], CommandService | None],
        pictures: QQPictures | None = None,
    ):
        self.gateway = gateway
        self.service = service  # read per command: tests and start-up replace it
        self.pictures = pictures

    def register(self, service: CommandService) -> None:
        """Give the command service the QQ gateway (to act), directory (to look up) and
        picture fetcher (a quoted picture's bytes)."""
        fetch = self.pictures.fetch_any if self.pictures is not None else None
        service.register(Platform.QQ, Edge(self.gateway, self.gateway, fetch))

    async def follow(self, bot: Bot, event: Event) -> None:
        """After moderation: run the event's command, if it is one, and send the reply."""
        if not isinstance(event, GroupMessageEvent | PrivateMessageEvent):
            return
        if not is_command(event.get_plaintext()):
            return
        service = self.service()
        if service is None:
            return
        request = self.request(bot, event)
        if request is None:
            return
        reply = await service.handle(request)
        if reply:
            await self.send(bot, event, reply)

    def request(
        self, bot: Bot, event: GroupMessageEvent | PrivateMessageEvent
    ) -> CommandRequest | None:
        """The command request of a message (None: another of our accounts answers)."""
        if isinstance(event, GroupMessageEvent):
            if not self.gateway.serves(bot.self_id, str(event.group_id)):
                return None  # another of our accounts answers in this group
            message = GroupMessage.of_event(event)
            chat = group_message(message, read_segments(message.segments))
            return CommandRequest(
                platform=Platform.QQ,
                caller=chat.member,
                text=chat.text,
                time=chat.time,
                group_id=chat.group_id,
                mentions=chat.mentions,
                reply_to=chat.reply_to,
                quoted=quoted(event),
                bot_id=chat.bot_id,
            )
        return CommandRequest(
            platform=Platform.QQ,
            caller=Member(qq(event.user_id), nickname=str(event.sender.nickname or "")),
            text=event.get_plaintext(),
            time=event_time(event.time),
            bot_id=qq(bot.self_id),
        )

    async def send(
        self, bot: Bot, event: GroupMessageEvent | PrivateMessageEvent, reply: str
    ) -> None:
        """The reply as plain text: quoting the command in a group, privately otherwise."""
        params: dict[str, Any]
        if isinstance(event, GroupMessageEvent):
            message = Message([MessageSegment.reply(event.message_id), MessageSegment.text(reply)])
            params = {"group_id": event.group_id, "message": message}
            api = "send_group_msg"
        else:
            params = {"user_id": event.user_id, "message": Message(MessageSegment.text(reply))}
            api = "send_private_msg"
        try:
            await self.gateway.call(bot, api, **params)
        except Exception as exc:  # the audit log has the command; say why the reply is missing
            log.warning("command reply not sent (%s): %s", api, exc)
