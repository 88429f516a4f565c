"""Hostile message text through the detectors, the whole engine and the QQ gateway.

Properties (hypothesis, reproducible examples; see ``strategies``):

- every event the core sees carries at most ``MAX_TEXT`` characters of text,
  storable as UTF-8 (no lone surrogates, no NUL), whatever an edge passed in;
- no detector raises, and every finding's span lies inside the text;
- the engine (real default word lists, in-memory store) handles anything
  without raising, and its detectors never see more than ``MAX_TEXT``;
- what the QQ gateway sends for it (notices, officer reports) is plain
  ``text`` segments plus one ``at`` of the member acted on: user text is
  never markup.

Bounded work is asserted as work (the text is cut before detectors run) and
as allocated memory for 1 MB messages, never as wall-clock time; the figures
(worst-case time per message) come from ``bench/hostile.py``.
"""

from __future__ import annotations

import tracemalloc
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import timedelta
from typing import ClassVar

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rules.config import DetectorSettings, KeywordSettings, parse_config
from rules.core.model import (
    MAX_NAME,
    MAX_TEXT,
    ChatEvent,
    EventKind,
    Finding,
    MatchKind,
    Member,
    Platform,
    Strength,
)
from rules.detectors.base import Detector
from rules.runtime import MEMORY_URL, Runtime, build_detectors
from tests.fakes import T0, Clock, FakeGateway
from tests.hostile.strategies import MEGABYTE_TEXTS, hostile, hostile_text
from tests.hostile.strategies import pieces as short_pieces

OFFICER = "qq:90001"
CONFIG = parse_config(
    {
        "escalation": {"officers": [OFFICER]},
        "ladder": {"escalate_from_step": 1},  # every case is reported: report texts exercised
        "nickname": {"enabled": True, "format": "{name}+{dept}"},
        "flood": {"chatter_limit": 5},
    }
)
DETECTORS = build_detectors(CONFIG)
POLICY = CONFIG.policy()

short_text = st.lists(short_pieces, max_size=6).map("".join)


def event(text: str, card: str = "张三+办公室", nickname: str = "", user: int = 2001) -> ChatEvent:
    return ChatEvent(
        kind=EventKind.MESSAGE,
        platform=Platform.QQ,
        group_id="qq:1001",
        member=Member(f"qq:{user}", card=card, nickname=nickname),
        time=T0,
        text=text,
        message_id=f"m{user}-{len(text)}",
        comment=text,
    )


def storable(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return "\x00" not in text


# ---------------------------------------------------------------- the event itself


@hostile(200)
@given(text=hostile_text(), card=hostile_text(), nickname=short_text)
def test_events_are_cut_and_storable(text: str, card: str, nickname: str) -> None:
    chat = event(text, card, nickname)
    assert len(chat.text) <= MAX_TEXT and len(chat.comment) <= MAX_TEXT
    assert len(chat.member.card) <= MAX_NAME and len(chat.member.nickname) <= MAX_NAME
    for value in (chat.text, chat.comment, chat.member.card, chat.member.nickname):
        assert storable(value)
    if storable(text) and len(text) <= MAX_TEXT:
        assert chat.text == text  # ordinary text is left exactly as it was


# ---------------------------------------------------------------- each detector


@pytest.mark.parametrize("detector", DETECTORS, ids=lambda d: d.name)
def test_detectors_never_raise_and_spans_stay_in_the_text(
    detector: Detector[DetectorSettings],
) -> None:
    settings = getattr(POLICY, detector.section)

    @hostile(100)
    @given(text=hostile_text(), card=hostile_text(max_pieces=4), user=st.integers(2000, 2005))
    def check(text: str, card: str, user: int) -> None:
        chat = event(text, card, user=user)
        for finding in detector.check(chat, settings):
            assert isinstance(finding.match, str)
            assert 0 <= finding.start <= finding.end <= len(chat.text)
            assert isinstance(finding.how, MatchKind) and isinstance(finding.strength, Strength)
            if detector.name == "keyword":  # the match is the original text at its span
                assert chat.text[finding.start : finding.end] == finding.match

    check()


# ---------------------------------------------------------------- the engine


class SpyDetector(Detector[KeywordSettings]):
    """Records how much text the engine's detectors are given."""

    name: ClassVar[str] = "spy"
    section: ClassVar[str] = "keywords"

    def __init__(self) -> None:
        self.longest = 0

    def check(self, event: ChatEvent, settings: KeywordSettings) -> list[Finding]:
        self.longest = max(self.longest, len(event.text))
        return []


@dataclass
class Engine:
    runtime: Runtime
    gateway: FakeGateway
    clock: Clock
    spy: SpyDetector
    users: list[int] = field(default_factory=lambda: [2000])


@pytest.fixture(scope="module")
async def engine() -> AsyncIterator[Engine]:
    clock = Clock()
    runtime = await Runtime.start(CONFIG, MEMORY_URL, clock=clock)
    spy = SpyDetector()
    runtime.engine.detectors = (*runtime.engine.detectors, spy)  # type: ignore[arg-type]
    yield Engine(runtime, FakeGateway(), clock, spy)
    await runtime.close()


@hostile(100)
@given(text=hostile_text(), card=hostile_text(max_pieces=4), nickname=short_text, data=st.data())
async def test_engine_handles_anything(
    engine: Engine, text: str, card: str, nickname: str, data: st.DataObject
) -> None:
    user = data.draw(st.integers(2000, 2010))  # a few members: their windows fill up
    engine.users.append(user)
    engine.clock.advance(timedelta(seconds=data.draw(st.integers(0, 30))))
    chat = ChatEvent(
        kind=EventKind.MESSAGE,
        platform=Platform.QQ,
        group_id="qq:1001",
        member=Member(f"qq:{user}", card=card, nickname=nickname),
        time=engine.clock(),
        text=text,
        message_id=f"m{len(engine.users)}",
    )
    decision = await engine.runtime.engine.handle(chat, engine.gateway)
    assert engine.spy.longest <= MAX_TEXT
    for finding in decision.findings:
        assert 0 <= finding.start <= finding.end <= len(chat.text)
    if decision.case_id is not None:
        case = await engine.runtime.storage.cases.get_case(decision.case_id)
        assert case is not None and len(case.evidence) <= MAX_TEXT


@pytest.mark.parametrize("text", MEGABYTE_TEXTS.values(), ids=MEGABYTE_TEXTS.keys())
async def test_a_megabyte_message_costs_little_memory(engine: Engine, text: str) -> None:
    """Peak memory of handling a 1 MB message, beyond the message itself (generous bound)."""
    engine.clock.advance(timedelta(minutes=5))
    user = 3000 + len(engine.users)
    engine.users.append(user)
    tracemalloc.start()
    try:
        before, _ = tracemalloc.get_traced_memory()
        chat = event(text, user=user)
        await engine.runtime.engine.handle(chat, engine.gateway)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak - before < 8_000_000, f"{(peak - before) / 1e6:.1f} MB"
    assert engine.spy.longest <= MAX_TEXT


# ---------------------------------------------------------------- group cards

CARD_FORMATS = [
    "{name}+{dept}",
    "{name}+{dept}+{subject}",
    "{child}{relation}+{name}",
    "{dept}{name}{subject}{relation}{child}",  # adjacent fields: cuts grow with len**4
    "{name}（{dept}）",
]


@pytest.mark.parametrize("fmt", CARD_FORMATS)
def test_judging_a_card_takes_bounded_work(fmt: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """However a card is written, judging it takes a bounded number of search steps."""
    from rules.config import NicknameSettings
    from rules.detectors.nickname.cards import CardRules
    from rules.text import cardformat

    walk = cardformat._walk
    steps = [0]

    def counting(*args: object) -> object:
        steps[0] += 1
        return walk(*args)  # type: ignore[arg-type]

    monkeypatch.setattr(cardformat, "_walk", counting)
    rules = CardRules(NicknameSettings(enabled=True, format=fmt, departments=["办公室"]))

    @hostile(40)
    @given(card=st.one_of(hostile_text(max_pieces=6), st.text("张三（）+办公室 ", max_size=200)))
    def judge(card: str) -> None:
        steps[0] = 0
        rules.problems(Member("qq:1", card=card).card)
        assert steps[0] <= 2 * cardformat.MAX_STEPS

    judge()
    for card in ("张" * MAX_NAME, "（" * MAX_NAME, "a" * MAX_NAME):
        steps[0] = 0
        rules.problems(card)
        assert steps[0] <= 2 * cardformat.MAX_STEPS
