"""WeChat as a core Gateway and Directory: warn with an @mention, remove, message officers.

What the bot can do differs per room: anyone can post, but only a room's owner
or an admin can remove members (``RoomDel``). The gateway keeps each room's
owner and admins (from ``RoomPayload``, refreshed after ``room_ttl``) and
declares KICK only where the bot's account is one of them, so the executor's
configured fallback (by default: report to the officer) applies elsewhere.
WeChat has no per-member mute, no recall of others' messages and no way to set
someone's room alias: those are never declared, and the executor records the
substitution. Every outgoing call is paced by :class:`SendThrottle` and bounded
by the supervisor's RPC deadline.
"""

from __future__ import annotations

import asyncio
import base64
import logging
import time
from dataclasses import dataclass
from typing import Any

from wechaty_puppet import FileBox

from plugins.wechaty_guard.supervisor import WechatySupervisor
from plugins.wechaty_guard.throttle import SendThrottle
from rules.core.model import (
    Action,
    ActionKind,
    Member,
    Outcome,
    OutcomeStatus,
    Platform,
    Role,
    qualify,
    split_id,
)
from rules.core.ports import GroupInfo

log = logging.getLogger("groupguard.wechaty")

ALWAYS = frozenset({ActionKind.WARN, ActionKind.REMIND})
IF_MANAGER = frozenset({ActionKind.KICK})


@dataclass(frozen=True, slots=True)
class RoomInfo:
    """What the bot knows about one room (raw WeChat ids)."""

    room_id: str
    topic: str
    owner_id: str
    admin_ids: frozenset[str]
    member_count: int
    fetched_at: float

    def role_of(self, contact_id: str) -> Role:
        if contact_id and contact_id == self.owner_id:
            return Role.OWNER
        if contact_id in self.admin_ids:
            return Role.ADMIN
        return Role.MEMBER


def raw_id(qualified: str) -> str:
    """``wechat:wxid_x`` -> ``wxid_x``; refuses ids of another platform."""
    platform, raw = split_id(qualified)
    if platform is not Platform.WECHAT:
        raise ValueError(f"{qualified!r} is not a WeChat id")
    return raw


class WechatyGateway:
    """Carries core actions to WeChat through the supervised python-wechaty client."""

    platform = Platform.WECHAT

    def __init__(
        self,
        supervisor: WechatySupervisor,
        throttle: SendThrottle,
        room_ttl: float = 300.0,
    ) -> None:
        self.supervisor = supervisor
        self.throttle = throttle
        self.room_ttl = room_ttl
        self.rooms: dict[str, RoomInfo] = {}
        supervisor.on_state.append(self._on_state)

    # ------------------------------------------------------------ room knowledge

    def manages(self, room_id: str) -> bool:
        """True when the bot's account owns or administers the room (so it can remove)."""
        info = self.rooms.get(room_id)
        me = self.supervisor.self_id
        return bool(info and me and info.role_of(me) in (Role.OWNER, Role.ADMIN))

    async def room_info(self, room_id: str, refresh: bool = False) -> RoomInfo:
        """The room's owner/admins/topic, fetched when unknown, stale or ``refresh``."""
        info = self.rooms.get(room_id)
        if info is None or refresh or time.monotonic() - info.fetched_at > self.room_ttl:
            payload = await self.supervisor.call(
                self.supervisor.puppet.room_payload(room_id), "RoomPayload"
            )
            info = RoomInfo(
                room_id=room_id,
                topic=payload.topic or "",
                owner_id=payload.owner_id or "",
                admin_ids=frozenset(payload.admin_ids or ()),
                member_count=len(payload.member_ids or ()),
                fetched_at=time.monotonic(),
            )
            if room_id not in self.rooms or self.rooms[room_id].role_of(
                self.supervisor.self_id or ""
            ) != info.role_of(self.supervisor.self_id or ""):
                log.info(
                    "WeChat room %s (%s): bot is %s%s",
                    room_id,
                    info.topic,
                    info.role_of(self.supervisor.self_id or "").value,
                    "" if self._is_manager(info) else "; removals fall back to [fallbacks] kick",
                )
            self.rooms[room_id] = info
        return info

    def forget_room(self, room_id: str) -> None:
        self.rooms.pop(room_id, None)

    def _is_manager(self, info: RoomInfo) -> bool:
        me = self.supervisor.self_id or ""
        return info.role_of(me) in (Role.OWNER, Role.ADMIN)

    def _on_state(self, up: bool) -> None:
        if up:  # after a reconnect, roles may have changed: fetch again on next use
            self.rooms.clear()

    # ------------------------------------------------------------ Gateway

    def capabilities(self, group_id: str) -> frozenset[ActionKind]:
        room_id = raw_id(group_id)
        return ALWAYS | IF_MANAGER if self.manages(room_id) else ALWAYS

    async def perform(self, action: Action) -> Outcome:
        room_id = raw_id(action.group_id)
        target = raw_id(action.target_id)
        bot = self.supervisor.bot
        if action.kind in ALWAYS:
            if not action.text:
                return Outcome(action, OutcomeStatus.FAILED, "no text to send")
            await self.throttle.wait(room_id)
            room = bot.Room.load(room_id)
            await self.supervisor.call(room.say(action.text, mention_ids=[target]), "send")
            return Outcome(action, OutcomeStatus.DONE)
        if action.kind is ActionKind.KICK:
            if not self.manages(room_id):
                return Outcome(
                    action, OutcomeStatus.FAILED, "the bot does not own or manage this room"
                )
            await self.throttle.wait(room_id)
            room = bot.Room.load(room_id)
            await self.supervisor.call(room.delete(bot.Contact.load(target)), "RoomDel")
            return Outcome(action, OutcomeStatus.DONE)
        return Outcome(action, OutcomeStatus.SKIPPED, f"WeChat cannot {action.kind.value}")

    async def say(self, group_id: str, text: str) -> None:
        """A plain message in a room (command replies); raise on failure."""
        room_id = raw_id(group_id)
        await self.throttle.wait(room_id)
        room = self.supervisor.bot.Room.load(room_id)
        await self.supervisor.call(room.say(text), "send")

    async def send_private(self, user_id: str, text: str) -> None:
        await self._say_private(user_id, text, "send private")

    async def send_private_image(self, user_id: str, png: bytes) -> None:
        """An image is a file whose name ends in .png: WeChat shows it inline."""
        await self.send_private_file(user_id, "chart.png", png)

    async def send_private_file(self, user_id: str, name: str, data: bytes) -> None:
        """Send a file as a base64 FileBox (the puppet service gets the bytes, no shared disk)."""
        box = FileBox.from_base64(base64.b64encode(data), name=name)
        await self._say_private(user_id, box, "send file")

    async def _say_private(self, user_id: str, message: str | FileBox, what: str) -> None:
        contact_id = raw_id(user_id)
        await self.throttle.wait("private")
        contact = self.supervisor.bot.Contact.load(contact_id)
        await self.supervisor.call(contact.say(message), what)

    # ------------------------------------------------------------ Directory

    async def list_groups(self) -> list[str]:
        ids = await self.supervisor.call(self.supervisor.puppet.room_list(), "RoomList")
        return [qualify(Platform.WECHAT, i) for i in ids]

    async def group_info(self, group_id: str) -> GroupInfo:
        info = await self.room_info(raw_id(group_id), refresh=True)
        return GroupInfo(
            group_id=group_id,
            name=info.topic,
            member_count=info.member_count,
            bot_role=info.role_of(self.supervisor.self_id or ""),
        )

    async def list_members(self, group_id: str) -> list[Member]:
        room_id = raw_id(group_id)
        info = await self.room_info(room_id, refresh=True)
        puppet: Any = self.supervisor.puppet
        ids = await self.supervisor.call(puppet.room_members(room_id), "RoomMemberList")
        semaphore = asyncio.Semaphore(8)

        async def one(contact_id: str) -> Member:
            async with semaphore:
                payload = await self.supervisor.call(
                    puppet.room_member_payload(room_id, contact_id), "RoomMemberPayload"
                )
            return Member(
                qualify(Platform.WECHAT, contact_id),
                card=payload.room_alias or "",
                nickname=payload.name or "",
                role=info.role_of(contact_id),
            )

        return list(await asyncio.gather(*(one(i) for i in ids)))
