"""How a QQ event reaches moderation: the lanes, and what runs after moderation.

Every OneBot event is moderated before any other plugin sees it. An event takes
one of three lanes; all three end in :func:`judge` (the engine's decision, with
the gateway to act through) and record the same case. The lanes differ only in
how much of nonebot the event goes through first, because that is most of the
cost of a clean message (measured with ``make bench-qq``: parsing the pydantic
event ~0.09 ms, nonebot's dispatch ~1 ms with a rule-less matcher, moderating a
clean message ~0.2 ms in all). A fourth, the unread lane, drops the notices that
nothing would read before they cost anything.

The lanes, in the order :func:`read_frame` and :func:`handle_event` try them:

- **raw**: an ordinary group message (plain JSON, quoting nothing) that no
  follower wants (not a command), while only moderation listens. The receive
  loop calls :func:`read_frame` (installed as the adapter's ``json_to_event``),
  which reads the JSON into a :class:`RawFrame` without building the pydantic
  event; :func:`handle_event` (installed as ``Bot.handle_event``) passes it to
  :func:`moderate_message`.
- **fast**: any other group message quoting nothing, while only moderation
  listens; any notice or request while only moderation listens to notices
  (requests). The adapter parses it; :func:`handle_event` passes the event to
  :func:`moderate` (moderation, then the followers: the commands), skipping
  nonebot's dispatch. In a raid these are the joins, the join requests and the
  removals the bot made (NapCat reports each with a ``group_decrease`` notice).
- **unread**: a notice of a type moderation does not read (``READ_NOTICES`` in
  :mod:`.events` lists the ones it does), while no other plugin listens to
  notices and every follower takes messages only. :func:`read_frame` drops it
  when the frame is read: no pydantic event, no dispatch, nothing to do. These
  are mostly the bot's own doing: NapCat reports every deletion the bot makes
  (``group_recall``) and every mute (``group_ban``), one notice per action, so
  in a raid they come about as fast as violations.
- **full**: everything else (private messages, messages quoting another, any
  event while another plugin listens to its kind). The adapter parses it;
  :func:`handle_event` hands it to the adapter's own ``Bot.handle_event`` (which
  fetches a quoted message) and nonebot's dispatch, where :func:`moderate` runs
  as a preprocessor, before any matcher.

"Only moderation listens" (:func:`.patches.only_moderation_listens`): no other
plugin has a matcher for the kind of event (a message matcher for a message, a
notice matcher for a notice...), a preprocessor or a postprocessor. It is asked
when the frame is read and again when it is handled, so a plugin that starts
listening in between still gets the adapter's event. A frame the raw lane
cannot read (or whose reading fails) is parsed by the adapter as usual: nothing
is lost, and nothing raises into the receive loop (the adapter would drop the
connection).

Pictures: every lane reads a message's pictures (image segments, stickers, card
previews) into the core event, so a message with a picture takes the same lane as
one without. When the engine has decided on the text, :func:`look_at_pictures`
hands the pictures to the picture path (``runtime.pictures``), which fetches and
inspects them in the background (:mod:`.pictures`) and acts on what they hold
through the engine again: the lane never waits for a picture.

Stopping: when moderation *enforced* something on a message (deleted it, or
muted or removed its sender), :func:`moderate` raises ``IgnoredException`` so
no command or other plugin acts on a message that is gone. When the bot only
warned (e.g. it is not an admin and the message stays), or in dry run, the
event goes on. Notices and requests always go on.

How the lanes are hooked into nonebot and the adapter is in :mod:`.patches`;
which events are moderated, and as what, is in :mod:`.events`.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from nonebot.adapters.onebot.v11 import (
    Adapter,
    Bot,
    Event,
    GroupMessageEvent,
    NoticeEvent,
    RequestEvent,
)
from nonebot.exception import IgnoredException

from plugins.guard import get_runtime, request_outbox_flush_when_due
from plugins.onebot_guard import patches
from plugins.onebot_guard.api_lane import ApiLane
from plugins.onebot_guard.events import READ_NOTICES, EventReader
from plugins.onebot_guard.gateway import OneBotGateway
from plugins.onebot_guard.patches import only_moderation_listens
from plugins.onebot_guard.pictures import QQPictures
from plugins.onebot_guard.translate import GroupMessage
from rules.core.model import ActionKind, ChatEvent, Decision, EventKind, OutcomeStatus
from rules.core.ports import Gateway

log = logging.getLogger(__name__)

Follower = Callable[[Bot, Event], Awaitable[None]]
TextFilter = Callable[[str], bool]

# What moderation did that stops the event: the message is gone, or its sender is.
STOPPING = frozenset({ActionKind.DELETE, ActionKind.MUTE, ActionKind.KICK})


class RawFrame:
    """A group message the raw lane took: its JSON and what moderation reads of it."""

    __slots__ = ("data", "message")

    def __init__(self, data: dict[str, Any], message: GroupMessage) -> None:
        self.data = data
        self.message = message


# Set by install(): the gateway moderation acts through, the event reader, and the
# adapter's own parser and event handler (the paths the lanes step around).
_gateway: OneBotGateway
_events: EventReader
_pictures: QQPictures | None = None
_lane: ApiLane | None = None  # the API calls that skip nonebot's call_api (.api_lane)
_parse_frame: Callable[[Any], Any] = Adapter.json_to_event
_full_path: Callable[[Bot, Event], Awaitable[None]] = Bot.handle_event
_followers: list[Follower] = []
_text_filters: dict[Follower, TextFilter] = {}


def install(
    gateway: OneBotGateway, adapter: Adapter | None, pictures: QQPictures | None = None
) -> None:
    """Open the lanes (once, when the plugin loads); without ``adapter`` no raw lane;
    without ``pictures`` no picture is looked at."""
    global _gateway, _events, _parse_frame, _full_path, _pictures, _lane
    if Bot.handle_event is handle_event:
        raise RuntimeError("the QQ intake is installed already")  # it would call itself
    _gateway, _events, _pictures = gateway, EventReader(gateway.accounts), pictures
    patches.cache_type_validators()
    patches.cache_event_model_lookup(Adapter.event_models)
    patches.run_before_matchers(moderate)
    _full_path = patches.replace_bot_handle_event(handle_event)
    patches.coalesce_websocket_writes()
    if adapter is not None:
        _parse_frame = patches.replace_frame_parser(adapter, read_frame)
        _lane = gateway.accounts.lane = ApiLane(adapter)


# ------------------------------------------------------------------ the lanes


def read_frame(json_data: Any) -> Event | RawFrame | None:
    """The adapter's ``json_to_event`` on its receive path: the raw lane's entry, and the
    answers to the API lane's calls."""
    if type(json_data) is dict and "post_type" not in json_data:
        if _lane is not None and _lane.answer(json_data):
            return None
        return _parse_frame(json_data)
    if type(json_data) is dict:
        post_type = json_data.get("post_type")
        if post_type == "message" and only_moderation_listens():
            try:
                message = _unfollowed(json_data)
            except Exception:
                log.exception("raw lane could not read a message; the adapter parses it")
                message = None
            if message is not None:
                return RawFrame(json_data, message)
        elif post_type == "notice":
            _gateway.accounts.own_notices.heard(json_data)  # a mute or removal may wait for it
            if _unread(json_data):
                return None
    return _parse_frame(json_data)


async def handle_event(bot: Bot, event: Event | RawFrame) -> None:
    """``Bot.handle_event``: send the event down its lane."""
    if isinstance(event, RawFrame):
        if only_moderation_listens():  # raw lane
            await moderate_message(bot, event.message)
            return
        parsed: Event | None = _parse_frame(event.data)  # a plugin started listening meanwhile
        if parsed is None:
            return
        event = parsed
    if (
        isinstance(event, GroupMessageEvent)
        and not any(segment.type == "reply" for segment in event.original_message)
        and only_moderation_listens()
    ):  # fast lane
        event.message.reduce()  # as the adapter does
        with contextlib.suppress(IgnoredException):  # stopping is all it means here
            await moderate(bot, event)
        return
    if isinstance(event, NoticeEvent | RequestEvent) and only_moderation_listens(
        event.post_type
    ):  # fast lane (the adapter does nothing more with these)
        await moderate(bot, event)
        return
    await _full_path(bot, event)  # full lane


async def moderate_message(bot: Bot, message: GroupMessage) -> None:
    """Moderate a group message that nothing else will see (the raw lane)."""
    judged = await judge(_events.read_message(bot, message))
    if judged is not None and judged[0].images:
        look_at_pictures(bot, *judged)


async def moderate(bot: Bot, event: Event) -> None:
    """Moderate one OneBot event (fast and full lanes), stop it if its message was
    enforced on, else hand it to the followers."""
    judged = await judge(_events.read(bot, event))
    if judged is not None:
        chat, decision = judged
        if chat.images:
            look_at_pictures(bot, chat, decision)
        if chat.kind is EventKind.MESSAGE and enforced(decision):
            raise IgnoredException(f"moderated: case {decision.case_id}")
    for follower in _followers:
        try:
            await follower(bot, event)
        except Exception:
            log.exception("%s failed for a QQ event", follower.__qualname__)


# ------------------------------------------------------------------ moderation


async def judge(chat_source: Awaitable[ChatEvent | None]) -> tuple[ChatEvent, Decision] | None:
    """The core event and the engine's decision on it (None: nothing to moderate, or
    moderation failed, which is logged)."""
    try:
        chat = await chat_source
        if chat is None:
            return None
        decision = await get_runtime().engine.handle(chat, _gateway)
    except Exception:  # never let moderation errors drop the event for other plugins
        log.exception("moderation failed for a QQ event")
        return None
    if _escalated(decision):
        request_outbox_flush_when_due(chat.group_id)
    return chat, decision


def look_at_pictures(bot: Bot, chat: ChatEvent, decision: Decision) -> None:
    """Hand a judged message's pictures to the picture path (returns at once)."""
    pictures = get_runtime().pictures
    if _pictures is None or pictures is None or not pictures.wants(chat, decision):
        return
    try:
        pictures.submit(_verdicts, chat, _gateway, _pictures.fetcher(bot))
    except Exception:  # the text was moderated; a picture path fault must not undo that
        log.exception("pictures of QQ message %s not submitted", chat.message_id)


class _Verdicts:
    """The engine as the picture path sees it: an officer report owed for a picture
    wakes the outbox, as one owed for a message does."""

    async def handle(self, event: ChatEvent, gateway: Gateway) -> Decision:
        decision = await get_runtime().engine.handle(event, gateway)
        if _escalated(decision):
            request_outbox_flush_when_due(event.group_id)
        return decision


_verdicts = _Verdicts()


def _escalated(decision: Decision) -> bool:
    return any(
        o.action.kind is ActionKind.ESCALATE and o.status is OutcomeStatus.DONE
        for o in decision.outcomes
    )


def enforced(decision: Decision) -> bool:
    """Whether moderation deleted the message or removed/muted its sender."""
    return any(
        o.status is OutcomeStatus.DONE and o.action.kind in STOPPING for o in decision.outcomes
    )


# ------------------------------------------------------------------ after moderation


def after_moderation(follower: Follower, *, wants: TextFilter | None = None) -> None:
    """Run ``follower(bot, event)`` after moderation for every event it did not stop.

    For handlers that look at every message (the slash commands): a nonebot matcher
    without a rule costs about 1 ms per message in nonebot's dispatch, more than
    moderating it; here the cost is one call.

    ``wants(text)``, if given, must be true for every group message ``follower`` could
    act on, where ``text`` is the message's text segments joined as sent (before nonebot
    strips an @ or a nickname: ``event.get_plaintext()`` on the fast lane). The others
    may skip ``follower``: they take the raw lane, with no event to pass. Without
    ``wants`` every group message takes the fast lane. A follower with ``wants`` acts on
    messages only: notices moderation does not read may skip it too (the unread lane).
    """
    _followers.append(follower)
    if wants is not None:
        _text_filters[follower] = wants


def stop_following(follower: Follower) -> None:
    """Undo :func:`after_moderation` (tests)."""
    _followers.remove(follower)
    _text_filters.pop(follower, None)


def _wanted(text: str) -> bool:
    """Whether a follower could act on a group message with this text."""
    for follower in _followers:
        wants = _text_filters.get(follower)
        if wants is None or wants(text):
            return True
    return False


def _unread(data: dict[str, Any]) -> bool:
    """A notice nothing would read: moderation does not read its type, every follower
    takes messages only (it has a text filter), and no other plugin listens to notices."""
    return (
        data.get("notice_type") not in READ_NOTICES
        and all(follower in _text_filters for follower in _followers)
        and only_moderation_listens("notice")
    )


def _unfollowed(data: dict[str, Any]) -> GroupMessage | None:
    """A group message the raw lane can take: plain JSON that no follower wants."""
    message = GroupMessage.of_json(data)
    return None if message is None or _wanted(message.plain_text()) else message
