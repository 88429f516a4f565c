"""WeChat pictures end to end: the real python-wechaty client against the fake puppet service.

Picture and emoticon messages carry a file box (``MessageImage`` / ``MessageFile``):
base64 for pictures, a URL on a loopback HTTP server (WeChat's CDN) for an emoticon.
One runtime (its picture pool is a spawned process: the first picture pays the spawn
and the OCR model load), one room the bot owns:

- a clean photo passes;
- a picture whose text carries a banned term, a poster with a QR code to a site that
  is not allowed, and an emoticon with a banned term: each sender is warned (WeChat
  cannot recall another member's message: the deletion is recorded as skipped);
- a picture on the blocklist (``[images] blocklist``, folder ``ads``), re-sent resized
  and recompressed: warned.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any

import pytest
from wechaty_grpc.wechaty.puppet import MessageType

from rules.config import ImageSettings
from rules.core.model import ActionKind, Decision, EventKind, ImageKind, ImageRef, OutcomeStatus
from rules.images.fetch import ImageFetchError
from tests import imagegen
from tests.plugins.wechaty.conftest import BANNED, ROOM, close_service, start_service, wechat_config
from tests.plugins.wechaty.fake_puppet import (
    TS_EMOTICON,
    FakePuppetService,
    base64_box,
    url_box,
)

if TYPE_CHECKING:  # plugin modules are imported once nonebot has loaded the plugins
    from plugins.wechaty_guard.pictures import WechatPictures

FIRST_PICTURE = 60.0  # seconds: pool spawn + model load + OCR on a loaded machine
PICTURE = 30.0
MEMBERS = {f"wxid_m{n}": f"成员{n}+办公室" for n in range(1, 6)}


class Files(dict[str, bytes]):
    """What the loopback CDN serves, and the paths it was asked for."""

    def __init__(self) -> None:
        super().__init__()
        self.requests: list[str] = []


@pytest.fixture
def cdn() -> Iterator[tuple[str, Files]]:
    """A loopback HTTP server: GET /NAME answers the bytes stored under NAME."""
    files = Files()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            files.requests.append(self.path)
            body = files.get(self.path.lstrip("/"))
            self.send_response(200 if body is not None else 404)
            self.send_header("Content-Length", str(len(body or b"")))
            self.end_headers()
            self.wfile.write(body or b"")

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}", files
    server.shutdown()
    server.server_close()


def warned(fake: FakePuppetService) -> list[str]:
    """Who the bot's room messages mentioned, in order."""
    return [m for sent in fake.texts_to(ROOM) for m in sent.mentonal_ids]


async def until_warned(fake: FakePuppetService, member: str, within: float) -> float:
    start = time.monotonic()
    await fake.wait_until(lambda: member in warned(fake), within=within)
    return time.monotonic() - start


async def test_wechat_pictures_end_to_end(
    fake: FakePuppetService, tmp_path: Path, cdn: tuple[str, Files]
) -> None:
    known = imagegen.photo(seed=9)
    blocklist = tmp_path / "blocklist" / "ads"
    blocklist.mkdir(parents=True)
    (blocklist / "known.png").write_bytes(imagegen.png(known))
    config = wechat_config(  # fetch_private: the emoticon's URL box is on a loopback server
        tmp_path,
        fake.endpoint,
        images={"blocklist": [str(blocklist / "*.png")], "fetch_private": True},
    )
    for member in MEMBERS:
        fake.add_contact(member, member.removeprefix("wxid_"))
    fake.add_room(ROOM, "办公室工作群", MEMBERS)
    service = await start_service(config)
    try:
        assert await service.supervisor.wait_connected(3)

        fake.post_image(ROOM, "wxid_m1", imagegen.jpeg(imagegen.photo(seed=3)))
        worded = imagegen.jpeg(imagegen.text_image([f"大家来玩{BANNED}吧"]))
        fake.post_image(ROOM, "wxid_m2", worded)
        took = await until_warned(fake, "wxid_m2", FIRST_PICTURE)
        print(f"first picture (pool spawn, model load, OCR) -> warning: {took:.1f} s")

        poster = imagegen.poster(title="福利", lines=("欢迎",), qr_payload="https://lucky8.vip/x")
        fake.post_image(ROOM, "wxid_m3", imagegen.jpeg(poster))
        print(f"QR poster -> warning: {await until_warned(fake, 'wxid_m3', PICTURE):.2f} s")

        cdn_url, files = cdn
        files["e.png"] = imagegen.png(imagegen.text_image([BANNED], width=500))
        emoticon = '<msg><emoji md5="0123456789abcdef0123456789abcdef" /></msg>'
        fake.post_file_box(ROOM, "wxid_m5", TS_EMOTICON, url_box(f"{cdn_url}/e.png", "e"), emoticon)
        print(f"emoticon by URL -> warning: {await until_warned(fake, 'wxid_m5', PICTURE):.2f} s")

        copy = imagegen.recompressed(imagegen.resized(known, 0.7), 55)
        fake.post_image(ROOM, "wxid_m4", imagegen.jpeg(copy, 70))
        took = await until_warned(fake, "wxid_m4", PICTURE)
        print(f"blocklisted picture, resized copy -> warning: {took:.2f} s")

        # every picture was looked at (an IMAGES event each); four held something
        await fake.wait_until(
            lambda: sum(e.kind is EventKind.IMAGES for e in service.events) == 5, within=PICTURE
        )
        assert sorted(warned(fake)) == ["wxid_m2", "wxid_m3", "wxid_m4", "wxid_m5"]
        assert fake.removed == []  # first strikes: a warning each

        def verdicts() -> list[Decision]:
            return [d for d in service.decisions if any(f.image is not None for f in d.findings)]

        await fake.wait_until(lambda: len(verdicts()) == 4)
        for verdict in verdicts():
            kinds = {o.action.kind: o.status for o in verdict.outcomes}
            assert kinds[ActionKind.WARN] is OutcomeStatus.DONE
            assert kinds.get(ActionKind.DELETE, OutcomeStatus.SKIPPED) is OutcomeStatus.SKIPPED
        assert "MessageImage" in fake.calls and "MessageFile" in fake.calls
    finally:
        await close_service(service)


# ------------------------------------------------------------------ fetching, unit


class FakeStub:
    """The puppet stub's picture RPCs, answering file boxes (or failing) as told."""

    def __init__(self, image: dict[int, object], file: object = None) -> None:
        self.image = image  # ImageType value -> file box dict, or an exception
        self.file = file
        self.asked: list[str] = []

    async def message_image(self, *, id: str, type: int) -> SimpleNamespace:
        self.asked.append(f"image:{int(type)}")
        return self._answer(self.image.get(int(type), RuntimeError("no such size")))

    async def message_file(self, *, id: str) -> SimpleNamespace:
        self.asked.append("file")
        return self._answer(self.file or RuntimeError("no file"))

    @staticmethod
    def _answer(box: object) -> SimpleNamespace:
        if isinstance(box, Exception):
            raise box
        return SimpleNamespace(filebox=json.dumps(box))


def _pictures(stub: FakeStub, **settings: Any) -> WechatPictures:
    from plugins.wechaty_guard.pictures import WechatPictures

    async def call(awaitable: Any, what: str) -> Any:
        return await awaitable

    supervisor = SimpleNamespace(puppet=SimpleNamespace(puppet_stub=stub), call=call)
    image_settings = ImageSettings(**settings)
    return WechatPictures(supervisor, lambda: image_settings)  # type: ignore[arg-type]


PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(64))
HD, THUMBNAIL = 2, 1


async def test_the_thumbnail_when_the_hd_picture_cannot_be_had() -> None:
    stub = FakeStub({THUMBNAIL: base64_box(PNG, "t.png")})
    pictures = _pictures(stub)
    ref = pictures.picture_of("m1", MessageType.MESSAGE_TYPE_IMAGE, "")
    assert ref == ImageRef("wechat:m1", "m1", ImageKind.IMAGE)
    assert await pictures.fetch(ref) == PNG
    assert stub.asked == [f"image:{HD}", f"image:{THUMBNAIL}"]


async def test_unreadable_boxes_and_limits_say_why() -> None:
    qr_box = {"boxType": 3, "name": "qrcode.png", "qrCode": "https://x"}
    pictures = _pictures(FakeStub({HD: qr_box}))
    with pytest.raises(ImageFetchError, match="type 3"):
        await pictures.fetch(ImageRef("k", "m1"))
    big = _pictures(FakeStub({HD: base64_box(PNG + bytes(4096), "b.png")}), max_bytes=1024)
    with pytest.raises(ImageFetchError, match="too_large"):
        await big.fetch(ImageRef("k", "m1"))
    local = _pictures(FakeStub({HD: url_box("file:///etc/hostname", "h")}))
    with pytest.raises(ImageFetchError, match="not http"):
        await local.fetch(ImageRef("k", "m1"))


async def test_an_emoticon_falls_back_to_its_cdn_link(cdn: tuple[str, Files]) -> None:
    cdn_url, files = cdn
    files["s.png"] = PNG
    stub = FakeStub({})
    pictures = _pictures(stub, fetch_private=True)  # the CDN stand-in is on loopback
    xml = f'&lt;emoji md5="{"A" * 32}" cdnurl="{cdn_url}/s.png" /&gt;'
    ref = pictures.picture_of("m2", MessageType.MESSAGE_TYPE_EMOTICON, xml)
    assert ref == ImageRef("wechat-emoticon:" + "a" * 32, "m2", ImageKind.STICKER)
    assert await pictures.fetch(ref) == PNG
    assert stub.asked == ["file"]
    assert pictures.picture_of("m3", MessageType.MESSAGE_TYPE_TEXT, "hi") is None


@pytest.mark.parametrize("where", ["file box", "emoticon cdnurl"])
async def test_urls_from_the_message_reach_public_addresses_only(
    cdn: tuple[str, Files], where: str
) -> None:
    """A file box's remoteUrl and an emoticon's cdnurl are the sender's to choose: by
    default neither the loopback server nor cloud metadata is asked; ``fetch_private``
    lets the loopback server in."""
    cdn_url, files = cdn
    files["s.png"] = PNG
    targets = [f"{cdn_url}/s.png", "http://169.254.169.254/latest/meta-data/"]
    for target, private in [(targets[0], False), (targets[1], False), (targets[0], True)]:
        if where == "file box":
            pictures = _pictures(FakeStub({HD: url_box(target, "s")}), fetch_private=private)
            ref = pictures.picture_of("m1", MessageType.MESSAGE_TYPE_IMAGE, "")
        else:
            pictures = _pictures(FakeStub({}), fetch_private=private)
            xml = f'&lt;emoji md5="{"B" * 32}" cdnurl="{target}" /&gt;'
            ref = pictures.picture_of("m4", MessageType.MESSAGE_TYPE_EMOTICON, xml)
        assert ref is not None
        if private:
            assert await pictures.fetch(ref) == PNG
            continue
        with pytest.raises(ImageFetchError, match=r"not_allowed: .* private or local address"):
            await pictures.fetch(ref)
        assert files.requests == []
    assert files.requests == ["/s.png"]
