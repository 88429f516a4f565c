"""What the QQ accounts can tell about groups: member lists, group info, group lists.

The core's ``Directory`` port (card audits, rosters, ``/群列表``) answered by
the account that serves each group. What is learned is remembered in the
routes: members' roles and cards, and which accounts sit in which groups (after
a restart a quiet group is unknown until an event or a group list names it;
:meth:`GroupDirectory.locate` asks for the lists).
"""

from __future__ import annotations

import logging
import time
from datetime import UTC, datetime

from nonebot.adapters.onebot.v11 import Bot

from plugins.onebot_guard.accounts import Accounts, describe, listed, raw_id
from plugins.onebot_guard.routes import MemberInfo
from plugins.onebot_guard.translate import parse_role, qq
from rules.core.model import Member, Role
from rules.core.ports import GroupInfo, MemberState

log = logging.getLogger(__name__)


class GroupDirectory:
    """Directory queries through :class:`Accounts`."""

    def __init__(self, accounts: Accounts) -> None:
        self.accounts = accounts

    async def list_members(self, group_id: str) -> list[Member]:
        group = raw_id(group_id)
        accounts = self.accounts
        bot = accounts.bot_for(group)
        data = await accounts.member_list(bot, group)
        members: list[Member] = []
        for item in data or []:
            user = str(item.get("user_id"))
            info = MemberInfo(
                parse_role(item.get("role")),
                str(item.get("card") or ""),
                str(item.get("nickname") or ""),
            )
            accounts.routes.note_member(group, user, info)
            if user == bot.self_id:  # the list says what we may do there (a ban's sweep)
                accounts.routes.set_bot_role(group, user, info.role)
            members.append(Member(qq(user), info.card, info.nickname, info.role))
        return members

    async def group_info(self, group_id: str) -> GroupInfo:
        group = raw_id(group_id)
        accounts = self.accounts
        bot = accounts.bot_for(group)
        await accounts.ensure_bot_role(bot, group)
        data = await accounts.call(bot, "get_group_info", group_id=int(group))
        return GroupInfo(
            group_id=qq(group),
            name=str(data.get("group_name") or ""),
            member_count=int(data.get("member_count") or 0),
            bot_role=accounts.routes.bot_role(group, bot.self_id) or Role.MEMBER,
        )

    async def member_state(self, group_id: str, member_id: str) -> MemberState:
        """Whether a member is in the group now, and muted until when (asked now, not from
        memory: the recovery after a restart checks what an interrupted case did)."""
        await self.locate(group_id)
        group, user = raw_id(group_id), raw_id(member_id)
        accounts = self.accounts
        bot = accounts.bot_for(group)
        if not listed(await accounts.member_list(bot, group), user):
            return MemberState(present=False)
        data = await accounts.call(
            bot, "get_group_member_info", group_id=int(group), user_id=int(user), no_cache=True
        )
        until = data.get("shut_up_timestamp")
        if until is None:
            return MemberState(present=True, mute_known=False)
        muted = int(until) > time.time()
        return MemberState(True, datetime.fromtimestamp(int(until), UTC) if muted else None)

    async def list_groups(self) -> list[str]:
        groups: set[str] = set()
        for self_id, bot in self.accounts.connected().items():
            groups.update(qq(group) for group in await self._seat_groups(self_id, bot))
        return sorted(groups)

    async def locate(self, group_id: str) -> None:
        """Make sure a connected account is known to be in the group (with its role).

        Accounts learn their groups from events, so after a restart a group that has
        been quiet is unknown; an officer's private command for it asks the accounts
        for their group lists first.
        """
        group = raw_id(group_id)
        bots = self.accounts.connected()
        if self.accounts.routes.server(group, frozenset(bots)) is not None:
            return
        for self_id, bot in bots.items():
            if group in await self._seat_groups(self_id, bot):
                await self.accounts.ensure_bot_role(bot, group)
                return

    async def _seat_groups(self, self_id: str, bot: Bot) -> set[str]:
        """The account's groups (raw ids), recorded as its seats; empty if it cannot say."""
        try:
            data = await self.accounts.call(bot, "get_group_list")
        except Exception as exc:
            log.warning("group list of bot %s unavailable: %s", self_id, describe(exc))
            return set()
        groups = {str(item.get("group_id")) for item in data or []}
        for group in groups:
            self.accounts.routes.seat(group, self_id)
        return groups
