"""The QQ gateway sends officers images and files: the exact OneBot calls (nonebug).

Images go as an ``image`` segment with ``base64://`` data. Files go through
``upload_private_file``: first as base64 (NapCat, LLOneBot), and when the
implementation refuses that, from a temporary local file (Lagrange.OneBot reads
paths only), which is removed afterwards.
"""

from __future__ import annotations

import base64
from pathlib import Path

import pytest
from nonebot.adapters.onebot.v11 import ActionFailed, Adapter, Bot, Message, MessageSegment
from nonebug import App

PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(64))
XLSX = b"PK\x03\x04 an export" * 10
NAME = "groupguard-cases-20261101-20261109.xlsx"


class LocalFile:
    """Equal to a ``file`` argument that names an existing file holding ``data`` (at call time)."""

    def __init__(self, data: bytes, name: str) -> None:
        self.data = data
        self.name = name
        self.seen: Path | None = None

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, str) or other.startswith("base64://"):
            return False
        path = Path(other)
        self.seen = path
        return path.is_absolute() and path.name == self.name and path.read_bytes() == self.data

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"LocalFile({self.name})"


def upload(file: object) -> dict[str, object]:
    return {"user_id": 90001, "file": file, "name": NAME}


async def test_image_is_a_base64_image_segment(app: App) -> None:
    from plugins.onebot_guard import get_gateway

    async with app.test_api() as ctx:
        ctx.create_bot(base=Bot, adapter=ctx.create_adapter(base=Adapter), self_id="10011")
        image = MessageSegment.image(PNG)
        assert image.data["file"] == "base64://" + base64.b64encode(PNG).decode()
        ctx.should_call_api(
            "send_private_msg", {"user_id": 90001, "message": Message(image)}, {"message_id": 5}
        )
        await get_gateway().send_private_image("qq:90001", PNG)


async def test_file_is_uploaded_as_base64(app: App) -> None:
    from plugins.onebot_guard import get_gateway

    encoded = "base64://" + base64.b64encode(XLSX).decode()
    async with app.test_api() as ctx:
        ctx.create_bot(base=Bot, adapter=ctx.create_adapter(base=Adapter), self_id="10012")
        ctx.should_call_api("upload_private_file", upload(encoded), None)
        await get_gateway().send_private_file("qq:90001", NAME, XLSX)


async def test_file_falls_back_to_a_local_path_then_removes_it(app: App) -> None:
    from plugins.onebot_guard import get_gateway

    encoded = "base64://" + base64.b64encode(XLSX).decode()
    local = LocalFile(XLSX, NAME)
    async with app.test_api() as ctx:
        ctx.create_bot(base=Bot, adapter=ctx.create_adapter(base=Adapter), self_id="10013")
        refused = ActionFailed(status="failed", retcode=1200, wording="file not found")
        ctx.should_call_api("upload_private_file", upload(encoded), exception=refused)
        ctx.should_call_api("upload_private_file", upload(local), None)
        await get_gateway().send_private_file("qq:90001", NAME, XLSX)
    assert local.seen is not None and not local.seen.exists()


async def test_file_refused_both_ways_raises_with_both_reasons(app: App) -> None:
    from plugins.onebot_guard import get_gateway

    encoded = "base64://" + base64.b64encode(XLSX).decode()
    async with app.test_api() as ctx:
        ctx.create_bot(base=Bot, adapter=ctx.create_adapter(base=Adapter), self_id="10014")
        no_b64 = ActionFailed(status="failed", retcode=1200, wording="bad file")
        no_path = ActionFailed(status="failed", retcode=1200, wording="not a friend")
        ctx.should_call_api("upload_private_file", upload(encoded), exception=no_b64)
        ctx.should_call_api("upload_private_file", upload(LocalFile(XLSX, NAME)), exception=no_path)
        with pytest.raises(RuntimeError) as caught:
            await get_gateway().send_private_file("qq:90001", NAME, XLSX)
    assert "bad file" in str(caught.value) and "not a friend" in str(caught.value)
