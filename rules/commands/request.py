"""What a platform edge hands the command layer: the request, a quoted message, its Edge."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime

from rules.core.model import MAX_TEXT, ImageRef, Member, Platform, bound_fields
from rules.core.ports import Directory, Gateway


@dataclass(frozen=True, slots=True)
class CommandRequest:
    """One command as a platform edge received it.

    ``caller.role`` is the caller's role in the group the command was typed in,
    as the platform reports it (never read from card text); in a private
    message it is MEMBER. ``text`` is the message's text with @-mentions
    removed; the mentioned ids are in ``mentions``, in order.
    """

    platform: Platform
    caller: Member
    text: str
    time: datetime
    group_id: str | None = None  # None: a private message
    mentions: tuple[str, ...] = ()
    reply_to: str | None = None  # id of the message this one replies to
    quoted: Quoted | None = None  # that message, when the platform gave it
    bot_id: str | None = None

    def __post_init__(self) -> None:
        bound_fields(self, text=MAX_TEXT)  # storable in the audit log, bounded work


@dataclass(frozen=True, slots=True)
class Quoted:
    """A message quoted by a reply (for /report; its pictures for /拉黑图片)."""

    sender: Member
    text: str
    message_id: str
    images: tuple[ImageRef, ...] = ()

    def __post_init__(self) -> None:
        bound_fields(self, text=MAX_TEXT)


@dataclass(frozen=True, slots=True)
class Edge:
    """What a platform gives the commands: acting on and listing a group's members, and
    (``fetch``) the bytes of a quoted picture, raising when they cannot be had."""

    gateway: Gateway
    directory: Directory
    fetch: Callable[[ImageRef], Awaitable[bytes]] | None = None
