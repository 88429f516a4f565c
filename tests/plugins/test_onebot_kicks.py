"""Removing someone who is not in the group: the implementation refuses ("群成员…不存在"),
the member list is read, and if they are not on it the removal is skipped as moot (nobody
was removed now: no clean-up, no ban follow); a refusal for another reason stays a failure."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest
from nonebot.adapters.onebot.v11 import ActionFailed

from rules.core.model import Action, ActionKind, OutcomeStatus


class FakeAccounts:
    """``Accounts`` stand-in: a group's members; the kick refused as NapCat refuses."""

    def __init__(self, members: list[int], refuse_present: bool = False) -> None:
        self.members = members
        self.refuse_present = refuse_present  # refuse even someone who is there
        self.calls: list[str] = []
        self.routes = SimpleNamespace(member=lambda g, u: None, forget_member=lambda g, u: None)
        from plugins.onebot_guard.own_notices import OwnNotices

        self.own_notices = OwnNotices()  # this implementation reports nothing: lists are read

    async def acting_bot(self, group: str) -> Any:
        return SimpleNamespace(self_id="10000")

    async def member_info(self, bot: Any, group: str, user: str) -> Any:
        self.calls.append("get_group_member_info")
        if int(user) not in self.members:
            raise ActionFailed(status="failed", retcode=200, wording=f"群成员{user}不存在")
        from plugins.onebot_guard.routes import MemberInfo
        from rules.core.model import Role

        return MemberInfo(Role.MEMBER)

    async def call(self, bot: Any, api: str, **params: Any) -> Any:
        self.calls.append(api)
        assert api == "set_group_kick"
        if self.refuse_present or params["user_id"] not in self.members:
            raise ActionFailed(status="failed", retcode=200, wording="refused")
        self.members.remove(params["user_id"])

    async def member_list(self, bot: Any, group: str) -> list[dict[str, Any]]:
        self.calls.append("get_group_member_list")
        return [{"user_id": m} for m in self.members]


def kick(user: str) -> Action:
    return Action(ActionKind.KICK, "qq:42", f"qq:{user}")


async def perform(accounts: FakeAccounts, action: Action) -> Any:
    from plugins.onebot_guard.actions import Actions  # after nonebot is initialised

    actions = Actions(accounts, pacer=None, verify_delay=0)  # type: ignore[arg-type]
    return await actions.perform(action)


@pytest.mark.parametrize(
    ("members", "refuse_present", "status", "detail"),
    [
        ([3001, 3002], False, OutcomeStatus.DONE, "verified: no longer in the group"),
        ([3002], False, OutcomeStatus.SKIPPED, "not in the group (gone already)"),
        ([3001, 3002], True, OutcomeStatus.FAILED, "refused"),  # there, and refused: failed
    ],
)
async def test_removing_someone_already_gone_is_skipped_not_failed(
    members: list[int], refuse_present: bool, status: OutcomeStatus, detail: str
) -> None:
    accounts = FakeAccounts(members, refuse_present)
    outcome = await perform(accounts, kick("3001"))
    assert outcome.status is status
    assert detail in outcome.detail
    assert (3001 in accounts.members) is (status is OutcomeStatus.FAILED)
