"""Hostile OneBot v11 events as the QQ edge receives them.

Event JSON comes from the OneBot implementation; the message content inside it
(text, cards, share cards, forwarded messages, nicknames) comes from anyone in
the group. Properties:

- ``Adapter.json_to_event`` on malformed dicts (missing fields, wrong types)
  never raises: an event or None;
- reading any message (``read_message``, ``group_message``, the
  ``Segments`` reader on raw forwarded nodes as ``get_forward_msg`` returns
  them) never raises, whatever the segments hold: JSON cards nested thousands
  deep, forwards nested, 1 MB texts, odd Unicode, CQ codes in text;
- what the core gets is bounded (text, cards, their urls and titles) and
  honest: CQ codes and markup in text stay text, @s come only from ``at``
  segments, and a message's text survives a broken card beside it.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from nonebot.adapters.onebot.v11 import Adapter, GroupMessageEvent

from rules.core.model import MAX_NAME, MAX_TEXT, MAX_TITLE, MAX_URL
from tests.e2e.onebot_client import group_message_event
from tests.hostile.strategies import (
    INJECTION,
    ONE_MB,
    hostile,
    hostile_text,
    json_values,
    nested_json_text,
    nested_list,
)

# The plugin can only be imported once nonebot has loaded it (session fixture).


def base_event(message: Any, sender: Any = None) -> dict[str, Any]:
    sender = sender if sender is not None else {"card": "张三+办公室"}
    return group_message_event(10000, 55, 66, message, 9, sender)


def parse(event: dict[str, Any]) -> Any:
    return Adapter.json_to_event(event)


def read(message: Any, sender: Any = None) -> Any:
    """The core event for a group message, through the adapter and the QQ edge."""
    from plugins.onebot_guard.translate import group_message, read_message

    event = parse(base_event(message, sender))
    assert isinstance(event, GroupMessageEvent)
    return group_message(event, read_message(event))


# ---------------------------------------------------------------- segments

text_seg = hostile_text().map(lambda t: {"type": "text", "data": {"text": t}})
at_seg = st.sampled_from(["10001", "all", "0", "-1", "qq", ""]).map(
    lambda q: {"type": "at", "data": {"qq": q}}
)
card_data = st.one_of(
    hostile_text(max_pieces=6),
    json_values.map(lambda v: json.dumps(v, ensure_ascii=False)),
    st.integers(100, 5000).map(nested_json_text),  # JSON cards nested thousands deep
    st.sampled_from(
        ['{"meta":{"news":{"jumpUrl":"javascript:alert(1)","title":"[CQ:at,qq=all]"}}}']
    ),
)
json_seg = card_data.map(lambda d: {"type": "json", "data": {"data": d}})
xml_seg = hostile_text(max_pieces=6).map(
    lambda t: {"type": "xml", "data": {"data": f'<msg url="{t}" brief="{t}"><title>{t}</title>'}}
)
share_seg = st.tuples(hostile_text(max_pieces=4), hostile_text(max_pieces=4)).map(
    lambda p: {"type": "share", "data": {"url": p[0], "title": p[1]}}
)
odd_seg = st.fixed_dictionaries(
    {
        "type": st.one_of(
            st.sampled_from(["reply", "face", "image", "forward", "node"]), json_values
        )
    },
    optional={"data": json_values},
)
segment = st.one_of(text_seg, at_seg, json_seg, xml_seg, share_seg, odd_seg)


def forward(depth: int, content: list[Any]) -> list[Any]:
    """A forward ``depth`` levels deep, each level a node holding the next."""
    for _ in range(depth):
        content = [
            {
                "type": "forward",
                "data": {"content": [{"type": "node", "data": {"content": content}}]},
            }
        ]
    return content


@hostile(120)
@given(message=st.lists(segment, max_size=8), depth=st.sampled_from([0, 0, 1, 3, 10, 40]))
def test_any_message_is_read_bounded(message: list[Any], depth: int) -> None:
    """Any segments, sometimes inside forwards nested ``depth`` deep (QQ allows nesting)."""
    chat = read(forward(depth, message))
    assert len(chat.text) <= MAX_TEXT
    assert len(chat.cards) <= 20
    for card in chat.cards:
        assert len(card.url) <= MAX_URL and len(card.title) <= MAX_TITLE
    ats = {seg["data"]["qq"] for seg in message if seg.get("type") == "at"}
    assert {m.removeprefix("qq:") for m in chat.mentions} <= ats


@hostile(50)
@given(text=st.sampled_from(INJECTION), card=st.sampled_from(INJECTION))
def test_markup_in_text_and_cards_stays_text(text: str, card: str) -> None:
    chat = read([{"type": "text", "data": {"text": text}}], {"user_id": 66, "card": card})
    assert chat.text == text.strip() and chat.mentions == ()
    assert chat.member.card == card and chat.member.id == "qq:66"
    assert chat.member.role.value == "member"  # a card saying "admin" is only text


@pytest.mark.parametrize("depth", [1_000, 100_000])
def test_text_beside_a_deeply_nested_card_is_still_read(depth: int) -> None:
    """A card nested too deep for ``json.loads`` must not hide the message's text."""
    chat = read(
        [
            {"type": "text", "data": {"text": "来网赌"}},
            {"type": "json", "data": {"data": nested_json_text(depth)}},
            {"type": "json", "data": {"data": json.dumps(nested_list(50, {"url": "x.com"}))}},
        ]
    )
    assert chat.text == "来网赌"


def test_huge_texts_and_forwards_are_cut() -> None:
    chat = read(
        [
            {"type": "text", "data": {"text": "字" * ONE_MB}},
            *forward(3, [{"type": "text", "data": {"text": "转" * ONE_MB}}]),
        ]
    )
    assert len(chat.text) == MAX_TEXT


# ---------------------------------------------------------------- raw forwarded nodes


@hostile(100)
@given(
    nodes=st.lists(st.one_of(json_values, st.lists(segment, max_size=3)), max_size=6),
    depth=st.sampled_from([0, 1, 5]),
)
def test_fetched_forward_nodes_of_any_shape(nodes: list[Any], depth: int) -> None:
    """``get_forward_msg`` answers are not validated by the adapter: any shape is read."""
    from plugins.onebot_guard.translate import Segments

    segments = Segments()
    segments.read_forward(nodes, depth=1)
    segments.read_forward([{"type": "node", "data": {"content": nodes}}], depth=1)
    segments.read_forward(forward(depth, nodes), depth=1)
    assert len(segments.joined_text()) <= MAX_TEXT


@pytest.mark.parametrize("depth", [1_000, 50_000])
def test_forwards_nested_deeper_than_anything_parses(depth: int) -> None:
    from plugins.onebot_guard.translate import Segments

    segments = Segments()
    nested = forward(depth, [{"type": "text", "data": {"text": "x" * ONE_MB}}])
    segments.read_forward(nested, depth=1)
    segments.read(nested)
    assert segments.joined_text() == ""  # beyond MAX_FORWARD_DEPTH nothing is read


# ---------------------------------------------------------------- malformed events


def _mutations() -> st.SearchStrategy[dict[str, Any]]:
    base = base_event([{"type": "text", "data": {"text": "hi"}}])
    keys = sorted(base)
    return st.tuples(
        st.sets(st.sampled_from(keys)),
        st.dictionaries(st.sampled_from([*keys, "card", "sender"]), json_values, max_size=4),
    ).map(lambda p: {**{k: v for k, v in base.items() if k not in p[0]}, **p[1]})


@hostile(150)
@given(event=st.one_of(_mutations(), st.dictionaries(st.text(max_size=8), json_values)))
def test_malformed_events_never_raise(event: dict[str, Any]) -> None:
    from plugins.onebot_guard.translate import group_message, read_message

    parsed = parse(event)
    if isinstance(parsed, GroupMessageEvent):  # whatever survived validation is read safely
        chat = group_message(parsed, read_message(parsed))
        assert len(chat.text) <= MAX_TEXT and len(chat.member.card) <= MAX_NAME


@hostile(60)
@given(
    sender=st.dictionaries(st.sampled_from(["card", "nickname", "role", "user_id"]), json_values)
)
def test_odd_senders(sender: dict[str, Any]) -> None:
    from plugins.onebot_guard.translate import group_message, read_message

    parsed = parse(base_event([{"type": "text", "data": {"text": "hi"}}], sender))
    if isinstance(parsed, GroupMessageEvent):
        chat = group_message(parsed, read_message(parsed))
        assert chat.member.role.value in {"member", "admin", "owner"}


@hostile(50)
@given(reply=st.one_of(json_values, st.lists(segment, max_size=4)))
def test_quoted_replies_of_any_shape(reply: Any) -> None:
    """The message a /report quotes (the adapter fetched it) is read like any other."""
    from plugins.onebot_guard.commands import quoted

    event = base_event([{"type": "text", "data": {"text": "/举报"}}])
    parsed = parse(
        event
        | {
            "reply": {
                "time": 1,
                "message_type": "group",
                "message_id": 5,
                "real_id": 5,
                "sender": {"user_id": 77, "card": "[CQ:at,qq=all]"},
                "message": reply,
            }
        }
    )
    if isinstance(parsed, GroupMessageEvent):
        found = quoted(parsed)
        if found is not None:
            assert len(found.text) <= MAX_TEXT
