"""Mutes and removals verified by the implementation's own notice of them where it sends
one (NapCat does: ``group_ban``, ``group_decrease``), by a read where it does not, or when
the notice does not come in time or says otherwise."""

from __future__ import annotations

import asyncio
import time
from datetime import timedelta
from types import SimpleNamespace
from typing import Any

import pytest

from rules.core.model import Action, ActionKind, OutcomeStatus

ACCOUNT, GROUP = "10000", "42"


def ban_notice(user: str, duration: int, account: str = ACCOUNT) -> dict[str, Any]:
    return {
        "post_type": "notice",
        "notice_type": "group_ban",
        "sub_type": "ban" if duration else "lift_ban",
        "self_id": int(account),
        "group_id": int(GROUP),
        "user_id": int(user),
        "operator_id": int(account),
        "duration": duration,
    }


def gone_notice(user: str, account: str = ACCOUNT) -> dict[str, Any]:
    return {
        "post_type": "notice",
        "notice_type": "group_decrease",
        "sub_type": "kick",
        "self_id": int(account),
        "group_id": int(GROUP),
        "user_id": int(user),
        "operator_id": int(account),
    }


class FakeAccounts:
    """``Accounts`` stand-in: mutes and removals answered "ok" and done when ``honest``;
    the member and the list read back; with ``reports``, the notice of each action that
    happened, read off the wire just after the call's answer."""

    def __init__(self, reports: bool, honest: bool = True) -> None:
        from plugins.onebot_guard.own_notices import OwnNotices

        self.own_notices = OwnNotices(wait=0.2)
        self.reports = reports
        self.honest = honest
        self.calls: list[str] = []
        self.muted_until: dict[int, int] = {}  # member -> shut_up_timestamp
        self.members = {3001, 3002, 3003}
        self.forgotten: list[str] = []
        self.routes = SimpleNamespace(
            member=lambda g, u: None, forget_member=lambda g, u: self.forgotten.append(u)
        )

    async def acting_bot(self, group: str) -> Any:
        return SimpleNamespace(self_id=ACCOUNT)

    async def member_info(self, bot: Any, group: str, user: str) -> Any:
        from plugins.onebot_guard.routes import MemberInfo
        from rules.core.model import Role

        return MemberInfo(Role.MEMBER)

    def _report(self, notice: dict[str, Any]) -> None:
        if self.reports:
            asyncio.get_running_loop().call_soon(self.own_notices.heard, notice)

    async def call(self, bot: Any, api: str, **params: Any) -> Any:
        self.calls.append(api)
        user = params.get("user_id")
        if api == "set_group_ban" and self.honest:
            seconds = params["duration"]
            self.muted_until[user] = int(time.time()) + seconds if seconds else 0
            self._report(ban_notice(str(user), seconds))
        elif api == "set_group_kick" and self.honest:
            self.members.discard(user)
            self._report(gone_notice(str(user)))
        elif api == "get_group_member_info":
            await asyncio.sleep(0)  # a round trip: what was sent before it arrives first
            return {"user_id": user, "shut_up_timestamp": self.muted_until.get(user, 0)}
        return None

    async def member_list(self, bot: Any, group: str) -> list[dict[str, Any]]:
        self.calls.append("get_group_member_list")
        await asyncio.sleep(0)
        return [{"user_id": m} for m in self.members]


def mute(user: str) -> Action:
    return Action(ActionKind.MUTE, f"qq:{GROUP}", f"qq:{user}", duration=timedelta(minutes=10))


def kick(user: str) -> Action:
    return Action(ActionKind.KICK, f"qq:{GROUP}", f"qq:{user}")


READS = {ActionKind.MUTE: "get_group_member_info", ActionKind.KICK: "get_group_member_list"}
CALLS = {ActionKind.MUTE: "set_group_ban", ActionKind.KICK: "set_group_kick"}
HEARD = {
    ActionKind.MUTE: "verified: QQ reported the member muted",
    ActionKind.KICK: "verified: QQ reported the member gone",
}
READ_DETAIL = {ActionKind.MUTE: "verified: muted until", ActionKind.KICK: "no longer in the group"}
FAILED = {ActionKind.MUTE: "member is not muted", ActionKind.KICK: "still in the group"}
ACTIONS = {ActionKind.MUTE: mute, ActionKind.KICK: kick}


async def perform(accounts: FakeAccounts, action: Action) -> Any:
    from plugins.onebot_guard.actions import Actions  # after nonebot is initialised

    actions = Actions(accounts, pacer=None, verify_delay=0)  # type: ignore[arg-type]
    return await actions.perform(action)


@pytest.mark.parametrize("kind", [ActionKind.MUTE, ActionKind.KICK])
async def test_an_account_that_reports_is_learnt_then_trusted(kind: ActionKind) -> None:
    accounts = FakeAccounts(reports=True)
    first = await perform(accounts, ACTIONS[kind]("3001"))
    # not known to report yet: read at once (and the notice heard meanwhile teaches it)
    assert first.status is OutcomeStatus.DONE and READ_DETAIL[kind] in first.detail
    assert accounts.calls == [CALLS[kind], READS[kind]]

    accounts.calls.clear()
    second = await perform(accounts, ACTIONS[kind]("3002"))
    assert (second.status, second.detail) == (OutcomeStatus.DONE, HEARD[kind])
    assert accounts.calls == [CALLS[kind]]  # no read: QQ said so
    assert len(accounts.own_notices) == 0  # nothing left waiting
    if kind is ActionKind.KICK:
        assert accounts.forgotten == ["3001", "3002"]  # the routes forget them either way


@pytest.mark.parametrize("kind", [ActionKind.MUTE, ActionKind.KICK])
async def test_an_account_that_never_reports_is_read_every_time(kind: ActionKind) -> None:
    accounts = FakeAccounts(reports=False)
    for user in ("3001", "3002"):
        outcome = await perform(accounts, ACTIONS[kind](user))
        assert outcome.status is OutcomeStatus.DONE and READ_DETAIL[kind] in outcome.detail
    assert accounts.calls.count(READS[kind]) == 2


@pytest.mark.parametrize("kind", [ActionKind.MUTE, ActionKind.KICK])
async def test_an_action_that_did_not_happen_is_caught_when_no_notice_comes(
    kind: ActionKind,
) -> None:
    accounts = FakeAccounts(reports=True)
    await perform(accounts, ACTIONS[kind]("3001"))  # learnt: this account reports them
    accounts.honest, accounts.calls = False, []  # "ok", and nothing happens (no grey tip)
    started = time.monotonic()
    outcome = await perform(accounts, ACTIONS[kind]("3002"))
    assert outcome.status is OutcomeStatus.FAILED and FAILED[kind] in outcome.detail
    assert time.monotonic() - started >= accounts.own_notices.wait  # waited, then read
    assert accounts.calls == [CALLS[kind], READS[kind], READS[kind]]
    # read at once from now on
    from plugins.onebot_guard.own_notices import MUTED, REMOVED

    assert not accounts.own_notices.reports(MUTED if kind is ActionKind.MUTE else REMOVED, ACCOUNT)


async def test_a_notice_that_says_otherwise_sends_the_mute_to_the_read() -> None:
    accounts = FakeAccounts(reports=True)
    await perform(accounts, mute("3001"))  # learnt
    real_call = accounts.call

    async def call(bot: Any, api: str, **params: Any) -> Any:
        result = await real_call(bot, api, **params)
        if api == "set_group_ban":  # someone lifts it at once: QQ reports a lift first
            accounts.own_notices.heard(ban_notice(str(params["user_id"]), 0))
        return result

    accounts.call = call  # type: ignore[method-assign]
    accounts.calls.clear()
    outcome = await perform(accounts, mute("3002"))
    assert "verified: muted until" in outcome.detail  # the read decided, not the notice
    assert accounts.calls == ["set_group_ban", "get_group_member_info"]


async def test_learning_is_per_kind_of_action() -> None:
    accounts = FakeAccounts(reports=True)
    await perform(accounts, mute("3001"))  # mutes reported: learnt for mutes only
    accounts.calls.clear()
    await perform(accounts, kick("3002"))
    assert accounts.calls == ["set_group_kick", "get_group_member_list"]


async def test_notices_are_matched_by_kind_account_group_and_member() -> None:
    from plugins.onebot_guard.own_notices import MUTED, REMOVED, OwnNotices, muted_seconds

    notices = OwnNotices()
    mine = notices.expect(MUTED, ACCOUNT, GROUP, "3001")
    also_mine = notices.expect(MUTED, ACCOUNT, GROUP, "3001")  # two mutes of one member
    other = notices.expect(MUTED, ACCOUNT, GROUP, "3002")
    removal = notices.expect(REMOVED, ACCOUNT, GROUP, "3001")
    notices.heard(ban_notice("3001", 60, account="20000"))  # another account's
    notices.heard(ban_notice("3003", 60))  # another member
    notices.heard({"notice_type": "group_ban"})  # malformed: nothing matches
    notices.heard({**ban_notice("3001", 60), "notice_type": "group_recall"})  # another kind
    assert not any(f.done() for f in (mine, also_mine, other, removal))
    notices.heard(ban_notice("3001", 600))
    assert muted_seconds(await mine) == muted_seconds(await also_mine) == 600
    assert not other.done() and not removal.done()
    assert notices.reports(MUTED, ACCOUNT) and not notices.reports(REMOVED, ACCOUNT)
    notices.forget(MUTED, ACCOUNT, GROUP, "3002", other)
    notices.forget(REMOVED, ACCOUNT, GROUP, "3001", removal)
    assert other.cancelled() and removal.cancelled() and len(notices) == 0


@pytest.mark.parametrize(
    ("notice", "seconds"),
    [
        (ban_notice("1", 600), 600),
        (ban_notice("1", 0), 0),
        ({**ban_notice("1", 600), "sub_type": "lift_ban"}, 0),
        ({**ban_notice("1", 600), "duration": "600"}, 0),  # not a number: not a mute
        ({**ban_notice("1", 600), "duration": -1}, 0),
    ],
)
def test_what_a_ban_notice_says(notice: dict[str, Any], seconds: int) -> None:
    from plugins.onebot_guard.own_notices import muted_seconds

    assert muted_seconds(notice) == seconds
