"""Which connected QQ account acts for which group, and the calls made through it.

Several OneBot connections can feed one process, each logged in as its own QQ
account. :class:`Accounts` knows which are connected, which serves each group
(the highest role wins; see :mod:`.routes`), the accounts' own roles (fetched
once per group, refreshed in the background when stale), and what happens when
a connection drops:

- calls in flight on that account end at once (their answers can no longer
  come) instead of waiting out the API timeout;
- actions for its groups wait up to ``reconnect_grace`` seconds for it to come
  back (a NapCat restart, a network blip) before they fail.

Every platform call of the QQ gateway goes through :meth:`Accounts.call`.
A group's member list (read to verify a removal and by a ban's sweep, many at
once during a raid) goes through :meth:`Accounts.member_list`: callers that
arrive while one is being fetched share the next fetch, so every caller still
gets a list asked for after it called, and a group has one list call in flight;
that next fetch also waits until ``list_spacing`` (0.1 s) after the previous one
began, so a storm of removals in a group costs at most ten list reads a second
there, whatever the number of removals (a group read now and then is read at once).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Mapping
from typing import Any

import nonebot
from nonebot.adapters import Bot as BaseBot
from nonebot.adapters.onebot.v11 import ActionFailed, Bot

from plugins.onebot_guard.api_lane import ApiLane
from plugins.onebot_guard.own_notices import OwnNotices
from plugins.onebot_guard.routes import MemberInfo, Routes
from plugins.onebot_guard.translate import parse_role
from rules.core.model import Platform, Role, split_id

log = logging.getLogger(__name__)

API_TIMEOUT = 10.0
# Actions for a group whose account dropped its connection wait this long for it to
# come back (a NapCat restart, a network blip) instead of being skipped.
RECONNECT_GRACE = 60.0
# Two reads of one group's member list begin at least this far apart (the callers of
# the moment share the second one).
LIST_SPACING = 0.1


class GatewayError(Exception):
    """An action could not be carried out; the message is the outcome's detail."""


def raw_id(qualified: str) -> str:
    """The QQ number in a platform-qualified id (``qq:123`` -> ``123``)."""
    platform, raw = split_id(qualified)
    if platform is not Platform.QQ:
        raise GatewayError(f"{qualified} is not a QQ id")
    return raw


def describe(exc: BaseException) -> str:
    """One line for a failed call, as recorded with the outcome."""
    if isinstance(exc, ActionFailed):
        info = exc.info if isinstance(exc.info, Mapping) else {}
        msg = info.get("wording") or info.get("message") or info.get("msg") or ""
        return f"API refused (retcode {info.get('retcode')}): {msg}".rstrip(": ")
    if isinstance(exc, TimeoutError):
        return "API call timed out"
    return f"{type(exc).__name__}: {exc}"


class Accounts:
    """The connected OneBot v11 bots, the group each serves, and calls through them."""

    def __init__(
        self,
        bots: Callable[[], Mapping[str, BaseBot]] = nonebot.get_bots,
        api_timeout: float = API_TIMEOUT,
        reconnect_grace: float = RECONNECT_GRACE,
        list_spacing: float = LIST_SPACING,
    ) -> None:
        self.routes = Routes()
        self.lane: ApiLane | None = None  # set by the intake: calls that skip call_api
        self.own_notices = OwnNotices()  # fed by the intake: actions verified by QQ's word
        self._bots = bots
        self.api_timeout = api_timeout
        self.reconnect_grace = reconnect_grace
        self.list_spacing = list_spacing
        self._role_fetches: dict[tuple[str, str], asyncio.Task[None]] = {}
        self._in_flight: dict[str, set[asyncio.Timeout]] = {}  # account -> its calls' timers
        self._away: dict[str, float] = {}  # account -> when its connection dropped
        self._accounts: set[str] = set()  # every account that has connected
        self._arrived = asyncio.Event()  # set (and replaced) when an account connects
        self._lists: dict[tuple[str, str], _ListFetches] = {}  # (account, group) -> fetches
        self._list_read: dict[tuple[str, str], float] = {}  # -> when its last read began

    # ------------------------------------------------------------------ who serves where

    def connected(self) -> dict[str, Bot]:
        return {sid: b for sid, b in self._bots().items() if isinstance(b, Bot)}

    def serves(self, self_id: str, group: str) -> bool:
        """Whether this bot moderates the group (records that it is in it)."""
        self.routes.seat(group, self_id)
        return self.routes.server(group, frozenset(self.connected())) == self_id

    def bot_for(self, group: str) -> Bot:
        """The connected account serving ``group``; raise if there is none."""
        bots = self.connected()
        self_id = self.routes.server(group, frozenset(bots))
        if self_id is None:
            raise GatewayError(f"no connected QQ account is in group {group}")
        return bots[self_id]

    def acting_for(self, group: str) -> str | None:
        """The account that acts in ``group``: connected, else one reconnecting."""
        self_id = self.routes.server(group, frozenset(self.connected()))
        return self_id if self_id is not None else self._returning(group)

    async def acting_bot(self, group: str) -> Bot:
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

    def _returning(self, group: str) -> str | None:
        """The account that served ``group`` and dropped its connection within the grace."""
        now = time.monotonic()
        # gone from nonebot's bots before its disconnect hook has run: away since now
        for account in self._accounts - self._away.keys() - self.connected().keys():
            self._away[account] = now
        away = frozenset(a for a, since in self._away.items() if now - since < self.reconnect_grace)
        return self.routes.server(group, away) if away else None

    # ------------------------------------------------------------------ connections

    def connection_made(self, self_id: str) -> None:
        """An account (re)connected: actions waiting for it go on."""
        self._away.pop(self_id, None)
        self._accounts.add(self_id)
        arrived, self._arrived = self._arrived, asyncio.Event()
        arrived.set()

    def connection_lost(self, self_id: str) -> None:
        """End the account's calls in flight now: their answers can no longer come.

        Its groups' next actions wait up to ``reconnect_grace`` for it to come back.
        """
        loop = asyncio.get_running_loop()
        for timer in self._in_flight.pop(self_id, set()):
            timer.reschedule(loop.time())
        self._away[self_id] = time.monotonic()

    async def call(self, bot: Bot, api: str, **params: Any) -> Any:
        """``bot.call_api`` under the API timeout, ended early if the connection drops.

        A call on a connection the account has replaced (it came back) fails at once,
        and one that times out after its connection went is reported as lost with it:
        its answer could never come.
        """
        current = self.connected().get(bot.self_id)
        if current is None and bot.self_id in self._accounts:
            # dropped (the adapter would try HTTP, with a TLS context made per call: 30 ms)
            raise GatewayError(f"QQ account {bot.self_id} is not connected")
        if current is not None and current is not bot:
            raise GatewayError("connection to the QQ account lost during the call")
        calls = self._in_flight.setdefault(bot.self_id, set())
        try:
            async with asyncio.timeout(self.api_timeout) as timer:  # a timer, not a task
                calls.add(timer)
                try:
                    if self.lane is not None:  # (it takes call_api's way where it must)
                        return await self.lane.call(bot, api, params)
                    return await bot.call_api(api, **params)
                finally:
                    calls.discard(timer)
        except TimeoutError:
            if self.connected().get(bot.self_id) is not bot:
                raise GatewayError("connection to the QQ account lost during the call") from None
            raise

    async def member_list(self, bot: Bot, group: str) -> Any:
        """``get_group_member_list`` for ``group``, from a call made after this one began.

        Callers that arrive while a list is being fetched wait for it to end and share
        the one fetch that follows, which begins ``list_spacing`` after the previous one
        began at the earliest, so a raid's removals and sweeps in one group make one
        call per round trip (or per ``list_spacing``) instead of one each; none sees a
        list older than its own request. Errors reach every caller that shared the call.
        """
        key = (bot.self_id, group)
        fetches = self._lists.get(key)
        if fetches is None:
            fetches = self._lists[key] = _ListFetches()
        if fetches.next is None:
            fetches.next = asyncio.ensure_future(self._fetch_list(bot, group, key, fetches))
        return await asyncio.shield(fetches.next)

    async def _fetch_list(
        self, bot: Bot, group: str, key: tuple[str, str], fetches: _ListFetches
    ) -> Any:
        ahead = fetches.running
        if ahead is not None:  # one at a time: wait for it, whatever its end
            await asyncio.wait([ahead])
        loop = asyncio.get_running_loop()
        wait = self._list_read.get(key, -self.list_spacing) + self.list_spacing - loop.time()
        if wait > 0:  # read a moment ago: the callers of the next moment share this one
            await asyncio.sleep(wait)
        fetches.running, fetches.next = fetches.next, None  # later callers wait for this one
        self._list_read[key] = loop.time()
        try:
            return await self.call(bot, "get_group_member_list", group_id=int(group))
        finally:
            fetches.running = None
            if fetches.next is None and self._lists.get(key) is fetches:
                del self._lists[key]

    # ------------------------------------------------------------------ roles

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

    async def member_info(self, bot: Bot, group: str, user: str) -> MemberInfo:
        """A member's role, card and nickname, asked now (and remembered)."""
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


def listed(members: Any, user: str) -> bool:
    """Whether a ``get_group_member_list`` answer has ``user`` (a raw QQ number)."""
    return any(str(m.get("user_id")) == user for m in members or [])


class _ListFetches:
    """A group's member-list fetches: the one in flight and the one callers wait for."""

    __slots__ = ("next", "running")

    def __init__(self) -> None:
        self.running: asyncio.Future[Any] | None = None
        self.next: asyncio.Future[Any] | None = None
