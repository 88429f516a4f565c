"""Fixtures for the WeChat edge: a fake puppet service and a WechatService on a test runtime.

Every test gets fresh python-wechaty globals (contact/room pools, message-id
dedupe set), its own fake server on a free loopback port, its own in-memory
store and word list, and short timeouts so failures are detected in well under
a second.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from rules.config import parse_config
from rules.runtime import Runtime
from tests.plugins.wechaty.fake_puppet import FakePuppetService

if TYPE_CHECKING:  # plugin modules are imported once nonebot has loaded the plugins
    from plugins.wechaty_guard.service import WechatService
    from plugins.wechaty_guard.supervisor import Timings

FAST_TIMINGS = {
    "connect_timeout": 0.5,
    "rpc_timeout": 1.0,
    "ding_interval": 0.2,
    "ding_timeout": 0.3,
    "backoff_initial": 0.05,
    "backoff_max": 0.3,
}


def fast_timings() -> Timings:
    from plugins.wechaty_guard.supervisor import Timings

    return Timings(**FAST_TIMINGS)


ROOM = "20001@chatroom"
OFFICER = "wxid_officer"
BANNED = "测试违禁词"


@pytest.fixture(autouse=True)
def fresh_wechaty() -> Iterator[None]:
    from plugins.wechaty_guard.compat import reset_wechaty_globals

    reset_wechaty_globals()
    yield
    reset_wechaty_globals()


@pytest.fixture
async def fake() -> AsyncIterator[FakePuppetService]:
    server = FakePuppetService()
    await server.start()
    server.add_contact(OFFICER, "纪委王老师")
    yield server
    server.unhang()
    await server.stop()


def wechat_config(tmp_path: Path, endpoint: str, **overrides: Any) -> dict[str, Any]:
    words = tmp_path / "testbad.txt"
    words.write_text(BANNED + "\n", encoding="utf-8")
    data: dict[str, Any] = {
        "database": {"url": "sqlite+aiosqlite://"},
        "wechat": {"enabled": True, "endpoint": endpoint, "token": "test-token"},
        "keywords": {"files": [str(words)]},
        "ladder": {"steps": ["warn", "kick"], "escalate_from_step": 2},
        "escalation": {"officers": [f"wechat:{OFFICER}"]},
    }
    data.update(overrides)
    return data


async def start_service(config: dict[str, Any]) -> WechatService:
    from plugins.wechaty_guard.service import WechatService

    runtime = await Runtime.start(parse_config(config))
    service = WechatService(runtime, timings=fast_timings())
    service.throttle.per_room = 0.0
    service.throttle.overall = 0.0
    service.start()
    return service


async def close_service(service: WechatService) -> None:
    await service.stop()
    await service.runtime.close()


@pytest.fixture
async def service(fake: FakePuppetService, tmp_path: Path) -> AsyncIterator[WechatService]:
    svc = await start_service(wechat_config(tmp_path, fake.endpoint))
    yield svc
    await close_service(svc)
