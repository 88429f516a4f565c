"""The ban list and the sweep across groups, with fakes for the store and the platforms."""

from __future__ import annotations

import asyncio
from collections.abc import Collection
from dataclasses import replace
from datetime import datetime, timedelta

import pytest

from rules.config import Config, parse_config
from rules.core.model import ActionKind, Member, OutcomeStatus, Platform, Role
from rules.core.ports import GroupInfo
from rules.core.protection_records import Ban
from rules.detectors.nickname.roster import Roster
from rules.protection.bans import BanList, exempt_account, exemption, linked_accounts
from rules.protection.sweep import Sweeper, sweep
from tests.fakes import T0, FakeDirectoryGateway

ROSTER = Roster.from_csv("name,qq,wechat\n张三,3001,wxid_zs\n李四,4001,\n")


class MemoryBans:
    """A BanStore in memory."""

    def __init__(self) -> None:
        self.bans: list[Ban] = []

    async def add_ban(self, ban: Ban) -> Ban:
        ban = replace(ban, id=len(self.bans) + 1)
        self.bans.append(ban)
        return ban

    async def active_ban_for(self, accounts: Collection[str]) -> Ban | None:
        return next((b for b in self.bans if b.active and set(b.accounts) & set(accounts)), None)

    async def get_ban(self, ban_id: int) -> Ban | None:
        return next((b for b in self.bans if b.id == ban_id), None)

    async def list_bans(self, active_only: bool = True, limit: int = 50) -> list[Ban]:
        found = [b for b in reversed(self.bans) if b.active or not active_only]
        return found[:limit]

    async def lift_ban(self, ban_id: int, by: str, at: datetime) -> Ban | None:
        for i, ban in enumerate(self.bans):
            if ban.id == ban_id and ban.active:
                self.bans[i] = replace(ban, lifted_by=by, lifted_at=at)
                return self.bans[i]
        return None


@pytest.mark.parametrize(
    ("member", "roster", "expected"),
    [
        ("qq:3001", ROSTER, ("qq:3001", "wechat:wxid_zs")),  # the other platform too
        ("wechat:wxid_zs", ROSTER, ("wechat:wxid_zs", "qq:3001")),
        ("qq:4001", ROSTER, ("qq:4001",)),  # a person with one account
        ("qq:9999", ROSTER, ("qq:9999",)),  # not in the roster
        ("qq:3001", None, ("qq:3001",)),  # no roster
    ],
)
def test_linked_accounts(member: str, roster: Roster | None, expected: tuple[str, ...]) -> None:
    assert linked_accounts(member, roster) == expected


POLICY = parse_config(
    {
        "escalation": {"officers": ["qq:7"]},
        "moderation": {"exempt_ids": ["qq:8"]},
    }
).policy()


@pytest.mark.parametrize(
    ("member", "bots", "expected"),
    [
        (Member("qq:1", role=Role.OWNER), (), "group owner"),
        (Member("qq:1", role=Role.ADMIN), (), "group admin"),
        (Member("qq:7"), (), "officer"),
        (Member("qq:8"), (), "exempt id"),
        (Member("qq:6"), ("qq:6",), "the bot itself"),
        (Member("qq:5"), (), None),
    ],
)
def test_who_is_never_banned(member: Member, bots: tuple[str, ...], expected: str | None) -> None:
    assert exemption(member, POLICY, bots) == expected


def test_exempt_account_looks_at_every_policy() -> None:
    assert exempt_account(["qq:5", "qq:7"], [POLICY]) == "qq:7"
    assert exempt_account(["qq:5"], [POLICY]) is None


async def test_ban_is_made_once_and_lifted_everywhere() -> None:
    bans = BanList(MemoryBans())
    ban, new = await bans.ban("qq:3001", reason="赌博", by="bot", at=T0, roster=ROSTER)
    assert new and ban.id == 1 and ban.accounts == ("qq:3001", "wechat:wxid_zs")
    again, new = await bans.ban("wechat:wxid_zs", reason="x", by="qq:7", at=T0)
    assert not new and again.id == ban.id
    assert (await bans.banned("wechat:wxid_zs")) is not None
    lifted = await bans.lift("wechat:wxid_zs", by="qq:7", at=T0 + timedelta(days=1))
    assert lifted is not None and lifted.lifted_by == "qq:7" and not lifted.active
    assert await bans.banned("qq:3001") is None
    assert await bans.lift("qq:3001", by="qq:7", at=T0) is None  # nothing left to lift
    assert [b.id for b in await bans.listing(active_only=False)] == [1]
    assert await bans.listing() == []


# ---------------------------------------------------------------- the sweep


def directory(
    groups: dict[str, list[Member]], caps: frozenset[ActionKind] | None = None
) -> FakeDirectoryGateway:
    platform = Platform(next(iter(groups)).split(":")[0])
    gateway = FakeDirectoryGateway(platform=platform, caps=caps)
    gateway.groups = {g: GroupInfo(g, g, len(m), Role.ADMIN) for g, m in groups.items()}
    gateway.members = groups
    return gateway


def banned(*accounts: str, case_id: int | None = 12) -> Ban:
    return Ban(accounts[0], accounts, "赌博", "bot", T0, name="张三", case_id=case_id, id=1)


def config(groups: dict[str, object] | None = None) -> Config:
    return parse_config({"escalation": {"officers": ["qq:7"]}, "groups": groups or {}})


async def test_sweep_removes_from_every_other_group_where_found() -> None:
    qq = directory(
        {
            "qq:A": [Member("qq:3001"), Member("qq:1")],
            "qq:B": [Member("qq:3001", card="张三"), Member("qq:2")],
            "qq:C": [Member("qq:3001")],
            "qq:D": [Member("qq:2")],  # not there
        }
    )
    cfg = config()
    result = await sweep(banned("qq:3001"), {Platform.QQ: qq}, cfg.policy_for, skip_groups={"qq:A"})
    assert [(r.group_id, r.status) for r in result.results] == [
        ("qq:B", "removed"),
        ("qq:C", "removed"),
    ]
    assert result.checked == 3 and result.removed == 2
    # re-joining is refused by the ban list (reversible), not by QQ's own block list
    assert [(a.kind, a.group_id, a.block_rejoin) for a in qq.performed] == [
        (ActionKind.KICK, "qq:B", False),
        (ActionKind.KICK, "qq:C", False),
    ]
    assert [a.case_id for a in qq.performed] == [12, 12]
    outcomes = result.outcomes()
    assert [o.status for o in outcomes] == [OutcomeStatus.DONE, OutcomeStatus.DONE]


@pytest.mark.parametrize(
    ("member", "groups", "caps", "status"),
    [
        (Member("qq:3001", role=Role.ADMIN), {}, None, "exempt"),
        (Member("qq:3001"), {"qq:B": {"moderation": {"exempt_ids": ["qq:3001"]}}}, None, "exempt"),
        (Member("qq:3001"), {"qq:B": {"escalation": {"officers": ["qq:3001"]}}}, None, "exempt"),
        (Member("qq:3001"), {}, frozenset({ActionKind.WARN}), "cannot"),  # not an admin there
        (Member("qq:3001"), {"qq:B": {"moderation": {"dry_run": True}}}, None, "dry_run"),
    ],
)
async def test_sweep_leaves_who_it_may_not_remove(
    member: Member, groups: dict[str, object], caps: frozenset[ActionKind] | None, status: str
) -> None:
    qq = directory({"qq:B": [member]}, caps)
    result = await sweep(banned("qq:3001"), {Platform.QQ: qq}, config(groups).policy_for)
    assert [r.status for r in result.results] == [status]
    assert qq.performed == []


async def test_group_that_opts_out_is_not_looked_at() -> None:
    qq = directory({"qq:B": [Member("qq:3001")], "qq:C": [Member("qq:3001")]})
    cfg = config({"qq:C": {"protection": {"share_bans": False}}})
    result = await sweep(banned("qq:3001"), {Platform.QQ: qq}, cfg.policy_for)
    assert [r.group_id for r in result.results] == ["qq:B"]
    assert result.opted_out == 1


async def test_sweep_covers_the_other_platform_and_reports_what_it_could_not_read() -> None:
    qq = directory({"qq:B": [Member("qq:3001")], "qq:broken": []})
    wechat = directory({"wechat:r1@chatroom": [Member("wechat:wxid_zs")]})

    async def broken(group_id: str) -> list[Member]:
        if group_id == "qq:broken":
            raise ConnectionError("timeout")
        return qq.members[group_id]

    qq.list_members = broken  # type: ignore[method-assign]
    gateways = {Platform.QQ: qq, Platform.WECHAT: wechat}
    result = await sweep(banned("qq:3001", "wechat:wxid_zs"), gateways, config().policy_for)
    assert sorted((r.group_id, r.status) for r in result.results) == [
        ("qq:B", "removed"),
        ("wechat:r1@chatroom", "removed"),
    ]
    assert result.unreadable == ("qq:broken",)
    # a platform without a gateway is named, not silently skipped
    alone = await sweep(banned("qq:3001", "wechat:wxid_zs"), {Platform.QQ: qq}, config().policy_for)
    assert alone.unswept == (Platform.WECHAT,)


async def test_failed_removal_is_reported_as_failed() -> None:
    qq = directory({"qq:B": [Member("qq:3001")]})
    qq.fail = {ActionKind.KICK}
    result = await sweep(banned("qq:3001"), {Platform.QQ: qq}, config().policy_for)
    assert [(r.status, r.detail) for r in result.results] == [("failed", "platform said no")]
    assert result.outcomes()[0].status is OutcomeStatus.FAILED


# ---------------------------------------------------------------- bans swept together


class CountingDirectory(FakeDirectoryGateway):
    """Counts the group and member lists read; ``gate`` (when set) holds member lists."""

    def __init__(self, groups: dict[str, list[Member]]) -> None:
        super().__init__(platform=Platform.QQ)
        self.groups = {g: GroupInfo(g, g, len(m), Role.ADMIN) for g, m in groups.items()}
        self.members = groups
        self.group_lists = 0
        self.member_lists: dict[str, int] = {}
        self.gate: asyncio.Event | None = None

    async def list_groups(self) -> list[str]:
        self.group_lists += 1
        return await super().list_groups()

    async def list_members(self, group_id: str) -> list[Member]:
        self.member_lists[group_id] = self.member_lists.get(group_id, 0) + 1
        if self.gate is not None:
            await self.gate.wait()
        return await super().list_members(group_id)


def ban_of(account: str, ban_id: int, case_id: int) -> Ban:
    return Ban(account, (account,), "赌博", "bot", T0, case_id=case_id, id=ban_id)


async def test_bans_asked_together_are_swept_in_one_pass_each_with_its_result() -> None:
    x, y, z = "qq:3001", "qq:3002", "qq:3003"
    qq = CountingDirectory(
        {
            "qq:A": [Member(x), Member(y), Member(z), Member("qq:1")],
            "qq:B": [Member(x), Member(y, role=Role.ADMIN), Member("qq:2")],  # y exempt in B
            "qq:C": [Member(z), Member(x)],
            "qq:D": [Member(x)],  # opted out: never read
        }
    )
    cfg = config({"qq:D": {"protection": {"share_bans": False}}})
    sweeper = Sweeper({Platform.QQ: qq}, cfg.policy_for)
    bx, by, bz = ban_of(x, 1, 11), ban_of(y, 2, 12), ban_of(z, 3, 13)
    rx, ry, rz = await asyncio.gather(
        sweeper.sweep(bx, skip_groups={"qq:A"}),  # each leaves out the group it was decided in
        sweeper.sweep(by, skip_groups={"qq:A"}),
        sweeper.sweep(bz, skip_groups={"qq:C"}),
    )
    # one pass: the groups listed once, each group's members read once for the three bans
    assert sweeper.passes == 1 and qq.group_lists == 1
    assert qq.member_lists == {"qq:A": 1, "qq:B": 1, "qq:C": 1}
    # each ban gets its own result: its groups, outcomes, counts
    assert rx.ban is bx and [(r.group_id, r.status) for r in rx.results] == [
        ("qq:B", "removed"),
        ("qq:C", "removed"),
    ]
    assert (rx.checked, rx.opted_out) == (2, 1)
    assert [(r.group_id, r.status) for r in ry.results] == [("qq:B", "exempt")]
    assert [(r.group_id, r.status) for r in rz.results] == [("qq:A", "removed")]
    assert (rz.checked, rz.opted_out) == (2, 1)
    # each removal carries its own ban's case, and is recorded with it
    kicks = sorted((a.group_id, a.target_id, a.case_id) for a in qq.performed)
    assert kicks == [("qq:A", z, 13), ("qq:B", x, 11), ("qq:C", x, 11)]
    assert [o.action.case_id for o in ry.outcomes()] == [12]


async def test_a_ban_asked_during_a_pass_joins_the_next_one() -> None:
    x, y, z = "qq:3001", "qq:3002", "qq:3003"
    qq = CountingDirectory({"qq:B": [Member(x), Member(y), Member(z)], "qq:C": [Member(y)]})
    qq.gate = asyncio.Event()
    sweeper = Sweeper({Platform.QQ: qq}, config().policy_for, spacing=0.0)
    first = asyncio.create_task(sweeper.sweep(ban_of(x, 1, 11)))
    for _ in range(5):
        await asyncio.sleep(0)
    assert qq.member_lists == {"qq:B": 1, "qq:C": 1}  # the first pass is reading
    later = [
        asyncio.create_task(sweeper.sweep(ban_of(y, 2, 12))),
        asyncio.create_task(sweeper.sweep(ban_of(z, 3, 13))),
    ]
    qq.gate.set()
    rx = await first
    ry, rz = [await t for t in later]
    assert sweeper.passes == 2  # the two later bans shared the second pass
    assert qq.member_lists == {"qq:B": 2, "qq:C": 2}
    assert [r.group_id for r in rx.results] == ["qq:B"]
    assert [r.group_id for r in ry.results] == ["qq:B", "qq:C"]
    assert [r.group_id for r in rz.results] == ["qq:B"]


async def test_an_account_under_two_bans_of_a_pass_is_removed_once() -> None:
    qq = CountingDirectory({"qq:B": [Member("qq:3001")]})
    sweeper = Sweeper({Platform.QQ: qq}, config().policy_for)
    first, second = await asyncio.gather(
        sweeper.sweep(ban_of("qq:3001", 1, 11)), sweeper.sweep(ban_of("qq:3001", 2, 12))
    )
    assert len(qq.performed) == 1
    assert [r.status for r in first.results] == [r.status for r in second.results] == ["removed"]


async def test_dry_run_group_in_a_shared_pass() -> None:
    qq = CountingDirectory({"qq:B": [Member("qq:3001"), Member("qq:3002")]})
    cfg = config({"qq:B": {"moderation": {"dry_run": True}}})
    sweeper = Sweeper({Platform.QQ: qq}, cfg.policy_for)
    results = await asyncio.gather(
        sweeper.sweep(ban_of("qq:3001", 1, 11)), sweeper.sweep(ban_of("qq:3002", 2, 12))
    )
    assert [[r.status for r in result.results] for result in results] == [["dry_run"]] * 2
    assert qq.performed == []


async def test_closing_the_sweeper_ends_its_waiting_bans() -> None:
    qq = CountingDirectory({"qq:B": [Member("qq:3001")]})
    qq.gate = asyncio.Event()
    sweeper = Sweeper({Platform.QQ: qq}, config().policy_for)
    waiting = asyncio.create_task(sweeper.sweep(ban_of("qq:3001", 1, 11)))
    for _ in range(5):
        await asyncio.sleep(0)
    sweeper.close()
    with pytest.raises(asyncio.CancelledError):
        await waiting


class SlowBans(MemoryBans):
    """A store whose look-ups take a round trip (as a database's do)."""

    async def active_ban_for(self, accounts: Collection[str]) -> Ban | None:
        found = await super().active_ban_for(accounts)
        await asyncio.sleep(0)  # the answer is on its way back
        return found


async def test_a_member_removed_in_two_groups_at_once_is_banned_once() -> None:
    store = SlowBans()
    bans = BanList(store)
    made = await asyncio.gather(
        *(bans.ban("qq:3001", reason="赌博", by="bot", at=T0) for _ in range(3))
    )
    assert [new for _, new in made] == [True, False, False]
    assert len(store.bans) == 1 and {ban.id for ban, _ in made} == {1}
