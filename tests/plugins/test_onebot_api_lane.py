"""API calls on the account's WebSocket without nonebot's call_api (plugins.onebot_guard.api_lane):
the frame sent, the answer matched by echo, failures as the adapter reports them, and the
frames that are not the lane's left to nonebot."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from nonebot.adapters.onebot.v11 import ActionFailed, Message, MessageSegment

# The plugin package can only be imported once nonebot has loaded it (session
# fixture), so its modules are imported inside the tests.


class Socket:
    def __init__(self) -> None:
        self.sent: list[dict[str, Any]] = []

    async def send(self, text: str) -> None:
        self.sent.append(json.loads(text))


class Adapter:
    def __init__(self) -> None:
        self.connections: dict[str, Socket] = {"10000": Socket()}


class Bot:
    def __init__(self, self_id: str) -> None:
        self.self_id = self_id
        self.via_nonebot: list[tuple[str, dict[str, Any]]] = []

    async def call_api(self, api: str, **params: Any) -> Any:
        self.via_nonebot.append((api, params))
        return {"via": "nonebot"}


def lane_on(adapter: Adapter) -> Any:
    from plugins.onebot_guard.api_lane import ApiLane

    return ApiLane(adapter)  # type: ignore[arg-type]


async def answered(lane: Any, adapter: Adapter, reply: dict[str, Any]) -> Any:
    bot = Bot("10000")
    message = Message([MessageSegment.at(123), MessageSegment.text(" 请注意")])
    call = asyncio.ensure_future(
        lane.call(bot, "send_group_msg", {"group_id": 1, "message": message})
    )
    await asyncio.sleep(0)
    (frame,) = adapter.connections["10000"].sent
    assert frame["action"] == "send_group_msg" and frame["echo"].startswith("gg:")
    assert frame["params"]["message"] == [
        {"type": "at", "data": {"qq": "123"}},
        {"type": "text", "data": {"text": " 请注意"}},
    ]
    assert lane.answer({**reply, "echo": frame["echo"]})
    return await call


async def test_the_answer_with_the_calls_echo_is_its_result() -> None:
    adapter = Adapter()
    lane = lane_on(adapter)
    reply = {"status": "ok", "retcode": 0, "data": {"message_id": 7}}
    assert await answered(lane, adapter, reply) == {"message_id": 7}
    assert lane.calls == 1


async def test_a_refusal_raises_as_through_the_adapter() -> None:
    adapter = Adapter()
    lane = lane_on(adapter)
    reply = {"status": "failed", "retcode": 100, "data": None, "wording": "群成员123不存在"}
    with pytest.raises(ActionFailed) as refused:
        await answered(lane, adapter, reply)
    assert refused.value.info["retcode"] == 100


async def test_other_answers_are_left_to_nonebot_and_late_ones_dropped() -> None:
    lane = lane_on(Adapter())
    assert not lane.answer({"status": "ok", "retcode": 0, "data": None, "echo": "12"})
    assert not lane.answer({"status": "ok", "retcode": 0, "data": None})
    assert lane.answer({"status": "ok", "retcode": 0, "data": None, "echo": "gg:999"})


async def test_a_call_given_up_on_leaves_nothing_waiting() -> None:
    adapter = Adapter()
    lane = lane_on(adapter)
    with pytest.raises(TimeoutError):
        async with asyncio.timeout(0.01):
            await lane.call(Bot("10000"), "delete_msg", {"message_id": 1})
    assert lane._waiting == {}
    echo = adapter.connections["10000"].sent[0]["echo"]
    assert lane.answer({"status": "ok", "retcode": 0, "data": None, "echo": echo})  # dropped


async def test_a_bot_without_the_adapters_websocket_goes_through_nonebot() -> None:
    lane = lane_on(Adapter())
    stranger = Bot("20000")
    assert not lane.serves(stranger)
    assert await lane.call(stranger, "delete_msg", {"message_id": 1}) == {"via": "nonebot"}
    assert stranger.via_nonebot == [("delete_msg", {"message_id": 1})]


async def test_a_call_on_an_account_whose_connection_dropped_fails_at_once() -> None:
    """Not through the adapter's HTTP fallback (no API root is configured: it would fail
    anyway, after making a TLS context per call, 30 ms of CPU each, while held warnings
    drain after a drop)."""
    import nonebot
    from nonebot.adapters.onebot.v11 import Adapter as OneBotAdapter
    from nonebot.adapters.onebot.v11 import Bot as OneBotBot

    from plugins.onebot_guard.accounts import Accounts, GatewayError

    bot = OneBotBot(nonebot.get_adapter(OneBotAdapter), "10000")
    connected = {"10000": bot}
    accounts = Accounts(bots=lambda: connected)
    accounts.connection_made("10000")
    connected.clear()
    accounts.connection_lost("10000")
    tried_http: list[str] = []
    bot.call_api = lambda api, **_: tried_http.append(api)  # type: ignore[method-assign]
    with pytest.raises(GatewayError, match="QQ account 10000 is not connected"):
        await accounts.call(bot, "send_group_msg", group_id=1, message="请注意")
    assert tried_http == []
