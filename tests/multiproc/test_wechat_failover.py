"""Two real bot processes (Redis, PostgreSQL) on the real Wechaty gateway: one connection, failover.

The gateway is the real puppet service from npm (``tests/plugins/wechaty/real_gateway``).
Each bot process also has its own QQ account (a fake NapCat). Checked, in order,
on one pair of processes:

- exactly one process holds the WeChat connection (the lease
  ``wechat:<endpoint>`` in Redis names it); the other stands by without a single
  RPC to the gateway (only the holder's ``Start`` and ``Event`` reach it);
- a WeChat violation is handled once (one warning, one case);
- a report to a WeChat officer queued by the other process (a QQ case of a
  group whose officer is on WeChat), with that process sending the outbox, is
  delivered through the holder's connection (the relay);
- an officer's command by QQ private message to the other process warns a
  WeChat member (an action relayed to the holder);
- the holder is killed (SIGKILL): the other process takes the connection over
  when the lease expires, without a logout (no Stop, one login in total), and
  moderates WeChat from then on.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import signal
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from redis.asyncio import Redis
from sqlalchemy import select
from sqlalchemy.ext.asyncio import create_async_engine

from rules.storage.tables import cases
from tests.e2e.onebot_client import (
    FakeOneBot,
    SimGroup,
    free_port,
    is_call,
    running_bot,
    text,
)
from tests.multiproc.cluster import TOKEN, node_config
from tests.plugins.wechaty.real_gateway import Gateway, rpc_names, running_gateway, sent_to
from tests.services import checked_redis_url, fresh_pg_database, redis_namespace

pytestmark = pytest.mark.e2e

WECHAT_TOKEN = "insecure_gw-failover-WXSECRET"
BOT_ID, BOT_NAME = "wxid_groupguard", "群卫士"
OFFICER = "wxid_officer"
ROOM = "30001@chatroom"
MEMBERS = {"wxid_li": "李四+办公室", "wxid_wang": "王五+财务处", "wxid_zhao": "赵六+人事处"}
BANNED = "测试违禁词"
QQ_GROUP, QQ_OFFICER = 6001, 90001
LEASE_TTL = 10.0  # plugins.wechaty_guard.ownership.LEASE_TTL
STANDBY_POLL = 1.0


def extra(endpoint: str) -> str:
    return f"""
[ladder]
steps = ["warn", "kick"]
escalate_from_step = 2

[wechat]
enabled = true
endpoint = "{endpoint}"
token = "{WECHAT_TOKEN}"
connect_timeout = "1s"
rpc_timeout = "5s"
ding_interval = "2s"
ding_timeout = "3s"
backoff_initial = "1s"
backoff_max = "2s"
send_interval_room = "1s"
send_interval = "1s"

[commands]
superusers = ["qq:{QQ_OFFICER}"]

[groups."wechat:{ROOM}".escalation]
officers = ["wechat:{OFFICER}"]

[groups."qq:{QQ_GROUP}".escalation]
officers = ["wechat:{OFFICER}"]

[groups."qq:{QQ_GROUP}".ladder]
escalate_from_step = 1
"""


def qq_group() -> list[SimGroup]:
    sim = SimGroup(QQ_GROUP, "两个机器人的群")
    sim.add(10001, "admin", "群卫士甲+办公室")
    sim.add(10002, "admin", "群卫士乙+办公室")
    sim.add(1999, "owner", "王主任+办公室")
    for user in range(3001, 3010):
        sim.add(user, "member", f"成员{user}+教务处")
    return [sim]


@dataclass
class Node:
    name: str
    account: int
    proc: Any
    log: Path
    qq: FakeOneBot

    def output(self) -> str:
        return self.log.read_text("utf-8", errors="replace")

    def logins(self) -> int:
        return self.output().count("WeChat: logged in as")

    def owner(self) -> str:
        """This process's owner token in the shared state (from its lease log lines)."""
        found = re.search(r"this process[: (]+([^\s)]+)", self.output())
        assert found, self.output()[-3000:]
        return found.group(1)

    async def wait_for(self, needle: str, count: int = 1, within: float = 20.0) -> None:
        deadline = time.monotonic() + within
        while self.output().count(needle) < count:
            assert self.proc.poll() is None, f"{self.name} exited:\n{self.output()[-3000:]}"
            assert time.monotonic() < deadline, f"{self.name}: {needle!r}\n{self.output()[-3000:]}"
            await asyncio.sleep(0.05)


@contextlib.asynccontextmanager
async def running_node(
    name: str, account: int, directory: Path, db_url: str, redis_url: str, prefix: str, gw: Gateway
) -> AsyncIterator[Node]:
    port = free_port()
    (directory / name).mkdir(parents=True, exist_ok=True)
    config = node_config(
        directory / name,
        port,
        {"testbad": [BANNED]},
        db_url,
        redis_url,
        prefix,
        extra=extra(gw.endpoint),
    )
    log = directory / name / "bot.log"
    async with running_bot(config, port, log) as proc:
        url = f"ws://127.0.0.1:{port}/onebot/v11/ws"
        async with FakeOneBot(url, account, TOKEN, qq_group()) as qq:
            yield Node(name, account, proc, log, qq)


def private_message(node: Node, user_id: int, body: str, message_id: int) -> dict[str, Any]:
    return {
        "time": int(time.time()),
        "self_id": node.account,
        "post_type": "message",
        "message_type": "private",
        "sub_type": "friend",
        "message_id": message_id,
        "user_id": user_id,
        "message": text(body),
        "raw_message": body,
        "font": 0,
        "sender": {"user_id": user_id, "nickname": "纪委"},
    }


def no_logout(state: dict[str, Any]) -> None:
    assert state["logouts"] == 0, state["events"]
    assert state["stops"] == 0 and "Stop" not in rpc_names(state)
    assert state["loggedIn"] and state["userId"] == BOT_ID
    assert state["logins"] == 1  # the one login of the account; nobody logged it in again


async def test_one_connection_relay_and_failover(tmp_path: Path) -> None:
    redis_url = await checked_redis_url()
    async with (
        fresh_pg_database() as db_url,
        redis_namespace(redis_url) as prefix,
        running_gateway(tmp_path, WECHAT_TOKEN) as gw,
        contextlib.AsyncExitStack() as stack,
    ):
        await gw.login(BOT_ID, BOT_NAME)
        await gw.contact(OFFICER, "纪委王老师")
        await gw.room(ROOM, "办公室工作群", MEMBERS)
        redis = Redis.from_url(redis_url, decode_responses=True)
        stack.push_async_callback(redis.aclose)
        db = create_async_engine(db_url)
        stack.push_async_callback(db.dispose)
        a, b = await asyncio.gather(
            *(
                stack.enter_async_context(
                    running_node(name, account, tmp_path, db_url, redis_url, prefix, gw)
                )
                for name, account in (("bot-a", 10001), ("bot-b", 10002))
            )
        )

        # exactly one holds the connection, named by the lease
        deadline = time.monotonic() + 20
        while a.logins() + b.logins() == 0:
            assert time.monotonic() < deadline, a.output()[-2000:] + b.output()[-2000:]
            await asyncio.sleep(0.05)
        holder, other = (a, b) if a.logins() else (b, a)
        await other.wait_for("WeChat: standing by")
        await asyncio.sleep(3)  # standby polls and dings
        lease_key = f"{prefix}lease:wechat:{gw.endpoint}"
        assert await redis.get(lease_key) == holder.owner()
        assert other.logins() == 0
        state = await gw.state()
        names = rpc_names(state)
        assert names[:2] == ["Start", "Event"] and names.count("Start") == 1, names
        assert names.count("Event") == 1  # the standing-by process never opened a stream
        no_logout(state)

        # a WeChat violation is handled once
        await gw.say("wxid_li", ROOM, f"大家来玩{BANNED}吧")
        state = await gw.wait_state(lambda s: len(sent_to(s, ROOM)) >= 1)
        await asyncio.sleep(1.5)
        warnings = sent_to(await gw.state(), ROOM)
        assert len(warnings) == 1 and warnings[0]["mentionIds"] == ["wxid_li"]
        async with db.connect() as conn:
            rows = (
                await conn.execute(select(cases.c.id).where(cases.c.group_id == f"wechat:{ROOM}"))
            ).all()
        assert len(rows) == 1

        # the other process sends the outbox (the lease handed to it), and queues a report for
        # the WeChat officer from a QQ case: it reaches the officer through the holder
        outbox_key = f"{prefix}lease:outbox"
        await redis.set(outbox_key, other.owner(), px=30_000)
        before = len(sent_to(await gw.state(), OFFICER))
        started = time.perf_counter()
        await other.qq.send(other.qq.message(QQ_GROUP, 3001, text(f"说个{BANNED}"), 501))
        await other.qq.wait_for(is_call("send_group_msg", group_id=QQ_GROUP), within=10)
        state = await gw.wait_state(lambda s: len(sent_to(s, OFFICER)) > before, within=15)
        took = time.perf_counter() - started
        print(f"QQ case in the other process -> WeChat officer report via the holder {took:.2f}s")
        report = sent_to(state, OFFICER)[-1]["text"]
        assert "qq:3001" in report and BANNED in report
        assert await redis.get(outbox_key) == other.owner()  # it did the sending
        assert "not delivered" not in other.output()

        # an officer's private command to the other process acts in the WeChat room
        marks = len(sent_to(await gw.state(), ROOM))
        command = f"/警告 wechat:{ROOM} wechat:wxid_wang 请注意群规"
        await other.qq.send(private_message(other, QQ_OFFICER, command, 502))
        reply = await other.qq.wait_for(is_call("send_private_msg", user_id=QQ_OFFICER), 15)
        assert "王五+财务处" in str(reply.params["message"]), reply.params  # 已警告 <card>
        state = await gw.wait_state(
            lambda s: any(m["mentionIds"] == ["wxid_wang"] for m in sent_to(s, ROOM)[marks:])
        )
        assert rpc_names(state).count("Event") == 1  # still the holder's one stream

        # the holder dies: the other takes over when the lease expires, without a logout
        os.killpg(holder.proc.pid, signal.SIGKILL)
        killed = time.perf_counter()
        await asyncio.to_thread(holder.proc.wait, 10)
        await other.wait_for("WeChat: logged in as", within=LEASE_TTL + 10)
        took = time.perf_counter() - killed
        print(f"holder killed -> the other process logged in {took:.2f}s (lease TTL {LEASE_TTL}s)")
        assert took <= LEASE_TTL + STANDBY_POLL + 2.0
        assert await redis.get(lease_key) == other.owner()
        await gw.say("wxid_zhao", ROOM, f"我来说{BANNED}")
        state = await gw.wait_state(
            lambda s: any(m["mentionIds"] == ["wxid_zhao"] for m in sent_to(s, ROOM)), within=10
        )
        no_logout(state)
        assert rpc_names(state).count("Event") == 2  # the holder's stream, then the other's
