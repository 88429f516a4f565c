"""QQ end to end, pictures: the real bot in a subprocess, a fake NapCat over the real WebSocket.

The fake answers ``get_image`` with the path of a picture the test wrote (NapCat on
the bot's machine does the same); a market sticker is served by a loopback HTTP
server standing in for QQ's CDN (``[images] fetch_private = true``: a URL from a
message is otherwise fetched from public addresses only). One bot process, one
account (an admin):

- a clean photo passes;
- a picture whose text carries a banned term: deleted, the sender warned;
- a poster with a QR code to a site that is not allowed: deleted, warned;
- a market sticker (``mface``, fetched by URL) with a banned term: deleted, warned;
- the owner replies ``/拉黑图片 广告`` to a photo; the same photo re-sent resized
  and recompressed by someone else (another file name) is deleted and warned.

The bot's picture pool is a spawned process: the first picture pays the spawn and
the OCR model load (a few seconds on a busy machine); the waits allow for that.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import AsyncIterator, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from tests import imagegen
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

TOKEN = "e2e-pictures"
BOT, GROUP, OWNER, OFFICER = 10000, 5001, 1999, 90001
WORDS = {"insult": ["测试脏话"]}
FIRST_PICTURE = 60.0  # seconds: pool spawn + model load + OCR on a loaded machine
PICTURE = 30.0


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    return tmp_path


@pytest.fixture
async def bot_url(workdir: Path) -> AsyncIterator[str]:
    port = free_port()
    config = write_config(workdir, port, TOKEN, WORDS, "[images]\nfetch_private = true\n")
    async with running_bot(config, port, workdir / "bot.log"):
        yield f"ws://127.0.0.1:{port}/onebot/v11/ws"


@pytest.fixture
def cdn() -> Iterator[tuple[str, dict[str, bytes]]]:
    """A loopback HTTP server: GET /NAME answers the bytes stored under NAME."""
    files: dict[str, bytes] = {}

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
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


def group() -> SimGroup:
    sim = SimGroup(GROUP, "测试工作群")
    sim.add(BOT, "admin", "群卫士+办公室")
    sim.add(OWNER, "owner", "王主任+办公室")
    for user in range(2001, 2010):
        sim.add(user, "member", f"成员{user}+教务处")
    return sim


def picture(qq: FakeOneBot, folder: Path, data: bytes, suffix: str = "jpg") -> dict[str, Any]:
    """An image segment for ``data``, named as QQ names pictures (the MD5 of the bytes);
    the fake's ``get_image`` answers the file's path."""
    name = f"{hashlib.md5(data, usedforsecurity=False).hexdigest().upper()}.{suffix}"
    path = folder / name
    path.write_bytes(data)
    qq.images[name] = path
    return {"type": "image", "data": {"file": name, "sub_type": 0, "file_size": str(len(data))}}


def segments(call: Call) -> list[dict[str, Any]]:
    message = call.params["message"]
    assert isinstance(message, list)
    return message


async def deleted_and_warned(qq: FakeOneBot, message_id: int, user: int, within: float) -> float:
    """Wait for the message's deletion and the @-warning of its sender; seconds it took."""
    start = time.monotonic()
    await qq.wait_for(is_call("delete_msg", message_id=message_id), within=within)
    warning = await qq.wait_for(
        lambda c: (
            c.action == "send_group_msg"
            and segments(c)[0] == {"type": "at", "data": {"qq": str(user)}}
        ),
        within=within,
    )
    assert segments(warning)[1]["type"] == "text"
    return time.monotonic() - start


async def test_qq_pictures_end_to_end(
    bot_url: str, workdir: Path, cdn: tuple[str, dict[str, bytes]]
) -> None:
    folder = workdir / "napcat-cache"
    folder.mkdir()
    cdn_url, cdn_files = cdn
    async with FakeOneBot(bot_url, BOT, TOKEN, [group()]) as qq:
        await qq.send(qq.message(GROUP, 2001, text("大家好"), 1))
        await qq.wait_for(is_call("get_group_member_info", user_id=BOT))

        # clean photos, then a picture with a banned term: that one is deleted + warned
        clean = picture(qq, folder, imagegen.jpeg(imagegen.photo(seed=3)))
        await qq.send(qq.message(GROUP, 2001, [clean], 101))
        known = imagegen.photo(seed=9)  # blocklisted later
        known_segment = picture(qq, folder, imagegen.png(known), "png")
        await qq.send(qq.message(GROUP, 2004, [known_segment], 110))
        worded = picture(qq, folder, imagegen.jpeg(imagegen.text_image(["你就是个测试脏话"])))
        await qq.send(qq.message(GROUP, 2002, [*text("看看这个"), worded], 102))
        took = await deleted_and_warned(qq, 102, 2002, FIRST_PICTURE)
        print(f"first picture (pool spawn, model load, OCR) -> delete + warn: {took:.1f} s")
        first = next(c for c in qq.calls if c.action == "get_image")
        assert first.params == {"file": clean["data"]["file"]}

        # a QR code to a site that is not allowed
        poster = imagegen.poster(title="福利", lines=("欢迎",), qr_payload="https://lucky8.vip/x")
        await qq.send(qq.message(GROUP, 2003, [picture(qq, folder, imagegen.jpeg(poster))], 103))
        took = await deleted_and_warned(qq, 103, 2003, PICTURE)
        print(f"QR poster -> delete + warn: {took:.2f} s")

        # a market sticker, fetched from its URL
        cdn_files["sticker.png"] = imagegen.png(imagegen.text_image(["测试脏话"], width=400))
        mface = {
            "type": "mface",
            "data": {"url": f"{cdn_url}/sticker.png", "emoji_id": "e1", "summary": "[贴图]"},
        }
        await qq.send(qq.message(GROUP, 2006, [mface], 104))
        took = await deleted_and_warned(qq, 104, 2006, PICTURE)
        print(f"sticker by URL -> delete + warn: {took:.2f} s")

        # the owner blocklists the photo by replying to it; a resized copy is caught
        mark = len(qq.calls)
        command = [{"type": "reply", "data": {"id": "110"}}, *text("/拉黑图片 广告")]
        await qq.send(qq.message(GROUP, OWNER, command, 111))
        await qq.wait_for(is_call("get_msg", message_id=110), start=mark)
        answer = await qq.wait_for(
            lambda c: c.action == "send_group_msg" and segments(c)[0]["type"] == "reply",
            within=PICTURE,
            start=mark,
        )
        assert "已拉黑1张图片" in segments(answer)[1]["data"]["text"], segments(answer)
        copy = imagegen.recompressed(imagegen.resized(known, 0.7), 55)
        await qq.send(qq.message(GROUP, 2005, [picture(qq, folder, imagegen.jpeg(copy, 70))], 112))
        took = await deleted_and_warned(qq, 112, 2005, PICTURE)
        print(f"blocklisted picture, resized copy -> delete + warn: {took:.2f} s")

        # the clean photo stays, and so does the photo posted before it was blocklisted
        await qq.quiet(0.5)
        deleted = {c.params["message_id"] for c in qq.calls if c.action == "delete_msg"}
        assert deleted == {102, 103, 104, 112}
        fetched = {c.params["file"] for c in qq.calls if c.action == "get_image"}
        assert clean["data"]["file"] in fetched
