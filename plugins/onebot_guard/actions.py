"""The core's moderation actions carried out on QQ, and checked afterwards.

Each :class:`~rules.core.model.Action` becomes its OneBot calls on the account
that serves the group (waiting for one that is reconnecting; see
:mod:`.accounts`). The outcome says what really happened:

- owners and admins (and the bot itself) are never muted, kicked or renamed:
  the action is refused;
- mutes and kicks are verified afterwards (``shut_up_timestamp``, the member
  list), because some implementations report success for calls QQ refused; a
  mute or removal by the implementation's own notice of it where it sends them
  (:mod:`.own_notices`), else by a read; the removals of a moment in one group
  (a ban storm's sweep, a raid) share one read of the list
  (:meth:`~.accounts.Accounts.member_list`);
- a message is deleted once: a second delete of it (a removed member's clean-up
  recalling a message whose own deletion is in flight or done) waits for the
  first and is done with it; only a failed deletion is tried again;
- API errors and timeouts become FAILED outcomes, never exceptions;
- the whole group is muted and unmuted with ``set_group_whole_ban`` (raids,
  ``/全员禁言``);
- @-notices go through the :class:`~.throttle.Pacer` (rate limits, coalescing)
  as an ``at`` segment plus a plain ``text`` segment, so user text in them is
  never read as CQ codes; one held back by the pacer is SKIPPED, not FAILED.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from datetime import timedelta
from typing import Any

from nonebot.adapters.onebot.v11 import ActionFailed, Bot, Message, MessageSegment

from plugins.onebot_guard.accounts import Accounts, GatewayError, describe, listed, raw_id
from plugins.onebot_guard.own_notices import MUTED, REMOVED, muted_seconds
from plugins.onebot_guard.routes import MemberInfo
from plugins.onebot_guard.throttle import Pacer, Throttled
from rules.core.model import Action, ActionKind, Outcome, OutcomeStatus, Role

log = logging.getLogger(__name__)

MAX_MUTE = timedelta(days=30) - timedelta(minutes=1)  # QQ's limit is 30 days
MIN_MUTE = timedelta(minutes=1)
VERIFY_DELAY = 0.5
RECENT_DELETES = 10_000  # deletions remembered (in flight or done) so as not to repeat them


class NoticeHeldBack(GatewayError):
    """An @-notice not sent to protect the account from risk control (rate limits).

    Recorded as skipped, not failed: nothing went wrong, and a raid's thousands of
    held-back warnings must not bury real failures in the officers' digest.
    """


class AlreadyGone(GatewayError):
    """A removal of someone the group's member list no longer has (removed before, or
    left). Recorded as skipped: nobody was removed now, so nothing follows from it (no
    clean-up of their messages, no ban), and the case says why."""


class Actions:
    """Runs moderation actions through :class:`Accounts`, verifying mutes and kicks."""

    def __init__(self, accounts: Accounts, pacer: Pacer, verify_delay: float = VERIFY_DELAY):
        self.accounts = accounts
        self.pacer = pacer
        self.verify_delay = verify_delay
        # (group, message id) -> its deletion, in flight or done (the newest last)
        self._deletes: dict[tuple[str, str], asyncio.Future[None]] = {}

    async def perform(self, action: Action) -> Outcome:
        try:
            detail = await self._perform(action)
        except NoticeHeldBack as exc:
            return Outcome(action, OutcomeStatus.SKIPPED, f"not sent ({exc})")
        except AlreadyGone as exc:
            return Outcome(action, OutcomeStatus.SKIPPED, str(exc))
        except GatewayError as exc:
            return Outcome(action, OutcomeStatus.FAILED, str(exc))
        except Exception as exc:  # API refusal, timeout, disconnect: record, don't lose
            log.warning("QQ %s in %s failed: %s", action.kind, action.group_id, describe(exc))
            return Outcome(action, OutcomeStatus.FAILED, describe(exc))
        return Outcome(action, OutcomeStatus.DONE, detail)

    async def _perform(self, action: Action) -> str:
        kind = action.kind
        if kind in (ActionKind.MUTE_ALL, ActionKind.UNMUTE_ALL):  # the group, no target
            group = raw_id(action.group_id)
            bot = await self.accounts.acting_bot(group)
            enable = kind is ActionKind.MUTE_ALL
            await self.accounts.call(bot, "set_group_whole_ban", group_id=int(group), enable=enable)
            return "whole group muted" if enable else "whole group unmuted"
        group, user = raw_id(action.group_id), raw_id(action.target_id)
        bot = await self.accounts.acting_bot(group)
        if kind is ActionKind.DELETE:
            if action.message_id is None:
                raise GatewayError("no message id to delete")
            return await self._delete(bot, group, action.message_id)
        if kind in (ActionKind.WARN, ActionKind.REMIND):
            return await self._notice(bot, group, user, action)
        if kind in (ActionKind.MUTE, ActionKind.UNMUTE):
            return await self._mute(bot, group, user, action)
        if kind is ActionKind.KICK:
            return await self._kick(bot, group, user, action)
        if kind is ActionKind.SET_CARD:
            return await self._set_card(bot, group, user, action)
        if kind in (ActionKind.APPROVE_JOIN, ActionKind.REJECT_JOIN):
            return await self._answer_request(bot, group, user, action)
        raise GatewayError(f"{kind.value} is not a QQ action")

    async def _delete(self, bot: Bot, group: str, message_id: str) -> str:
        """Delete a message, unless a deletion of it is in flight (wait for it) or done."""
        key = (group, message_id)
        earlier = self._deletes.get(key)
        if earlier is not None:
            with contextlib.suppress(Exception):  # that one failed: try again below
                await asyncio.shield(earlier)
                return "deleted (by an earlier action)"
        mine: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._deletes[key] = mine
        while len(self._deletes) > RECENT_DELETES:
            del self._deletes[next(iter(self._deletes))]
        try:
            await self.accounts.call(bot, "delete_msg", message_id=int(message_id))
        except BaseException as exc:
            if self._deletes.get(key) is mine:
                del self._deletes[key]
            mine.set_exception(GatewayError(describe(exc)))
            mine.exception()  # (retrieved: nobody need wait for it)
            raise
        mine.set_result(None)
        return "deleted"

    async def _notice(self, bot: Bot, group: str, user: str, action: Action) -> str:
        async def send(text: str) -> None:
            message = Message([MessageSegment.at(int(user)), MessageSegment.text(" " + text)])
            await self.accounts.call(bot, "send_group_msg", group_id=int(group), message=message)

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
        info = self.accounts.routes.member(group, user)
        if info is None:
            info = await self.accounts.member_info(bot, group, user)
        if info.role is not Role.MEMBER:
            raise GatewayError(f"refused: the target is a group {info.role.value}")
        return info

    async def _set_card(self, bot: Bot, group: str, user: str, action: Action) -> str:
        await self._check_target(bot, group, user)
        await self.accounts.call(
            bot, "set_group_card", group_id=int(group), user_id=int(user), card=action.text
        )
        known = self.accounts.routes.member(group, user)
        if known is not None:
            known.card = action.text
        return "card set"

    async def _mute(self, bot: Bot, group: str, user: str, action: Action) -> str:
        await self._check_target(bot, group, user)
        if action.kind is ActionKind.UNMUTE:
            seconds = 0
        else:
            if action.duration is None:
                raise GatewayError("mute without a duration")
            seconds = int(min(max(action.duration, MIN_MUTE), MAX_MUTE).total_seconds())
        notices, account = self.accounts.own_notices, bot.self_id
        with notices.expecting(MUTED, account, group, user) as heard:
            await self.accounts.call(
                bot, "set_group_ban", group_id=int(group), user_id=int(user), duration=seconds
            )
            notice = await notices.reported(MUTED, account, heard)
            if notice is not None and (muted_seconds(notice) > 0) == (seconds > 0):
                return f"verified: QQ reported the member {'muted' if seconds else 'unmuted'}"
            # (a notice that comes during the read still teaches that the account sends them)
            return await self._read_mute(bot, group, user, seconds)

    async def _read_mute(self, bot: Bot, group: str, user: str, seconds: int) -> str:
        """Verify a mute (or unmute) by reading the member's ``shut_up_timestamp``."""
        call = self.accounts.call
        for attempt in range(2):  # bounded: check now, and once more after a short delay
            try:
                data = await call(
                    bot,
                    "get_group_member_info",
                    group_id=int(group),
                    user_id=int(user),
                    no_cache=True,
                )
            except Exception as exc:
                return f"done; not verified ({describe(exc)})"
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
        notices, account = self.accounts.own_notices, bot.self_id
        with notices.expecting(REMOVED, account, group, user) as heard:
            try:
                await self._check_target(bot, group, user)
                await self.accounts.call(
                    bot,
                    "set_group_kick",
                    group_id=int(group),
                    user_id=int(user),
                    reject_add_request=action.block_rejoin,
                )
            except ActionFailed:
                # Refused: NapCat and its kin refuse to look up or remove someone who is
                # not in the group ("群成员…不存在"). If the list says they are not, there
                # is nobody to remove (a second removal, a member who left meanwhile).
                if await self._absent(bot, group, user):
                    self.accounts.routes.forget_member(group, user)
                    raise AlreadyGone("not in the group (gone already)") from None
                raise
            blocked = "; re-joining blocked" if action.block_rejoin else ""
            if await notices.reported(REMOVED, account, heard) is not None:
                self.accounts.routes.forget_member(group, user)
                return f"verified: QQ reported the member gone{blocked}"
            # (a notice that comes during the read still teaches that the account sends them)
            return await self._read_removal(bot, group, user, blocked)

    async def _read_removal(self, bot: Bot, group: str, user: str, blocked: str) -> str:
        """Verify a removal by reading the group's member list (shared by the moment's)."""
        for attempt in range(2):
            try:
                members = await self.accounts.member_list(bot, group)
            except Exception as exc:
                return f"done; not verified ({describe(exc)})"
            if not listed(members, user):
                self.accounts.routes.forget_member(group, user)
                return f"verified: no longer in the group{blocked}"
            if attempt == 0:
                await asyncio.sleep(self.verify_delay)
        raise GatewayError("set_group_kick reported success but the member is still in the group")

    async def _absent(self, bot: Bot, group: str, user: str) -> bool:
        """Whether the group's member list (read now) lacks ``user``; False if unreadable."""
        try:
            members = await self.accounts.member_list(bot, group)
        except Exception:
            return False
        return not listed(members, user)

    async def _answer_request(self, bot: Bot, group: str, user: str, action: Action) -> str:
        pending = self.accounts.routes.take_request(group, user)
        if pending is None:
            raise GatewayError("no pending join request from this member")
        flag, sub_type = pending
        approve = action.kind is ActionKind.APPROVE_JOIN
        params: dict[str, Any] = {"flag": flag, "sub_type": sub_type, "approve": approve}
        if not approve:
            params["reason"] = action.text
        await self.accounts.call(bot, "set_group_add_request", **params)
        return "approved" if approve else "rejected"
