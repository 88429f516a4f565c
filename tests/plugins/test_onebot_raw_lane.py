"""The raw lane: ordinary group messages moderated straight from their JSON.

What it must keep: the core sees the same event as on the adapter's own path;
anything the lane does not take still reaches the adapter's path (nothing is
lost); and the moment something besides moderation wants a message, the
message takes the adapter's path.
"""

from __future__ import annotations

import copy
import importlib
import json
from collections.abc import Iterator
from typing import Any

import pytest
from nonebot import get_adapter
from nonebot.adapters.onebot.v11 import Adapter, Bot, Event, GroupMessageEvent
from nonebug import App

from tests.e2e.onebot_client import group_message_event, text

BOT = "10000"

# The plugin package can only be imported once nonebot has loaded it (session
# fixture), so its modules are imported inside the tests.

MINI_PROGRAM = json.dumps(
    {
        "app": "com.tencent.miniapp",
        "meta": {"detail_1": {"title": "抽奖", "qqdocurl": "https://b.example/x"}},
    }
)
SEGMENTS: dict[str, list[dict[str, Any]]] = {
    "text": text("明天上午九点开会"),
    "mentions": [
        {"type": "at", "data": {"qq": "777"}},
        {"type": "text", "data": {"text": " 在吗 "}},
        {"type": "at", "data": {"qq": "all"}},
        {"type": "at", "data": {"qq": "777"}},
    ],
    "cq code as text": text("[CQ:at,qq=all] 大家好"),
    "share": [{"type": "share", "data": {"url": "https://a.example/", "title": "领红包"}}],
    "mini program": [{"type": "json", "data": {"data": MINI_PROGRAM}}],
    "xml card": [
        {"type": "xml", "data": {"data": '<msg url="https://c.example/"><title>兼职</title></msg>'}}
    ],
    "inline forward": [
        {
            "type": "forward",
            "data": {"id": "f1", "content": [{"type": "node", "data": {"content": text("转发")}}]},
        }
    ],
    "forward by id": [{"type": "forward", "data": {"id": "f2"}}],
    "image and face": [
        {"type": "image", "data": {"file": "a.jpg", "url": "https://img.example/a.jpg"}},
        {"type": "face", "data": {"id": "1"}},
        *text("看图"),
    ],
    "empty": [],
    "long": text("长" * 5000),
}
SENDERS: dict[str, dict[str, Any]] = {
    "full": {"nickname": "小李", "card": "李四+教务处", "role": "admin", "age": 0, "sex": "male"},
    "owner": {"card": "张三+办公室", "role": "owner"},
    "no card": {"nickname": "小王", "card": "", "role": "member"},
    "nulls": {"nickname": None, "card": None, "role": None},
    "bare": {},
    "odd role": {"role": "superadmin", "title": "头衔", "extra": [1, 2]},
}


def payload(segments: list[dict[str, Any]], sender: dict[str, Any]) -> dict[str, Any]:
    return group_message_event(int(BOT), 55, 66, copy.deepcopy(segments), 9, dict(sender))


def both_ways(data: dict[str, Any]) -> tuple[Any, Any]:
    """The core event read from the JSON, and from the adapter's validated event."""
    from plugins.onebot_guard.translate import (
        GroupMessage,
        group_message,
        read_message,
        read_segments,
    )

    raw = GroupMessage.of_json(data)
    assert raw is not None
    event = Adapter.json_to_event(copy.deepcopy(data))
    assert isinstance(event, GroupMessageEvent)
    return (
        group_message(raw, read_segments(raw.segments)),
        group_message(event, read_message(event)),
    )


@pytest.mark.parametrize("sender", SENDERS.values(), ids=SENDERS.keys())
@pytest.mark.parametrize("segments", SEGMENTS.values(), ids=SEGMENTS.keys())
def test_the_json_reads_as_the_adapters_event_does(
    segments: list[dict[str, Any]], sender: dict[str, Any]
) -> None:
    from_json, from_event = both_ways(payload(segments, sender))
    assert from_json == from_event


def test_plain_text_is_the_events_plaintext() -> None:
    from plugins.onebot_guard.translate import GroupMessage

    for segments in SEGMENTS.values():
        data = payload(segments, SENDERS["full"])
        raw = GroupMessage.of_json(data)
        event = Adapter.json_to_event(copy.deepcopy(data))
        assert raw is not None and isinstance(event, GroupMessageEvent)
        assert raw.plain_text() == event.get_plaintext()


def _set(path: str, value: Any) -> Any:
    def change(data: dict[str, Any]) -> None:
        *parents, key = path.split(".")
        target: Any = data
        for parent in parents:
            target = target[int(parent)] if isinstance(target, list) else target[parent]
        target[key] = value

    return change


# JSON the lane must leave to the adapter: the model would coerce it, reject it, or
# the adapter does more with it (fetching a quoted message).
NOT_PLAIN = {
    "group id as text": _set("group_id", "55"),
    "user id as float": _set("user_id", 66.0),
    "message id as bool": _set("message_id", True),
    "no font": lambda d: d.pop("font"),
    "raw message missing": lambda d: d.pop("raw_message"),
    "message as a CQ string": _set("message", "[CQ:at,qq=all] hi"),
    "message as one segment": _set("message", {"type": "text", "data": {"text": "hi"}}),
    "quoting a message": lambda d: d["message"].insert(0, {"type": "reply", "data": {"id": "5"}}),
    "segment data not an object": _set("message", [{"type": "text", "data": "hi"}]),
    "segment type not text": _set("message", [{"type": 1, "data": {}}]),
    "segment with more keys": _set("message", [{"type": "text", "data": {}, "x": 1}]),
    "card not text": _set("sender.card", 12),
    "age as text": _set("sender.age", "18"),
    "sender not an object": _set("sender", "x"),
    "anonymous": _set("anonymous", {"id": 1, "name": "匿名", "flag": "f"}),
    "a reply field": _set("reply", 5),
    "a to_me field": _set("to_me", True),
    "an original message": _set("original_message", text("别的")),
    "anonymous sub type": _set("sub_type", "anonymous"),
    "private": _set("message_type", "private"),
}


@pytest.mark.parametrize("change", NOT_PLAIN.values(), ids=NOT_PLAIN.keys())
def test_json_that_is_not_plain_is_left_to_the_adapter(change: Any) -> None:
    from plugins.onebot_guard.translate import GroupMessage

    data = payload(text("你好"), SENDERS["full"])
    change(data)
    assert GroupMessage.of_json(data) is None


def test_coercible_json_is_parsed_by_the_adapter() -> None:
    data = payload(text("你好"), SENDERS["full"])
    data["group_id"] = "55"
    taken = get_adapter(Adapter).json_to_event(data)
    assert isinstance(taken, GroupMessageEvent) and taken.group_id == 55


def test_the_checked_types_come_from_the_adapters_models() -> None:
    translate = importlib.import_module("plugins.onebot_guard.translate")
    assert {"time", "self_id", "message_id", "group_id", "user_id", "font"} <= (
        translate._INT_FIELDS
    )
    # model fields the lane does not read must be absent from the JSON it takes
    assert {"to_me", "reply", "original_message"} <= translate._UNREAD_FIELDS
    assert {"card", "nickname", "role"} <= translate._SENDER_STRS
    assert {"user_id", "age"} <= translate._SENDER_INTS


# ------------------------------------------------------------------ which way it goes


class Paths:
    def __init__(self) -> None:
        self.moderated_raw: list[Any] = []
        self.full: list[Event] = []


@pytest.fixture
def paths(monkeypatch: pytest.MonkeyPatch) -> Iterator[Paths]:
    import nonebot.adapters.onebot.v11.bot as adapter_bot

    from plugins.onebot_guard import intake

    seen = Paths()

    async def full_dispatch(bot: Bot, event: Event) -> None:
        seen.full.append(event)

    original = intake.moderate_message

    async def moderate_message(bot: Bot, message: Any) -> None:
        seen.moderated_raw.append(message)
        await original(bot, message)

    monkeypatch.setattr(adapter_bot, "handle_event", full_dispatch)  # what the adapter calls
    monkeypatch.setattr(intake, "moderate_message", moderate_message)
    yield seen


def received(data: dict[str, Any]) -> Any:
    """What the OneBot connection's receive loop makes of a frame."""
    return get_adapter(Adapter).json_to_event(data)


@pytest.mark.parametrize(
    "message", ["大家好", "见 https://a.example/x", "2024/1/1 开会", "请看 ／状态"]
)
def test_an_ordinary_message_is_read_from_the_json(message: str) -> None:
    from plugins.onebot_guard.intake import RawFrame

    data = payload(text(message), SENDERS["full"])
    taken = received(data)
    assert isinstance(taken, RawFrame)
    assert taken.message.message_id == 9 and taken.message.plain_text() == message
    # the class's own parser (what plugins and tests call) is untouched
    assert isinstance(Adapter.json_to_event(data), GroupMessageEvent)


COMMANDS = {
    "slash": text("/help"),
    "full-width slash after spaces": text("  ／状态"),
    "after an @ of the bot": [{"type": "at", "data": {"qq": BOT}}, *text(" /status")],
}


@pytest.mark.parametrize("segments", COMMANDS.values(), ids=COMMANDS.keys())
def test_a_command_takes_the_adapters_path(segments: list[dict[str, Any]]) -> None:
    # the slash commands follow moderation: they need the adapter's event
    taken = received(payload(segments, SENDERS["full"]))
    assert isinstance(taken, GroupMessageEvent)


def test_a_follower_without_a_text_filter_turns_the_lane_off() -> None:
    from plugins.onebot_guard import intake

    async def follower(bot: Bot, event: Event) -> None: ...

    intake.after_moderation(follower)
    try:
        taken = received(payload(text("大家好"), SENDERS["full"]))
    finally:
        intake.stop_following(follower)
    assert isinstance(taken, GroupMessageEvent)


def test_a_failing_reader_leaves_the_message_to_the_adapter(
    caplog: pytest.LogCaptureFixture,
) -> None:
    from plugins.onebot_guard import intake

    def broken(text: str) -> bool:
        raise RuntimeError("filter bug")

    async def follower(bot: Bot, event: Event) -> None: ...

    intake.after_moderation(follower, wants=broken)
    try:
        taken = received(payload(text("大家好"), SENDERS["full"]))
    finally:
        intake.stop_following(follower)
    # not raised into the receive loop (the adapter would drop the connection)
    assert isinstance(taken, GroupMessageEvent)
    assert "raw lane could not read a message" in caplog.text


def test_api_results_still_reach_the_result_store() -> None:
    adapter = get_adapter(Adapter)
    store = adapter._result_store
    seq = store.get_seq()
    import asyncio

    loop = asyncio.new_event_loop()
    try:
        future = loop.create_future()
        store._futures[seq] = future
        assert received({"status": "ok", "retcode": 0, "data": None, "echo": str(seq)}) is None
        assert future.done() and future.result()["retcode"] == 0
    finally:
        store._futures.pop(seq, None)
        loop.close()


async def test_another_plugins_message_matcher_turns_the_lane_off(app: App) -> None:
    from nonebot import on_message

    matcher = on_message(temp=True)
    try:
        taken = received(payload(text("大家好"), SENDERS["full"]))
    finally:
        matcher.destroy()
    assert isinstance(taken, GroupMessageEvent)


async def test_a_matcher_added_before_handling_gets_the_adapters_event(
    app: App, paths: Paths
) -> None:
    from nonebot import on_message

    from plugins.onebot_guard.intake import RawFrame

    data = payload(text("大家好"), SENDERS["full"])
    data["user_id"] = int(BOT)
    taken = received(copy.deepcopy(data))  # (the adapter's parser adds to the JSON it reads)
    assert isinstance(taken, RawFrame)
    async with app.test_api() as ctx:
        bot = ctx.create_bot(base=Bot, self_id=BOT)
        matcher = on_message(temp=True)
        try:
            await bot.handle_event(taken)  # type: ignore[arg-type]
        finally:
            matcher.destroy()
        assert paths.moderated_raw == []
        assert len(paths.full) == 1 and isinstance(paths.full[0], GroupMessageEvent)
        assert paths.full[0].message_id == 9
        await bot.handle_event(received(data))  # matcher gone: the lane again
    assert len(paths.moderated_raw) == 1 and len(paths.full) == 1
