"""OneBot v11 -> core: message segments and notices become :class:`ChatEvent` values.

Only the parsing lives here (pure functions over the adapter's event models);
anything that needs an API call (member info on join, forwarded-message
content) is passed in by the caller.

What the detectors see of a message:
- ``text``: the text segments only, joined. Replies and @s are left out, so
  "@Alice 在吗" and "在吗" are the same text to the flood detector; the @s go to
  ``mentions`` and the replied-to id to ``reply_to``. Forwarded messages'
  text is appended (one line per node), so banned words cannot hide in a
  合并转发. Text is cut at :data:`MAX_TEXT` characters.
- ``cards``: share segments, JSON cards (mini-programs, 小程序/结构化消息), XML cards and
  cards inside forwarded messages, as (url, title) for the link detector.
- ``images``: pictures (``image`` segments, flash pictures and custom stickers
  included), market stickers (``mface``) and the preview pictures of share, JSON and
  XML cards, in the message and in forwarded messages, as :class:`ImageRef` values:
  ``key`` is the segment's ``file`` (QQ names a picture by the MD5 of its bytes, and
  :mod:`.pictures` asks the implementation for it by that name), ``source`` its URL.
  At most :data:`MAX_IMAGES` a message.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, get_args

from nonebot.adapters.onebot.v11 import GroupMessageEvent, Message
from nonebot.adapters.onebot.v11.event import Sender
from pydantic import BaseModel

from rules.core.model import (
    MAX_TEXT,  # longer messages are cut (the core cuts again): bounded work and evidence
    ChatEvent,
    EventKind,
    ImageKind,
    ImageRef,
    Member,
    Platform,
    Role,
    SharedCard,
    qualify,
)

MAX_CARDS = 20
MAX_IMAGES = 20  # pictures looked at per message (the scan's limit too)
MFACE_KEY = "mface:"  # key prefix of a market sticker: no file the implementation could find
INLINE_KEY = "inline:"  # key prefix of a picture sent as base64 data
MAX_FORWARD_DEPTH = 3
MAX_FORWARD_NODES = 200

_URL_KEYS = frozenset({"jumpUrl", "jumpurl", "jump_url", "qqdocurl", "url", "link"})
_TITLE_KEYS = ("title", "prompt", "desc")
_XML_URL = re.compile(r"""\burl\s*=\s*["']([^"']+)["']""", re.I)
_XML_TITLE = re.compile(r"<title>([^<]*)</title>|\bbrief\s*=\s*[\"']([^\"']*)[\"']", re.I)
# Preview pictures of cards (ark JSON "preview", XML "cover"); only http(s) URLs are kept.
_IMAGE_KEYS = frozenset({"preview", "picture", "image", "imageUrl", "cover"})
_XML_IMAGE = re.compile(r"""\bcover\s*=\s*["']((?:https?:)?//[^"']+)["']""", re.I)


def qq(raw: int | str) -> str:
    return qualify(Platform.QQ, raw)


_ROLES: dict[str, Role] = {role.value: role for role in Role}


def parse_role(value: object) -> Role:
    """The member's role as OneBot reports it; anything unknown is a member."""
    return _ROLES.get(value, Role.MEMBER) if isinstance(value, str) else Role.MEMBER


def event_time(timestamp: int) -> datetime:
    try:
        return datetime.fromtimestamp(timestamp, UTC)
    except (OverflowError, OSError, ValueError):
        return datetime.now(UTC)


class Segments:
    """What one message's segments contain, gathered in one pass."""

    def __init__(self) -> None:
        self.text: list[str] = []
        self.cards: list[SharedCard] = []
        self.mentions: list[str] = []
        self.reply_to: str | None = None
        self.forwards: list[str] = []  # forward ids whose content was not inline
        self.images: list[ImageRef] = []

    def read(self, segments: Iterable[Mapping[str, Any]], depth: int = 0) -> None:
        for seg in segments:
            if not isinstance(seg, Mapping):  # fetched forward content is not validated
                continue
            kind = seg.get("type")
            data = seg.get("data") or {}
            if not isinstance(data, Mapping):
                continue
            if kind == "text":
                self.text.append(str(data.get("text", "")))
            elif kind == "at":
                target = str(data.get("qq", ""))
                if target:
                    self.mentions.append(qq(target))
            elif kind == "reply":
                if self.reply_to is None and data.get("id") is not None:
                    self.reply_to = str(data["id"])
            elif kind == "image":
                self._image_segment(data)
            elif kind == "mface":
                self._sticker(data)
            elif kind == "share":
                self._card(str(data.get("url", "")), str(data.get("title", "")))
                self._preview(str(data.get("image", "")))
            elif kind == "json":
                self.cards_from_json(data.get("data", ""))
            elif kind == "xml":
                self.cards_from_xml(str(data.get("data", "")))
            elif kind == "forward":
                content = data.get("content")
                if isinstance(content, list):
                    self.read_forward(content, depth + 1)
                elif data.get("id") is not None:
                    self.forwards.append(str(data["id"]))
            elif kind == "node":  # an inline forward node
                self.read_forward([seg], depth + 1)

    def read_forward(self, nodes: Iterable[Any], depth: int) -> None:
        """Forwarded nodes: their text joins the text (a line each), their cards the cards."""
        if depth > MAX_FORWARD_DEPTH:
            return
        for count, node in enumerate(nodes):
            if count >= MAX_FORWARD_NODES or not isinstance(node, Mapping):
                break
            data = node.get("data") if node.get("type") == "node" else node
            if not isinstance(data, Mapping):
                continue
            content = data.get("content", data.get("message"))
            if isinstance(content, str):
                content = [{"type": "text", "data": {"text": content}}]
            if isinstance(content, list):
                self.text.append("\n")
                self.read(content, depth)

    def cards_from_json(self, raw: object) -> None:
        try:
            doc = json.loads(raw) if isinstance(raw, str) else raw
        except (ValueError, RecursionError):  # RecursionError: nested too deep to parse
            return
        if not isinstance(doc, Mapping):
            return
        title = ""
        for key in _TITLE_KEYS:
            found = next(_values(doc, frozenset({key})), "")
            if found:
                title = found
                break
        for url in _values(doc, _URL_KEYS):
            if url.startswith(("http://", "https://")) or "://" not in url:
                self._card(url, title)
        for url in _values(doc, _IMAGE_KEYS):
            self._preview(url)

    def cards_from_xml(self, raw: str) -> None:
        title_match = _XML_TITLE.search(raw)
        title = next((g for g in title_match.groups() if g), "") if title_match else ""
        for url in _XML_URL.findall(raw):
            self._card(url, title)
        for url in _XML_IMAGE.findall(raw):
            self._preview(url)

    def _card(self, url: str, title: str) -> None:
        if url and len(self.cards) < MAX_CARDS:
            card = SharedCard(url=url[:2000], title=title[:200])
            if card not in self.cards:
                self.cards.append(card)

    def _image_segment(self, data: Mapping[str, Any]) -> None:
        """An ``image`` segment: a picture, a flash picture or a custom sticker.

        ``file`` names the picture (the MD5 of its bytes), ``url`` is QQ's CDN link.
        Flash pictures say ``type`` "flash"; NapCat marks a custom sticker ``sub_type``
        1 (go-cqhttp and Lagrange: ``subType``).
        """
        file, url = str(data.get("file") or ""), str(data.get("url") or "")
        if data.get("type") == "flash":
            kind = ImageKind.FLASH
        elif str(data.get("sub_type", data.get("subType", 0))) == "1":
            kind = ImageKind.STICKER
        else:
            kind = ImageKind.IMAGE
        if file.startswith("base64://"):  # the data itself: keyed by its digest
            digest = hashlib.sha1(file.encode(), usedforsecurity=False).hexdigest()
            file, url = INLINE_KEY + digest, file
        self._add_image(ImageRef(file or url, url, kind))

    def _sticker(self, data: Mapping[str, Any]) -> None:
        """A market sticker (``mface``): a picture at ``url``, named by its emoji id."""
        url = str(data.get("url") or "")
        emoji = str(data.get("emoji_id") or data.get("key") or "")
        if url.startswith(("http://", "https://")):
            self._add_image(ImageRef(MFACE_KEY + (emoji or url), url, ImageKind.STICKER))

    def _preview(self, url: str) -> None:
        """A card's preview picture (chosen by the sender: fetched as a plain URL)."""
        if url.startswith("//"):
            url = "https:" + url
        if url.startswith(("http://", "https://")):
            self._add_image(ImageRef(url, url))

    def _add_image(self, ref: ImageRef) -> None:
        if ref.key and len(self.images) < MAX_IMAGES and ref not in self.images:
            self.images.append(ref)

    def joined_text(self) -> str:
        return "".join(self.text).strip()[:MAX_TEXT]


def _values(doc: Any, keys: frozenset[str], depth: int = 0) -> Iterator[str]:
    """String values under ``keys`` anywhere in a JSON document (depth-bounded)."""
    if depth > 8:
        return
    if isinstance(doc, Mapping):
        for key, value in doc.items():
            if key in keys and isinstance(value, str) and value:
                yield value
            elif isinstance(value, Mapping | list):
                yield from _values(value, keys, depth + 1)
    elif isinstance(doc, list):
        for item in doc:
            yield from _values(item, keys, depth + 1)


def message_segments(message: Message) -> list[dict[str, Any]]:
    return [{"type": seg.type, "data": seg.data} for seg in message]


@dataclass(frozen=True, slots=True)
class GroupMessage:
    """The parts of a OneBot group message that moderation reads.

    From the adapter's validated event (:meth:`of_event`), or straight from the
    event's JSON (:meth:`of_json`) when that JSON is plain enough to need no
    validation: then both give the same values.
    """

    group_id: int
    user_id: int
    message_id: int
    time: int
    self_id: int
    card: str
    nickname: str
    role: str
    segments: Sequence[Mapping[str, Any]]  # as sent (before the adapter strips replies and @me)

    @classmethod
    def of_event(cls, event: GroupMessageEvent) -> GroupMessage:
        sender = event.sender
        return cls(
            event.group_id,
            event.user_id,
            event.message_id,
            event.time,
            event.self_id,
            sender.card or "",
            sender.nickname or "",
            str(sender.role or ""),
            message_segments(event.original_message),
        )

    @classmethod
    def of_json(cls, data: Mapping[str, Any]) -> GroupMessage | None:
        """The message, if ``data`` is an ordinary group message whose every field already
        has the type the adapter's model would give it; else None (validate it fully).

        Ordinary: a member's (not anonymous) message as a list of segments, quoting none
        (the adapter fetches a quoted message on its own path).
        """
        if (
            data.get("post_type") != "message"
            or data.get("message_type") != "group"
            or data.get("sub_type") != "normal"
            or data.get("anonymous") is not None
            or type(data.get("raw_message")) is not str
            or any(type(data.get(key)) is not int for key in _INT_FIELDS)
            or any(key in data for key in _UNREAD_FIELDS)
        ):
            return None
        sender, segments = data.get("sender"), data.get("message")
        if type(sender) is not dict or not _plain_sender(sender):
            return None
        if type(segments) is not list or not all(_plain_segment(s) for s in segments):
            return None
        return cls(
            data["group_id"],
            data["user_id"],
            data["message_id"],
            data["time"],
            data["self_id"],
            sender.get("card") or "",
            sender.get("nickname") or "",
            sender.get("role") or "",
            segments,
        )

    def plain_text(self) -> str:
        """The text segments joined, as ``event.get_plaintext()`` would give them."""
        return "".join(str(s["data"].get("text", "")) for s in self.segments if s["type"] == "text")


def _typed(model: type[BaseModel], kind: type) -> frozenset[str]:
    """The fields of ``model`` annotated ``kind`` or ``kind | None``."""
    return frozenset(
        name
        for name, field in model.model_fields.items()
        if field.annotation is kind or set(get_args(field.annotation)) == {kind, type(None)}
    )


# Read from the adapter's models, so an upgrade that adds or retypes a field cannot
# slip past: a field of the event model that of_json does not check must be absent.
_INT_FIELDS = _typed(GroupMessageEvent, int)  # time, self_id, message_id, group_id, ...
_CHECKED_FIELDS = _INT_FIELDS | {
    "post_type",
    "message_type",
    "sub_type",
    "anonymous",
    "raw_message",
    "sender",
    "message",
}
_UNREAD_FIELDS = frozenset(GroupMessageEvent.model_fields) - _CHECKED_FIELDS  # to_me, reply...
_SENDER_INTS = _typed(Sender, int)
_SENDER_STRS = _typed(Sender, str)
_SENDER_OTHERS = frozenset(Sender.model_fields) - _SENDER_INTS - _SENDER_STRS


def _plain_sender(sender: dict[str, Any]) -> bool:
    """Whether the adapter's Sender model would keep every field as it is."""
    for key, value in sender.items():
        if value is None:
            continue
        if key in _SENDER_INTS and type(value) is not int:
            return False
        if key in _SENDER_STRS and type(value) is not str:
            return False
        if key in _SENDER_OTHERS:
            return False
    return True


def _plain_segment(segment: object) -> bool:
    return (
        type(segment) is dict
        and type(segment.get("type")) is str
        and segment["type"] != "reply"
        and type(segment.get("data")) is dict
        and len(segment) == 2
    )


def read_message(event: GroupMessageEvent) -> Segments:
    """The segments of the message as sent (before the adapter strips replies and @me)."""
    return read_segments(message_segments(event.original_message))


def read_segments(raw: Iterable[Mapping[str, Any]]) -> Segments:
    segments = Segments()
    segments.read(raw)
    return segments


def group_message(message: GroupMessage | GroupMessageEvent, segments: Segments) -> ChatEvent:
    """A group message as the core sees it (``segments`` from :func:`read_message`, plus
    any forwarded content the caller fetched)."""
    if not isinstance(message, GroupMessage):
        message = GroupMessage.of_event(message)
    return ChatEvent(
        kind=EventKind.MESSAGE,
        platform=Platform.QQ,
        group_id=qq(message.group_id),
        member=Member(
            qq(message.user_id),
            card=message.card,
            nickname=message.nickname,
            role=parse_role(message.role),
        ),
        time=event_time(message.time),
        text=segments.joined_text(),
        message_id=str(message.message_id),
        cards=tuple(segments.cards),
        mentions=tuple(dict.fromkeys(segments.mentions)),
        reply_to=segments.reply_to,
        bot_id=qq(message.self_id),
        images=tuple(segments.images),
    )


def member_event(
    kind: EventKind,
    *,
    group_id: int,
    member: Member,
    self_id: int | str,
    timestamp: int,
    comment: str = "",
) -> ChatEvent:
    """A join, leave, card change or join request."""
    return ChatEvent(
        kind=kind,
        platform=Platform.QQ,
        group_id=qq(group_id),
        member=member,
        time=event_time(timestamp),
        bot_id=qq(self_id),
        comment=comment[:MAX_TEXT],
        # every account in the group gets the same notice: handle it once
        event_key=f"{kind.value}:{member.id}:{timestamp}",
    )
