"""The command layer, platform-free: parsing, permissions, members, each command, the audit log.

A real Runtime (in-memory SQLite, the default word lists) with a FakeGateway and
a FakeDirectory standing in for the platform; the QQ path is tested in
tests/plugins/test_onebot_commands.py and WeChat in tests/plugins/wechaty/.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import timedelta

import pytest
from sqlalchemy import select

from rules.commands import CommandRequest, Edge, Quoted
from rules.commands.parse import case_number, duration, split_command
from rules.commands.service import CommandService
from rules.commands.spec import COMMANDS, Level
from rules.config import parse_config
from rules.core.model import ActionKind, Member, Platform, Role
from rules.core.ports import GroupInfo
from rules.runtime import MEMORY_URL, Runtime
from rules.storage.tables import audit_log, cases, outbox, strikes
from tests.fakes import T0, Clock, FakeDirectory, FakeGateway, FakeMediaGateway, message

GROUP = "qq:1001"
OTHER_GROUP = "qq:1002"
OFFICER = "qq:900001"
SUPERUSER = "qq:900002"
BOT = "qq:100000"
ALICE = Member("qq:200001", "张三+办公室")
BOB = Member("qq:200002", "李四+教务处")
BOB2 = Member("qq:200003", "张三丰+后勤处")
ADMIN = Member("qq:300001", "王五+办公室", role=Role.ADMIN)
OWNER = Member("qq:300002", "赵六+校办", role=Role.OWNER)
OFFICER_M = Member(OFFICER, "纪检+监督")
MEMBERS = [ALICE, BOB, BOB2, ADMIN, OWNER, OFFICER_M, Member(BOT, "群卫士")]


@dataclass
class Env:
    runtime: Runtime
    service: CommandService
    gateway: FakeMediaGateway
    clock: Clock
    quotes: dict[str, Quoted] = field(default_factory=dict)

    async def say(
        self,
        text: str,
        caller: Member = ADMIN,
        group: str | None = GROUP,
        mentions: tuple[str, ...] = (),
        reply_to: str | None = None,
    ) -> str:
        request = CommandRequest(
            platform=Platform.QQ,
            caller=caller if group else Member(caller.id, caller.card),
            text=text,
            time=self.clock(),
            group_id=group,
            mentions=mentions,
            reply_to=reply_to,
            quoted=self.quotes.get(reply_to or ""),
            bot_id=BOT,
        )
        reply = await self.service.handle(request)
        assert reply is not None, f"{text!r} was not taken as a command"
        return reply

    async def audit_rows(self) -> list[tuple[str, str | None, str, str]]:
        async with self.runtime.storage.database.engine.connect() as conn:
            rows = await conn.execute(
                select(audit_log.c.actor_id, audit_log.c.group_id, audit_log.c.command,
                       audit_log.c.outcome).order_by(audit_log.c.id)
            )  # fmt: skip
            return [tuple(r) for r in rows]  # type: ignore[misc]

    async def outbox(self) -> list[tuple[str, str]]:
        async with self.runtime.storage.database.engine.connect() as conn:
            rows = await conn.execute(select(outbox.c.officer_id, outbox.c.text))
            return [(r[0], r[1]) for r in rows]


@pytest.fixture
async def env() -> AsyncIterator[Env]:
    config = parse_config(
        {
            "escalation": {"officers": [OFFICER]},
            "commands": {"superusers": [SUPERUSER], "report_limit": 2},
        }
    )
    clock = Clock()
    runtime = await Runtime.start(config, MEMORY_URL, clock=clock)
    assert runtime.commands is not None
    gateway = FakeMediaGateway()
    directory = FakeDirectory(
        {GROUP: list(MEMBERS), OTHER_GROUP: [ALICE]},
        {GROUP: GroupInfo(GROUP, "川护教职工群", len(MEMBERS), Role.ADMIN)},
    )
    environment = Env(runtime, runtime.commands, gateway, clock)

    runtime.commands.register(Platform.QQ, Edge(gateway, directory))
    yield environment
    await runtime.close()


# ---------------------------------------------------------------- parsing


@pytest.mark.parametrize(
    ("text", "key", "args"),
    [
        ("/禁言 张三 10分钟 刷屏", "mute", ("张三", "10分钟", "刷屏")),
        ("/mute Alice 10m spam", "mute", ("Alice", "10m", "spam")),
        ("／禁言　张三　2小时", "mute", ("张三", "2小时")),  # full-width slash and spaces
        ("/MUTE x 1d", "mute", ("x", "1d")),
        ("  /帮助", "help", ()),
        ("/help", "help", ()),
        ("/警告 @张三 发广告", "warn", ("@张三", "发广告")),
        ("/解禁 张三", "unmute", ("张三",)),
        ("/unmute 张三", "unmute", ("张三",)),
        ("/踢出 张三", "kick", ("张三",)),
        ("/kick 张三 ads", "kick", ("张三", "ads")),
        ("/赦免 #12", "pardon", ("#12",)),
        ("/pardon #12", "pardon", ("#12",)),
        ("/维持 #12 证据确凿", "uphold", ("#12", "证据确凿")),
        ("/记录 张三", "strikes", ("张三",)),
        ("/strikes 张三", "strikes", ("张三",)),
        ("/检查名片", "audit", ()),
        ("/audit", "audit", ()),
        ("/敏感词 add 广告 微商", "words", ("add", "广告", "微商")),
        ("/words list", "words", ("list",)),
        ("/白名单 add 三黄片", "allow", ("add", "三黄片")),
        ("/allow del 三黄片", "allow", ("del", "三黄片")),
        ("/设置 set flood.repeat 4", "config", ("set", "flood.repeat", "4")),
        ("/config show", "config", ("show",)),
        ("/试运行 on", "dryrun", ("on",)),
        ("/dryrun off", "dryrun", ("off",)),
        ("/统计 30d", "stats", ("30d",)),
        ("/stats", "stats", ()),
        ("/举报 广告", "report", ("广告",)),
        ("/report", "report", ()),
        ("/申诉 #3 我没有发", "appeal", ("#3", "我没有发")),
        ("/appeal #3 not me", "appeal", ("#3", "not", "me")),
    ],
)
def test_commands_parse_in_both_languages(text: str, key: str, args: tuple[str, ...]) -> None:
    invocation = split_command(text)
    assert invocation is not None
    assert (invocation.spec.key, invocation.args) == (key, args)


@pytest.mark.parametrize("text", ["禁言 张三", "/", "/unknown x", "//mute", "hello /mute"])
def test_other_text_is_not_a_command(text: str) -> None:
    assert split_command(text) is None


def test_every_command_has_two_names_and_help_text() -> None:
    names = [n for spec in COMMANDS for n in (spec.zh, spec.en)]
    assert len(names) == len(set(names))
    from rules.core.messages import render

    for spec in COMMANDS:
        for lang in ("zh", "en"):
            assert render(f"summary_{spec.key}", lang)  # KeyError if missing
            render(f"usage_{spec.key}", lang)


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("30s", 30), ("10m", 600), ("2h", 7200), ("1d", 86400), ("10分钟", 600), ("2小时", 7200),
     ("1天", 86400), ("1h30m", 5400), ("abc", None), ("0m", None), ("10", None)],
)  # fmt: skip
def test_durations(text: str, seconds: int | None) -> None:
    parsed = duration(text)
    assert (parsed.total_seconds() if parsed else None) == seconds


@pytest.mark.parametrize(
    ("text", "number"), [("#12", 12), ("＃7", 7), ("案件3", 3), ("case 5", 5), ("12", None)]
)
def test_case_numbers(text: str, number: int | None) -> None:
    assert case_number(text) == number


# ---------------------------------------------------------------- permissions


def _invocation(key: str) -> str:
    """A well-formed call of each command (targets Alice where a member is needed)."""
    return {
        "help": "/help",
        "warn": "/warn 张三+办公室 test",
        "mute": "/mute 张三+办公室 10m",
        "unmute": "/unmute 张三+办公室",
        "kick": "/kick 张三+办公室",
        "pardon": "/pardon 张三+办公室",
        "uphold": "/uphold #1",
        "confirm": "/confirm #1",
        "falsepositive": "/falsepositive #1",
        "strikes": "/strikes 张三+办公室",
        "audit": "/audit",
        "words": "/words list",
        "allow": "/allow list",
        "blockimage": "/blockimage",
        "unblockimage": "/unblockimage",
        "config": "/config show",
        "dryrun": "/dryrun off",
        "stats": "/stats",
        "report": "/report @x",
        "appeal": "/appeal #1 reason",
        "register": "/register show",
        "groups": "/groups",
        "export": "/export 7d",
        "bans": "/bans",
        "ban": "/ban 张三+办公室 spam",
        "unban": "/unban 200001",
        "muteall": "/muteall off",
        "cardhistory": "/cardhistory 张三+办公室",
    }[key]


CALLERS = {
    "member": (ALICE, Level.MEMBER),
    "admin": (ADMIN, Level.MANAGER),
    "owner": (OWNER, Level.MANAGER),
    "officer": (OFFICER_M, Level.OFFICER),
    "superuser": (Member(SUPERUSER), Level.OFFICER),
    # A member whose card claims a title gets nothing from it.
    "impostor": (Member("qq:200009", "管理员+群主"), Level.MEMBER),
}


@pytest.mark.parametrize("spec", [s for s in COMMANDS if s.where != "private"], ids=str)
@pytest.mark.parametrize("who", list(CALLERS))
async def test_group_permissions_each_role_each_command(env: Env, spec: object, who: str) -> None:
    from rules.commands.spec import CommandSpec

    assert isinstance(spec, CommandSpec)
    caller, level = CALLERS[who]
    await env.runtime.storage.journal.open_case(
        message("x", user=BOB.id, at=T0), (), 0, T0
    )  # case #1
    reply = await env.say(_invocation(spec.key), caller=caller, mentions=(BOB.id,))
    (actor, group, command, outcome) = (await env.audit_rows())[-1]
    assert (actor, group, command) == (caller.id, GROUP, _invocation(spec.key))
    if level >= spec.level:
        assert not outcome.startswith("refused"), (reply, outcome)
    else:
        assert outcome.startswith("refused")
        assert reply.startswith("抱歉，只有本群群主、管理员或负责人可以使用")
        assert env.gateway.performed == []


@pytest.mark.parametrize("spec", [s for s in COMMANDS if s.group_arg], ids=str)
@pytest.mark.parametrize("who", ["officer", "superuser", "admin", "member"])
async def test_private_permissions_only_officers_command_a_group(
    env: Env, spec: object, who: str
) -> None:
    from rules.commands.spec import CommandSpec

    assert isinstance(spec, CommandSpec)
    caller, _ = CALLERS[who]
    text = (
        _invocation(spec.key).replace(" ", " 1001 ", 1)
        if " " in _invocation(spec.key)
        else _invocation(spec.key) + " 1001"
    )
    reply = await env.say(text, caller=caller, group=None)
    outcome = (await env.audit_rows())[-1][3]
    if who in ("officer", "superuser"):
        assert not outcome.startswith("refused"), reply
    else:  # owners and admins command their group from inside it, not by private message
        assert outcome.startswith("refused")
        assert reply == "抱歉，您不是该群的负责人，不能私聊管理该群。"
        assert env.gateway.performed == []


async def test_an_officer_of_one_group_cannot_command_another(env: Env) -> None:
    config = parse_config({"groups": {GROUP: {"escalation": {"officers": ["qq:777777"]}}}})
    env.runtime.engine.config = config
    reply = await env.say("/mute 1002 张三+办公室 10m", caller=Member("qq:777777"), group=None)
    assert reply.startswith("抱歉，您不是该群的负责人")
    reply = await env.say("/mute 1001 张三+办公室 10m", caller=Member("qq:777777"), group=None)
    assert reply.startswith("已禁言 张三+办公室(200001) 10分钟")


@pytest.mark.parametrize("target", [ADMIN, OWNER, OFFICER_M, Member(BOT, "群卫士")])
@pytest.mark.parametrize("command", ["/mute {} 10m", "/kick {}", "/warn {}"])
async def test_never_acts_on_owners_admins_officers_or_the_bot(
    env: Env, target: Member, command: str
) -> None:
    reply = await env.say(command.format(target.id.split(":")[1]), caller=OWNER)
    assert reply == "不能对群主、管理员、负责人或机器人本身执行此操作。"
    assert env.gateway.performed == []
    assert (await env.audit_rows())[-1][3].startswith("refused")


# ---------------------------------------------------------------- naming members


@pytest.mark.parametrize(
    ("named", "mentions", "reply"),
    [
        ("", (ALICE.id,), "已禁言 张三+办公室(200001) 10分钟（案件 #1）。"),
        ("200001", (), "已禁言 张三+办公室(200001) 10分钟（案件 #1）。"),
        ("qq:200001", (), "已禁言 张三+办公室(200001) 10分钟（案件 #1）。"),
        ("张三+办公室", (), "已禁言 张三+办公室(200001) 10分钟（案件 #1）。"),
        ("@李四", (), "已禁言 李四+教务处(200002) 10分钟（案件 #1）。"),  # unique card prefix
        ("张三", (), "「张三」对应2位成员，请 @ 对方或写QQ号。"),  # 张三+办公室, 张三丰+后勤处
        ("孙七", (), "找不到成员「孙七」。"),
        ("999999", (), "找不到成员「999999」。"),
    ],
)
async def test_members_are_named_by_mention_id_or_unique_card(
    env: Env, named: str, mentions: tuple[str, ...], reply: str
) -> None:
    text = f"/禁言 {named} 10分钟".replace("  ", " ")
    assert await env.say(text, mentions=mentions) == reply


@pytest.mark.parametrize(
    ("text", "reply"),
    [
        ("/禁言 张三+办公室 十分钟", "时长「十分钟」看不懂，请写如 30s、10分钟、2小时、1天。\n"
         "用法：/禁言 @成员 时长 [原因]"),
        ("/禁言 张三+办公室", "时长「」看不懂，请写如 30s、10分钟、2小时、1天。\n"
         "用法：/禁言 @成员 时长 [原因]"),
        ("/禁言 张三+办公室 31d", "禁言时长须在1分钟到30天之间。"),
        ("/禁言", "请 @ 要处理的成员（或写QQ号/群名片）。\n用法：/禁言 @成员 时长 [原因]"),
        ("/mute Alice", "Name a member (@, id or card).\nUsage: /mute @member duration [reason]"),
    ],
)  # fmt: skip
async def test_errors_are_one_friendly_line_with_the_usage(env: Env, text: str, reply: str) -> None:
    if text.startswith("/mute"):
        env.runtime.engine.config = parse_config({"moderation": {"language": "en"}})
        text, reply = "/mute", reply
    assert await env.say(text) == reply
    assert (await env.audit_rows())[-1][3].startswith("error: ")
    assert env.gateway.performed == []


async def test_a_crashing_command_answers_one_line_and_is_audited(env: Env) -> None:
    env.gateway.raise_on.add(ActionKind.MUTE)  # a gateway that raises instead of failing
    reply = await env.say("/禁言 张三+办公室 10m")
    assert reply == "命令执行出错，已记录，请稍后再试。"
    assert "ConnectionError" in (await env.audit_rows())[-1][3]


# ---------------------------------------------------------------- moderation commands


async def test_mute_kick_unmute_act_through_the_gateway_and_record_cases(env: Env) -> None:
    reply = await env.say("/禁言 张三+办公室 2小时 刷屏", caller=ADMIN)
    assert reply == "已禁言 张三+办公室(200001) 2小时，原因：刷屏（案件 #1）。"
    mute = env.gateway.performed[-1]
    assert (mute.kind, mute.target_id, mute.duration) == (
        ActionKind.MUTE,
        ALICE.id,
        timedelta(hours=2),
    )
    assert await env.say("/解禁 张三+办公室") == "已解除 张三+办公室(200001) 的禁言。"
    assert env.gateway.performed[-1].kind is ActionKind.UNMUTE
    assert await env.say("/kick 李四+教务处 广告") == (
        "已将 李四+教务处(200002) 移出本群，原因：广告（案件 #2）。"
    )
    async with env.runtime.storage.database.engine.connect() as conn:
        rows = (await conn.execute(select(cases.c.member_id, cases.c.evidence))).all()
    assert [tuple(r) for r in rows] == [(ALICE.id, "刷屏"), (BOB.id, "广告")]


async def test_warn_notices_the_member_in_the_group_and_adds_a_strike(env: Env) -> None:
    assert await env.say("/警告 张三+办公室 [CQ:at,qq=all] 别刷屏") == ""  # the notice answers
    warn = env.gateway.performed[-1]
    assert warn.kind is ActionKind.WARN
    assert warn.text == "管理员提醒：[CQ:at,qq=all] 别刷屏。请遵守群规。"
    assert (await env.say("/记录 张三+办公室")).startswith("张三+办公室(200001)：有效违规记录1次")
    # By private message the officer gets a confirmation instead.
    reply = await env.say("/warn 1001 200001", caller=OFFICER_M, group=None)
    assert reply == "已警告 张三+办公室(200001)（案件 #2）。"


async def test_a_failed_or_impossible_action_is_said_plainly(env: Env) -> None:
    env.gateway.fail.add(ActionKind.KICK)
    assert await env.say("/踢出 张三+办公室") == "移出失败：platform said no"
    env.gateway.caps = frozenset({ActionKind.WARN})  # the bot is not an admin
    assert await env.say("/禁言 张三+办公室 10m") == (
        "机器人在本群没有权限执行「禁言」（需要设为管理员）。"
    )


async def test_wechat_cannot_mute(env: Env) -> None:
    wechat = FakeGateway(platform=Platform.WECHAT)
    room = "wechat:123@chatroom"
    directory = FakeDirectory({room: [Member("wechat:wxid_a", "张三+办公室")]})
    env.service.register(Platform.WECHAT, Edge(wechat, directory))
    reply = await env.say("/禁言 张三+办公室 10m", caller=ADMIN, group=room)
    assert reply == "该平台不支持「禁言」。"


async def test_strikes_and_pardon_by_member(env: Env) -> None:
    await env.say("/警告 张三+办公室 一")
    await env.say("/禁言 张三+办公室 10m 二")
    lines = (await env.say("/strikes 200001")).splitlines()
    assert lines[0] == "张三+办公室(200001)：有效违规记录2次（30天内）。"
    assert lines[1].startswith("#2 2026-11-02 管理员处理（已处理）")
    assert (
        await env.say("/赦免 张三+办公室") == "已清除 张三+办公室(200001) 的全部违规记录（共2次）。"
    )
    assert (await env.say("/记录 张三+办公室")).startswith("张三+办公室(200001)：有效违规记录0次")


# ---------------------------------------------------------------- appeals and reports


async def _case_by_engine(env: Env) -> int:
    """A real moderation decision (a banned word) against Alice; returns its case id."""
    event = message("加我微信看网赌 稳赚", user=ALICE.id, card=ALICE.card, at=env.clock())
    decision = await env.runtime.engine.handle(event, env.gateway)
    assert decision.case_id is not None, decision
    return decision.case_id


async def test_appeal_round_trip_pardoned(env: Env) -> None:
    case_id = await _case_by_engine(env)
    reply = await env.say(f"/申诉 #{case_id} 我是转发提醒大家的", caller=ALICE, group=None)
    assert reply == f"申诉已提交（案件 #{case_id}），处理结果会私信告知您。"
    to_officer = [t for who, t in await env.outbox() if who == OFFICER and "申诉" in t]
    assert len(to_officer) == 1
    assert f"/赦免 #{case_id}" in to_officer[0] and "我是转发提醒大家的" in to_officer[0]
    # A second appeal on the same case waits for the first.
    again = await env.say(f"/申诉 #{case_id} 再说一次", caller=ALICE, group=None)
    assert again == f"案件 #{case_id} 已在申诉处理中。"
    # The officer pardons by private message: the case and its strikes are void...
    reply = await env.say(f"/赦免 #{case_id}", caller=OFFICER_M, group=None)
    assert reply == f"已赦免案件 #{case_id}，其违规记录已撤销。"
    assert (
        await env.runtime.storage.journal.strike_weight(GROUP, ALICE.id, T0 - timedelta(days=1))
        == 0
    )
    # ...and the member is told.
    to_alice = [t for who, t in await env.outbox() if who == ALICE.id]
    assert to_alice == [f"您对案件 #{case_id} 的申诉已通过，相关违规记录已撤销。"]
    closed = await env.say(f"/申诉 #{case_id} 再试", caller=ALICE, group=None)
    assert closed == f"案件 #{case_id} 已有处理结果（已赦免），不能再申诉。"


async def test_appeal_upheld_and_only_own_cases(env: Env) -> None:
    case_id = await _case_by_engine(env)
    refused = await env.say(f"/appeal #{case_id} not me", caller=BOB, group=None)
    assert refused == "只能对自己的案件提出申诉。"
    assert (await env.audit_rows())[-1][3].startswith("refused")
    await env.say(f"/appeal #{case_id} not me", caller=ALICE, group=None)
    reply = await env.say(f"/维持 #{case_id} 证据确凿", caller=ADMIN)
    assert reply == f"已维持案件 #{case_id}。"
    to_alice = [t for who, t in await env.outbox() if who == ALICE.id]
    assert to_alice == [f"您对案件 #{case_id} 的申诉未通过，原处理维持。证据确凿"]
    assert await env.say("/appeal #999 x", caller=ALICE, group=None) == "没有案件 #999。"
    assert await env.say(f"/appeal #{case_id} x", caller=ALICE) == "/申诉 请私聊机器人使用。"


async def test_a_case_of_another_group_is_not_visible_from_a_group(env: Env) -> None:
    case_id = await _case_by_engine(env)
    directory = FakeDirectory({OTHER_GROUP: [ALICE]})
    env.service.register(Platform.QQ, Edge(env.gateway, directory))
    reply = await env.say(f"/pardon #{case_id}", caller=OWNER, group=OTHER_GROUP)
    assert reply == f"没有案件 #{case_id}。"


async def test_report_by_reply_goes_to_the_officer_with_the_masked_message(env: Env) -> None:
    env.quotes["m55"] = Quoted(BOB, "加我微信 13800138000 网赌稳赚", "m55")
    reply = await env.say("/举报 发广告", caller=ALICE, reply_to="m55", mentions=(BOB.id,))
    assert reply == "已收到您的举报，已转交负责人处理，谢谢。"
    [text] = [t for who, t in await env.outbox() if who == OFFICER]
    assert "被举报：李四+教务处(200002)" in text and "理由：发广告" in text
    assert "13800138000" not in text and "138****8000" in text  # personal data masked
    assert "赌博" in text  # what the detectors see in it
    # Rate-limited per reporter (report_limit = 2 in this config).
    await env.say("/举报", caller=ALICE, reply_to="m55")
    assert await env.say("/举报", caller=ALICE, reply_to="m55") == "操作过于频繁，请稍后再试。"
    assert await env.say("/举报", caller=ALICE) == (
        "请回复要举报的消息再发 /举报，或 @ 被举报的成员。"
    )


# ---------------------------------------------------------------- words, settings, stats


async def test_words_and_allow_list_apply_at_once(env: Env) -> None:
    assert await env.say("/敏感词 add 广告 蓝鲸币") == "已添加：蓝鲸币"
    assert await env.say("/敏感词 list") == "本群自定义词（1个）：蓝鲸币"
    decision = await env.runtime.engine.handle(
        message("买蓝鲸币吗", user=ALICE.id, at=env.clock()), env.gateway
    )
    assert [(f.category, f.match) for f in decision.findings] == [("ads", "蓝鲸币")]
    assert await env.say("/敏感词 del 蓝鲸币") == "已删除：蓝鲸币"
    assert await env.say("/白名单 add 三黄片") == "已添加：三黄片"
    assert await env.say("/白名单 add 三黄片") == "无变化：三黄片"
    assert await env.say("/words nonsense") == "用法：/敏感词 add 类别 词… | del 词… | list"
    unknown = await env.say("/敏感词 add 微商 某某")
    assert unknown.startswith("没有类别「微商」，可用：") and "商业广告" in unknown


async def test_config_set_show_unset_validated_and_persisted(env: Env) -> None:
    assert await env.say("/设置 set flood.repeat 4") == "已设置 flood.repeat = 4"
    assert env.runtime.config.policy_for(GROUP).flood.repeat == 4
    assert env.runtime.config.policy_for(OTHER_GROUP).flood.repeat == 3
    assert await env.say("/设置 show flood.repeat") == "flood.repeat = 4（命令设置）"
    assert await env.say("/设置 set links.allow_domains edu.cn,gov.cn") == (
        '已设置 links.allow_domains = ["edu.cn", "gov.cn"]'
    )
    assert await env.say("/设置 set flood.repeat 1") == (
        "设置无效：flood.repeat: Input should be greater than or equal to 2 (got 1)"
    )
    assert await env.say("/设置 set flood.repaet 4") == "没有设置项 flood.repaet。"
    assert await env.say("/设置 set moderation.language fr") == (
        "设置无效：moderation.language: Input should be 'zh' or 'en' (got 'fr')"
    )
    # Restart: a new service on the same store re-applies what was saved.
    fresh = parse_config({"escalation": {"officers": [OFFICER]}})
    env.runtime.engine.config = fresh
    await env.service.load_settings()
    assert fresh.policy_for(GROUP).flood.repeat == 4
    assert await env.say("/设置 unset flood.repeat") == "已恢复 flood.repeat 的默认值"
    assert fresh.policy_for(GROUP).flood.repeat == 3
    shown = await env.say("/config show")
    assert shown == 'links.allow_domains = ["edu.cn", "gov.cn"]（命令设置）'


async def test_admins_cannot_change_who_oversees_them(env: Env) -> None:
    reply = await env.say("/设置 set escalation.officers []", caller=ADMIN)
    assert reply == "设置项 escalation.officers 只有负责人可以修改。"
    assert env.runtime.config.policy_for(GROUP).escalation.officers == [OFFICER]
    reply = await env.say('/设置 set moderation.exempt_ids ["qq:200001"]', caller=OWNER)
    assert reply.startswith("设置项 moderation.exempt_ids 只有负责人")
    reply = await env.say("/设置 set escalation.batch_window 1m", caller=OFFICER_M)
    assert reply == '已设置 escalation.batch_window = "1m"'


async def test_dry_run_switch(env: Env) -> None:
    assert (await env.say("/试运行 on")).startswith("本群已开启试运行")
    assert env.runtime.config.policy_for(GROUP).moderation.dry_run is True
    assert (await env.say("/dryrun off")).startswith("本群已关闭试运行")
    assert env.runtime.config.policy_for(GROUP).moderation.dry_run is False
    assert await env.say("/dryrun maybe") == "用法：/试运行 on | off（开启/关闭）"


async def test_stats_count_cases_by_category_and_action(env: Env) -> None:
    await _case_by_engine(env)
    await env.say("/禁言 李四+教务处 10m")
    reply = await env.say("/统计 7d")
    assert reply.startswith("近7天：共2个案件。")
    assert "赌博 1" in reply and "管理员处理 1" in reply
    assert "禁言 2" in reply and "撤回 1" in reply  # the engine muted too (high severity)


# ---------------------------------------------------------------- help


async def test_help_lists_only_what_the_caller_may_use(env: Env) -> None:
    member_help = await env.say("/帮助", caller=ALICE)
    assert member_help.splitlines() == [
        "群卫士命令（中英文命令名均可）：",
        "/帮助 (/help) — 查看可用命令",
        "/举报 (/report) [原因]（回复要举报的消息） — 向负责人举报一条消息",
    ]
    admin_help = await env.say("/帮助", caller=ADMIN)
    assert "/禁言 (/mute) @成员 时长 [原因] — 禁言（时长如 10分钟、2小时、1天、30s）" in admin_help
    assert "/申诉" not in admin_help  # private only
    private = await env.say("/help", caller=OFFICER_M, group=None)
    assert "/禁言 (/mute) 群号 成员(QQ号/群名片) 时长 [原因]" in private
    assert "/申诉" not in private
    assert private.splitlines()[-1].startswith("私聊使用时，请在命令后先写群号")
    stranger = await env.say("/help", caller=Member("qq:555555"), group=None)
    assert stranger.splitlines()[1:] == [
        "/帮助 (/help) — 查看可用命令",
        "/申诉 (/appeal) #案件号 理由 — 对自己的处理提出申诉（私聊机器人）",
    ]


async def test_every_command_is_audited_with_who_where_what_and_outcome(env: Env) -> None:
    await env.say("/禁言 张三+办公室 10m", caller=ALICE)
    await env.say("/禁言 张三+办公室 10m", caller=ADMIN)
    await env.say("/禁言 张三+办公室 abc", caller=ADMIN)
    rows = await env.audit_rows()
    assert [(r[0], r[1], r[2]) for r in rows] == [
        (ALICE.id, GROUP, "/禁言 张三+办公室 10m"),
        (ADMIN.id, GROUP, "/禁言 张三+办公室 10m"),
        (ADMIN.id, GROUP, "/禁言 张三+办公室 abc"),
    ]
    assert rows[0][3].startswith("refused: ")
    assert rows[1][3] == "ok: mute qq:200001: done"
    assert rows[2][3].startswith("error: 时长「abc」看不懂")
    async with env.runtime.storage.database.engine.connect() as conn:
        assert (await conn.execute(select(strikes.c.weight))).scalars().all() == [1]


# ---------------------------------------------------------------- registry and export


async def test_register_a_group_and_list_the_unregistered(env: Env) -> None:
    assert (await env.say("/备案")).startswith("本群尚未备案。")
    reply = await env.say('/备案 set 群主=赵六 负责人=王五 管理员=王五,孙七 用途="教职工 通知"')
    assert reply.startswith("已更新本群备案：")
    entry = await env.runtime.registry.get(GROUP)  # type: ignore[union-attr]
    assert entry is not None
    assert (entry.name, entry.owner, entry.admins, entry.purpose) == (
        "川护教职工群",  # taken from the platform when not given
        "赵六",
        ("王五", "孙七"),
        "教职工 通知",
    )
    assert entry.updated_by == ADMIN.id
    assert (await env.say("/备案 set 不存在=1")).startswith("备案信息有误：")
    assert (await env.say("/备案 del", caller=ADMIN)).startswith("抱歉")
    listed = await env.say("/群列表", caller=OFFICER_M, group=None)
    assert listed == "机器人所在群共2个，已备案1个，未备案1个：qq:1002"
    assert (
        await env.say("/群列表", caller=ADMIN)
        == "抱歉，只有本群群主、管理员或负责人可以使用 /群列表。"
    )
    assert await env.say("/备案 del", caller=OFFICER_M) == "已删除本群备案。"


async def test_officer_gets_the_export_as_a_file(env: Env) -> None:
    await _case_by_engine(env)
    assert await env.say("/导出 1001 7d csv", caller=OFFICER_M, group=None) == ""
    [(officer, name, data)] = env.gateway.files
    assert officer == OFFICER and name.endswith("-qq_1001.csv")
    assert "网赌" in data.decode("utf-8-sig")
    assert env.gateway.private[-1][0] == OFFICER  # and a summary line
    # An officer of one group only must name it; another group is refused.
    env.runtime.engine.config = parse_config(
        {"groups": {GROUP: {"escalation": {"officers": ["qq:777777"]}}}}
    )
    local = Member("qq:777777")
    assert (await env.say("/export", caller=local, group=None)).startswith(
        "请写要导出的群号（您只负责部分群）。"
    )
    assert (await env.say("/export 1002", caller=local, group=None)).startswith("抱歉，您不是")
    assert await env.say("/export 1001 2026-11-01", caller=local, group=None) == ""
    assert len(env.gateway.files) == 2
    assert (await env.say("/export 1001 yesterday", caller=local, group=None)).startswith(
        "「yesterday」不是时长或日期"
    )
