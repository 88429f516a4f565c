"""QQ edge: OneBot v11 events in, core decisions out, before any other plugin runs.

Moderation runs as a nonebot event preprocessor (registered by
:func:`~plugins.onebot_guard.fastpath.register_first`, which skips nonebot's
per-parameter injection): every group message, member notice and join request
is translated to a ``ChatEvent`` and handled by the engine before matchers see it.

Propagation: when moderation *enforced* something on a message (the message
was deleted, or its sender muted or removed), the event is stopped with
``IgnoredException``, so no command or other plugin acts on a message that is
gone. When the bot only warned (e.g. it is not an admin and the message stays
visible), or in dry run, the event continues normally. Notices and requests
always continue.

Only the bot that serves a group (see ``routes``) moderates it, so a group that
two of our QQ accounts share is moderated once.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any, overload

from nonebot import get_adapter, get_driver, require
from nonebot.adapters.onebot.v11 import (
    Adapter,
    Bot,
    Event,
    GroupAdminNoticeEvent,
    GroupBanNoticeEvent,
    GroupDecreaseNoticeEvent,
    GroupIncreaseNoticeEvent,
    GroupMessageEvent,
    GroupRequestEvent,
    NoticeEvent,
)
from nonebot.exception import IgnoredException
from nonebot.plugin import PluginMetadata

require("guard")

from plugins.guard import get_runtime, request_outbox_flush  # noqa: E402
from plugins.onebot_guard.fastpath import (  # noqa: E402
    cache_event_models,
    cache_type_adapters,
    install_fast_lane,
    install_raw_lane,
    register_first,
)
from plugins.onebot_guard.gateway import OneBotGateway  # noqa: E402
from plugins.onebot_guard.routes import MemberInfo  # noqa: E402
from plugins.onebot_guard.translate import (  # noqa: E402
    GroupMessage,
    group_message,
    member_event,
    parse_role,
    qq,
    read_segments,
)
from rules.core.model import (  # noqa: E402
    ActionKind,
    ChatEvent,
    Decision,
    EventKind,
    Member,
    OutcomeStatus,
    Platform,
    Role,
)

__plugin_meta__ = PluginMetadata(
    name="onebot_guard",
    description="GroupGuard on QQ: moderates groups through OneBot v11 (NapCat, Lagrange)",
    usage="connect the OneBot implementation to ws://HOST:PORT/onebot/v11/ws",
)

log = logging.getLogger(__name__)
driver = get_driver()
gateway = OneBotGateway()


def get_gateway() -> OneBotGateway:
    return gateway


@driver.on_startup
async def _register() -> None:
    get_runtime().gateways[Platform.QQ] = gateway


@driver.on_bot_connect
async def _connected(bot: Bot) -> None:
    gateway.connection_made(bot.self_id)


@driver.on_bot_disconnect
async def _disconnected(bot: Bot) -> None:
    log.info("QQ account %s disconnected; its groups fall to other accounts", bot.self_id)
    gateway.connection_lost(bot.self_id)


async def translate(bot: Bot, event: Event) -> ChatEvent | None:
    """The core event for a OneBot event this bot should moderate, else None."""
    routes = gateway.routes
    if isinstance(event, GroupMessageEvent):
        return await translate_message(bot, GroupMessage.of_event(event))
    if isinstance(event, GroupRequestEvent):
        group, user = str(event.group_id), str(event.user_id)
        if event.sub_type != "add":
            return None  # "invite": the bot itself is invited somewhere
        await gateway.ensure_bot_role(bot, group)
        if not gateway.serves(bot.self_id, group):
            return None
        routes.note_request(group, user, event.flag, event.sub_type)
        return member_event(
            EventKind.JOIN_REQUEST,
            group_id=event.group_id,
            member=Member(qq(user)),
            self_id=bot.self_id,
            timestamp=event.time,
            comment=event.comment or "",
        )
    if isinstance(event, NoticeEvent):
        return await _notice(bot, event)
    return None


async def translate_message(bot: Bot, message: GroupMessage) -> ChatEvent | None:
    """The core event for a group message this bot should moderate, else None."""
    group, user = str(message.group_id), str(message.user_id)
    if user == bot.self_id:
        return None
    await gateway.ensure_bot_role(bot, group)  # also how a better-placed account takes over
    if not gateway.serves(bot.self_id, group):
        return None
    gateway.routes.note_member(
        group, user, MemberInfo(parse_role(message.role), message.card, message.nickname)
    )
    segments = read_segments(message.segments)
    for forward_id in segments.forwards[:3]:  # content not inline: fetch it (bounded)
        try:
            data = await gateway.call(bot, "get_forward_msg", id=forward_id)
            nodes = data.get("messages") or data.get("message") or []
            segments.read_forward(nodes, depth=1)
        except Exception as exc:
            log.warning("forwarded message %s unreadable: %s", forward_id, exc)
    return group_message(message, segments)


async def _notice(bot: Bot, event: NoticeEvent) -> ChatEvent | None:
    routes = gateway.routes
    group_id = getattr(event, "group_id", None)
    user_id = getattr(event, "user_id", None)
    if group_id is None or user_id is None:
        return None
    group, user = str(group_id), str(user_id)
    is_self = user == bot.self_id

    if isinstance(event, GroupAdminNoticeEvent):
        role = Role.ADMIN if event.sub_type == "set" else Role.MEMBER
        if is_self:
            routes.set_bot_role(group, bot.self_id, role)
        else:
            routes.set_member_role(group, user, role)
        return None
    if isinstance(event, GroupBanNoticeEvent):
        return None  # mutes are verified when we make them; others' mutes need nothing
    if isinstance(event, GroupDecreaseNoticeEvent):
        routes.forget_member(group, user)
        if is_self or event.sub_type == "kick_me":
            routes.leave(group, bot.self_id)
            return None
        if not gateway.serves(bot.self_id, group):
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
            await gateway.ensure_bot_role(bot, group)
            return None
        await gateway.ensure_bot_role(bot, group)
        if not gateway.serves(bot.self_id, group):
            return None
        try:
            info = await gateway.member_info(bot, group, user)
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
        await gateway.ensure_bot_role(bot, group)
        if is_self or not gateway.serves(bot.self_id, group):
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


STOPPING = frozenset({ActionKind.DELETE, ActionKind.MUTE, ActionKind.KICK})


def enforced(decision: Decision) -> bool:
    """Whether moderation deleted the message or removed/muted its sender."""
    return any(
        o.status is OutcomeStatus.DONE and o.action.kind in STOPPING for o in decision.outcomes
    )


def _flush_when_due(group_id: str) -> None:
    """Wake the officer outbox when a new report becomes due (after the batch window)."""
    policy = get_runtime().config.policy_for(group_id)
    window = getattr(policy.escalation, "batch_window", None)
    delay = window.total_seconds() if window is not None else 0.0
    asyncio.get_running_loop().call_later(delay + 0.05, request_outbox_flush)


Follower = Callable[[Bot, Event], Awaitable[None]]
TextFilter = Callable[[str], bool]
_followers: list[Follower] = []
_text_filters: dict[Follower, TextFilter] = {}


@overload
def after_moderation(func: Follower, *, wants: TextFilter | None = None) -> Follower: ...
@overload
def after_moderation(
    func: None = None, *, wants: TextFilter | None = None
) -> Callable[[Follower], Follower]: ...
def after_moderation(
    func: Follower | None = None, *, wants: TextFilter | None = None
) -> Follower | Callable[[Follower], Follower]:
    """Run ``func(bot, event)`` after moderation for every event it did not stop.

    For handlers that look at every message (the slash commands): a nonebot matcher
    without a rule costs about 1 ms per message in nonebot's dispatch (measured with
    ``make bench-qq``), more than moderating it; here the cost is one call.

    ``wants(text)``, if given, must be true for every group message ``func`` could act
    on, where ``text`` is the message's text segments joined as sent (before nonebot
    strips an @ or a nickname: ``event.get_plaintext()`` on the path that skips
    nonebot's dispatch). The others may skip ``func``: they are moderated straight
    from the JSON, with no event to pass.
    """

    def register(follower: Follower) -> Follower:
        _followers.append(follower)
        if wants is not None:
            _text_filters[follower] = wants
        return follower

    return register if func is None else register(func)


def _wanted(text: str) -> bool:
    """Whether a follower could act on a group message with this text."""
    for follower in _followers:
        wants = _text_filters.get(follower)
        if wants is None or wants(text):
            return True
    return False


def _unfollowed(data: dict[str, Any]) -> GroupMessage | None:
    """A group message the raw lane can take: plain JSON that no follower wants."""
    message = GroupMessage.of_json(data)
    return None if message is None or _wanted(message.plain_text()) else message


async def _judge(chat_source: Awaitable[ChatEvent | None]) -> tuple[ChatEvent, Decision] | None:
    """The core event and the engine's decision on it (None: nothing to moderate, or
    moderation failed, which is logged)."""
    try:
        chat = await chat_source
        if chat is None:
            return None
        decision = await get_runtime().engine.handle(chat, gateway)
    except Exception:  # never let moderation errors drop the event for other plugins
        log.exception("moderation failed for a QQ event")
        return None
    if any(
        o.action.kind is ActionKind.ESCALATE and o.status is OutcomeStatus.DONE
        for o in decision.outcomes
    ):
        _flush_when_due(chat.group_id)
    return chat, decision


async def moderate_message(bot: Bot, message: GroupMessage) -> None:
    """Moderate a group message that nothing else will see (the raw lane)."""
    await _judge(translate_message(bot, message))


async def moderate(bot: Bot, event: Event) -> None:
    """Moderate one OneBot event before any matcher; stop it if its message was enforced on."""
    judged = await _judge(translate(bot, event))
    if judged is not None:
        chat, decision = judged
        if chat.kind is EventKind.MESSAGE and enforced(decision):
            raise IgnoredException(f"moderated: case {decision.case_id}")
    for follower in _followers:
        try:
            await follower(bot, event)
        except Exception:
            log.exception("%s failed for a QQ event", follower.__qualname__)


register_first(moderate)
install_fast_lane(moderate)
try:
    install_raw_lane(get_adapter(Adapter), _unfollowed, moderate_message)
except ValueError:  # the adapter is not registered (yet): its own path only
    log.warning("OneBot adapter not registered before onebot_guard loaded: no raw lane")
cache_type_adapters()
cache_event_models(Adapter.event_models)
