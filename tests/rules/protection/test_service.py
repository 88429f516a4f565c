"""The protection across groups wired into a real Runtime (in-memory SQLite) with fake platforms.

Each scenario goes through ``Engine.handle`` like a platform edge would, then
waits for protection's background work (``Protection.idle``) and looks at what
the fake gateways did and what was queued for the officers.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from rules.commands import CommandRequest, Edge
from rules.config import parse_config
from rules.core.model import (
    ActionKind,
    ChatEvent,
    EventKind,
    Member,
    Platform,
    Role,
)
from rules.core.ports import GroupInfo
from rules.detectors.keyword import KeywordDetector
from rules.protection.service import Protection
from rules.runtime import MEMORY_URL, Runtime
from rules.storage.tables import actions, outbox
from tests.fakes import T0, Clock, FakeDirectoryGateway, WordListDetector, message

OFFICER = "qq:900001"
BOT = "qq:100000"
A, B, C, D = "qq:1001", "qq:1002", "qq:1003", "qq:1004"
SPAMMER = Member("qq:3001", "张三+办公室")
WORDS = {"测试政治": "politics", "测试广告": "ads"}


def config(**protection: Any) -> dict[str, Any]:
    return {
        "escalation": {"officers": [OFFICER], "batch_window": "1s"},
        "keywords": {"files": []},
        "links": {"allow_domains": ["edu.cn"]},
        "protection": protection,
    }


@dataclass
class Env:
    runtime: Runtime
    qq: FakeDirectoryGateway
    wechat: FakeDirectoryGateway
    clock: Clock

    @property
    def protection(self) -> Protection:
        assert self.runtime.protection is not None
        return self.runtime.protection

    async def handle(self, event: ChatEvent) -> Any:
        gateway = self.qq if event.platform is Platform.QQ else self.wechat
        decision = await self.runtime.engine.handle(event, gateway)
        await self.protection.idle()
        return decision

    async def reports(self) -> list[tuple[str, str]]:
        async with self.runtime.storage.database.engine.connect() as conn:
            rows = await conn.execute(select(outbox.c.officer_id, outbox.c.text))
            return [(r[0], r[1]) for r in rows]

    async def recorded(self, case_id: int) -> list[tuple[str, str, str]]:
        async with self.runtime.storage.database.engine.connect() as conn:
            rows = await conn.execute(
                select(actions.c.kind, actions.c.target_id, actions.c.status).where(
                    actions.c.case_id == case_id
                )
            )
            return [(r[0], r[1], r[2]) for r in rows]


async def start(data: dict[str, Any]) -> Env:
    clock = Clock(T0)
    runtime = await Runtime.start(parse_config(data), db_url=MEMORY_URL, clock=clock)
    runtime.engine.detectors = [  # a small word list instead of the shipped one
        WordListDetector(WORDS) if isinstance(d, KeywordDetector) else d  # type: ignore[misc]
        for d in runtime.engine.detectors
    ]
    qq = FakeDirectoryGateway(platform=Platform.QQ)
    wechat = FakeDirectoryGateway(platform=Platform.WECHAT)
    for gateway, groups in ((qq, (A, B, C, D)), (wechat, ("wechat:r1@chatroom",))):
        gateway.groups = {g: GroupInfo(g, g, 0, Role.ADMIN) for g in groups}
        gateway.members = {g: [Member(BOT, "群卫士", role=Role.ADMIN)] for g in groups}
    runtime.gateways[Platform.QQ] = qq
    runtime.gateways[Platform.WECHAT] = wechat
    return Env(runtime, qq, wechat, clock)


@pytest.fixture
async def env() -> AsyncIterator[Env]:
    env = await start(config())
    yield env
    await env.runtime.close()


def join(member: Member, group: str, at: Any = T0, kind: EventKind = EventKind.JOIN) -> ChatEvent:
    return ChatEvent(
        kind=kind,
        platform=Platform(group.split(":")[0]),
        group_id=group,
        member=member,
        time=at,
        bot_id=BOT,
        event_key=f"{kind}:{member.id}:{at.timestamp()}",
    )


def said(text: str, member: Member = SPAMMER, group: str = A, at: Any = T0) -> ChatEvent:
    event = message(text, user=member.id, group=group, card=member.card, at=at)
    return replace(event, bot_id=BOT)


async def test_ban_in_one_group_sweeps_the_others_and_refuses_a_later_request(env: Env) -> None:
    for group in (B, C):
        env.qq.members[group].append(SPAMMER)
    env.wechat.members["wechat:r1@chatroom"].append(Member("wechat:wxid_other"))
    decision = await env.handle(said("测试政治 内容"))  # critical: straight to removal
    assert ActionKind.KICK in [o.action.kind for o in decision.outcomes]
    kicks = [(a.group_id, a.target_id) for a in env.qq.performed if a.kind is ActionKind.KICK]
    assert kicks == [(A, SPAMMER.id), (B, SPAMMER.id), (C, SPAMMER.id)]
    (ban,) = await env.protection.bans()
    assert ban.accounts == (SPAMMER.id,) and ban.case_id == decision.case_id
    assert ban.origin_group == A and ban.banned_by == "bot"
    # one report for the whole sweep, listing each group and its outcome
    texts = [t for o, t in await env.reports() if "封禁名单 #" in t]
    assert len(texts) == 1
    assert f"{B}：已移出" in texts[0] and f"{C}：已移出" in texts[0]
    assert "共检查3个群，移出2处" in texts[0]  # B, C and D (A is where it happened)
    # the sweep's outcomes are recorded with the case
    recorded = await env.recorded(decision.case_id)
    assert ("kick", SPAMMER.id, "done") in recorded
    assert sum(1 for k, _, s in recorded if k == "kick" and s == "done") == 3
    # a later join request in group D is refused
    refused = await env.handle(join(Member(SPAMMER.id), D, kind=EventKind.JOIN_REQUEST))
    assert [a.kind for a in refused.actions] == [ActionKind.REJECT_JOIN]
    assert env.qq.performed[-1].kind is ActionKind.REJECT_JOIN
    assert any("申请加入" in t for _, t in await env.reports())
    # lifted: the next request is not refused by the ban list
    assert await env.protection.unban(SPAMMER.id, OFFICER, T0) is not None
    again = await env.handle(join(Member(SPAMMER.id), D, kind=EventKind.JOIN_REQUEST))
    assert again.notes != ("banned applicant refused",)


async def test_a_ban_storm_reads_each_group_once_per_pass_and_reports_each_ban(env: Env) -> None:
    spammers = [Member(f"qq:30{n:02}", f"广告{n}+办公室") for n in range(3)]
    for group in (B, C, D):
        env.qq.members[group].extend(spammers)
    reads: dict[str, int] = {}
    listing = env.qq.list_members

    async def counted(group_id: str) -> list[Member]:
        reads[group_id] = reads.get(group_id, 0) + 1
        return await listing(group_id)

    env.qq.list_members = counted  # type: ignore[method-assign]
    # three members removed for critical violations at the same moment: three bans
    engine = env.runtime.engine
    await asyncio.gather(*(engine.handle(said("测试政治", m), env.qq) for m in spammers))
    await env.protection.idle()
    assert len(await env.protection.bans()) == 3
    kicks = sorted((a.group_id, a.target_id) for a in env.qq.performed if a.kind is ActionKind.KICK)
    assert kicks == sorted((g, m.id) for g in (A, B, C, D) for m in spammers)
    # swept together: each group's member list read once per pass, not once per ban
    passes = env.protection.banning.sweeper.passes
    assert passes < 3 and reads == {B: passes, C: passes, D: passes}
    # and still one report per ban, listing each group and its outcome
    texts = [t for _, t in await env.reports() if "封禁名单 #" in t]
    assert len(texts) == 3
    for member in spammers:
        (text,) = [t for t in texts if member.id in t]
        assert all(f"{g}：已移出" in text for g in (B, C, D))
        assert "共检查3个群，移出3处" in text


async def test_ban_reaches_the_roster_account_on_the_other_platform(tmp_path: Any) -> None:
    roster = tmp_path / "roster.csv"
    roster.write_text("name,qq,wechat\n张三,3001,wxid_zs\n", encoding="utf-8")
    data = config()
    data["nickname"] = {"roster": str(roster)}
    env = await start(data)
    try:
        env.wechat.members["wechat:r1@chatroom"].append(Member("wechat:wxid_zs", "张三"))
        await env.handle(said("测试政治"))
        (ban,) = await env.protection.bans()
        assert ban.accounts == ("qq:3001", "wechat:wxid_zs")
        assert [(a.kind, a.target_id) for a in env.wechat.performed] == [
            (ActionKind.KICK, "wechat:wxid_zs")
        ]
    finally:
        await env.runtime.close()


async def test_exempt_members_and_opted_out_groups_are_left_alone() -> None:
    data = config()
    data["groups"] = {C: {"protection": {"share_bans": False}}}
    env = await start(data)
    try:
        env.qq.members[B].append(Member(SPAMMER.id, role=Role.ADMIN))  # an admin there
        env.qq.members[C].append(SPAMMER)  # C opted out
        await env.handle(said("测试政治"))
        kicks = [a.group_id for a in env.qq.performed if a.kind is ActionKind.KICK]
        assert kicks == [A]
        (text,) = [t for _, t in await env.reports() if "封禁名单 #" in t]
        assert "是group admin，未处理" in text and "1个群未参与联合封禁" in text
    finally:
        await env.runtime.close()


async def test_a_removed_member_s_last_three_messages_are_recalled(env: Env) -> None:
    for i, text in enumerate(["你好", "看看这个", "大家好"]):
        await env.handle(said(text, at=T0 + timedelta(seconds=i)))
    decision = await env.handle(said("测试政治", at=T0 + timedelta(seconds=5)))
    deleted = [a.message_id for a in env.qq.performed if a.kind is ActionKind.DELETE]
    offending = decision.outcomes[0].action.message_id
    assert len(deleted) == 4 and deleted[0] == offending  # the message itself, then 3 more
    recalled = await env.recorded(decision.case_id)
    assert sum(1 for k, _, s in recalled if k == "delete" and s == "done") == 4
    assert any("撤回" in t and "3条消息" in t for _, t in await env.reports())


async def test_a_message_deleted_before_is_not_recalled_again(env: Env) -> None:
    await env.handle(said("你好", at=T0))
    first = await env.handle(said("测试广告", at=T0 + timedelta(seconds=1)))  # deleted, warned
    (gone,) = [o.action.message_id for o in first.outcomes if o.action.kind is ActionKind.DELETE]
    decision = await env.handle(said("测试政治", at=T0 + timedelta(seconds=5)))
    deleted = [a.message_id for a in env.qq.performed if a.kind is ActionKind.DELETE]
    assert deleted.count(gone) == 1  # once, by its own decision
    assert len(deleted) == 3  # the advert, the offending message, then 你好
    recalled = await env.recorded(decision.case_id)
    assert sum(1 for k, _, s in recalled if k == "delete" and s == "done") == 2


async def test_older_messages_and_lesser_removals_are_not_recalled() -> None:
    env = await start(config(cleanup_from="critical", cleanup_window="1m"))
    try:
        await env.handle(said("很久以前", at=T0 - timedelta(minutes=5)))
        await env.handle(said("刚才", at=T0 - timedelta(seconds=30)))
        await env.handle(said("测试政治", at=T0))
        deleted = [a.message_id for a in env.qq.performed if a.kind is ActionKind.DELETE]
        assert len(deleted) == 2  # the offending one and the one within a minute
    finally:
        await env.runtime.close()


async def test_wechat_cannot_recall_and_the_report_says_so(env: Env) -> None:
    room = "wechat:r1@chatroom"
    spammer = Member("wechat:wxid_spam", "广告哥")
    env.wechat.members[room].append(spammer)
    for i in range(3):
        await env.handle(said(f"消息{i}", spammer, room, T0 + timedelta(seconds=i)))
    await env.handle(said("测试政治", spammer, room, T0 + timedelta(seconds=5)))
    assert ActionKind.DELETE not in env.wechat.kinds()
    assert any("微信不能撤回他人的消息" in t and "3条消息" in t for _, t in await env.reports())


async def test_probation_member_s_first_link_is_removed(env: Env) -> None:
    newbie = Member("qq:5001", "新人+办公室")
    await env.handle(join(newbie, A))
    decision = await env.handle(said("报名 http://x.edu.cn/a", newbie, at=T0 + timedelta(1 / 24)))
    assert [f.category for f in decision.findings] == ["link"]
    assert ActionKind.DELETE in env.qq.kinds()
    # an old member's allowed link is fine; so is the newbie's after probation
    old = Member("qq:5002", "老人+办公室")
    assert not (await env.handle(said("http://x.edu.cn/b", old))).findings
    later = T0 + timedelta(days=4)
    assert not (await env.handle(said("http://x.edu.cn/c", newbie, at=later))).findings


async def test_probation_kick_action() -> None:
    env = await start(config(probation={"action": "kick"}))
    try:
        newbie = Member("qq:5001", "新人+办公室")
        await env.handle(join(newbie, A))
        await env.handle(said("加我 www.spam.cn", newbie, at=T0 + timedelta(minutes=1)))
        assert env.qq.kinds()[:2] == [ActionKind.DELETE, ActionKind.KICK]
    finally:
        await env.runtime.close()


async def test_raid_of_twenty_joins_mutes_the_group_alerts_and_lifts() -> None:
    env = await start(config(raid={"joins": 20, "window": "10s", "duration": "1s"}))
    try:
        for i in range(20):
            await env.handle(join(Member(f"qq:{7000 + i}"), A, T0 + timedelta(seconds=i / 2)))
        assert env.qq.kinds().count(ActionKind.MUTE_ALL) == 1
        alerts = [t for o, t in await env.reports() if "批量入群攻击" in t]
        assert len(alerts) == 1 and "10秒内20人入群" in alerts[0] and "全员禁言" in alerts[0]
        # an unknown applicant is refused while it lasts
        refused = await env.handle(join(Member("qq:7999"), A, kind=EventKind.JOIN_REQUEST))
        assert refused.notes == ("unknown applicant refused during a raid",)
        # the lift (duration 1 s of wall time)
        env.clock.advance(timedelta(seconds=2))
        raid = env.protection.raids.active[A]
        await env.protection.raids.lift(A)
        await env.protection.idle()
        assert env.qq.kinds().count(ActionKind.UNMUTE_ALL) == 1
        assert any("防护已解除" in t for _, t in await env.reports())
        assert not env.protection.raids.under_raid(A)
        assert await env.runtime.storage.raids.open_raids() == []
        assert raid.record.case_id is not None
        recorded = await env.recorded(raid.record.case_id)
        assert ("mute_all", "", "done") in recorded and ("unmute_all", "", "done") in recorded
    finally:
        await env.runtime.close()


async def test_raid_accounts_are_muted_and_unmuted_and_a_restart_still_lifts() -> None:
    data = config(raid={"joins": 3, "window": "10s", "duration": "30m", "accounts": "mute"})
    env = await start(data)
    try:
        for i in range(4):  # three make the raid, the fourth joins during it
            await env.handle(join(Member(f"qq:{7000 + i}"), A, T0 + timedelta(seconds=i)))
        muted = [a.target_id for a in env.qq.performed if a.kind is ActionKind.MUTE]
        assert sorted(muted) == ["qq:7000", "qq:7001", "qq:7002", "qq:7003"]
        (open_raid,) = await env.runtime.storage.raids.open_raids()
        assert len(open_raid.muted) == 4 and open_raid.muted_group
        # another process start on the same database finds the raid and lifts it
        fresh = Protection(
            env.runtime.config,
            env.runtime.storage.journal,
            env.runtime.storage.bans,
            env.runtime.storage.card_history,
            env.runtime.storage.raids,
            env.runtime.gateways,
            clock=env.clock,
        )
        assert await fresh.recover() == 1
        await fresh.raids.lift(A)
        await fresh.idle()
        unmuted = [a.target_id for a in env.qq.performed if a.kind is ActionKind.UNMUTE]
        assert sorted(unmuted) == sorted(muted)
        await fresh.close()
    finally:
        await env.runtime.close()


async def test_new_members_posting_the_same_text_are_a_raid() -> None:
    env = await start(config(raid={"new_posts": 3, "joins": 0, "window": "1m"}))
    try:
        for i in range(3):
            member = Member(f"qq:{8000 + i}", "x")
            await env.handle(join(member, A, T0))
            await env.handle(said("加群领福利！！", member, at=T0 + timedelta(seconds=10 + i)))
        assert env.qq.kinds().count(ActionKind.MUTE_ALL) == 1
    finally:
        await env.runtime.close()


async def test_card_history_and_impersonation(env: Env) -> None:
    teacher = Member("qq:6001", "王老师+教务处")
    mimic = Member("qq:6002", "小王")
    await env.handle(said("大家好", teacher))
    await env.handle(said("hi", mimic))
    renamed = Member(mimic.id, "王老师+教务处")
    await env.handle(join(renamed, A, T0 + timedelta(minutes=1), kind=EventKind.CARD_CHANGE))
    history = await env.protection.card_history(A, mimic.id)
    assert [(c.old, c.new, c.source) for c in history] == [("小王", "王老师+教务处", "notice")]
    (notice,) = [t for _, t in await env.reports() if "疑似冒名" in t]
    assert "qq:6001" in notice
    # the periodic audit (a card-change event without a key) records its changes too
    audited = ChatEvent(
        EventKind.CARD_CHANGE, Platform.QQ, A, Member(mimic.id, "小王+办公室"), T0, bot_id=BOT
    )
    await env.handle(audited)
    assert (await env.protection.card_history(A, mimic.id))[0].source == "audit"


# ---------------------------------------------------------------- commands


async def command(env: Env, text: str, caller: Member, group: str | None = A) -> str:
    service = env.runtime.commands
    assert service is not None
    service.register(Platform.QQ, Edge(env.qq, env.qq))
    request = CommandRequest(
        platform=Platform.QQ, caller=caller, text=text, time=env.clock(), group_id=group,
        bot_id=BOT,
    )  # fmt: skip
    reply = await service.handle(request)
    await env.protection.idle()
    assert reply is not None
    return reply


async def test_ban_and_unban_commands(env: Env) -> None:
    officer = Member(OFFICER, "纪检+监督")
    for group in (A, B):
        env.qq.members[group].append(SPAMMER)
    reply = await command(env, "/封禁 qq:3001 发广告", officer)
    assert "封禁名单 #1" in reply
    kicks = sorted(a.group_id for a in env.qq.performed if a.kind is ActionKind.KICK)
    assert kicks == [A, B]  # the group it was typed in too
    assert "#1" in await command(env, "/bans", officer)
    assert "已在封禁名单中" in await command(env, "/封禁 qq:3001 再次", officer)
    admin = Member("qq:300001", "王五+办公室", role=Role.ADMIN)
    assert "抱歉" in await command(env, "/封禁 qq:3001 x", admin)  # officers only
    assert "不能封禁" in await command(env, f"/封禁 {OFFICER} x", officer)
    assert "已解除" in await command(env, "/解封 qq:3001", officer, group=None)
    assert "不在封禁名单中" in await command(env, "/unban #1", officer)
    assert "封禁名单为空" in await command(env, "/封禁列表", officer)
    assert "解除" in await command(env, "/封禁列表 all", officer)


async def test_muteall_and_cardhistory_commands(env: Env) -> None:
    admin = Member("qq:300001", "王五+办公室", role=Role.ADMIN)
    assert await command(env, "/全员禁言 on", admin) == "已开启全员禁言。"
    assert await command(env, "/muteall off", admin) == "已解除全员禁言。"
    assert env.qq.kinds() == [ActionKind.MUTE_ALL, ActionKind.UNMUTE_ALL]
    env.qq.members[A].append(Member("qq:6002", "王老师"))
    assert "没有" in await command(env, "/名片记录 qq:6002", admin)
    await env.handle(said("hi", Member("qq:6002", "小王")))
    await env.handle(said("hi", Member("qq:6002", "王老师")))
    history = await command(env, "/cardhistory qq:6002", admin)
    assert "「小王」→「王老师」" in history
    env.wechat.caps = frozenset({ActionKind.WARN})
    env.runtime.commands.register(Platform.WECHAT, Edge(env.wechat, env.wechat))  # type: ignore[union-attr]
    request = CommandRequest(
        platform=Platform.WECHAT, caller=Member("wechat:wxid_o", role=Role.OWNER),
        text="/全员禁言 on", time=T0, group_id="wechat:r1@chatroom", bot_id=BOT,
    )  # fmt: skip
    reply = await env.runtime.commands.handle(request)  # type: ignore[union-attr]
    assert reply is not None and "不支持" in reply


async def test_dry_run_decides_but_neither_bans_nor_recalls() -> None:
    data = config()
    data["moderation"] = {"dry_run": True}
    env = await start(data)
    try:
        env.qq.members[B].append(SPAMMER)
        await env.handle(said("你好"))
        await env.handle(said("测试政治", at=T0 + timedelta(seconds=1)))
        assert env.qq.performed == []
        assert await env.protection.bans() == []
    finally:
        await env.runtime.close()


async def test_a_raid_whose_start_fails_is_still_lifted() -> None:
    env = await start(config(raid={"joins": 2, "window": "10s", "duration": "1s"}))
    try:

        async def broken(raid: object) -> object:
            raise ConnectionError("database away")

        env.runtime.storage.raids.save_raid = broken  # type: ignore[method-assign,assignment]
        for i in range(2):
            await env.handle(join(Member(f"qq:{7000 + i}"), A, T0 + timedelta(seconds=i)))
        assert env.protection.raids.under_raid(A)  # (refuses unknown applicants meanwhile)
        env.clock.advance(timedelta(seconds=5))
        await env.protection.raids.lift(A)
        assert not env.protection.raids.under_raid(A)
    finally:
        await env.runtime.close()
