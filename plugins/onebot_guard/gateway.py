"""OneBotGateway: the core's Gateway and Directory for QQ, over any number of OneBot bots.

Every action is routed to the bot that serves the action's group (see
:mod:`routes`). The gateway is honest about what happened:

- capabilities follow the bot's real role in the group: a plain member can
  only send notices, so the executor applies the configured fallbacks;
- owners and admins are never muted or kicked (the gateway refuses);
- mutes and kicks are verified afterwards (``shut_up_timestamp``, member
  list), because some implementations report success for calls QQ refused;
- API errors and timeouts become FAILED outcomes, never exceptions;
- group notices go through the :class:`Pacer` (rate limits, coalescing) and
  are sent as an ``at`` segment plus a plain ``text`` segment, so user text in
  them is never interpreted as CQ codes.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import logging
import os
import tempfile
import time
from collections.abc import Awaitable, Callable, Mapping
from datetime import timedelta
from pathlib import Path
from typing import Any

import nonebot
from nonebot.adapters import Bot as BaseBot
from nonebot.adapters.onebot.v11 import ActionFailed, Bot, Message, MessageSegment

from plugins.onebot_guard.routes import MemberInfo, Routes
from plugins.onebot_guard.throttle import Pacer, Throttled
from plugins.onebot_guard.translate import parse_role, qq
from rules.core.model import (
    Action,
    ActionKind,
    Member,
    Outcome,
    OutcomeStatus,
    Platform,
    Role,
    split_id,
)
from rules.core.ports import NOMINAL_CAPABILITIES, GroupInfo

log = logging.getLogger(__name__)

NOTICES_ONLY = frozenset({ActionKind.WARN, ActionKind.REMIND})
ADMIN_CAPABILITIES = NOMINAL_CAPABILITIES[Platform.QQ]
MAX_MUTE = timedelta(days=30) - timedelta(minutes=1)  # QQ's limit is 30 days
MIN_MUTE = timedelta(minutes=1)
API_TIMEOUT = 10.0
UPLOAD_TIMEOUT = 30.0  # an upload waits for QQ to take the file (nonebot's api_timeout too)
VERIFY_DELAY = 0.5
# Actions for a group whose account dropped its connection wait this long for it to
# come back (a NapCat restart, a network blip) instead of being skipped.
RECONNECT_GRACE = 60.0


class GatewayError(Exception):
    """An action could not be carried out; the message is the outcome's detail."""


class NoticeHeldBack(GatewayError):
    """An @-notice not sent to protect the account from risk control (rate limits).

    Recorded as skipped, not failed: nothing went wrong, and a raid's thousands of
    held-back warnings must not bury real failures in the officers' digest.
    """


def _raw(qualified: str) -> str:
    platform, raw = split_id(qualified)
    if platform is not Platform.QQ:
        raise GatewayError(f"{qualified} is not a QQ id")
    return raw


def _describe(exc: BaseException) -> str:
    if isinstance(exc, ActionFailed):
        info = exc.info if isinstance(exc.info, Mapping) else {}
        msg = info.get("wording") or info.get("message") or info.get("msg") or ""
        return f"API refused (retcode {info.get('retcode')}): {msg}".rstrip(": ")
    if isinstance(exc, TimeoutError):
        return "API call timed out"
    return f"{type(exc).__name__}: {exc}"


class OneBotGateway:
    """Gateway + Directory for QQ across every connected OneBot v11 bot."""

    platform = Platform.QQ

    def __init__(
        self,
        pacer: Pacer | None = None,
        bots: Callable[[], Mapping[str, BaseBot]] = nonebot.get_bots,
        api_timeout: float = API_TIMEOUT,
        verify_delay: float = VERIFY_DELAY,
        reconnect_grace: float = RECONNECT_GRACE,
    ) -> None:
        self.routes = Routes()
        self.pacer = pacer or Pacer()
        self._bots = bots
        self.api_timeout = api_timeout
        self.verify_delay = verify_delay
        self._role_fetches: dict[tuple[str, str], asyncio.Task[None]] = {}
        self._in_flight: dict[str, set[asyncio.Timeout]] = {}  # account -> its calls' timers
        self.reconnect_grace = reconnect_grace
        self._away: dict[str, float] = {}  # account -> when its connection dropped
        self._accounts: set[str] = set()  # every account that has connected
        self._arrived = asyncio.Event()  # set (and replaced) when an account connects

    # ------------------------------------------------------------------ bots and routing

    def connected(self) -> dict[str, Bot]:
        return {sid: b for sid, b in self._bots().items() if isinstance(b, Bot)}

    def serves(self, self_id: str, group: str) -> bool:
        """Whether this bot moderates the group (records that it is in it)."""
        self.routes.seat(group, self_id)
        return self.routes.server(group, frozenset(self.connected())) == self_id

    def bot_for(self, group: str) -> Bot:
        bots = self.connected()
        self_id = self.routes.server(group, frozenset(bots))
        if self_id is None:
            raise GatewayError(f"no connected QQ account is in group {group}")
        return bots[self_id]

    async def call(self, bot: Bot, api: str, **params: Any) -> Any:
        calls = self._in_flight.setdefault(bot.self_id, set())
        try:
            async with asyncio.timeout(self.api_timeout) as timer:  # a timer, not a task
                calls.add(timer)
                try:
                    return await bot.call_api(api, **params)
                finally:
                    calls.discard(timer)
        except TimeoutError:
            if bot.self_id not in self.connected():
                raise GatewayError("connection to the QQ account lost during the call") from None
            raise

    def connection_lost(self, self_id: str) -> None:
        """End the account's calls in flight now: their answers can no longer come.

        Its groups' next actions wait up to ``reconnect_grace`` for it to come back.
        """
        loop = asyncio.get_running_loop()
        for timer in self._in_flight.pop(self_id, set()):
            timer.reschedule(loop.time())
        self._away[self_id] = time.monotonic()

    def connection_made(self, self_id: str) -> None:
        """An account (re)connected: actions waiting for it go on."""
        self._away.pop(self_id, None)
        self._accounts.add(self_id)
        arrived, self._arrived = self._arrived, asyncio.Event()
        arrived.set()

    def _returning(self, group: str) -> str | None:
        """The account that served ``group`` and dropped its connection within the grace."""
        now = time.monotonic()
        # gone from nonebot's bots before its disconnect hook has run: away since now
        for account in self._accounts - self._away.keys() - self.connected().keys():
            self._away[account] = now
        away = frozenset(a for a, since in self._away.items() if now - since < self.reconnect_grace)
        return self.routes.server(group, away) if away else None

    async def _acting_bot(self, group: str) -> Bot:
        """The account to act in ``group`` with, waiting for one that is reconnecting."""
        while True:
            try:
                return self.bot_for(group)
            except GatewayError:
                returning = self._returning(group)
                if returning is None:
                    raise
                left = self.reconnect_grace - (time.monotonic() - self._away[returning])
                with contextlib.suppress(TimeoutError):  # then the next round raises
                    await asyncio.wait_for(self._arrived.wait(), max(left, 0.0))

    async def ensure_bot_role(self, bot: Bot, group: str) -> None:
        """Fetch the bot's role in the group if unknown or stale (one fetch at a time).

        Only an unknown role is waited for; a stale one is refreshed in the background
        while events go on with the role known so far.
        """
        seat = self.routes.seat(group, bot.self_id)
        if not seat.stale(self.routes.clock()):
            return
        key = (group, bot.self_id)
        task = self._role_fetches.get(key)
        if task is None:
            task = asyncio.create_task(self._fetch_bot_role(bot, group))
            self._role_fetches[key] = task
            task.add_done_callback(lambda _t: self._role_fetches.pop(key, None))
        if seat.role is None:
            await asyncio.shield(task)

    async def _fetch_bot_role(self, bot: Bot, group: str) -> None:
        try:
            info = await self.call(
                bot,
                "get_group_member_info",
                group_id=int(group),
                user_id=int(bot.self_id),
                no_cache=True,
            )
            self.routes.set_bot_role(group, bot.self_id, parse_role(info.get("role")))
        except Exception as exc:  # unknown role: act as a member, ask again soon
            log.warning("role of bot %s in group %s unknown: %s", bot.self_id, group, exc)
            self.routes.set_bot_role(group, bot.self_id, Role.MEMBER, ttl=30.0)

    def capabilities(self, group_id: str) -> frozenset[ActionKind]:
        group = _raw(group_id)
        self_id = self.routes.server(group, frozenset(self.connected()))
        if self_id is None:
            self_id = self._returning(group)  # its actions will wait for it
        if self_id is None:
            return frozenset()
        role = self.routes.bot_role(group, self_id)
        if role in (Role.OWNER, Role.ADMIN):
            return ADMIN_CAPABILITIES
        return NOTICES_ONLY

    # ------------------------------------------------------------------ actions

    async def perform(self, action: Action) -> Outcome:
        try:
            detail = await self._perform(action)
        except NoticeHeldBack as exc:
            return Outcome(action, OutcomeStatus.SKIPPED, f"not sent ({exc})")
        except GatewayError as exc:
            return Outcome(action, OutcomeStatus.FAILED, str(exc))
        except Exception as exc:  # API refusal, timeout, disconnect: record, don't lose
            log.warning("QQ %s in %s failed: %s", action.kind, action.group_id, _describe(exc))
            return Outcome(action, OutcomeStatus.FAILED, _describe(exc))
        return Outcome(action, OutcomeStatus.DONE, detail)

    async def _perform(self, action: Action) -> str:
        group, user = _raw(action.group_id), _raw(action.target_id)
        bot = await self._acting_bot(group)
        kind = action.kind
        if kind is ActionKind.DELETE:
            if action.message_id is None:
                raise GatewayError("no message id to delete")
            await self.call(bot, "delete_msg", message_id=int(action.message_id))
            return "deleted"
        if kind in (ActionKind.WARN, ActionKind.REMIND):
            return await self._notice(bot, group, user, action)
        if kind in (ActionKind.MUTE, ActionKind.UNMUTE):
            return await self._mute(bot, group, user, action)
        if kind is ActionKind.KICK:
            return await self._kick(bot, group, user, action)
        if kind is ActionKind.SET_CARD:
            await self._check_target(bot, group, user)
            await self.call(
                bot, "set_group_card", group_id=int(group), user_id=int(user), card=action.text
            )
            known = self.routes.member(group, user)
            if known is not None:
                known.card = action.text
            return "card set"
        if kind in (ActionKind.APPROVE_JOIN, ActionKind.REJECT_JOIN):
            return await self._answer_request(bot, group, user, action)
        raise GatewayError(f"{kind.value} is not a QQ action")

    async def _notice(self, bot: Bot, group: str, user: str, action: Action) -> str:
        async def send(text: str) -> None:
            message = Message([MessageSegment.at(int(user)), MessageSegment.text(" " + text)])
            await self.call(bot, "send_group_msg", group_id=int(group), message=message)

        try:
            return await self.pacer.notice(
                (group, user, action.kind.value), group, action.text, send
            )
        except Throttled as exc:
            raise NoticeHeldBack(str(exc)) from None

    async def _check_target(self, bot: Bot, group: str, user: str) -> MemberInfo:
        """The target's role; refuse owners and admins (and the bot itself)."""
        if user == bot.self_id:
            raise GatewayError("refused: the target is the bot itself")
        info = self.routes.member(group, user)
        if info is None:
            info = await self.member_info(bot, group, user)
        if info.role is not Role.MEMBER:
            raise GatewayError(f"refused: the target is a group {info.role.value}")
        return info

    async def member_info(self, bot: Bot, group: str, user: str) -> MemberInfo:
        data = await self.call(
            bot, "get_group_member_info", group_id=int(group), user_id=int(user), no_cache=True
        )
        info = MemberInfo(
            parse_role(data.get("role")),
            str(data.get("card") or ""),
            str(data.get("nickname") or ""),
        )
        self.routes.note_member(group, user, info)
        return info

    async def _mute(self, bot: Bot, group: str, user: str, action: Action) -> str:
        await self._check_target(bot, group, user)
        if action.kind is ActionKind.UNMUTE:
            seconds = 0
        else:
            if action.duration is None:
                raise GatewayError("mute without a duration")
            seconds = int(min(max(action.duration, MIN_MUTE), MAX_MUTE).total_seconds())
        await self.call(
            bot, "set_group_ban", group_id=int(group), user_id=int(user), duration=seconds
        )
        for attempt in range(2):  # bounded: check now, and once more after a short delay
            try:
                data = await self.call(
                    bot,
                    "get_group_member_info",
                    group_id=int(group),
                    user_id=int(user),
                    no_cache=True,
                )
            except Exception as exc:
                return f"done; not verified ({_describe(exc)})"
            until = data.get("shut_up_timestamp")
            if until is None:
                return "done; not verifiable (no shut_up_timestamp from the implementation)"
            muted = int(until) > time.time()
            if muted == (seconds > 0):
                return f"verified: muted until {int(until)}" if seconds else "verified: unmuted"
            if attempt == 0:
                await asyncio.sleep(self.verify_delay)
        verb = "muted" if seconds else "unmuted"
        raise GatewayError(f"set_group_ban reported success but the member is not {verb}")

    async def _kick(self, bot: Bot, group: str, user: str, action: Action) -> str:
        await self._check_target(bot, group, user)
        await self.call(
            bot,
            "set_group_kick",
            group_id=int(group),
            user_id=int(user),
            reject_add_request=action.block_rejoin,
        )
        for attempt in range(2):
            try:
                members = await self.call(bot, "get_group_member_list", group_id=int(group))
            except Exception as exc:
                return f"done; not verified ({_describe(exc)})"
            if not any(str(m.get("user_id")) == user for m in members or []):
                self.routes.forget_member(group, user)
                blocked = "; re-joining blocked" if action.block_rejoin else ""
                return f"verified: no longer in the group{blocked}"
            if attempt == 0:
                await asyncio.sleep(self.verify_delay)
        raise GatewayError("set_group_kick reported success but the member is still in the group")

    async def _answer_request(self, bot: Bot, group: str, user: str, action: Action) -> str:
        pending = self.routes.take_request(group, user)
        if pending is None:
            raise GatewayError("no pending join request from this member")
        flag, sub_type = pending
        approve = action.kind is ActionKind.APPROVE_JOIN
        params: dict[str, Any] = {"flag": flag, "sub_type": sub_type, "approve": approve}
        if not approve:
            params["reason"] = action.text
        await self.call(bot, "set_group_add_request", **params)
        return "approved" if approve else "rejected"

    async def send_private(self, user_id: str, text: str) -> None:
        """Send an officer a private message through any connected bot; raise if none can."""
        message = Message(MessageSegment.text(text))
        await self._private(user_id, lambda bot, user: self._send_msg(bot, user, message))

    async def send_private_image(self, user_id: str, png: bytes) -> None:
        """Send an officer an image as an ``image`` segment with ``base64://`` data."""
        message = Message(MessageSegment.image(png))
        await self._private(user_id, lambda bot, user: self._send_msg(bot, user, message))

    async def send_private_file(self, user_id: str, name: str, data: bytes) -> None:
        """Send an officer a file (``upload_private_file``; see :meth:`_upload`)."""
        await self._private(user_id, lambda bot, user: self._upload(bot, user, name, data))

    async def _send_msg(self, bot: Bot, user: int, message: Message) -> None:
        await self.call(bot, "send_private_msg", user_id=user, message=message)

    async def _upload(self, bot: Bot, user: int, name: str, data: bytes) -> None:
        """Upload as ``base64://`` first, then from a temporary local file.

        NapCat and LLOneBot accept base64 wherever they run (another machine, a
        container); Lagrange.OneBot reads only a local path, which works when it
        shares this machine's file system. The file is removed after the call.
        """
        encoded = "base64://" + base64.b64encode(data).decode()
        try:
            await self._call_upload(bot, user, encoded, name)
            return
        except ActionFailed as exc:
            refused = _describe(exc)
        with tempfile.TemporaryDirectory(prefix="groupguard-") as folder:
            os.chmod(folder, 0o711)  # the implementation may run as another user
            path = Path(folder) / name
            path.write_bytes(data)
            path.chmod(0o644)
            try:
                await self._call_upload(bot, user, str(path), name)
            except ActionFailed as exc:
                raise GatewayError(
                    f"upload refused as base64 ({refused}) and as a local file ({_describe(exc)})"
                ) from None

    async def _call_upload(self, bot: Bot, user: int, file: str, name: str) -> None:
        await asyncio.wait_for(
            bot.call_api("upload_private_file", user_id=user, file=file, name=name),
            UPLOAD_TIMEOUT,
        )

    async def _private(self, user_id: str, send: Callable[[Bot, int], Awaitable[None]]) -> None:
        """Try ``send`` through each connected bot, those sharing a group with the user first."""
        user = _raw(user_id)
        bots = self.connected()
        if not bots:
            raise RuntimeError("no QQ account connected")
        near = {self.routes.server(g, frozenset(bots)) for g in self.routes.groups_with(user)}
        order = sorted(bots, key=lambda sid: sid not in near)  # accounts sharing a group first
        errors: list[str] = []
        for self_id in order:
            try:
                await self.pacer.slot(None)
                await send(bots[self_id], int(user))
                return
            except Exception as exc:
                errors.append(f"{self_id}: {_describe(exc)}")
        raise RuntimeError("private message not delivered (" + "; ".join(errors) + ")")

    # ------------------------------------------------------------------ directory

    async def list_members(self, group_id: str) -> list[Member]:
        group = _raw(group_id)
        data = await self.call(self.bot_for(group), "get_group_member_list", group_id=int(group))
        members: list[Member] = []
        for item in data or []:
            user = str(item.get("user_id"))
            info = MemberInfo(
                parse_role(item.get("role")),
                str(item.get("card") or ""),
                str(item.get("nickname") or ""),
            )
            self.routes.note_member(group, user, info)
            members.append(Member(qq(user), info.card, info.nickname, info.role))
        return members

    async def group_info(self, group_id: str) -> GroupInfo:
        group = _raw(group_id)
        bot = self.bot_for(group)
        await self.ensure_bot_role(bot, group)
        data = await self.call(bot, "get_group_info", group_id=int(group))
        return GroupInfo(
            group_id=qq(group),
            name=str(data.get("group_name") or ""),
            member_count=int(data.get("member_count") or 0),
            bot_role=self.routes.bot_role(group, bot.self_id) or Role.MEMBER,
        )

    async def list_groups(self) -> list[str]:
        groups: set[str] = set()
        for self_id, bot in self.connected().items():
            groups.update(qq(group) for group in await self._seat_groups(self_id, bot))
        return sorted(groups)

    async def locate(self, group_id: str) -> None:
        """Make sure a connected account is known to be in the group (with its role).

        Accounts learn their groups from events, so after a restart a group that has
        been quiet is unknown; an officer's private command for it asks the accounts
        for their group lists first.
        """
        group = _raw(group_id)
        bots = self.connected()
        if self.routes.server(group, frozenset(bots)) is not None:
            return
        for self_id, bot in bots.items():
            if group in await self._seat_groups(self_id, bot):
                await self.ensure_bot_role(bot, group)
                return

    async def _seat_groups(self, self_id: str, bot: Bot) -> set[str]:
        """The account's groups (raw ids), recorded as its seats; empty if it cannot say."""
        try:
            data = await self.call(bot, "get_group_list")
        except Exception as exc:
            log.warning("group list of bot %s unavailable: %s", self_id, _describe(exc))
            return set()
        groups = {str(item.get("group_id")) for item in data or []}
        for group in groups:
            self.routes.seat(group, self_id)
        return groups
