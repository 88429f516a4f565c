"""Card compliance end to end: reminder -> grace -> action, join screening, audit, scan."""

from __future__ import annotations

import asyncio
import io
import json
import tempfile
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from rules.config import GroupCheckSettings, parse_config
from rules.core.model import ActionKind, ChatEvent, EventKind, Member, OutcomeStatus, Platform, Role
from rules.core.ports import GroupInfo
from rules.members.audit import audit_all, check_group
from rules.offline.scan import run_scan
from rules.runtime import MEMORY_URL, Runtime
from tests.fakes import T0, Clock, FakeDirectory, FakeGateway, message

NICK = {
    "enabled": True,
    "format": "{name}+{dept}",
    "departments": ["办公室", "人事处"],
    "grace": "3d",
    "remind_every": "1d",
}
ROSTER = "name,department,qq,status\n张三,办公室,10001,\n王五,办公室,10005,离职\n"


@pytest.fixture
async def runtime() -> AsyncIterator[Runtime]:
    rt = await make_runtime()
    yield rt
    await rt.close()


async def make_runtime(**nickname: Any) -> Runtime:
    data: dict[str, Any] = {
        "escalation": {"officers": ["qq:900"]},
        "nickname": {**NICK, **nickname},
        "join": {"enabled": True, "otherwise": "reject"},
        "groupcheck": {"units": ["川护"], "max_members": 100},
    }
    if nickname.get("roster"):
        path = Path(tempfile.mkdtemp(prefix="roster-")) / "roster.csv"
        path.write_text(ROSTER, encoding="utf-8")
        data["nickname"]["roster"] = str(path)
    return await Runtime.start(parse_config(data), db_url=MEMORY_URL, clock=Clock())


def card_event(kind: EventKind, card: str, at: Any, user: str = "qq:2001") -> ChatEvent:
    return ChatEvent(kind, Platform.QQ, "qq:1001", Member(user, card=card), at)


async def test_reminder_grace_action_timeline(runtime: Runtime) -> None:
    gateway = FakeGateway()
    plan = [  # (hours after the first message, expected actions)
        (0, [ActionKind.REMIND]),  # first finding: reminded at once
        (1, []),  # throttled
        (23, []),
        (24, [ActionKind.REMIND]),  # a day later: reminded again
        (30, []),
        (48, [ActionKind.REMIND]),
        (71, []),
        (72, [ActionKind.KICK]),  # grace over: removed (and reported)
        (80, []),  # acted once only
    ]
    for hours, expected in plan:
        before = len(gateway.performed)
        decision = await runtime.engine.handle(
            message(f"消息{hours}", card="张三", at=T0 + timedelta(hours=hours)), gateway
        )
        assert decision.findings and decision.findings[0].detector == "nickname"
        assert [a.kind for a in gateway.performed[before:]] == expected, hours
        if ActionKind.KICK in expected:
            kinds = {o.action.kind: o.status for o in decision.outcomes}
            assert kinds[ActionKind.ESCALATE] is OutcomeStatus.DONE
    first = gateway.performed[0].text
    assert first == "请在3天内按群规修改群名片（缺少部门，应为「姓名+部门」），逾期将移出本群。"
    assert "2天" in gateway.performed[1].text
    due = await runtime.storage.outbox.due_reports(T0 + timedelta(days=10))
    assert len(due) == 1 and "qq:2001" in due[0].text


async def test_fixing_the_card_ends_the_timeline(runtime: Runtime) -> None:
    gateway = FakeGateway()
    await runtime.engine.handle(message("a", card="张三", at=T0), gateway)
    await runtime.engine.handle(
        message("b", card="张三+办公室", at=T0 + timedelta(days=1)), gateway
    )
    assert await runtime.storage.compliance.get_compliance("qq:1001", "qq:2001") is None
    # broken again later: a fresh grace period, not an immediate kick
    await runtime.engine.handle(message("c", card="张三", at=T0 + timedelta(days=5)), gateway)
    assert gateway.kinds() == [ActionKind.REMIND, ActionKind.REMIND]


async def test_rejoin_restarts_the_timeline(runtime: Runtime) -> None:
    gateway = FakeGateway()
    await runtime.engine.handle(card_event(EventKind.JOIN, "", T0), gateway)
    await runtime.engine.handle(
        card_event(EventKind.CARD_CHANGE, "x", T0 + timedelta(days=3)), gateway
    )
    assert gateway.kinds() == [ActionKind.REMIND, ActionKind.KICK]
    await runtime.engine.handle(card_event(EventKind.JOIN, "", T0 + timedelta(days=4)), gateway)
    assert gateway.kinds()[-1] is ActionKind.REMIND
    assert gateway.performed[0].text.startswith("请在3天内按群规修改群名片（群名片为空）")


async def test_a_join_seen_by_two_processes_is_handled_once(tmp_path: Path) -> None:
    """Two bot processes on one database both receive the notice of a join (two accounts)."""
    url = f"sqlite+aiosqlite:///{tmp_path / 'shared.db'}"
    config = parse_config({"nickname": NICK})
    first = await Runtime.start(config, db_url=url, clock=Clock())
    second = await Runtime.start(config, db_url=url, clock=Clock())
    gateways = FakeGateway(), FakeGateway()
    try:
        join = ChatEvent(
            EventKind.JOIN, Platform.QQ, "qq:1001", Member("qq:2001"), T0, event_key="join:1"
        )
        await asyncio.gather(
            first.engine.handle(join, gateways[0]), second.engine.handle(join, gateways[1])
        )
        assert sorted(len(g.performed) for g in gateways) == [0, 1]  # one reminder in all
        anonymous = ChatEvent(EventKind.JOIN, Platform.QQ, "qq:1001", Member("qq:2002"), T0)
        for runtime, gateway in zip((first, second), gateways, strict=True):
            await runtime.engine.handle(anonymous, gateway)
        # without a key the processes cannot tell it is one event (the timeline's
        # throttle still stops the second reminder when the first is written)
        assert sum(len(g.performed) for g in gateways) >= 2
    finally:
        await first.close()
        await second.close()


@pytest.mark.parametrize("role", [Role.ADMIN, Role.OWNER])
async def test_owners_and_admins_exempt(runtime: Runtime, role: Role) -> None:
    gateway = FakeGateway()
    for day in range(5):
        await runtime.engine.handle(
            message("x", card="", role=role, at=T0 + timedelta(days=day)), gateway
        )
    assert gateway.performed == []


async def test_configured_ids_and_bot_exempt() -> None:
    rt = await make_runtime()
    rt.config.policy_for("qq:1001")  # warm the cache
    gateway = FakeGateway()
    event = ChatEvent(
        EventKind.CARD_CHANGE, Platform.QQ, "qq:1001", Member("qq:42", card=""), T0, bot_id="qq:42"
    )
    decision = await rt.engine.handle(event, gateway)
    assert decision.notes == ("exempt member: no action",) and gateway.performed == []
    await rt.close()


async def test_action_escalate_only_and_none() -> None:
    for action, expected in (("escalate", []), ("none", [ActionKind.REMIND])):
        rt = await make_runtime(action=action)
        gateway = FakeGateway()
        await rt.engine.handle(message("a", card="x", at=T0), gateway)
        gateway.performed.clear()
        decision = await rt.engine.handle(
            message("b", card="x", at=T0 + timedelta(days=3)), gateway
        )
        assert gateway.kinds() == expected
        if action == "escalate":
            assert {o.action.kind for o in decision.outcomes} == {ActionKind.ESCALATE}
        await rt.close()


async def test_wechat_kick_falls_back_when_not_possible() -> None:
    rt = await make_runtime()
    gateway = FakeGateway(platform=Platform.WECHAT, caps=frozenset({ActionKind.REMIND}))
    group = "wechat:r@chatroom"
    await rt.engine.handle(message("a", card="x", group=group, user="wechat:u", at=T0), gateway)
    decision = await rt.engine.handle(
        message("b", card="x", group=group, user="wechat:u", at=T0 + timedelta(days=3)), gateway
    )
    statuses = {o.action.kind: o.status for o in decision.outcomes}
    assert statuses[ActionKind.KICK] is OutcomeStatus.SUBSTITUTED
    assert statuses[ActionKind.ESCALATE] is OutcomeStatus.DONE
    await rt.close()


async def test_roster_set_card_on_qq() -> None:
    rt = await make_runtime(roster="r.csv", set_card=True)
    gateway = FakeGateway()
    await rt.engine.handle(message("a", user="qq:10001", card="小张", at=T0), gateway)
    assert gateway.kinds() == [ActionKind.SET_CARD, ActionKind.REMIND]
    assert gateway.performed[0].text == "张三+办公室"
    assert gateway.performed[1].text.startswith("按名单，您的群名片应为「张三+办公室」。")
    await rt.close()


async def test_roster_left_member_flagged() -> None:
    rt = await make_runtime(roster="r.csv")
    gateway = FakeGateway()
    decision = await rt.engine.handle(message("a", user="qq:10005", card="王五+办公室"), gateway)
    assert [(f.category, f.detail) for f in decision.findings] == [
        ("roster", "该账号属于已离职人员「王五」")
    ]
    await rt.close()


# ---------------------------------------------------------------- join screening


def join_request(comment: str, user: str = "qq:3001") -> ChatEvent:
    return ChatEvent(
        EventKind.JOIN_REQUEST, Platform.QQ, "qq:1001", Member(user), T0, comment=comment
    )


@pytest.mark.parametrize(
    ("roster", "approve", "otherwise", "user", "comment", "expected", "reason"),
    [
        (
            True,
            "roster_or_format",
            "reject",
            "qq:10001",
            "",
            "approve_join",
            "账号属于名单中的「张三」",
        ),
        (
            True,
            "roster_or_format",
            "reject",
            "qq:3001",
            "问题：姓名？\n答案：张三",
            "approve_join",
            "对应名单中的「张三」",
        ),
        (
            True,
            "roster_or_format",
            "reject",
            "qq:3001",
            "张三+办公室",
            "approve_join",
            "对应名单中的「张三」",
        ),
        (
            True,
            "roster_or_format",
            "reject",
            "qq:10005",
            "王五+办公室",
            "reject_join",
            "已登记为离职",
        ),
        (True, "roster_or_format", "reject", "qq:3001", "王五", "reject_join", "已登记为离职"),
        (
            True,
            "roster_or_format",
            "reject",
            "qq:3001",
            "李雷+办公室",
            "approve_join",
            "符合群名片格式",
        ),
        (
            True,
            "roster",
            "reject",
            "qq:3001",
            "李雷+办公室",
            "reject_join",
            "名单中没有「李雷+办公室」",
        ),
        (True, "format", "reject", "qq:10001", "加我", "reject_join", "无法确认身份"),
        (
            False,
            "roster_or_format",
            "reject",
            "qq:3001",
            "李雷+人事处",
            "approve_join",
            "符合群名片格式",
        ),
        (False, "roster_or_format", "reject", "qq:3001", "我是新人", "reject_join", "无法确认身份"),
        (False, "roster_or_format", "ignore", "qq:3001", "我是新人", None, "无法确认身份"),
    ],
)
async def test_join_screening(
    roster: bool,
    approve: str,
    otherwise: str,
    user: str,
    comment: str,
    expected: str | None,
    reason: str,
) -> None:
    extra = {"roster": "r.csv"} if roster else {}
    rt = await make_runtime(**extra)
    policy = rt.config.policy_for("qq:1001")
    join = policy.join.model_copy(update={"approve": approve, "otherwise": otherwise})
    rt.config._policies["qq:1001"] = policy.model_copy(update={"join": join})
    gateway = FakeGateway()
    decision = await rt.engine.handle(join_request(comment, user), gateway)
    assert [a.kind.value for a in gateway.performed] == ([expected] if expected else [])
    assert reason in decision.findings[0].detail
    if expected:
        assert reason in gateway.performed[0].text
    [report] = await rt.storage.outbox.due_reports(T0 + timedelta(minutes=1))
    assert report.officer_id == "qq:900" and "入群审核" in report.text and reason in report.text
    await rt.close()


async def test_join_screening_off_and_dry_run() -> None:
    rt = await make_runtime()
    gateway = FakeGateway()
    policy = rt.config.policy_for("qq:1001")
    off = policy.model_copy(update={"join": policy.join.model_copy(update={"enabled": False})})
    rt.config._policies["qq:1001"] = off
    assert (await rt.engine.handle(join_request("张三+办公室"), gateway)).actions == ()
    rt.engine.force_dry_run = True
    rt.config._policies["qq:1001"] = policy
    decision = await rt.engine.handle(join_request("张三+办公室"), gateway)
    assert gateway.performed == []
    assert {o.status for o in decision.outcomes} == {OutcomeStatus.DRY_RUN}
    await rt.close()


# ---------------------------------------------------------------- audit and group checks


@pytest.mark.parametrize(
    ("name", "count", "problems"),
    [
        ("川护教职工群", 80, []),
        ("川护教职工群", 120, ["群「川护教职工群」（qq:1）有120人，超过100人上限"]),
        ("教职工群", 80, ["群「教职工群」（qq:1）的名称不符合“单位简称+群名”（单位简称：川护）"]),
        ("川护", 80, ["群「川护」（qq:1）的名称不符合“单位简称+群名”（单位简称：川护）"]),
    ],
)
def test_group_checks(name: str, count: int, problems: list[str]) -> None:
    settings = GroupCheckSettings(units=["川护"], max_members=100)
    assert check_group(GroupInfo("qq:1", name, count, Role.ADMIN), settings) == problems


async def test_audit_runs_every_member_through_the_timeline(runtime: Runtime) -> None:
    directory = FakeDirectory(
        {
            "qq:1001": [
                Member("qq:1", "张三+办公室"),
                Member("qq:2", "小王"),
                Member("qq:3", "", role=Role.OWNER),
                Member("qq:99", "群卫士", role=Role.MEMBER),  # the bot itself
            ]
        },
        {"qq:1001": GroupInfo("qq:1001", "教职工群", 180, Role.ADMIN)},
    )
    gateway = FakeGateway()
    clock = runtime.engine.clock
    assert isinstance(clock, Clock)
    [result] = await audit_all(runtime.engine, directory, gateway, bot_id="qq:99")
    assert (result.checked, result.flagged, result.reminded, result.acted) == (4, 1, 1, 0)
    assert [(a.kind, a.target_id) for a in gateway.performed] == [(ActionKind.REMIND, "qq:2")]
    assert len(result.problems) == 2
    [report] = await runtime.storage.outbox.due_reports(clock.now + timedelta(minutes=1))
    assert "成员检查" in report.text and "超过100人上限" in report.text
    clock.advance(timedelta(days=3))
    [result] = await audit_all(runtime.engine, directory, gateway, bot_id="qq:99")
    assert result.acted == 1 and gateway.performed[-1].kind is ActionKind.KICK


# ---------------------------------------------------------------- scan


async def test_scan_reports_nickname_and_flood() -> None:
    config = parse_config({"nickname": NICK})
    lines = [
        {"id": str(i), "platform": "qq", "group": "1", "user": "7", "card": card, "text": "在吗"}
        for i, card in enumerate(["张三+办公室", "张三+办公室", "张三", "张三"])
    ]
    source = io.StringIO("".join(json.dumps(line, ensure_ascii=False) + "\n" for line in lines))
    sink = io.StringIO()
    assert await run_scan(config, source, sink, None) == 0
    out = [json.loads(line) for line in sink.getvalue().splitlines()]
    assert [[f["detector"] for f in o["findings"]] for o in out] == [
        [],
        [],
        ["flood", "nickname"],
        ["flood", "nickname"],
    ]
    assert out[2]["findings"][1] == {
        "detector": "nickname",
        "category": "nickname",
        "match": "张三",
        "start": 0,
        "end": 0,
        "strength": "strong",
        "how": "direct",
    }
    assert "remind" not in out[2]["actions"]  # the flood strike takes the event
