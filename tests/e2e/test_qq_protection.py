"""QQ end to end, protection across groups: the real bot in a subprocess, a fake NapCat.

One bot process, one QQ account that is an admin in four groups (A, B, C, D):

- a member who posted three messages in A is removed for a critical violation:
  the offending message and the three before it are recalled (``delete_msg``);
- that removal bans him: the bot lists its groups and their members and removes
  him from B and C (where he is), not from D; the officer gets one report for the
  whole sweep; his later join request to D is refused (``set_group_add_request``);
- a member who has just joined A posts an allowed-domain link: on probation it is
  removed all the same;
- 20 joins in C within 10 s are a raid: the whole group is muted
  (``set_group_whole_ban``), the officer is alerted at once, and after the raid's
  duration the group is unmuted and the officer told.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.onebot_client import (
    Call,
    FakeOneBot,
    SimGroup,
    free_port,
    is_call,
    running_bot,
    text,
    write_config,
)

pytestmark = pytest.mark.e2e

TOKEN = "e2e-protection"
WAIT = 20.0  # seconds for each expected call (generous: CI machines are shared)
BOT, OFFICER = 10000, 90001
A, B, C, D = 5001, 5002, 5003, 5004
SPAMMER = 2009
WORDS = {"politics": ["测试政治"]}
EXTRA = """
[links]
allow_domains = ["edu.cn"]

[protection.raid]
joins = 20
window = "10s"
duration = "3s"
"""


@pytest.fixture
async def bot_url(tmp_path: Path) -> AsyncIterator[str]:
    port = free_port()
    config = write_config(tmp_path, port, TOKEN, WORDS, EXTRA)
    async with running_bot(config, port, tmp_path / "bot.log"):
        yield f"ws://127.0.0.1:{port}/onebot/v11/ws"


def groups() -> list[SimGroup]:
    sims = []
    for group_id in (A, B, C, D):
        sim = SimGroup(group_id, f"测试群{group_id}")
        sim.add(BOT, "admin", "群卫士")
        sim.add(1999, "owner", "王主任+办公室")
        for user in range(2001, 2005):
            sim.add(user, "member", f"成员{user}")
        sims.append(sim)
    for sim in sims[:3]:  # the spammer is in A, B and C, not in D
        sim.add(SPAMMER, "member", "张三+办公室")
    return sims


def private_text(call: Call) -> str:
    return "".join(s["data"].get("text", "") for s in call.params["message"])


def to_officer(contains: str) -> Any:
    def check(call: Call) -> bool:
        return is_call("send_private_msg", user_id=OFFICER)(call) and contains in private_text(call)

    return check


async def expect(qq: FakeOneBot, predicate: Any, mark: int) -> Call:
    """The first call since ``mark`` matching ``predicate`` (generous wait: shared machines)."""
    return await qq.wait_for(predicate, within=WAIT, start=mark)


async def test_qq_protection_end_to_end(bot_url: str) -> None:
    async with FakeOneBot(bot_url, BOT, TOKEN, groups()) as qq:
        # three ordinary messages, then a critical one: removed, and all four recalled
        for n in range(3):
            await qq.send(qq.message(A, SPAMMER, text(f"大家好{n}"), 101 + n))
        mark = len(qq.calls)
        await qq.send(qq.message(A, SPAMMER, text("测试政治 内容"), 104))
        await expect(qq, is_call("set_group_kick", group_id=A, user_id=SPAMMER), mark)
        for message_id in (104, 101, 102, 103):
            await expect(qq, is_call("delete_msg", message_id=message_id), mark)

        # the ban's sweep: B and C (where he is), not D; one report for the whole sweep
        await expect(qq, is_call("set_group_kick", group_id=B, user_id=SPAMMER), mark)
        await expect(qq, is_call("set_group_kick", group_id=C, user_id=SPAMMER), mark)
        report = await expect(qq, to_officer("封禁名单 #"), mark)
        body = private_text(report)
        assert f"qq:{B}：已移出" in body and f"qq:{C}：已移出" in body, body
        assert "撤回" in body and "3条消息" in body, body
        kicks = [c for c in qq.calls if c.action == "set_group_kick"]
        assert sorted(c.params["group_id"] for c in kicks) == [A, B, C]

        # his join request to D is refused
        mark = len(qq.calls)
        await qq.send(
            qq.base("request")
            | {
                "request_type": "group",
                "sub_type": "add",
                "group_id": D,
                "user_id": SPAMMER,
                "comment": "我是张三",
                "flag": "flag-1",
            }
        )
        refused = await expect(qq, is_call("set_group_add_request", flag="flag-1"), mark)
        assert refused.params["approve"] is False
        await expect(qq, to_officer("申请加入"), mark)

        # a member on probation: an allowed-domain link is removed all the same
        qq.groups[A].add(2100, "member", "新人+办公室")
        mark = len(qq.calls)
        await qq.send(qq.notice("group_increase", A, 2100, sub_type="approve", operator_id=0))
        await expect(qq, is_call("get_group_member_info", user_id=2100), mark)
        await qq.quiet(0.3)
        await qq.send(qq.message(A, 2100, text("报名点这里 http://x.edu.cn/a"), 200))
        await expect(qq, is_call("delete_msg", message_id=200), mark)

        # a raid: 20 joins in C within 10 s
        mark = len(qq.calls)
        for user in range(3000, 3020):
            qq.groups[C].add(user, "member", "")
            await qq.send(qq.notice("group_increase", C, user, sub_type="approve", operator_id=0))
        started = time.monotonic()
        await expect(qq, is_call("set_group_whole_ban", group_id=C, enable=True), mark)
        alert = await expect(qq, to_officer("批量入群"), mark)
        assert "20" in private_text(alert)
        # lifted after the raid's duration (3 s)
        await expect(qq, is_call("set_group_whole_ban", group_id=C, enable=False), mark)
        assert time.monotonic() - started >= 2
        await expect(qq, to_officer("防护已解除"), mark)
        mutes = [c for c in qq.calls if c.action == "set_group_whole_ban"]
        assert [c.params["enable"] for c in mutes] == [True, False]
