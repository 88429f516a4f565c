"""OneBotGateway: the core's Gateway, MediaSender and Directory for QQ.

One object the core holds for QQ (``runtime.gateways[Platform.QQ]``, the
commands' ``Edge``), put together from the parts that do the work:

- :mod:`.accounts`: which connected account serves which group, calls and
  their timeouts, waiting for an account that is reconnecting;
- :mod:`.actions`: moderation actions, verified;
- :mod:`.media`: private messages, images and files to officers;
- :mod:`.directory`: member lists, group info, group lists.

What it decides itself: the capabilities of a group, which follow the serving
account's real role there (a plain member can only send notices, so the
executor applies the configured fallbacks).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import nonebot
from nonebot.adapters import Bot as BaseBot
from nonebot.adapters.onebot.v11 import Bot

from plugins.onebot_guard.accounts import API_TIMEOUT, RECONNECT_GRACE, Accounts, raw_id
from plugins.onebot_guard.actions import VERIFY_DELAY, Actions
from plugins.onebot_guard.directory import GroupDirectory
from plugins.onebot_guard.media import PrivateSender
from plugins.onebot_guard.routes import MemberInfo, Routes
from plugins.onebot_guard.throttle import Pacer
from rules.core.model import Action, ActionKind, Member, Outcome, Platform, Role
from rules.core.ports import NOMINAL_CAPABILITIES, GroupInfo, MemberState

NOTICES_ONLY = frozenset({ActionKind.WARN, ActionKind.REMIND})
ADMIN_CAPABILITIES = NOMINAL_CAPABILITIES[Platform.QQ]


class OneBotGateway:
    """Gateway + MediaSender + Directory for QQ across every connected OneBot v11 bot."""

    platform = Platform.QQ

    def __init__(
        self,
        pacer: Pacer | None = None,
        bots: Callable[[], Mapping[str, BaseBot]] = nonebot.get_bots,
        api_timeout: float = API_TIMEOUT,
        verify_delay: float = VERIFY_DELAY,
        reconnect_grace: float = RECONNECT_GRACE,
    ) -> None:
        shared = pacer or Pacer()  # group notices and private messages count together
        self.accounts = Accounts(bots, api_timeout, reconnect_grace)
        self.actions = Actions(self.accounts, shared, verify_delay)
        self.media = PrivateSender(self.accounts, shared)
        self.directory = GroupDirectory(self.accounts)

    # ------------------------------------------------------------------ Gateway

    def capabilities(self, group_id: str) -> frozenset[ActionKind]:
        group = raw_id(group_id)
        self_id = self.accounts.acting_for(group)  # a reconnecting one: actions wait for it
        if self_id is None:
            return frozenset()
        role = self.accounts.routes.bot_role(group, self_id)
        if role in (Role.OWNER, Role.ADMIN):
            return ADMIN_CAPABILITIES
        return NOTICES_ONLY

    async def perform(self, action: Action) -> Outcome:
        return await self.actions.perform(action)

    async def send_private(self, user_id: str, text: str) -> None:
        """Send an officer a private message through any connected bot; raise if none can."""
        await self.media.send_private(user_id, text)

    # ------------------------------------------------------------------ MediaSender

    async def send_private_image(self, user_id: str, png: bytes) -> None:
        await self.media.send_private_image(user_id, png)

    async def send_private_file(self, user_id: str, name: str, data: bytes) -> None:
        await self.media.send_private_file(user_id, name, data)

    # ------------------------------------------------------------------ Directory

    async def list_members(self, group_id: str) -> list[Member]:
        return await self.directory.list_members(group_id)

    async def group_info(self, group_id: str) -> GroupInfo:
        return await self.directory.group_info(group_id)

    async def list_groups(self) -> list[str]:
        return await self.directory.list_groups()

    async def member_state(self, group_id: str, member_id: str) -> MemberState:
        """MemberChecker: in the group now? muted until when?"""
        return await self.directory.member_state(group_id, member_id)

    async def locate(self, group_id: str) -> None:
        """Find a quiet group's account (see :meth:`GroupDirectory.locate`)."""
        await self.directory.locate(group_id)

    # ------------------------------------------------------------------ accounts

    @property
    def routes(self) -> Routes:
        return self.accounts.routes

    @property
    def pacer(self) -> Pacer:
        return self.actions.pacer

    @pacer.setter
    def pacer(self, pacer: Pacer) -> None:
        self.actions.pacer = self.media.pacer = pacer

    @property
    def verify_delay(self) -> float:
        return self.actions.verify_delay

    @verify_delay.setter
    def verify_delay(self, seconds: float) -> None:
        self.actions.verify_delay = seconds

    @property
    def reconnect_grace(self) -> float:
        return self.accounts.reconnect_grace

    @reconnect_grace.setter
    def reconnect_grace(self, seconds: float) -> None:
        self.accounts.reconnect_grace = seconds

    def connected(self) -> dict[str, Bot]:
        return self.accounts.connected()

    def serves(self, self_id: str, group: str) -> bool:
        """Whether this bot moderates the group (records that it is in it)."""
        return self.accounts.serves(self_id, group)

    def connection_made(self, self_id: str) -> None:
        self.accounts.connection_made(self_id)

    def connection_lost(self, self_id: str) -> None:
        self.accounts.connection_lost(self_id)

    async def call(self, bot: Bot, api: str, **params: Any) -> Any:
        return await self.accounts.call(bot, api, **params)

    async def ensure_bot_role(self, bot: Bot, group: str) -> None:
        await self.accounts.ensure_bot_role(bot, group)

    async def member_info(self, bot: Bot, group: str, user: str) -> MemberInfo:
        return await self.accounts.member_info(bot, group, user)
