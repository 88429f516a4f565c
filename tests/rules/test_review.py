"""The review queue (issue 19): weak evidence waits for a person instead of the ladder.

Routing and planning are table-driven over plain findings; the end-to-end tests
run the real runtime (in-memory SQLite, the shipped word lists, the real keyword
detector) with a recording gateway: a sound-alike hit in a group that reviews is
held (no strike, no @-notice, the message kept or deleted per ``[review]``), the
officer is told and sees it in the digest, ``/误判 #N 加白`` allow-lists the text
so the same message then passes, and ``/确认 #N`` applies the ladder step.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from rules.commands import CommandRequest, Edge
from rules.config import ConfigError, ReviewSettings, parse_config
from rules.core.model import (
    ActionKind,
    Decision,
    Finding,
    MatchKind,
    Member,
    OutcomeStatus,
    Platform,
    Role,
    Strength,
)
from rules.core.ports import GroupInfo
from rules.moderation import review
from rules.officers.digest import Digest, build_group_digests
from rules.officers.digest_text import render_digest
from rules.runtime import MEMORY_URL, Runtime
from rules.storage.tables import cases, outbox, tasks
from tests.fakes import T0, Clock, FakeDirectory, FakeMediaGateway, message

GROUP = "qq:1001"
OFFICER = "qq:900001"
BOT = "qq:100000"
ALICE = Member("qq:200001", "张三+办公室")
ADMIN = Member("qq:300001", "王五+办公室", role=Role.ADMIN)
OFFICER_M = Member(OFFICER, "纪检+监督")

WEAK, MEDIUM, STRONG = Strength.WEAK, Strength.MEDIUM, Strength.STRONG


def finding(
    strength: Strength, detector: str = "keyword", how: MatchKind = MatchKind.DIRECT
) -> Finding:
    return Finding(detector, "drugs", "大码", 0, 2, how=how, strength=strength)


# ---------------------------------------------------------------- routing (pure)


@pytest.mark.parametrize(
    ("ladder_from", "strengths", "to_ladder", "to_review"),
    [
        # default: only weak evidence waits
        ("medium", [WEAK], [], [WEAK]),
        ("medium", [MEDIUM], [MEDIUM], []),
        ("medium", [STRONG], [STRONG], []),
        ("medium", [WEAK, STRONG], [STRONG], [WEAK]),  # the ladder acts on the strong one
        ("medium", [WEAK, MEDIUM], [MEDIUM], [WEAK]),
        # stricter: pinyin and mixed spellings wait too
        ("strong", [MEDIUM], [], [MEDIUM]),
        ("strong", [WEAK, MEDIUM], [], [WEAK, MEDIUM]),
        ("strong", [STRONG, MEDIUM], [STRONG], [MEDIUM]),
        # no review queue: everything feeds the ladder
        ("weak", [WEAK], [WEAK], []),
        ("weak", [WEAK, MEDIUM, STRONG], [WEAK, MEDIUM, STRONG], []),
    ],
)
def test_route_splits_by_strength(
    ladder_from: str,
    strengths: list[Strength],
    to_ladder: list[Strength],
    to_review: list[Strength],
) -> None:
    settings = ReviewSettings(ladder_from=ladder_from)
    ladder, held = review.route([finding(s) for s in strengths], settings)
    assert [f.strength for f in ladder] == to_ladder
    assert [f.strength for f in held] == to_review


def test_reminder_findings_are_neither_ladder_nor_review() -> None:
    findings = [finding(WEAK, detector="nickname"), finding(WEAK)]
    ladder, held = review.route(findings, ReviewSettings(), reminder_only={"nickname"})
    assert ladder == () and [f.detector for f in held] == ["keyword"]


@pytest.mark.parametrize(
    ("overrides", "strongest", "message_id", "kinds"),
    [
        ({}, WEAK, "m1", [ActionKind.REVIEW]),  # weak: kept up by default
        ({"review": {"delete_weak": True}}, WEAK, "m1", [ActionKind.DELETE, ActionKind.REVIEW]),
        (
            {"review": {"ladder_from": "strong"}},
            MEDIUM,
            "m1",
            [ActionKind.DELETE, ActionKind.REVIEW],
        ),
        (
            {"review": {"ladder_from": "strong", "delete_medium": False}},
            MEDIUM,
            "m1",
            [ActionKind.REVIEW],
        ),
        # a group that never deletes does not delete for review either
        (
            {"review": {"delete_weak": True}, "ladder": {"delete_message": False}},
            WEAK,
            "m1",
            [ActionKind.REVIEW],
        ),
        ({"review": {"delete_weak": True}}, WEAK, None, [ActionKind.REVIEW]),  # nothing to delete
    ],
)
def test_plan_deletes_per_strength(
    overrides: dict[str, Any], strongest: Strength, message_id: str | None, kinds: list[ActionKind]
) -> None:
    policy = parse_config(overrides).policy()
    event = replace(message("大码"), message_id=message_id)
    planned = review.plan(event, (finding(WEAK), finding(strongest)), policy)
    assert [a.kind for a in planned] == kinds
    assert all(a.target_id == event.member.id for a in planned)


def test_review_outcome_is_known_without_a_platform() -> None:
    action = review.plan(message("x"), (finding(WEAK),), parse_config({}).policy())[-1]
    assert review.outcome(action, dry_run=False).status is OutcomeStatus.DONE
    assert review.outcome(action, dry_run=True).status is OutcomeStatus.DRY_RUN


@pytest.mark.parametrize(
    ("value", "ok"), [("weak", True), ("MEDIUM", True), ("strong", True), ("high", False)]
)
def test_review_config_is_validated(value: str, ok: bool) -> None:
    if ok:
        assert parse_config({"review": {"ladder_from": value}}).review.ladder_from.name == (
            value.upper()
        )
    else:
        with pytest.raises(ConfigError, match=r"review\.ladder_from"):
            parse_config({"review": {"ladder_from": value}})


def test_review_settings_dump_as_written() -> None:
    dumped = parse_config({"review": {"ladder_from": "strong"}}).model_dump(mode="json")
    assert dumped["review"]["ladder_from"] == "strong"


# ---------------------------------------------------------------- end to end


@dataclass
class Env:
    runtime: Runtime
    gateway: FakeMediaGateway
    clock: Clock

    async def say(self, text: str, caller: Member = ADMIN, group: str | None = GROUP) -> str:
        assert self.runtime.commands is not None
        request = CommandRequest(
            platform=Platform.QQ,
            caller=caller if group else Member(caller.id, caller.card),
            text=text,
            time=self.clock(),
            group_id=group,
            bot_id=BOT,
        )
        reply = await self.runtime.commands.handle(request)
        assert reply is not None
        return reply

    async def post(self, text: str, member: Member = ALICE) -> Decision:
        self.clock.advance(timedelta(seconds=1))
        event = message(text, user=member.id, card=member.card, at=self.clock())
        return await self.runtime.engine.handle(event, self.gateway)

    async def strikes(self, member: Member = ALICE) -> int:
        since = self.clock() - timedelta(days=30)
        return await self.runtime.storage.journal.strike_weight(GROUP, member.id, since)

    async def reports_to(self, person: str) -> list[str]:
        async with self.runtime.storage.database.engine.connect() as conn:
            rows = await conn.execute(
                select(outbox.c.text).where(outbox.c.officer_id == person).order_by(outbox.c.id)
            )
            return [r[0] for r in rows]

    async def task_rows(self) -> list[tuple[str, int | None, str, str]]:
        async with self.runtime.storage.database.engine.connect() as conn:
            rows = await conn.execute(
                select(tasks.c.kind, tasks.c.case_id, tasks.c.status, tasks.c.subject_id)
            )
            return [(r[0], r[1], r[2], r[3]) for r in rows]

    async def digest_text(self) -> str:
        config = self.runtime.config
        until = self.clock() + timedelta(hours=1)
        since = until - timedelta(days=1)
        groups = await build_group_digests(
            self.runtime.storage.digest, config, [GROUP], since, until
        )
        digest = Digest(OFFICER, since, until, "Asia/Shanghai", "zh", (groups[GROUP],))
        return "\n".join(render_digest(digest))


async def start(url: str = MEMORY_URL, **config: Any) -> Env:
    cfg = parse_config({"escalation": {"officers": [OFFICER]}, **config})
    clock = Clock(T0)
    runtime = await Runtime.start(cfg, url, clock=clock)
    assert runtime.commands is not None
    gateway = FakeMediaGateway()
    members = [ALICE, ADMIN, OFFICER_M, Member(BOT, "群卫士")]
    directory = FakeDirectory(
        {GROUP: members}, {GROUP: GroupInfo(GROUP, "办公室群", 4, Role.ADMIN)}
    )
    runtime.commands.register(Platform.QQ, Edge(gateway, directory))
    return Env(runtime, gateway, clock)


@pytest.fixture
async def env() -> AsyncIterator[Env]:
    environment = await start()
    yield environment
    await environment.runtime.close()


async def test_a_sound_alike_is_held_for_review_and_a_false_positive_allow_lists_it(
    env: Env,
) -> None:
    text = "新到一批大码衣服"  # 大码 (a clothing size) sounds like 大麻
    decision = await env.post(text)
    [held] = decision.findings
    assert (held.match, held.how, held.strength) == ("大码", MatchKind.HOMOPHONE, WEAK)
    # Held: no strike, no @-notice, the message stays up (weak: not deleted by default).
    assert [a.kind for a in decision.actions] == [ActionKind.REVIEW]
    assert env.gateway.performed == [] and decision.strikes_added == 0
    assert await env.strikes() == 0
    case_id = decision.case_id
    assert case_id is not None
    assert await env.task_rows() == [("review", case_id, "open", ALICE.id)]
    # The officer is told at once (tell = "now"), with how to decide it...
    [notice] = await env.reports_to(OFFICER)
    assert f"待核实】案件 #{case_id}" in notice and "「大码」毒品（谐音，证据弱）" in notice
    assert "消息未撤回" in notice and f"/误判 #{case_id}" in notice
    # ...and sees it in the digest.
    digest = await env.digest_text()
    assert "待核实1件" in digest and f"· 案件#{case_id} 张三+办公室（{ALICE.id}）" in digest

    # A false positive: void, with the offer to allow-list the text.
    reply = await env.say(f"/误判 #{case_id}")
    assert reply.splitlines() == [
        f"已将案件 #{case_id} 作废（误判），不记违规。",
        f"如需本群今后放行同样的文字，请发送：/误判 #{case_id} 加白（将把「大码」加入本群白名单）",
    ]
    assert await env.task_rows() == [("review", case_id, "pardoned", ALICE.id)]
    assert "待核实" not in await env.digest_text()
    # The same text is still held until the allow-list entry is added...
    assert (await env.post("大码衣服还有吗")).findings
    assert (
        await env.say(f"/误判 #{case_id} 加白")
        == "已将「大码」加入本群白名单，同样的文字今后不再拦截。"
    )
    assert "大码" in await env.say("/白名单 list")
    # ...then it passes.
    again = await env.post(text)
    assert again.findings == () and again.actions == ()
    assert env.gateway.performed == [] and await env.strikes() == 0
    # The real drug name is still caught.
    assert [f.strength for f in (await env.post("出售大麻")).findings] == [STRONG]


async def test_confirm_applies_the_ladder_step_as_if_strong(env: Env) -> None:
    decision = await env.post("周末一起来玩堵博")  # sounds like 赌博 (gambling, high)
    case_id = decision.case_id
    assert [a.kind for a in decision.actions] == [ActionKind.REVIEW] and await env.strikes() == 0
    reply = await env.say(f"/确认 #{case_id}")
    assert reply == f"已确认案件 #{case_id}，已按群规处理：撤回、禁言、警告、上报。"
    # gambling is high: two strikes, step 2 (mute 10 minutes), reported at once
    assert env.gateway.kinds() == [ActionKind.DELETE, ActionKind.MUTE, ActionKind.WARN]
    warn = env.gateway.performed[-1]
    assert "禁言10分钟" in warn.text and f"#{case_id}" in warn.text
    assert await env.strikes() == 2
    reports = await env.reports_to(OFFICER)
    assert len(reports) == 2 and f"案件 #{case_id}" in reports[1] and "堵博" in reports[1]
    async with env.runtime.storage.database.engine.connect() as conn:
        status, step = (
            await conn.execute(select(cases.c.status, cases.c.step).where(cases.c.id == case_id))
        ).one()
    assert (status, step) == ("upheld", 2)
    assert await env.task_rows() == [("review", case_id, "upheld", ALICE.id)]
    # Decided once: neither command runs on it again.
    assert await env.say(f"/确认 #{case_id}") == f"案件 #{case_id} 已核实过（已确认属实）。"
    assert await env.say(f"/误判 #{case_id}") == f"案件 #{case_id} 已核实过（已确认属实）。"


async def test_confirm_does_not_delete_twice_and_officers_confirm_by_private_message() -> None:
    env = await start(review={"delete_weak": True, "tell": "digest"})
    try:
        decision = await env.post("加群看色晴图片")  # sounds like 色情
        assert env.gateway.kinds() == [ActionKind.DELETE]
        assert [a.kind for a in decision.actions] == [ActionKind.DELETE, ActionKind.REVIEW]
        assert await env.reports_to(OFFICER) == []  # tell = "digest": only the digest lists it
        assert f"案件#{decision.case_id}" in await env.digest_text()
        reply = await env.say(f"/confirm #{decision.case_id}", caller=OFFICER_M, group=None)
        assert reply.startswith(f"已确认案件 #{decision.case_id}")
        assert env.gateway.kinds().count(ActionKind.DELETE) == 1  # already deleted
    finally:
        await env.runtime.close()


async def test_members_may_not_decide_and_other_cases_are_not_reviews(env: Env) -> None:
    strong = await env.post("来网赌吧")
    held = await env.post("来玩堵博")
    refused = await env.say(f"/确认 #{held.case_id}", caller=ALICE)
    assert refused.startswith("抱歉，只有本群群主")
    assert await env.say(f"/误判 #{strong.case_id}") == f"案件 #{strong.case_id} 不在待核实队列中。"
    assert await env.say(f"/确认 #{strong.case_id}") == f"案件 #{strong.case_id} 不在待核实队列中。"
    assert (await env.say("/确认")).endswith("用法：/确认 #案件号")


async def test_a_term_in_prohibitive_context_is_not_offered_for_the_allow_list(env: Env) -> None:
    decision = await env.post("禁毒知识讲座：远离冰毒")
    [weak] = decision.findings
    assert (weak.how, weak.strength) == (MatchKind.DIRECT, WEAK)
    assert [a.kind for a in decision.actions] == [ActionKind.REVIEW]
    assert await env.say(f"/误判 #{decision.case_id}") == (
        f"已将案件 #{decision.case_id} 作废（误判），不记违规。"
    )
    reply = await env.say(f"/误判 #{decision.case_id} 加白")
    assert reply.startswith(f"案件 #{decision.case_id} 命中的是敏感词本身")
    assert "冰毒" not in await env.say("/白名单 list")


async def test_strong_evidence_feeds_the_ladder_with_weak_evidence_beside_it(env: Env) -> None:
    decision = await env.post("网赌和堵博")
    assert {f.strength for f in decision.findings} == {STRONG, WEAK}
    assert ActionKind.REVIEW not in [a.kind for a in decision.actions]
    assert ActionKind.WARN in env.gateway.kinds() and await env.strikes() > 0
    assert await env.task_rows() == []


async def test_without_review_weak_evidence_feeds_the_ladder() -> None:
    env = await start(review={"ladder_from": "weak"})
    try:
        decision = await env.post("来玩堵博")
        assert ActionKind.REVIEW not in [a.kind for a in decision.actions]
        assert ActionKind.WARN in env.gateway.kinds() and await env.strikes() == 2
    finally:
        await env.runtime.close()


async def test_english_group_and_dry_run() -> None:
    env = await start(moderation={"language": "en"}, review={"notify": ["qq:300001"]}, groups={})
    try:
        decision = await env.post("大码衣服")
        [notice] = await env.reports_to("qq:300001")  # notify: told besides the officers
        assert notice.startswith(f"[GroupGuard review] case #{decision.case_id}")
        assert '"大码" drugs (sound-alike, weak evidence)' in notice
        reply = await env.say(f"/falsepositive #{decision.case_id}")
        assert reply.startswith(f"Case #{decision.case_id} voided as a false positive")
        assert f"/falsepositive #{decision.case_id} allow" in reply
    finally:
        await env.runtime.close()
    env = await start(moderation={"dry_run": True})
    try:
        decision = await env.post("大码衣服")
        [outcome] = decision.outcomes
        assert (outcome.action.kind, outcome.status) == (ActionKind.REVIEW, OutcomeStatus.DRY_RUN)
        assert await env.task_rows() == [] and await env.reports_to(OFFICER) == []
    finally:
        await env.runtime.close()


async def test_a_group_sets_its_own_threshold_and_without_a_digest_is_told_at_once() -> None:
    env = await start(review={"tell": "digest"}, digest={"enabled": False})
    try:
        assert await env.say("/设置 set review.ladder_from strong") == (
            '已设置 review.ladder_from = "strong"'
        )
        decision = await env.post("一起冰du")  # a mixed spelling: medium
        assert [f.strength for f in decision.findings] == [MEDIUM]
        # held (ladder_from strong), deleted (delete_medium), told at once: no digest here
        assert [a.kind for a in decision.actions] == [ActionKind.DELETE, ActionKind.REVIEW]
        [notice] = await env.reports_to(OFFICER)
        assert "消息已撤回" in notice and "「冰du」毒品（拼音混写，证据中）" in notice
    finally:
        await env.runtime.close()


async def test_the_review_path_on_sqlite_and_postgresql(db_url: str) -> None:
    env = await start(db_url, review={"delete_weak": True})
    try:
        voided = await env.post("新到一批大码衣服")
        confirmed = await env.post("周末一起来玩堵博")
        digest = await env.digest_text()
        assert "待核实2件" in digest and f"案件#{confirmed.case_id}" in digest
        await env.say(f"/误判 #{voided.case_id} 加白")
        assert (await env.post("新到一批大码衣服")).findings == ()
        reply = await env.say(f"/确认 #{confirmed.case_id}")
        assert reply == f"已确认案件 #{confirmed.case_id}，已按群规处理：禁言、警告、上报。"
        assert env.gateway.kinds().count(ActionKind.DELETE) == 2  # once each, when held
        assert await env.strikes() == 2
        assert "待核实" not in await env.digest_text()
        assert await env.say(f"/确认 #{confirmed.case_id}") == (
            f"案件 #{confirmed.case_id} 已核实过（已确认属实）。"
        )
    finally:
        await env.runtime.close()
