"""WeChat events -> core ChatEvents, and private messages to whoever listens.

python-wechaty turns puppet events into ``Message`` / ``Room`` / ``Contact``
objects and emits them on the ``Wechaty`` instance; this module listens there.
Room messages (text, URL cards, mini-programs, pictures and emoticons), joins
and leaves become :class:`ChatEvent` s with the member's room alias (群昵称) as the
card and the member's role from the room's owner/admins. A picture or emoticon
message carries its picture as an ``ImageRef`` (:mod:`.pictures`), looked at after
the engine's decision on the message. Other message kinds (voice, files) carry
nothing to check and are ignored.

The library runs every handler as its own task, so events can overtake each
other; each room's events are handed to the core one at a time, and every
handler catches its own errors (an uncaught one would only become a log line).

Private messages from officers and room owners/admins, and commands from
anyone (members appeal by private message), are kept for the commands layer:
a bounded queue plus optional callbacks.
"""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from wechaty_grpc.wechaty.puppet import MessageType

from plugins.wechaty_guard.gateway import WechatyGateway
from plugins.wechaty_guard.pictures import WechatPictures
from plugins.wechaty_guard.supervisor import WechatySupervisor
from rules.commands.spec import PREFIXES
from rules.core.model import (
    ChatEvent,
    EventKind,
    Member,
    Platform,
    Role,
    SharedCard,
    qualify,
    utcnow,
)

log = logging.getLogger("groupguard.wechaty")

_MAX_TIMESTAMP_S = 2145888000  # beyond this the puppet sent milliseconds


@dataclass(frozen=True, slots=True)
class PrivateMessage:
    """A private message to the bot from a trusted sender (officer or room admin)."""

    sender_id: str
    text: str
    time: datetime
    message_id: str


EventHandler = Callable[[ChatEvent], Awaitable[Any]]
PrivateHandler = Callable[[PrivateMessage], Awaitable[Any]]


def event_time(timestamp: float | int | None) -> datetime:
    """A puppet timestamp (seconds or milliseconds) as an aware datetime; now if implausible."""
    if not timestamp:
        return utcnow()
    try:
        seconds = timestamp / 1000 if timestamp > _MAX_TIMESTAMP_S else timestamp
        return datetime.fromtimestamp(seconds, UTC)
    except (OverflowError, OSError, ValueError):  # NaN, infinite, beyond the years 1-9999
        return utcnow()


class WechatyBridge:
    """Listens on the supervisor's ``Wechaty`` and feeds the core."""

    def __init__(
        self,
        supervisor: WechatySupervisor,
        gateway: WechatyGateway,
        handle: EventHandler,
        trusted: Callable[[str], bool],
        inbox_size: int = 100,
        pictures: WechatPictures | None = None,
    ) -> None:
        self.supervisor = supervisor
        self.pictures = pictures
        self.gateway = gateway
        self.handle = handle
        self.trusted = trusted
        self.private: asyncio.Queue[PrivateMessage] = asyncio.Queue(maxsize=inbox_size)
        self.private_handlers: list[PrivateHandler] = []
        self.events_handled = 0
        self._closed = False
        self._inflight: set[asyncio.Task[Any]] = set()
        self._room_locks: defaultdict[str, asyncio.Lock] = defaultdict(asyncio.Lock)
        bot = supervisor.bot
        bot.on("message", self._on_message)
        bot.on("room-join", self._on_join)
        bot.on("room-leave", self._on_leave)

    async def close(self) -> None:
        """Stop taking events and let (or make) handlers in flight finish, bounded."""
        self._closed = True
        pending = set(self._inflight)
        if pending:
            _, late = await asyncio.wait(pending, timeout=2.0)
            for task in late:
                task.cancel()
            if late:
                await asyncio.wait(late, timeout=1.0)

    # ------------------------------------------------------------ listeners

    async def _on_message(self, message: Any) -> None:
        await self._guarded(self._message(message), f"message {_safe_id(message)}")

    async def _on_join(self, room: Any, invitees: list[Any], inviter: Any, date: Any) -> None:
        await self._guarded(self._membership(EventKind.JOIN, room, invitees), "a join")

    async def _on_leave(self, room: Any, leavers: list[Any], remover: Any, date: Any) -> None:
        await self._guarded(self._membership(EventKind.LEAVE, room, leavers), "a leave")

    async def _guarded(self, work: Awaitable[None], what: str) -> None:
        """Run one handler: never raises, and is tracked so shutdown can wait for it."""
        if self._closed:
            if asyncio.iscoroutine(work):
                work.close()
            return
        task = asyncio.current_task()
        if task is not None:
            self._inflight.add(task)
        try:
            await work
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("WeChat: could not handle %s", what)
        finally:
            if task is not None:
                self._inflight.discard(task)

    # ------------------------------------------------------------ translation

    async def _message(self, message: Any) -> None:
        payload = message.payload
        talker_id = payload.from_id or ""
        me = self.supervisor.self_id
        if not talker_id or talker_id == me:
            return
        if not payload.room_id:
            await self._private(message, talker_id)
            return
        text, cards = await self._content(message)
        picture = None
        if self.pictures is not None:
            message_id = payload.id or message.message_id
            picture = self.pictures.picture_of(message_id, payload.type, payload.text or "")
        if not text and not cards and picture is None:
            return  # voice, files...: nothing to check
        room_id = payload.room_id
        info = await self.gateway.room_info(room_id)
        talker = message.talker()
        event = ChatEvent(
            kind=EventKind.MESSAGE,
            platform=Platform.WECHAT,
            group_id=qualify(Platform.WECHAT, room_id),
            member=Member(
                qualify(Platform.WECHAT, talker_id),
                card=await self._alias(room_id, talker_id),
                nickname=_name(talker),
                role=info.role_of(talker_id),
            ),
            time=event_time(payload.timestamp),
            text=text,
            message_id=payload.id or message.message_id,
            cards=cards,
            mentions=tuple(qualify(Platform.WECHAT, m) for m in payload.mention_ids or ()),
            bot_id=qualify(Platform.WECHAT, me) if me else None,
            images=(picture,) if picture is not None else (),
        )
        await self._deliver(room_id, event)

    async def _content(self, message: Any) -> tuple[str, tuple[SharedCard, ...]]:
        """Text to check and share cards for the link detector."""
        kind = message.payload.type
        puppet = self.supervisor.puppet
        if kind == MessageType.MESSAGE_TYPE_TEXT:
            return message.payload.text or "", ()
        if kind == MessageType.MESSAGE_TYPE_URL:
            link = await self.supervisor.call(puppet.message_url(message.message_id), "MessageUrl")
            text = "\n".join(t for t in (link.title, link.description) if t)
            return text, (SharedCard(url=link.url or "", title=link.title or ""),)
        if kind == MessageType.MESSAGE_TYPE_MINI_PROGRAM:
            mini = await self.supervisor.call(
                puppet.message_mini_program(message.message_id), "MessageMiniProgram"
            )
            app = mini.appid or mini.username or "unknown"
            url = f"miniprogram://{app}/{(mini.pagePath or '').lstrip('/')}"
            text = "\n".join(t for t in (mini.title, mini.description) if t)
            return text, (SharedCard(url=url, title=mini.title or ""),)
        return "", ()

    async def _membership(self, kind: EventKind, room: Any, contacts: list[Any]) -> None:
        room_id = room.room_id
        me = self.supervisor.self_id
        if any(c.contact_id == me for c in contacts):  # the bot itself joined or left
            self.gateway.forget_room(room_id)
            return
        info = await self.gateway.room_info(room_id, refresh=kind is EventKind.LEAVE)
        for contact in contacts:
            card = await self._alias(room_id, contact.contact_id) if kind is EventKind.JOIN else ""
            event = ChatEvent(
                kind=kind,
                platform=Platform.WECHAT,
                group_id=qualify(Platform.WECHAT, room_id),
                member=Member(
                    qualify(Platform.WECHAT, contact.contact_id),
                    card=card,
                    nickname=_name(contact),
                    role=info.role_of(contact.contact_id),
                ),
                time=utcnow(),
                bot_id=qualify(Platform.WECHAT, me) if me else None,
            )
            await self._deliver(room_id, event)

    async def _alias(self, room_id: str, contact_id: str) -> str:
        """The member's 群昵称 ("" when unset)."""
        payload = await self.supervisor.call(
            self.supervisor.puppet.room_member_payload(room_id, contact_id), "RoomMemberPayload"
        )
        return str(payload.room_alias or "")

    async def _deliver(self, room_id: str, event: ChatEvent) -> None:
        async with self._room_locks[room_id]:
            await self.handle(event)
            self.events_handled += 1

    # ------------------------------------------------------------ private messages

    def is_trusted(self, sender_id: str) -> bool:
        if self.trusted(sender_id):
            return True
        raw = sender_id.removeprefix("wechat:")
        return any(i.role_of(raw) is not Role.MEMBER for i in self.gateway.rooms.values())

    async def _private(self, message: Any, talker_id: str) -> None:
        sender = qualify(Platform.WECHAT, talker_id)
        if message.payload.type != MessageType.MESSAGE_TYPE_TEXT:
            return
        text = message.payload.text or ""
        if not self.is_trusted(sender) and not text.lstrip().startswith(PREFIXES):
            log.debug("WeChat: ignored a private message from %s", sender)
            return
        item = PrivateMessage(
            sender_id=sender,
            text=text,
            time=event_time(message.payload.timestamp),
            message_id=message.message_id,
        )
        if self.private.full():  # keep the newest
            self.private.get_nowait()
        self.private.put_nowait(item)
        for handler in list(self.private_handlers):
            try:
                await handler(item)
            except Exception:
                log.exception("WeChat: private message handler failed")


def _name(contact: Any) -> str:
    try:
        return str(contact.name or "")
    except Exception:  # payload not loaded
        return ""


def _safe_id(message: Any) -> str:
    return str(getattr(message, "message_id", "?"))
