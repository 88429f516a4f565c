"""QQ pictures: which segments become pictures, and how their bytes are fetched.

Translation is pure (segments in, ``ImageRef`` values out). Fetching runs against a
stand-in account whose ``get_image`` answers as NapCat (a local path), as an
implementation that returns base64, or refuses the action (retcode 1404), and a
loopback HTTP server standing in for QQ's CDN. A URL written in the message is fetched
from a loopback server only with ``[images] fetch_private`` on; what ``get_image``
answers is the implementation's own and is fetched wherever it points.
"""

from __future__ import annotations

import asyncio
import base64
import json
import threading
from collections.abc import Iterator
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from nonebot.adapters.onebot.v11 import ActionFailed

from rules.config import ImageSettings
from rules.core.model import ImageKind, ImageRef
from rules.images.fetch import ImageFetchError

PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(64))
JPEG = b"\xff\xd8\xff\xe0" + bytes(64)
MD5_NAME = "5C2A4B1F0E9D8C7B6A5F4E3D2C1B0A99.jpg"


def _segments(*segments: dict[str, Any]) -> Any:
    from plugins.onebot_guard.translate import read_segments

    return read_segments(list(segments))


def test_image_segments_become_pictures() -> None:
    read = _segments(
        {"type": "text", "data": {"text": "看图"}},
        {"type": "image", "data": {"file": MD5_NAME, "url": "https://qq.cdn/a", "sub_type": 0}},
        {"type": "image", "data": {"file": "B.jpg", "url": "https://qq.cdn/b", "type": "flash"}},
        {"type": "image", "data": {"file": "C.gif", "url": "https://qq.cdn/c", "sub_type": 1}},
        {"type": "image", "data": {"file": "D.gif", "url": "https://qq.cdn/d", "subType": "1"}},
        {"type": "mface", "data": {"url": "https://gxh.vip.qq.com/x.gif", "emoji_id": "e1"}},
    )
    assert read.joined_text() == "看图"
    assert read.images == [
        ImageRef(MD5_NAME, "https://qq.cdn/a", ImageKind.IMAGE),
        ImageRef("B.jpg", "https://qq.cdn/b", ImageKind.FLASH),
        ImageRef("C.gif", "https://qq.cdn/c", ImageKind.STICKER),
        ImageRef("D.gif", "https://qq.cdn/d", ImageKind.STICKER),
        ImageRef("mface:e1", "https://gxh.vip.qq.com/x.gif", ImageKind.STICKER),
    ]


def test_card_previews_and_forwarded_pictures() -> None:
    ark = {"meta": {"news": {"jumpUrl": "https://x.example/a", "preview": "https://p.qpic/1.jpg"}}}
    inner = [{"type": "image", "data": {"file": "F"}}]
    xml = '<msg url="https://y.example"><picture cover="http://p.qpic/2.png"/></msg>'
    read = _segments(
        {"type": "json", "data": {"data": json.dumps(ark)}},
        {"type": "xml", "data": {"data": xml}},
        {"type": "share", "data": {"url": "https://z.example", "image": "//p.qpic/3.png"}},
        {"type": "json", "data": {"data": json.dumps({"preview": "file:///etc/passwd"})}},
        {"type": "forward", "data": {"content": [{"type": "node", "data": {"content": inner}}]}},
    )
    assert [r.source for r in read.images] == [
        "https://p.qpic/1.jpg",
        "http://p.qpic/2.png",
        "https://p.qpic/3.png",
        "",
    ]
    assert read.images[-1].key == "F"


def test_inline_pictures_and_the_cap() -> None:
    data = "base64://" + base64.b64encode(PNG).decode()
    (inline,) = _segments({"type": "image", "data": {"file": data}}).images
    assert inline.key.startswith("inline:") and inline.source == data
    many = [{"type": "image", "data": {"file": f"{n}.jpg"}} for n in range(30)]
    assert len(_segments(*many).images) == 20
    same = [{"type": "image", "data": {"file": "1.jpg", "url": "u"}}] * 3
    assert len(_segments(*same).images) == 1


def test_a_message_with_pictures_takes_the_raw_lane() -> None:
    from plugins.onebot_guard.translate import GroupMessage, group_message, read_segments

    data = {
        "time": 1765000000,
        "self_id": 10000,
        "post_type": "message",
        "message_type": "group",
        "sub_type": "normal",
        "message_id": 7,
        "group_id": 5001,
        "user_id": 2001,
        "message": [{"type": "image", "data": {"file": MD5_NAME, "url": "https://qq.cdn/a"}}],
        "raw_message": "",
        "font": 0,
        "sender": {"user_id": 2001, "nickname": "n", "card": "c", "role": "member"},
    }
    message = GroupMessage.of_json(data)
    assert message is not None
    chat = group_message(message, read_segments(message.segments))
    assert chat.images == (ImageRef(MD5_NAME, "https://qq.cdn/a"),)


# ------------------------------------------------------------------ fetching


class FakeAccount:
    """Stands in for a connected bot: answers ``get_image`` as told."""

    def __init__(self, self_id: str, answer: Any) -> None:
        self.self_id = self_id
        self.answer = answer
        self.asked: list[dict[str, Any]] = []

    async def call_api(self, api: str, **params: Any) -> Any:
        assert api == "get_image"
        self.asked.append(params)
        if isinstance(self.answer, Exception):
            raise self.answer
        return self.answer


class Cdn:
    """A loopback HTTP server: GET /<name> returns the bytes registered under it."""

    def __init__(self) -> None:
        self.files: dict[str, bytes] = {}
        self.requests: list[str] = []
        files, requests = self.files, self.requests

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                requests.append(self.path)
                body = files.get(self.path.lstrip("/"))
                self.send_response(200 if body is not None else 404)
                self.send_header("Content-Length", str(len(body or b"")))
                self.end_headers()
                self.wfile.write(body or b"")

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


@pytest.fixture
def cdn() -> Iterator[Cdn]:
    server = Cdn()
    yield server
    server.server.shutdown()
    server.server.server_close()


def _pictures(**settings: Any) -> Any:
    from plugins.onebot_guard.accounts import Accounts
    from plugins.onebot_guard.pictures import QQPictures

    image_settings = ImageSettings(**settings)
    return QQPictures(Accounts(lambda: {}), lambda: image_settings)


async def test_get_image_local_file_first(tmp_path: Path, cdn: Cdn) -> None:
    cached = tmp_path / MD5_NAME
    cached.write_bytes(PNG)
    cdn.files["a"] = JPEG
    account = FakeAccount("1", {"file": str(cached), "url": f"{cdn.url}/a"})
    data = await _pictures().fetch(ImageRef(MD5_NAME, f"{cdn.url}/a"), [account])
    assert data == PNG
    assert account.asked == [{"file": MD5_NAME}]


async def test_get_image_base64_answer() -> None:
    account = FakeAccount("1", {"file": "", "base64": base64.b64encode(PNG).decode()})
    assert await _pictures().fetch(ImageRef(MD5_NAME, ""), [account]) == PNG


async def test_without_get_image_the_url_and_never_asked_again(cdn: Cdn) -> None:
    cdn.files["a"] = JPEG
    refused = ActionFailed(status="failed", retcode=1404, wording="不支持的API")
    account = FakeAccount("1", refused)
    pictures = _pictures(fetch_private=True)  # the CDN stand-in is on loopback
    ref = ImageRef(MD5_NAME, f"{cdn.url}/a")
    assert await pictures.fetch(ref, [account]) == JPEG
    assert await pictures.fetch(ref, [account]) == JPEG
    assert len(account.asked) == 1


async def test_content_urls_are_never_local_files(tmp_path: Path) -> None:
    secret = tmp_path / "secret.png"
    secret.write_bytes(PNG)
    account = FakeAccount("1", {"file": str(secret)})
    pictures = _pictures()
    with pytest.raises(ImageFetchError):  # a sticker or preview is a URL; get_image not asked
        await pictures.fetch(ImageRef("mface:x", f"file://{secret}"), [account])
    with pytest.raises(ImageFetchError, match="not_allowed"):
        await pictures.fetch(ImageRef("x.jpg", str(secret)), [])
    assert account.asked == []


@pytest.mark.parametrize(
    "ref",
    [
        ImageRef(MD5_NAME, "{cdn}/a"),  # an image segment's url
        ImageRef("mface:e1", "{cdn}/a", ImageKind.STICKER),  # a market sticker
        ImageRef("https://p.qpic/1.jpg", "{cdn}/a"),  # a card's preview picture
        ImageRef(MD5_NAME, "http://169.254.169.254/latest/meta-data/"),
        ImageRef(MD5_NAME, "http://localhost:{port}/a"),
    ],
    ids=["segment", "sticker", "card preview", "metadata", "localhost"],
)
async def test_content_urls_reach_public_addresses_only(cdn: Cdn, ref: ImageRef) -> None:
    cdn.files["a"] = JPEG
    port = cdn.url.rsplit(":", 1)[1]
    ref = ImageRef(ref.key, ref.source.format(cdn=cdn.url, port=port), ref.kind)
    account = FakeAccount("1", ActionFailed(status="failed", retcode=100, wording="no"))
    with pytest.raises(ImageFetchError, match=r"not_allowed: .* is a private or local address"):
        await _pictures().fetch(ref, [account])
    assert cdn.requests == []
    if "169.254" not in ref.source:  # the operator's switch lets the loopback server in
        assert await _pictures(fetch_private=True).fetch(ref, [account]) == JPEG
        assert cdn.requests == ["/a"]


async def test_get_image_answers_are_trusted(cdn: Cdn) -> None:
    """The implementation's own URL for its file may be local (NapCat's own server)."""
    cdn.files["a"] = JPEG
    account = FakeAccount("1", {"file": "", "url": f"{cdn.url}/a"})
    assert await _pictures().fetch(ImageRef(MD5_NAME, ""), [account]) == JPEG
    assert cdn.requests == ["/a"]


async def test_size_limit_and_not_a_picture(cdn: Cdn, tmp_path: Path) -> None:
    big = tmp_path / "big.png"
    big.write_bytes(PNG + bytes(5000))
    cdn.files["page"] = b"<!doctype html><html>" + bytes(600)
    account = FakeAccount("1", {"file": str(big), "url": f"{cdn.url}/page"})
    with pytest.raises(ImageFetchError) as failed:
        await _pictures(max_bytes=1024).fetch(ImageRef(MD5_NAME, ""), [account])
    assert "too_large" in str(failed.value) and "not_an_image" in str(failed.value)


async def test_the_whole_fetch_is_bounded() -> None:
    class Hanging(FakeAccount):
        async def call_api(self, api: str, **params: Any) -> Any:
            await asyncio.sleep(30)

    pictures = _pictures(fetch_timeout=timedelta(seconds=0.2))
    started = asyncio.get_running_loop().time()
    with pytest.raises(ImageFetchError, match=r"within 0\.2 s"):
        await pictures.fetch(ImageRef(MD5_NAME, ""), [Hanging("1", None)])
    assert asyncio.get_running_loop().time() - started < 1.0
