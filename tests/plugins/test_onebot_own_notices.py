"""Mutes verified by the implementation's ``group_ban`` notice where it sends one
(NapCat does, for every mute), by a read of the member where it does not, or when the
notice does not come in time or says otherwise."""

from __future__ import annotations

import asyncio
import time
from types import SimpleNamespace
from typing import Any

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


class FakeAccounts:
    """``Accounts`` stand-in: mutes answered "ok"; the member's state read back; with
    ``reports``, a ``group_ban`` notice of each mute that happened, just after the answer."""

    def __init__(self, reports: bool, honest: bool = True) -> None:
        from plugins.onebot_guard.mute_notices import MuteNotices

        self.mute_notices = MuteNotices(wait=0.2)
        self.reports = reports
        self.honest = honest
        self.calls: list[str] = []
        self.muted_until: dict[int, int] = {}  # member -> shut_up_timestamp
        self.routes = SimpleNamespace(member=lambda g, u: None)

    async def acting_bot(self, group: str) -> Any:
        return SimpleNamespace(self_id=ACCOUNT)

    async def member_info(self, bot: Any, group: str, user: str) -> Any:
        from plugins.onebot_guard.routes import MemberInfo
        from rules.core.model import Role

        return MemberInfo(Role.MEMBER)

    async def call(self, bot: Any, api: str, **params: Any) -> Any:
        self.calls.append(api)
        if api == "set_group_ban":
            seconds = params["duration"]
            if self.honest:
                until = int(time.time()) + seconds if seconds else 0
                self.muted_until[params["user_id"]] = until
                if self.reports:  # the grey tip's notice, read off the wire a moment later
                    notice = ban_notice(str(params["user_id"]), seconds)
                    asyncio.get_running_loop().call_soon(self.mute_notices.heard, notice)
            return None
        assert api == "get_group_member_info"
        await asyncio.sleep(0)  # a round trip: what was sent before it arrives first
        until = self.muted_until.get(params["user_id"], 0)
        return {"user_id": params["user_id"], "shut_up_timestamp": until}


def mute(user: str, minutes: int = 10) -> Action:
    from datetime import timedelta

    return Action(ActionKind.MUTE, f"qq:{GROUP}", f"qq:{user}", duration=timedelta(minutes=minutes))


async def perform(accounts: FakeAccounts, action: Action) -> Any:
    from plugins.onebot_guard.actions import Actions  # after nonebot is initialised

    actions = Actions(accounts, pacer=None, verify_delay=0)  # type: ignore[arg-type]
    return await actions.perform(action)


async def test_an_account_that_reports_mutes_is_learnt_then_trusted() -> None:
    accounts = FakeAccounts(reports=True)
    first = await perform(accounts, mute("3001"))
    # not known to report yet: read at once (and the notice heard meanwhile teaches it)
    assert first.status is OutcomeStatus.DONE and "verified: muted until" in first.detail
    assert accounts.calls == ["set_group_ban", "get_group_member_info"]
    assert accounts.mute_notices.reports(ACCOUNT)

    accounts.calls.clear()
    second = await perform(accounts, mute("3002"))
    assert second.status is OutcomeStatus.DONE
    assert second.detail == "verified: QQ reported the member muted"
    assert accounts.calls == ["set_group_ban"]  # no read: QQ said so
    assert len(accounts.mute_notices) == 0  # nothing left waiting


async def test_an_account_that_never_reports_is_read_every_time() -> None:
    accounts = FakeAccounts(reports=False)
    for user in ("3001", "3002"):
        outcome = await perform(accounts, mute(user))
        assert outcome.status is OutcomeStatus.DONE and "verified: muted until" in outcome.detail
    assert accounts.calls.count("get_group_member_info") == 2
    assert not accounts.mute_notices.reports(ACCOUNT)


async def test_a_mute_that_did_not_happen_is_caught_when_no_notice_comes() -> None:
    accounts = FakeAccounts(reports=True)
    await perform(accounts, mute("3001"))  # learnt: this account reports mutes
    accounts.honest, accounts.calls = False, []  # "ok", and nothing happens (no grey tip)
    started = time.monotonic()
    outcome = await perform(accounts, mute("3002"))
    assert outcome.status is OutcomeStatus.FAILED
    assert "reported success but the member is not muted" in outcome.detail
    assert time.monotonic() - started >= accounts.mute_notices.wait  # waited, then read
    assert accounts.calls == ["set_group_ban", "get_group_member_info", "get_group_member_info"]
    assert not accounts.mute_notices.reports(ACCOUNT)  # read at once from now on


async def test_a_notice_that_says_otherwise_sends_the_mute_to_the_read() -> None:
    from plugins.onebot_guard.mute_notices import MuteNotices

    notices = MuteNotices()
    heard = notices.expect(ACCOUNT, GROUP, "3001")
    notices.heard(ban_notice("3001", 0))  # lifted, not muted
    assert await heard == 0

    accounts = FakeAccounts(reports=True)
    accounts.mute_notices._reporting.add(ACCOUNT)
    real_call = accounts.call

    async def call(bot: Any, api: str, **params: Any) -> Any:
        if api == "set_group_ban":  # someone lifts it at once: QQ reports a lift
            await real_call(bot, api, **params)
            accounts.mute_notices.heard(ban_notice(str(params["user_id"]), 0))
            return None
        return await real_call(bot, api, **params)

    accounts.call = call  # type: ignore[method-assign]
    outcome = await perform(accounts, mute("3001"))
    assert "verified: muted until" in outcome.detail  # the read decided, not the notice
    assert "get_group_member_info" in accounts.calls


def test_notices_are_matched_by_account_group_and_member() -> None:
    from plugins.onebot_guard.mute_notices import MuteNotices

    async def scenario() -> None:
        notices = MuteNotices()
        mine = notices.expect(ACCOUNT, GROUP, "3001")
        also_mine = notices.expect(ACCOUNT, GROUP, "3001")  # two mutes of one member
        other = notices.expect(ACCOUNT, GROUP, "3002")
        notices.heard(ban_notice("3001", 60, account="20000"))  # another account's
        notices.heard(ban_notice("3003", 60))  # another member
        notices.heard({"notice_type": "group_ban"})  # malformed: nothing matches
        assert not (mine.done() or also_mine.done() or other.done())
        notices.heard(ban_notice("3001", 600))
        assert (await mine, await also_mine) == (600, 600)
        assert not other.done() and notices.reports(ACCOUNT)
        notices.forget(ACCOUNT, GROUP, "3002", other)
        assert other.cancelled() and len(notices) == 0

    asyncio.run(scenario())
