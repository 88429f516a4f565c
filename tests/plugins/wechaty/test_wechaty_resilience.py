"""The connection under failure: dropped server, hung server, endpoint down at startup.

Timings are shortened (see ``conftest.FAST_TIMINGS``): ding every 0.2 s with a
0.3 s deadline, backoff 0.05 s doubling to 0.3 s. Every wait is bounded.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from rules.core.model import ActionKind, Platform, utcnow
from rules.officers.outbox import OutboxSender
from tests.fakes import FakeGateway, message
from tests.plugins.wechaty.conftest import (
    BANNED,
    ROOM,
    close_service,
    start_service,
    wechat_config,
)
from tests.plugins.wechaty.fake_puppet import FakePuppetService, free_port

if TYPE_CHECKING:
    from plugins.wechaty_guard.service import WechatService

MEMBER = "wxid_member1"


def _room(fake: FakePuppetService) -> None:
    fake.add_contact(MEMBER, "小李")
    fake.add_room(ROOM, "办公室工作群", {MEMBER: "李四+办公室"})


async def _warned_after(service: WechatService, fake: FakePuppetService, text: str) -> None:
    before = len(fake.texts_to(ROOM))
    fake.post_text(ROOM, MEMBER, text)
    await fake.wait_until(lambda: len(fake.texts_to(ROOM)) == before + 1, within=3)


async def test_server_dropped_reconnects_and_continues(
    service: WechatService, fake: FakePuppetService
) -> None:
    _room(fake)
    supervisor = service.supervisor
    assert await supervisor.wait_connected(3)
    await _warned_after(service, fake, BANNED)

    await fake.stop()  # connections reset, port closed
    await fake.wait_until(lambda: not supervisor.connected.is_set(), within=2)
    assert "Connection lost" in supervisor.last_error or "closed" in supervisor.last_error
    await asyncio.sleep(0.3)  # a few refused attempts while the gateway is down
    assert "unreachable" in supervisor.last_error

    start = time.perf_counter()
    await fake.start()
    assert await supervisor.wait_connected(3)
    print(f"reconnected {(time.perf_counter() - start) * 1000:.0f} ms after the server came back")
    assert supervisor.sessions == 2
    await _warned_after(service, fake, f"又是{BANNED}")


async def test_server_hung_is_detected_and_reconnected(
    service: WechatService, fake: FakePuppetService
) -> None:
    _room(fake)
    supervisor = service.supervisor
    assert await supervisor.wait_connected(3)

    start = time.perf_counter()
    fake.hang()  # the connection stays open; nothing is answered, no event is sent
    await fake.wait_until(lambda: not supervisor.connected.is_set(), within=3)
    detected = time.perf_counter() - start
    print(f"hung server detected in {detected * 1000:.0f} ms")
    assert detected < 1.5
    assert "Ding" in supervisor.last_error or "dong" in supervisor.last_error
    # While hung, attempts time out instead of waiting forever.
    await fake.wait_until(lambda: "Start" in supervisor.last_error, within=3)

    fake.unhang()
    assert await supervisor.wait_connected(3)
    assert supervisor.sessions == 2
    await _warned_after(service, fake, BANNED)


async def test_heartbeat_without_data_does_not_end_the_stream(
    service: WechatService, fake: FakePuppetService
) -> None:
    _room(fake)
    assert await service.supervisor.wait_connected(3)
    fake.push(1, {})  # HEARTBEAT without "data": a KeyError inside python-wechaty
    fake.push(23, {})  # READY without "data": a ValueError inside python-wechaty
    await _warned_after(service, fake, BANNED)
    assert service.supervisor.sessions == 1


async def test_endpoint_down_at_startup_leaves_the_rest_running(tmp_path: Path) -> None:
    """WeChat retries in the background; the core and the QQ side keep working."""
    import plugins.wechaty_guard as plugin

    endpoint = f"127.0.0.1:{free_port()}"  # nothing listens here
    config = wechat_config(tmp_path, endpoint, escalation={"officers": ["qq:90001"]})
    start = time.perf_counter()
    service = await start_service(config)
    assert time.perf_counter() - start < 1.0  # start() does not wait for WeChat
    try:
        await asyncio.sleep(0.5)
        supervisor = service.supervisor
        assert not supervisor.connected.is_set()
        assert supervisor.failures >= 2 and "unreachable" in supervisor.last_error

        # The QQ side: the same runtime handles a QQ group message and reports to a QQ officer.
        qq = FakeGateway(platform=Platform.QQ)
        service.runtime.gateways[Platform.QQ] = qq
        decision = await service.runtime.engine.handle(
            message(f"{BANNED}!", group="qq:555", user="qq:777"), qq
        )
        assert ActionKind.WARN in qq.kinds()
        assert decision.case_id is not None

        # A WeChat action while disconnected fails cleanly (recorded), never hangs.
        wechat_event = message(
            BANNED, group=f"wechat:{ROOM}", user=f"wechat:{MEMBER}", platform=Platform.WECHAT
        )
        begin = time.perf_counter()
        wx = await service.runtime.engine.handle(wechat_event, service.gateway)
        assert time.perf_counter() - begin < 0.5
        assert any(o.status.value == "failed" for o in wx.outcomes)
    finally:
        await close_service(service)

    # The plugin's own hooks: startup returns at once with the endpoint down; shutdown is clean.
    runtime_config = wechat_config(tmp_path, endpoint)
    from rules.config import parse_config
    from rules.runtime import Runtime

    runtime = await Runtime.start(parse_config(runtime_config))
    try:
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(plugin, "get_runtime", lambda: runtime)
            begin = time.perf_counter()
            await plugin._start()
            assert time.perf_counter() - begin < 0.5
            assert plugin.get_service() is not None
            assert runtime.gateways[Platform.WECHAT] is plugin.get_service().edge  # type: ignore[union-attr]
            await asyncio.sleep(0.2)
            begin = time.perf_counter()
            await plugin._stop()
            assert time.perf_counter() - begin < 1.0
            assert plugin.get_service() is None
            assert Platform.WECHAT not in runtime.gateways
    finally:
        await runtime.close()


async def test_disabled_plugin_does_nothing() -> None:
    import plugins.wechaty_guard as plugin
    from plugins.guard import get_runtime

    runtime = get_runtime()  # the session's bot: WeChat is off in its config
    assert not runtime.config.wechat.enabled
    assert plugin.get_service() is None
    assert Platform.WECHAT not in runtime.gateways


async def test_outbox_keeps_wechat_reports_while_disconnected(
    fake: FakePuppetService, tmp_path: Path
) -> None:
    """A report queued while WeChat is down is delivered after it comes back."""
    _room(fake)
    config: dict[str, Any] = wechat_config(
        tmp_path, fake.endpoint, ladder={"steps": ["kick"], "escalate_from_step": 1}
    )
    service = await start_service(config)
    try:
        assert await service.supervisor.wait_connected(3)
        fake.post_text(ROOM, MEMBER, BANNED)
        await fake.wait_until(lambda: fake.removed == [(ROOM, MEMBER)])
        await fake.stop()
        await fake.wait_until(lambda: not service.supervisor.connected.is_set(), within=2)

        later = utcnow()
        sender = OutboxSender(
            service.runtime.storage.outbox, service.runtime.gateways, clock=lambda: later
        )
        later = utcnow().replace(year=utcnow().year + 1)  # past batch window and retries
        assert await sender.flush() == 0  # not connected: kept
        await fake.start()
        assert await service.supervisor.wait_connected(3)
        later = later.replace(year=later.year + 1)
        assert await sender.flush() == 1
        assert len(fake.texts_to("wxid_officer")) == 1
    finally:
        await close_service(service)
