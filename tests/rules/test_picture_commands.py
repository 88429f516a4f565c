"""/拉黑图片 and /解除拉黑图片 through the command service, with a fake platform fetch.

The end-to-end flow (a real QQ reply, get_msg, get_image) is in
``tests/e2e/test_qq_pictures.py``; here: the category argument, who may, what is
said when there is no quoted picture or it cannot be fetched, removal, and that an
added picture is kept in the store.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import pytest

from rules.commands import CommandRequest, Edge, Quoted
from rules.config import parse_config
from rules.core.model import ImageRef, Member, Platform, Role
from rules.images.fetch import ImageFetchError
from rules.runtime import MEMORY_URL, Runtime
from tests import imagegen
from tests.fakes import Clock, FakeDirectory, FakeGateway

GROUP = "qq:1001"
ADMIN = Member("qq:300001", "王五+办公室", role=Role.ADMIN)
MEMBER = Member("qq:200001", "张三+办公室")
POSTER = Member("qq:200002", "李四+教务处")
PHOTO = imagegen.png(imagegen.photo(seed=9, size=(400, 400)))
COPY = imagegen.jpeg(imagegen.resized(imagegen.photo(seed=9, size=(400, 400)), 0.6), 60)


@dataclass
class Env:
    runtime: Runtime
    clock: Clock
    files: dict[str, bytes] = field(default_factory=dict)

    async def fetch(self, ref: ImageRef) -> bytes:
        if ref.key not in self.files:
            raise ImageFetchError("http_status: HTTP 404")
        return self.files[ref.key]

    async def say(self, text: str, *keys: str, caller: Member = ADMIN) -> str:
        images = tuple(ImageRef(k, f"https://cdn/{k}") for k in keys)
        quoted = Quoted(POSTER, "", "77", images=images) if keys else None
        request = CommandRequest(
            platform=Platform.QQ,
            caller=caller,
            text=text,
            time=self.clock(),
            group_id=GROUP,
            reply_to="77" if keys else None,
            quoted=quoted,
        )
        assert self.runtime.commands is not None
        reply = await self.runtime.commands.handle(request)
        assert reply is not None
        return reply


@pytest.fixture
async def env() -> AsyncIterator[Env]:
    clock = Clock()
    runtime = await Runtime.start(parse_config({}), MEMORY_URL, clock=clock)
    environment = Env(runtime, clock, {"a.png": PHOTO, "b.jpg": COPY})
    assert runtime.commands is not None
    runtime.commands.register(
        Platform.QQ, Edge(FakeGateway(), FakeDirectory({GROUP: [ADMIN]}), environment.fetch)
    )
    yield environment
    await runtime.close()


def _blocklist(env: Env) -> list[tuple[str, str]]:
    assert env.runtime.pictures is not None
    return [(e.name, e.category) for e in env.runtime.pictures.blocklist.blocklist]


async def test_block_with_a_category_then_unblock_by_a_copy(env: Env) -> None:
    reply = await env.say("/拉黑图片 广告", "a.png")
    assert reply.startswith("已拉黑1张图片（"), reply
    assert _blocklist(env) == [(f"{GROUP}/77/a.png", "ads")]
    assert env.runtime.pictures is not None
    kept = await env.runtime.storage.pictures.blocked_images()
    assert [(k.category, k.added_by) for k in kept] == [("ads", ADMIN.id)]

    assert await env.say("/unblockimage", "b.jpg") == "已解除1条图片拉黑记录。"
    assert _blocklist(env) == []
    assert await env.runtime.storage.pictures.blocked_images() == []
    assert await env.say("/解除拉黑图片", "a.png") == "这张图片不在拉黑名单中。"


async def test_the_default_category_and_a_picture_that_cannot_be_had(env: Env) -> None:
    reply = await env.say("/blockimage", "a.png", "gone.png")
    assert reply.splitlines()[0].startswith("已拉黑1张图片")
    assert "HTTP 404" in reply.splitlines()[1]
    assert _blocklist(env)[0][1] == "porn"  # [images.hash] category


@pytest.mark.parametrize(
    ("text", "keys", "said"),
    [
        ("/拉黑图片", (), "请回复一条带图片或表情的消息"),
        ("/拉黑图片 没这个类别", ("a.png",), "没有类别「没这个类别」"),
        ("/拉黑图片", ("gone.png",), "图片处理失败：http_status: HTTP 404"),
    ],
)
async def test_what_is_said_when_it_cannot(
    env: Env, text: str, keys: tuple[str, ...], said: str
) -> None:
    assert said in await env.say(text, *keys)
    assert _blocklist(env) == []


async def test_members_may_not(env: Env) -> None:
    reply = await env.say("/拉黑图片", "a.png", caller=MEMBER)
    assert reply.startswith("抱歉")
    assert _blocklist(env) == []
