"""One WeChat connection per gateway: the connection lease and the relay, in one process.

Two ``WechatService`` s on one Redis (each with its own ``RedisState``, so its
own owner token) stand for two bot processes against the fake puppet service:
exactly one connects, the other hands its WeChat work (officer reports,
actions, directory reads) to it through the relay, failures come back as
failed outcomes, and a stopped holder is replaced at once. The lease itself is
tested with a short TTL: renewed while held, taken over when the holder stops
renewing (as after kill -9), and its loss drops the session. Also: a report
that failed while WeChat was down goes out as soon as it reconnects, not after
its backoff.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from rules.config import parse_config
from rules.core.model import Action, ActionKind, OutcomeStatus, Platform, utcnow
from rules.runtime import Runtime
from rules.shared_state.memory import MemoryState
from rules.shared_state.redis import RedisState
from rules.shared_state.relay import RelayError
from tests.plugins.wechaty.conftest import (
    OFFICER,
    ROOM,
    close_service,
    fast_timings,
    start_service,
    wechat_config,
)
from tests.plugins.wechaty.fake_puppet import FakePuppetService
from tests.plugins.wechaty.test_wechaty_media import PNG, FilePuppetService

if TYPE_CHECKING:
    from plugins.wechaty_guard.service import WechatService

SECOND = timedelta(seconds=1)
MEMBER = "wxid_member1"
GROUP = f"wechat:{ROOM}"


@pytest.fixture
async def fake() -> AsyncIterator[FilePuppetService]:
    """The fake puppet service, accepting files too (chart images, exports)."""
    server = FilePuppetService()
    await server.start()
    server.add_contact(OFFICER, "纪委王老师")
    yield server
    server.unhang()
    await server.stop()


def _room(fake: FakePuppetService) -> None:
    fake.add_contact(MEMBER, "小李")
    fake.add_room(ROOM, "办公室工作群", {MEMBER: "李四+办公室"})


# ---------------------------------------------------------------- the lease


async def test_alone_the_process_always_holds_the_connection() -> None:
    from plugins.wechaty_guard.ownership import ConnectionLease

    lease = ConnectionLease(MemoryState(), "127.0.0.1:8788")
    assert lease.held  # before anything is asked: local from the start
    assert await lease.should_connect()
    assert lease.name == "wechat:127.0.0.1:8788"
    await asyncio.wait_for(lease.keep(), 0.1)  # nothing to renew: returns at once


async def test_one_holder_renewed_then_taken_over_when_it_stops_renewing(
    redis_url: str, redis_prefix: str
) -> None:
    from plugins.wechaty_guard.ownership import ConnectionLease

    ttl = timedelta(seconds=0.6)
    state_a = await RedisState.connect(redis_url, redis_prefix, SECOND)
    state_b = await RedisState.connect(redis_url, redis_prefix, SECOND)
    a = ConnectionLease(state_a, "gw:1", ttl)
    b = ConnectionLease(state_b, "gw:1", ttl)
    lost: list[str] = []
    a.on_lost = lost.append
    assert not a.held and not b.held  # shared: nobody holds it before asking
    keeper = asyncio.create_task(a.keep())
    try:
        assert await a.should_connect()
        assert not await b.should_connect()
        for _ in range(8):  # 1.2 s, twice the TTL: a renews, b never gets it
            await asyncio.sleep(0.15)
            assert not await b.should_connect()
        assert a.held and not lost

        keeper.cancel()  # a dies without releasing (kill -9)
        with contextlib.suppress(asyncio.CancelledError):
            await keeper
        started = time.perf_counter()
        while not await b.should_connect():  # noqa: ASYNC110 (polling, as the supervisor does)
            await asyncio.sleep(0.02)
        took = time.perf_counter() - started
        print(f"takeover {took * 1000:.0f} ms after the last renewal stopped (TTL 600 ms)")
        assert took <= 0.7

        # a comes back to life: its next renewal finds b, and it drops its session
        keeper = asyncio.create_task(a.keep())
        while not lost:  # noqa: ASYNC110
            await asyncio.sleep(0.02)
        assert not a.held and "lost to another process" in lost[0]
        assert await b.should_connect()
    finally:
        keeper.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await keeper
        await state_a.close()
        await state_b.close()


# ---------------------------------------------------------------- two services


async def _start_shared(
    tmp_path: Path, endpoint: str, redis_url: str, prefix: str, name: str
) -> Any:
    directory = tmp_path / name
    directory.mkdir()
    config = wechat_config(directory, endpoint, redis={"url": redis_url, "key_prefix": prefix})
    from plugins.wechaty_guard.service import WechatService

    runtime = await Runtime.start(parse_config(config), share=True)
    service = WechatService(runtime, timings=fast_timings())
    service.throttle.per_room = 0.0
    service.throttle.overall = 0.0
    service.start()
    return service


@pytest.fixture
async def pair(
    fake: FakePuppetService, tmp_path: Path, redis_url: str, redis_prefix: str
) -> AsyncIterator[tuple[WechatService, WechatService]]:
    _room(fake)
    a = await _start_shared(tmp_path, fake.endpoint, redis_url, redis_prefix, "a")
    b = await _start_shared(tmp_path, fake.endpoint, redis_url, redis_prefix, "b")
    try:
        deadline = time.monotonic() + 5
        while not (a.supervisor.connected.is_set() or b.supervisor.connected.is_set()):
            assert time.monotonic() < deadline, "nobody connected"
            await asyncio.sleep(0.02)
        holder, other = (a, b) if a.supervisor.connected.is_set() else (b, a)
        yield holder, other
    finally:
        for service in (a, b):
            with contextlib.suppress(Exception):
                await close_service(service)


async def test_exactly_one_connects_and_the_other_works_through_it(
    pair: tuple[WechatService, WechatService], fake: FilePuppetService
) -> None:
    holder, other = pair
    await asyncio.sleep(0.5)  # several standby polls and dings
    assert fake.streams == 1 and fake.calls.count("Start") == 1
    assert holder.lease.held and not other.lease.held
    assert not other.supervisor.connected.is_set()
    edge = other.runtime.gateways[Platform.WECHAT]
    assert edge is other.edge and other.edge.relayed

    # an officer report from the other process's outbox
    started = time.perf_counter()
    await edge.send_private(f"wechat:{OFFICER}", "报告：测试")
    print(f"relayed private message {1000 * (time.perf_counter() - started):.1f} ms")
    assert [t.text for t in fake.texts_to(OFFICER)] == ["报告：测试"]
    assert holder.desk.answered == 1

    # a chart image and an export file
    await other.edge.send_private_image(f"wechat:{OFFICER}", PNG)
    await other.edge.send_private_file(f"wechat:{OFFICER}", "cases.xlsx", b"PK\x03\x04")
    assert fake.file_bytes(0) == (OFFICER, "chart.png", PNG)
    assert fake.file_bytes(1) == (OFFICER, "cases.xlsx", b"PK\x03\x04")

    # directory reads teach the other process what the bot may do in the room
    assert other.edge.capabilities(GROUP) == frozenset({ActionKind.WARN, ActionKind.REMIND})
    members = await other.edge.list_members(GROUP)
    assert {m.id: m.card for m in members}[f"wechat:{MEMBER}"] == "李四+办公室"
    assert ActionKind.KICK in other.edge.capabilities(GROUP)  # the bot owns the room
    assert (await other.edge.group_info(GROUP)).name == "办公室工作群"
    assert GROUP in await other.edge.list_groups()

    # actions its engine or commands decide
    warn = Action(ActionKind.WARN, GROUP, f"wechat:{MEMBER}", text="请遵守群规")
    outcome = await other.edge.perform(warn)
    assert outcome.status is OutcomeStatus.DONE and outcome.action == warn
    assert fake.texts_to(ROOM)[-1].mentonal_ids == [MEMBER]
    kick = Action(ActionKind.KICK, GROUP, f"wechat:{MEMBER}", case_id=7)
    assert (await other.edge.perform(kick)).status is OutcomeStatus.DONE
    assert fake.removed == [(ROOM, MEMBER)]
    mute = Action(ActionKind.MUTE, GROUP, f"wechat:{MEMBER}", duration=timedelta(minutes=10))
    assert (await other.edge.perform(mute)).status is OutcomeStatus.SKIPPED
    await other.edge.say(GROUP, "命令的回复")
    assert fake.texts_to(ROOM)[-1].text == "命令的回复"
    assert fake.streams == 1  # all of it on the holder's one connection


async def test_relay_failures_are_failed_outcomes_in_bounded_time(
    pair: tuple[WechatService, WechatService], fake: FakePuppetService
) -> None:
    _, other = pair
    other.remote.timeout = 0.5
    warn = Action(ActionKind.WARN, GROUP, f"wechat:{MEMBER}", text="请遵守群规")

    # the gateway hangs: the holder's calls fail or time out; so do the relayed ones, in time
    fake.hang()
    try:
        started = time.perf_counter()
        outcome = await other.edge.perform(warn)
        assert time.perf_counter() - started < 1.5
        assert outcome.status is OutcomeStatus.FAILED, outcome
        started = time.perf_counter()
        with pytest.raises(RelayError):
            await other.edge.send_private(f"wechat:{OFFICER}", "x")
        assert time.perf_counter() - started < 1.5
    finally:
        fake.unhang()

    # the lease names a holder that is gone (killed, lease not yet expired): no answer
    shared = other.runtime.shared
    assert isinstance(shared, RedisState)
    await shared.redis.set(shared._key("lease", other.lease.name), "dead-host:1:0", px=5000)
    started = time.perf_counter()
    outcome = await other.edge.perform(warn)
    assert time.perf_counter() - started < 1.5
    assert outcome.status is OutcomeStatus.FAILED and "did not answer" in outcome.detail


async def test_a_stopped_holder_hands_the_connection_over_at_once(
    pair: tuple[WechatService, WechatService], fake: FakePuppetService
) -> None:
    holder, other = pair
    started = time.perf_counter()
    await close_service(holder)  # closes its session, then releases the lease
    assert await other.supervisor.wait_connected(5)
    took = time.perf_counter() - started
    print(f"holder stopped -> the other connected in {took * 1000:.0f} ms")
    assert took < 2.5
    assert other.lease.held and not other.edge.relayed
    await other.edge.send_private(f"wechat:{OFFICER}", "接管后的报告")
    assert fake.texts_to(OFFICER)[-1].text == "接管后的报告"
    assert fake.streams == 1


async def test_a_reconnect_is_announced_to_the_other_process(
    pair: tuple[WechatService, WechatService], fake: FakePuppetService
) -> None:
    holder, other = pair
    woken: list[str] = []
    holder.on_connected = lambda: woken.append("holder")
    other.on_connected = lambda: woken.append("other")
    await fake.stop()
    await fake.wait_until(lambda: not holder.supervisor.connected.is_set(), within=2)
    await fake.start()
    assert await holder.supervisor.wait_connected(3)
    await fake.wait_until(lambda: "other" in woken, within=3)
    assert woken.count("holder") >= 1


# ---------------------------------------------------------------- reports at reconnect


async def test_a_report_due_while_wechat_was_down_goes_at_the_reconnect(
    fake: FakePuppetService, tmp_path: Path
) -> None:
    """Not after the outbox's 30 s backoff: on_connected flushes with the platform named."""
    _room(fake)
    config: dict[str, Any] = wechat_config(
        tmp_path,
        fake.endpoint,
        ladder={"steps": ["kick"], "escalate_from_step": 1},
        escalation={"officers": [f"wechat:{OFFICER}"], "batch_window": "1s"},
    )
    service = await start_service(config)
    try:
        assert await service.supervisor.wait_connected(3)
        sender = service.runtime.outbox()
        flushed: list[int] = []

        async def flush_reconnected() -> None:
            flushed.append(await sender.flush(reconnected={Platform.WECHAT}))

        tasks: set[asyncio.Task[None]] = set()

        def on_connected() -> None:
            task = asyncio.get_running_loop().create_task(flush_reconnected())
            tasks.add(task)

        service.on_connected = on_connected
        await fake.stop()
        await fake.wait_until(lambda: not service.supervisor.connected.is_set(), within=2)
        # a case while WeChat is down (e.g. decided on QQ): its report cannot be sent
        case = await service.runtime.engine.handle(_banned_event(), service.edge)
        assert case.case_id is not None
        await asyncio.sleep(1.1)  # the batch window
        assert await sender.flush() == 0  # failed: now waits out a 30 s backoff
        queued = await sender.store.due_reports(utcnow() + timedelta(hours=1))
        assert [i.attempts for i in queued] == [1]
        assert await sender.flush() == 0  # ... and a plain flush respects it
        await fake.start()
        started = time.perf_counter()
        await fake.wait_until(lambda: bool(fake.texts_to(OFFICER)), within=3)
        took = time.perf_counter() - started
        print(f"gateway back -> report delivered {took * 1000:.0f} ms (backoff was 30 s)")
        await asyncio.wait_for(asyncio.gather(*tasks), 3)
        assert flushed == [1]
        assert len(fake.texts_to(OFFICER)) == 1
        assert await sender.flush(reconnected={Platform.WECHAT}) == 0  # sent once
    finally:
        await close_service(service)


def _banned_event() -> Any:
    from tests.fakes import message
    from tests.plugins.wechaty.conftest import BANNED

    return message(BANNED, group=GROUP, user=f"wechat:{MEMBER}", platform=Platform.WECHAT)


async def test_a_command_in_the_other_process_acts_through_the_holder(
    pair: tuple[WechatService, WechatService], fake: FakePuppetService
) -> None:
    """An officer's private command (here from QQ) on a WeChat room: lookup and warning relayed."""
    from rules.commands import CommandRequest
    from rules.core.model import Member

    _, other = pair
    assert other.runtime.commands is not None
    request = CommandRequest(
        platform=Platform.QQ,
        caller=Member(f"wechat:{OFFICER}"),
        text=f"/警告 {GROUP} wechat:{MEMBER} 请注意群规",
        time=utcnow(),
    )
    reply = await asyncio.wait_for(other.runtime.commands.handle(request), 10)
    print(f"reply: {reply}")
    assert fake.texts_to(ROOM) and fake.texts_to(ROOM)[-1].mentonal_ids == [MEMBER]
