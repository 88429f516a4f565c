"""Slash commands on QQ: group and private messages to ``rules.commands``, replies back.

Commands run right after moderation, in ``onebot_guard``'s preprocessor
(:func:`plugins.onebot_guard.after_moderation`, not a nonebot matcher, which
cost about 1 ms on every message): a command in a message that was deleted
never runs. Only the account that serves a group answers its
commands, so two of our accounts in one group reply once. Replies go out as
plain text segments (a reply to the command in groups), so user text in them
(reasons, cards) is never read as CQ codes.
"""

from __future__ import annotations

import logging
from typing import Any

from nonebot import get_driver, require
from nonebot.adapters.onebot.v11 import (
    Bot,
    Event,
    GroupMessageEvent,
    Message,
    MessageSegment,
    PrivateMessageEvent,
)
from nonebot.plugin import PluginMetadata

require("guard")
require("onebot_guard")

from plugins.guard import get_runtime  # noqa: E402
from plugins.onebot_guard import after_moderation, get_gateway  # noqa: E402
from plugins.onebot_guard.translate import (  # noqa: E402
    GroupMessage,
    event_time,
    group_message,
    message_segments,
    qq,
    read_segments,
)
from rules.commands import CommandRequest, Edge, Quoted  # noqa: E402
from rules.commands.spec import PREFIXES  # noqa: E402
from rules.core.model import Member, Platform  # noqa: E402

__plugin_meta__ = PluginMetadata(
    name="onebot_commands",
    description="GroupGuard slash commands on QQ (/help, /帮助)",
    usage="/help or /帮助 in a group, or by private message (officers)",
)

log = logging.getLogger(__name__)
driver = get_driver()


def quoted(event: GroupMessageEvent) -> Quoted | None:
    """The message a /report replies to: the adapter fetched it (``get_msg``) into ``reply``."""
    reply = event.reply
    user = reply.sender.user_id if reply is not None else None
    if reply is None or user is None:
        return None
    text = read_segments(message_segments(reply.message)).joined_text()
    sender = reply.sender
    member = Member(qq(user), str(sender.card or ""), str(sender.nickname or ""))
    return Quoted(member, text, str(reply.message_id))


@driver.on_startup
async def _register() -> None:
    runtime = get_runtime()
    if runtime.commands is not None:
        gateway = get_gateway()
        runtime.commands.register(Platform.QQ, Edge(gateway, gateway))


def _command_text(text: str) -> bool:
    """Whether a message's plain text is a command (what ``_on_command`` acts on)."""
    return text.lstrip().startswith(PREFIXES)


@after_moderation(wants=_command_text)
async def _on_command(bot: Bot, event: Event) -> None:
    if not isinstance(event, GroupMessageEvent | PrivateMessageEvent):
        return
    if not _command_text(event.get_plaintext()):
        return
    service = get_runtime().commands
    if service is None:
        return
    request = _request(bot, event)
    if request is None:
        return
    reply = await service.handle(request)
    if reply:
        await _send(bot, event, reply)


def _request(bot: Bot, event: GroupMessageEvent | PrivateMessageEvent) -> CommandRequest | None:
    if isinstance(event, GroupMessageEvent):
        if not get_gateway().serves(bot.self_id, str(event.group_id)):
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


async def _send(bot: Bot, event: GroupMessageEvent | PrivateMessageEvent, reply: str) -> None:
    params: dict[str, Any]
    if isinstance(event, GroupMessageEvent):
        message = Message([MessageSegment.reply(event.message_id), MessageSegment.text(reply)])
        params = {"group_id": event.group_id, "message": message}
        api = "send_group_msg"
    else:
        params = {"user_id": event.user_id, "message": Message(MessageSegment.text(reply))}
        api = "send_private_msg"
    try:
        await get_gateway().call(bot, api, **params)
    except Exception as exc:  # the audit log has the command; say why the reply is missing
        log.warning("command reply not sent (%s): %s", api, exc)
