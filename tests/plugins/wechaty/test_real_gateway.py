"""The real bot (``python bot.py``) against the real Wechaty puppet service from npm.

The gateway is ``wechaty-puppet-service`` 1.19.9 serving ``wechaty-puppet-mock``
1.19.4 (tests/gateway/, see ``real_gateway``), run strict: without the
server's ``:authority`` compatibility patch, so only the
``authorization: Wechaty <token>`` metadata the bot sends is accepted. On the
server side it counts logins, logouts, puppet starts and stops and records
every RPC. Covered:

- login, a banned word warned (with @mention), the second one removed
  (RoomDel) and reported to the room's officer by private message;
- a gateway restart: the bot reconnects and moderates again;
- two bot processes on one gateway: one holds the event stream, the other
  waits, and takes over when the first stops; the account is never logged
  out (no Stop RPC at all, 0 logouts on the server);
- the configured secrets (WeChat and OneBot tokens) appear in no output of
  any bot process, although python-wechaty logs the token (masked);
- the control: a Stop RPC on this gateway does log the account out;
- a gateway left in TLS mode is diagnosed as such;
- the supervisor's ``should_connect`` / ``drop`` hooks (for a lease): no RPC
  while it may not connect, and dropping a session keeps the account logged in.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from grpclib.client import Channel
from wechaty_grpc.wechaty import PuppetStub

from tests.e2e.onebot_client import free_port, running_bot, write_config
from tests.plugins.wechaty.real_gateway import Gateway, rpc_names, running_gateway, sent_to

pytestmark = pytest.mark.e2e

WECHAT_TOKEN = "insecure_gw-4b7d19-WXSECRET"
ONEBOT_TOKEN = "ob-8c2e55-QQSECRET"
SECRETS = (WECHAT_TOKEN, ONEBOT_TOKEN)
BOT_ID, BOT_NAME = "wxid_groupguard", "群卫士"
OFFICER, OFFICER_NAME = "wxid_officer", "纪委王老师"
ROOM = "30001@chatroom"
MEMBERS = {"wxid_li": "李四+办公室", "wxid_wang": "王五+财务处", "wxid_zhao": "赵六+人事处"}
BANNED = "测试违禁词"
LOGIN_WITHIN = 20.0


def bot_config(directory: Path, port: int, endpoint: str) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    extra = f"""
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

[groups."wechat:{ROOM}".escalation]
officers = ["wechat:{OFFICER}"]
"""
    return write_config(directory, port, ONEBOT_TOKEN, {"testbad": [BANNED]}, extra)


@dataclass
class Bot:
    name: str
    log: Path
    proc: Any

    def output(self) -> str:
        return self.log.read_text("utf-8", errors="replace")

    def logins(self) -> int:
        return self.output().count("WeChat: logged in as")

    async def wait_for(self, text: str, count: int = 1, within: float = LOGIN_WITHIN) -> None:
        deadline = time.monotonic() + within
        while self.output().count(text) < count:
            if time.monotonic() > deadline:
                raise AssertionError(f"{self.name}: {text!r} x{count} not in log:\n{self.tail()}")
            if self.proc.poll() is not None:
                raise AssertionError(f"{self.name} exited:\n{self.tail()}")
            await asyncio.sleep(0.05)

    def tail(self) -> str:
        return self.output()[-4000:]


# As much logging as the libraries do: python-wechaty logs its token at WARNING
# (and far more at INFO), nonebot its whole config at DEBUG.
VERBOSE = {"WECHATY_LOG": "info", "LOG_LEVEL": "DEBUG"}


@contextlib.asynccontextmanager
async def running(name: str, directory: Path, endpoint: str) -> AsyncIterator[Bot]:
    port = free_port()
    config = bot_config(directory / name, port, endpoint)
    log = directory / name / "bot.log"
    async with running_bot(config, port, log, env=VERBOSE) as proc:
        yield Bot(name, log, proc)


def assert_no_secret(*bots: Bot) -> None:
    for bot in bots:
        output = bot.output()
        for secret in SECRETS:
            assert secret not in output, f"{bot.name}: a secret is in its output (...{secret[-8:]})"


async def prepare(gateway: Gateway) -> None:
    """The account logged in (as a puppet with a saved session), an officer, a room."""
    await gateway.login(BOT_ID, BOT_NAME)
    await gateway.contact(OFFICER, OFFICER_NAME)
    await gateway.room(ROOM, "办公室工作群", MEMBERS)


def no_logout(state: dict[str, Any]) -> None:
    assert state["logouts"] == 0, state["events"]
    assert state["stops"] == 0
    assert "Stop" not in rpc_names(state)
    assert state["loggedIn"] and state["userId"] == BOT_ID


@pytest.fixture
async def gateway(tmp_path: Path) -> AsyncIterator[Gateway]:
    async with running_gateway(tmp_path, WECHAT_TOKEN) as gw:
        await prepare(gw)
        yield gw


async def test_moderation_restart_and_no_secret(gateway: Gateway, tmp_path: Path) -> None:
    async with running("bot", tmp_path, gateway.endpoint) as bot:
        start = time.perf_counter()
        await bot.wait_for("WeChat: logged in as wxid_groupguard")
        print(f"bot listening -> WeChat login {time.perf_counter() - start:.2f}s")
        state = await gateway.state()
        assert rpc_names(state)[:3] == ["Start", "Event", "ContactPayload"]
        # the token arrived as metadata on every call (the :authority shim is off)
        assert {r["auth"] for r in state["rpcs"]} == {"metadata"}

        # a banned word: warned, with the member @-mentioned
        start = time.perf_counter()
        await gateway.say("wxid_li", ROOM, f"大家来玩{BANNED}吧")
        state = await gateway.wait_state(lambda s: len(sent_to(s, ROOM)) >= 1)
        print(f"message -> warning {time.perf_counter() - start:.2f}s")
        warning = sent_to(state, ROOM)[0]
        assert warning["mentionIds"] == ["wxid_li"] and "违规" in warning["text"]
        assert state["removed"] == []

        # again: removed from the room, told, and reported to the room's officer
        await gateway.say("wxid_li", ROOM, f"再说一次{BANNED}")
        state = await gateway.wait_state(
            lambda s: bool(s["removed"]) and sent_to(s, OFFICER) != [], within=15
        )
        assert [(r["roomId"], r["contactId"]) for r in state["removed"]] == [(ROOM, "wxid_li")]
        report = sent_to(state, OFFICER)[0]["text"]
        assert BANNED in report and "wechat:wxid_li" in report
        state = await gateway.wait_state(
            lambda s: any("移出" in m["text"] for m in sent_to(s, ROOM))
        )
        no_logout(state)

        # the gateway restarts (its puppet restores the session): the bot comes back
        start = time.perf_counter()
        await gateway.restart()
        await prepare(gateway)
        await bot.wait_for("WeChat: logged in as wxid_groupguard", count=2)
        print(f"gateway restart -> bot logged in again {time.perf_counter() - start:.2f}s")
        await gateway.say("wxid_wang", ROOM, f"我也说{BANNED}")
        state = await gateway.wait_state(lambda s: len(sent_to(s, ROOM)) >= 1)
        assert sent_to(state, ROOM)[0]["mentionIds"] == ["wxid_wang"]
        no_logout(state)
        assert "disconnected" in bot.output()

    output = bot.output()
    assert_no_secret(bot)
    # python-wechaty and nonebot did log the secrets, masked
    assert "token<***>" in output
    assert "'onebot_access_token': '***'" in output
    # each line once: uvicorn's lines are not repeated under another logger
    assert output.count("Uvicorn running on") == 1
    assert output.count("Application startup complete") == 1
    assert output.count("WeChat: connecting to puppet service") == 1


async def test_two_processes_share_the_gateway_without_a_logout(
    gateway: Gateway, tmp_path: Path
) -> None:
    async with contextlib.AsyncExitStack() as stack:
        a, b = await asyncio.gather(
            stack.enter_async_context(running("bot-a", tmp_path, gateway.endpoint)),
            stack.enter_async_context(running("bot-b", tmp_path, gateway.endpoint)),
        )
        deadline = time.monotonic() + LOGIN_WITHIN
        while a.logins() + b.logins() == 0:
            assert time.monotonic() < deadline, a.tail() + b.tail()
            await asyncio.sleep(0.05)
        holder, waiting = (a, b) if a.logins() else (b, a)
        await waiting.wait_for("another client holds the gateway's event stream")
        await asyncio.sleep(3)  # several retries of the waiting process, several dings
        state = await gateway.state()
        no_logout(state)
        assert waiting.logins() == 0
        assert state["logins"] == 1  # the one login of prepare(); nobody re-logged in

        # only the holder moderates: one warning, not two
        await gateway.say("wxid_li", ROOM, f"大家来玩{BANNED}吧")
        state = await gateway.wait_state(lambda s: len(sent_to(s, ROOM)) >= 1)
        await asyncio.sleep(1.5)
        assert len(sent_to(await gateway.state(), ROOM)) == 1

        # the holder stops (SIGTERM): the other takes the stream over, still logged in
        start = time.perf_counter()
        holder.proc.terminate()
        await asyncio.to_thread(holder.proc.wait, 10)
        await waiting.wait_for("WeChat: logged in as wxid_groupguard")
        print(f"holder stopped -> the other process logged in {time.perf_counter() - start:.2f}s")
        await gateway.say("wxid_zhao", ROOM, f"我来说{BANNED}")
        state = await gateway.wait_state(
            lambda s: any(m["mentionIds"] == ["wxid_zhao"] for m in sent_to(s, ROOM))
        )
        no_logout(state)
        assert state["logins"] == 1
        assert {r["auth"] for r in state["rpcs"]} == {"metadata"}
    assert_no_secret(a, b)


async def test_a_stop_rpc_logs_the_account_out(gateway: Gateway) -> None:
    """The control for no_logout(): on this server Stop is a logout (so the bot never sends it)."""
    channel = Channel("127.0.0.1", gateway.port)
    try:
        stub = PuppetStub(channel, metadata={"authorization": f"Wechaty {WECHAT_TOKEN}"})
        await asyncio.wait_for(stub.stop(), 10)
        state = await gateway.wait_state(lambda s: s["logouts"] == 1)
        assert state["stops"] == 1
        await asyncio.wait_for(stub.start(), 10)
        await gateway.wait_state(lambda s: s["logins"] == 2)  # the puppet logged in again
    finally:
        channel.close()


async def test_a_tls_gateway_is_diagnosed(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    from plugins.wechaty_guard.supervisor import Timings, WechatySupervisor

    async with running_gateway(tmp_path, WECHAT_TOKEN, tls=True) as gateway:
        timings = Timings(connect_timeout=2, rpc_timeout=3, backoff_initial=0.2, backoff_max=0.5)
        supervisor = WechatySupervisor(gateway.endpoint, WECHAT_TOKEN, timings)
        task = asyncio.create_task(supervisor.run())
        try:
            with caplog.at_level("WARNING", logger="groupguard.wechaty"):
                deadline = time.monotonic() + 10
                while "speaks TLS" not in caplog.text:
                    assert time.monotonic() < deadline, caplog.text
                    await asyncio.sleep(0.05)
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
    assert "WECHATY_PUPPET_SERVICE_NO_TLS_INSECURE_SERVER=true" in caplog.text
    assert caplog.text.count("speaks TLS") == 1  # said once, not on every retry
    assert not supervisor.connected.is_set()


async def test_should_connect_and_drop_keep_the_login(gateway: Gateway) -> None:
    """The hooks a lease plugs into: no RPC while should_connect says no; drop() never logs out."""
    from plugins.wechaty_guard.supervisor import Timings, WechatySupervisor

    allowed = False

    async def should_connect() -> bool:
        return allowed

    timings = Timings(connect_timeout=2, rpc_timeout=3, backoff_initial=0.2, standby_interval=0.1)
    supervisor = WechatySupervisor(gateway.endpoint, WECHAT_TOKEN, timings)
    supervisor.should_connect = should_connect
    states: list[bool] = []
    supervisor.on_state.append(states.append)
    task = asyncio.create_task(supervisor.run())
    try:
        await asyncio.sleep(0.5)
        assert rpc_names(await gateway.state()) == []  # standing by: not even Start
        allowed = True
        assert await supervisor.wait_connected(5)
        assert states == [True] and supervisor.self_id == BOT_ID
        allowed = False
        supervisor.drop("lease lost")
        await gateway.wait_state(lambda s: s["rpcs"] and not supervisor.connected.is_set())
        assert states == [True, False]
        marked = len((await gateway.state())["rpcs"])
        await asyncio.sleep(0.5)
        state = await gateway.state()
        assert len(state["rpcs"]) == marked  # standing by again
        no_logout(state)
        assert supervisor.last_error == "lease lost"
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
