"""The WeChat gateway sends officers images and files as base64 FileBoxes (MessageSendFile).

The real python-wechaty client against the fake puppet service, extended here
with the ``MessageSendFile`` RPC, over loopback gRPC; then a digest with its
chart goes through the outbox to a WeChat officer.
"""

from __future__ import annotations

import base64
import json
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from grpclib.const import Cardinality, Handler
from grpclib.server import Stream
from wechaty_grpc.wechaty import puppet as pb

from rules.core.model import utcnow
from rules.officers.outbox import OutboxSender
from tests.plugins.wechaty.conftest import OFFICER, close_service, start_service, wechat_config
from tests.plugins.wechaty.fake_puppet import FakePuppetService

if TYPE_CHECKING:
    from plugins.wechaty_guard.service import WechatService

PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(32))


class FilePuppetService(FakePuppetService):
    """The fake puppet service, also accepting files (records conversation id and FileBox JSON)."""

    def __init__(self) -> None:
        super().__init__()
        self.files: list[tuple[str, dict[str, Any]]] = []

    async def _message_send_file(self, stream: Stream[Any, Any]) -> None:
        def reply(request: pb.MessageSendFileRequest) -> pb.MessageSendFileResponse:
            self.files.append((request.conversation_id, json.loads(request.filebox)))
            return pb.MessageSendFileResponse()

        await self._unary("MessageSendFile", stream, reply)

    def __mapping__(self) -> dict[str, Handler]:
        return super().__mapping__() | {
            "/wechaty.Puppet/MessageSendFile": Handler(
                self._message_send_file,
                Cardinality.UNARY_UNARY,
                pb.MessageSendFileRequest,
                pb.MessageSendFileResponse,
            )
        }

    def file_bytes(self, n: int) -> tuple[str, str, bytes]:
        conversation, box = self.files[n]
        return conversation, box["name"], base64.b64decode(box["base64"])


@pytest.fixture
async def fake() -> AsyncIterator[FilePuppetService]:
    server = FilePuppetService()
    await server.start()
    server.add_contact(OFFICER, "纪委王老师")
    yield server
    await server.stop()


@pytest.fixture
async def service(fake: FilePuppetService, tmp_path: Path) -> AsyncIterator[WechatService]:
    svc = await start_service(wechat_config(tmp_path, fake.endpoint))
    yield svc
    await close_service(svc)


async def test_file_and_image_reach_the_officer(
    service: WechatService, fake: FilePuppetService
) -> None:
    assert await service.supervisor.wait_connected(3)
    await service.gateway.send_private_file(f"wechat:{OFFICER}", "cases.xlsx", b"PK\x03\x04data")
    await service.gateway.send_private_image(f"wechat:{OFFICER}", PNG)
    assert fake.file_bytes(0) == (OFFICER, "cases.xlsx", b"PK\x03\x04data")
    assert fake.file_bytes(1) == (OFFICER, "chart.png", PNG)


async def test_digest_with_chart_through_the_outbox(
    service: WechatService, fake: FilePuppetService
) -> None:
    assert await service.supervisor.wait_connected(3)
    store = service.runtime.storage.outbox
    now = utcnow()
    await store.enqueue_digest(f"wechat:{OFFICER}", [("【群卫士日报】", PNG)], [], "d1", now)
    sender = OutboxSender(store, service.runtime.gateways, clock=lambda: now + timedelta(seconds=1))
    assert await sender.flush() == 1
    assert [t.text for t in fake.texts_to(OFFICER)] == ["【群卫士日报】"]
    assert fake.file_bytes(0) == (OFFICER, "chart.png", PNG)
