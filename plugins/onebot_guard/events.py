"""Which OneBot events this account moderates, and the core event each becomes.

:mod:`.translate` turns a message or a notice into a ``ChatEvent`` (pure
parsing). This module adds what needs the accounts:

- only the account that serves a group (see :mod:`.routes`) moderates it, so a
  group two of our accounts share is moderated once; the bot's own messages
  are never moderated;
- the account's role in the group is fetched before its first event there
  (:meth:`~.accounts.Accounts.ensure_bot_role`: also how a better-placed account
  takes over);
- what events tell about members (roles, cards) and about our accounts (joined,
  left, made admin) is noted in the routes;
- what an event does not carry is asked for: forwarded content given by id, a
  joining member's card.
"""

from __future__ import annotations

import logging

from nonebot.adapters.onebot.v11 import (
    Bot,
    Event,
    GroupAdminNoticeEvent,
    GroupDecreaseNoticeEvent,
    GroupIncreaseNoticeEvent,
    GroupMessageEvent,
    GroupRequestEvent,
    NoticeEvent,
)

from plugins.onebot_guard.accounts import Accounts
from plugins.onebot_guard.routes import MemberInfo
from plugins.onebot_guard.translate import (
    GroupMessage,
    group_message,
    member_event,
    parse_role,
    qq,
    read_segments,
)
from rules.core.model import ChatEvent, EventKind, Member, Role

log = logging.getLogger(__name__)

MAX_FORWARDS_FETCHED = 3  # forwarded messages given by id whose content is asked for

# The notices moderation reads (``notice_type``): who is admin, who left, who joined,
# a new group card (NapCat/LLOneBot). Any other notice (a recall, a mute, a poke...) is
# nothing to moderation: the intake drops it unread while nothing else listens.
READ_NOTICES = frozenset({"group_admin", "group_decrease", "group_increase", "group_card"})


class EventReader:
    """OneBot events to core events, for the account that serves their group."""

    def __init__(self, accounts: Accounts) -> None:
        self.accounts = accounts

    async def read(self, bot: Bot, event: Event) -> ChatEvent | None:
        """The core event for a OneBot event this bot should moderate, else None."""
        if isinstance(event, GroupMessageEvent):
            return await self.read_message(bot, GroupMessage.of_event(event))
        if isinstance(event, GroupRequestEvent):
            return await self._join_request(bot, event)
        if isinstance(event, NoticeEvent):
            return await self._notice(bot, event)
        return None

    async def read_message(self, bot: Bot, message: GroupMessage) -> ChatEvent | None:
        """The core event for a group message this bot should moderate, else None."""
        accounts = self.accounts
        group, user = str(message.group_id), str(message.user_id)
        if user == bot.self_id:
            return None
        await accounts.ensure_bot_role(bot, group)  # also how a better-placed account takes over
        if not accounts.serves(bot.self_id, group):
            return None
        accounts.routes.note_member(
            group, user, MemberInfo(parse_role(message.role), message.card, message.nickname)
        )
        segments = read_segments(message.segments)
        for forward_id in segments.forwards[:MAX_FORWARDS_FETCHED]:  # not inline: fetch
            try:
                data = await accounts.call(bot, "get_forward_msg", id=forward_id)
                nodes = data.get("messages") or data.get("message") or []
                segments.read_forward(nodes, depth=1)
            except Exception as exc:
                log.warning("forwarded message %s unreadable: %s", forward_id, exc)
        return group_message(message, segments)

    async def _join_request(self, bot: Bot, event: GroupRequestEvent) -> ChatEvent | None:
        group, user = str(event.group_id), str(event.user_id)
        if event.sub_type != "add":
            return None  # "invite": the bot itself is invited somewhere
        await self.accounts.ensure_bot_role(bot, group)
        if not self.accounts.serves(bot.self_id, group):
            return None
        self.accounts.routes.note_request(group, user, event.flag, event.sub_type)
        return member_event(
            EventKind.JOIN_REQUEST,
            group_id=event.group_id,
            member=Member(qq(user)),
            self_id=bot.self_id,
            timestamp=event.time,
            comment=event.comment or "",
        )

    async def _notice(self, bot: Bot, event: NoticeEvent) -> ChatEvent | None:
        accounts, routes = self.accounts, self.accounts.routes
        group_id = getattr(event, "group_id", None)
        user_id = getattr(event, "user_id", None)
        if event.notice_type not in READ_NOTICES or group_id is None or user_id is None:
            return None  # (mutes are verified when we make them; others' need nothing)
        group, user = str(group_id), str(user_id)
        is_self = user == bot.self_id

        if isinstance(event, GroupAdminNoticeEvent):
            role = Role.ADMIN if event.sub_type == "set" else Role.MEMBER
            if is_self:
                routes.set_bot_role(group, bot.self_id, role)
            else:
                routes.set_member_role(group, user, role)
            return None
        if isinstance(event, GroupDecreaseNoticeEvent):
            routes.forget_member(group, user)
            if is_self or event.sub_type == "kick_me":
                routes.leave(group, bot.self_id)
                return None
            if not accounts.serves(bot.self_id, group):
                return None
            return member_event(
                EventKind.LEAVE,
                group_id=event.group_id,
                member=Member(qq(user)),
                self_id=bot.self_id,
                timestamp=event.time,
            )
        if isinstance(event, GroupIncreaseNoticeEvent):
            if is_self:  # our account joined a group: learn its role there
                routes.seat(group, bot.self_id)
                await accounts.ensure_bot_role(bot, group)
                return None
            await accounts.ensure_bot_role(bot, group)
            if not accounts.serves(bot.self_id, group):
                return None
            try:
                info = await accounts.member_info(bot, group, user)
            except Exception as exc:  # still check what we can (an empty card)
                log.warning("member info for %s in %s unavailable: %s", user, group, exc)
                info = MemberInfo(Role.MEMBER)
            return member_event(
                EventKind.JOIN,
                group_id=event.group_id,
                member=Member(qq(user), info.card, info.nickname, info.role),
                self_id=bot.self_id,
                timestamp=event.time,
            )
        if event.notice_type == "group_card":  # NapCat/LLOneBot extension
            await accounts.ensure_bot_role(bot, group)
            if is_self or not accounts.serves(bot.self_id, group):
                return None
            card = str(getattr(event, "card_new", "") or "")
            known = routes.member(group, user)
            info = MemberInfo(
                known.role if known else Role.MEMBER, card, known.nickname if known else ""
            )
            routes.note_member(group, user, info)
            return member_event(
                EventKind.CARD_CHANGE,
                group_id=int(group),
                member=Member(qq(user), card, info.nickname, info.role),
                self_id=bot.self_id,
                timestamp=event.time,
            )
        return None
