"""What the QQ edge changes for speed keeps behaviour: parsing, pacing order, role refresh;
the patches are in place, and a moved nonebot internal stops the plugin from loading."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from nonebot.adapters.onebot.v11 import Adapter, GroupIncreaseNoticeEvent, GroupMessageEvent

from rules.core.model import Role
from tests.plugins.test_onebot_translate import raw_event

# The plugin package can only be imported once nonebot has loaded it (session
# fixture), so its modules are imported inside the tests.

SEGMENTS = [
    {"type": "reply", "data": {"id": "7"}},
    {"type": "at", "data": {"qq": "123"}},
    {"type": "text", "data": {"text": "[CQ:at,qq=all] 你好"}},
    {"type": "image", "data": {"file": "a.png", "url": "http://example.invalid/a.png"}},
]


def test_parsing_with_cached_type_adapters_gives_the_same_event() -> None:
    import nonebot.adapters.onebot.v11.adapter as adapter_module
    from pydantic import TypeAdapter

    from plugins.onebot_guard import patches

    assert adapter_module.type_validate_python is patches.type_validate_python  # in use
    first, again = (
        Adapter.json_to_event(raw_event(SEGMENTS)),
        Adapter.json_to_event(raw_event(SEGMENTS)),
    )
    fresh = TypeAdapter(GroupMessageEvent).validate_python(raw_event(SEGMENTS))  # nonebot's way
    assert isinstance(first, GroupMessageEvent)
    assert first == again == fresh
    assert [s.type for s in first.original_message] == ["reply", "at", "text", "image"]
    assert first.original_message[2].data["text"] == "[CQ:at,qq=all] 你好"  # still plain text


def test_the_moderation_preprocessor_is_registered_once() -> None:
    import nonebot.message

    from plugins.onebot_guard.intake import moderate

    ours = [
        p
        for p in nonebot.message._event_preprocessors  # what patches.run_before_matchers uses
        if getattr(p, "func", None) is moderate
    ]
    assert len(ours) == 1


async def test_waiting_notices_go_out_in_order_and_past_max_wait_fail_at_once() -> None:
    from plugins.onebot_guard.throttle import Pacer, Throttled

    pacer = Pacer(group_rate=50, group_burst=1, global_rate=1000, global_burst=1000, max_wait=0.05)
    sent: list[int] = []

    async def take(n: int) -> None:
        await pacer.slot("g")
        sent.append(n)

    results = await asyncio.gather(*(take(n) for n in range(5)), return_exceptions=True)
    # one now, then one per 20 ms: 0 ms, 20 ms, 40 ms fit in 50 ms; the rest are refused
    assert sent == [0, 1, 2]
    assert [type(r) for r in results[3:]] == [Throttled, Throttled]


class FakeBot:
    """Only what ensure_bot_role uses: a self id and call_api."""

    def __init__(self, role: str) -> None:
        self.self_id = "10000"
        self.role = role
        self.calls = 0
        self.answer = asyncio.Event()
        self.answer.set()

    async def call_api(self, api: str, **params: Any) -> Any:
        self.calls += 1
        await self.answer.wait()
        return {"user_id": 10000, "role": self.role}


async def test_a_stale_role_is_refreshed_in_the_background() -> None:
    from plugins.onebot_guard.gateway import OneBotGateway

    now = [1000.0]
    gateway = OneBotGateway(bots=dict)
    gateway.routes.clock = lambda: now[0]
    bot: Any = FakeBot("admin")
    await gateway.ensure_bot_role(bot, "55")  # unknown: waited for
    assert gateway.routes.bot_role("55", "10000") is Role.ADMIN and bot.calls == 1

    now[0] += 10_000  # stale
    bot.role = "member"
    bot.answer.clear()  # the implementation is slow to answer
    await asyncio.wait_for(gateway.ensure_bot_role(bot, "55"), 1)  # does not wait
    assert gateway.routes.bot_role("55", "10000") is Role.ADMIN  # known role meanwhile
    bot.answer.set()
    await asyncio.sleep(0.01)
    assert gateway.routes.bot_role("55", "10000") is Role.MEMBER and bot.calls == 2


@pytest.mark.parametrize("role", ["owner", "admin"])
async def test_an_unknown_role_is_waited_for(role: str) -> None:
    from plugins.onebot_guard.gateway import OneBotGateway

    gateway = OneBotGateway(bots=dict)
    bot: Any = FakeBot(role)
    await gateway.ensure_bot_role(bot, "56")
    assert gateway.routes.bot_role("56", "10000") is Role(role)


def test_groups_of_a_member_follow_notes_forgets_and_evictions(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from plugins.onebot_guard import routes as routes_module
    from plugins.onebot_guard.routes import MemberInfo, Routes

    monkeypatch.setattr(routes_module, "MAX_MEMBERS", 3)
    routes = Routes()
    for group in ("g1", "g2", "g3"):
        routes.note_member(group, "officer", MemberInfo(Role.MEMBER))
    routes.note_member("g1", "officer", MemberInfo(Role.ADMIN))  # again: still one entry
    assert routes.groups_with("officer") == {"g1", "g2", "g3"}
    routes.forget_member("g2", "officer")
    assert routes.groups_with("officer") == {"g1", "g3"}
    routes.note_member("g4", "someone", MemberInfo(Role.MEMBER))
    routes.note_member("g5", "someone", MemberInfo(Role.MEMBER))  # evicts the oldest: g3
    assert routes.groups_with("officer") == {"g1"}
    assert routes.groups_with("someone") == {"g4", "g5"}
    assert routes.groups_with("nobody") == set()


def test_cached_event_model_lookup_matches_the_tree_and_forgets_on_new_models() -> None:
    collator = Adapter.event_models
    samples = [
        raw_event(SEGMENTS),
        {"post_type": "notice", "notice_type": "group_increase", "sub_type": "approve"},
        {"post_type": "request", "request_type": "group", "sub_type": "add"},
        {"post_type": "meta_event", "meta_event_type": "heartbeat"},
        {"post_type": "message", "message_type": "private", "sub_type": "friend"},
    ]
    for data in samples:
        from_tree = [m.value for m in collator.tree.prefixes(collator._key_from_dict(data))][::-1]
        assert collator.get_model(data) == from_tree == collator.get_model(data)

    before = list(collator.models)
    try:
        Adapter.add_custom_model(CustomJoin)
        assert collator.get_model(samples[1])[0] is CustomJoin
    finally:
        collator.models[:] = before
        collator.add_model()  # rebuilds the tree and forgets the cached lists
    assert collator.get_model(samples[1])[0] is GroupIncreaseNoticeEvent


class CustomJoin(GroupIncreaseNoticeEvent):
    """A plugin's own model for the join notice."""


def test_every_lane_is_hooked_in() -> None:
    from nonebot import get_adapter
    from nonebot.adapters.onebot.v11 import Bot

    from plugins.onebot_guard import intake

    assert Bot.handle_event is intake.handle_event  # type: ignore[comparison-overlap]
    assert get_adapter(Adapter).json_to_event is intake.read_frame  # type: ignore[comparison-overlap]
    assert Adapter.json_to_event is not intake.read_frame  # the class's parser is untouched


def test_a_moved_internal_fails_loudly() -> None:
    from plugins.onebot_guard import patches

    class OldCollator:  # a lookup without the methods we wrap
        def get_model(self, data: dict[str, Any]) -> list[Any]:
            return []

    with pytest.raises(patches.NonebotChanged, match="_key_from_dict"):
        patches.cache_event_model_lookup(OldCollator())
    with pytest.raises(patches.NonebotChanged, match="json_to_event"):
        patches.replace_frame_parser(object(), lambda data: None)  # type: ignore[arg-type]
