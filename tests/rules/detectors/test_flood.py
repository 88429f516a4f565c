"""Flooding: repeats (exact, normalised, not consecutive), rate, chatter, exemptions, memory."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from rules.config import FloodSettings
from rules.core.model import Role
from rules.detectors.flood import ChatterDetector, FloodDetector, in_work_hours
from tests.fakes import T0, message

OFF = {"rate_limit": 0}


def _settings(**overrides: Any) -> FloodSettings:
    return FloodSettings.model_validate(overrides)


def _run(texts: list[str], **overrides: Any) -> list[int]:
    """Feed texts from one member; return the indexes that produced a flood finding."""
    detector, settings = FloodDetector(), _settings(**{**OFF, **overrides})
    hits = []
    for i, text in enumerate(texts):
        at = T0 + timedelta(seconds=30 * i)
        if detector.check(message(text, at=at), settings):
            hits.append(i)
    return hits


@pytest.mark.parametrize(
    ("texts", "overrides", "hits"),
    [
        (["在吗", "在吗", "在吗"], {}, [2]),  # exact, third time
        (["在吗"] * 5, {}, [2, 3, 4]),  # every further repeat counts
        (["在吗", "在吗？", "在 吗😀"], {}, [2]),  # punctuation, spaces, emoji
        (["在吗😀", "在吗😂", "在吗🙂"], {}, [2]),  # a changed emoji
        (["ＨＥＬＬＯ", "hello", "Hello!"], {}, [2]),  # width and case
        (["在嗎", "在吗", "在\u200b吗"], {}, [2]),  # traditional, invisible
        (["在吗", "在吗", "好的", "在吗"], {}, []),  # not consecutive
        (["在吗", "在吗"], {}, []),  # below the threshold
        (["在吗"] * 3, {"repeat": 4}, []),
        (["在吗"] * 4, {"repeat": 4}, [3]),
        (["哈哈", "哈哈哈", "哈哈哈哈"], {}, []),  # repeated characters are not collapsed
        (["", "", ""], {}, []),  # empty messages (images) are not text
        (["😀", "😀", "😀"], {}, [2]),  # emoji-only messages compare as themselves
    ],
)
def test_repeats(texts: list[str], overrides: dict[str, Any], hits: list[int]) -> None:
    assert _run(texts, **overrides) == hits


def test_repeats_are_per_member_and_group() -> None:
    detector, settings = FloodDetector(), _settings(**OFF)
    events = [
        message("在吗", user="qq:1"),
        message("在吗", user="qq:2"),
        message("在吗", user="qq:1", group="qq:9"),
        message("在吗", user="qq:1"),
        message("在吗", user="qq:2"),
    ]
    assert [bool(detector.check(e, settings)) for e in events] == [False] * 5


@pytest.mark.parametrize("role", [Role.ADMIN, Role.OWNER])
def test_admins_exempt_by_default(role: Role) -> None:
    detector, settings = FloodDetector(), _settings(**OFF)
    assert not any(detector.check(message("在吗", role=role), settings) for _ in range(5))
    strict = _settings(exempt_admins=False, **OFF)
    assert any(detector.check(message("在吗", role=role), strict) for _ in range(5))


def test_finding_spans_the_original_text() -> None:
    detector, settings = FloodDetector(), _settings(**OFF)
    for _ in range(2):
        detector.check(message("在 吗！"), settings)
    [finding] = detector.check(message("在 吗！"), settings)
    assert (finding.detector, finding.category, finding.start, finding.end) == (
        "flood",
        "flood",
        0,
        4,
    )
    assert finding.detail == "x3"


def test_rate_limit() -> None:
    detector = FloodDetector()
    settings = _settings(rate_limit=5, rate_window="10s")
    hits = []
    for i in range(12):  # a message every 2 seconds, all different
        event = message(f"第{i}条", at=T0 + timedelta(seconds=2 * i))
        if detector.check(event, settings):
            hits.append(i)
    assert hits == [4, 9]  # one finding per full burst, then the window starts again


def test_rate_limit_slow_posting_is_fine() -> None:
    detector = FloodDetector()
    settings = _settings(rate_limit=5, rate_window="10s")
    events = [message(f"第{i}条", at=T0 + timedelta(seconds=3 * i)) for i in range(20)]
    assert not any(detector.check(e, settings) for e in events)


def test_memory_is_bounded() -> None:
    detector = FloodDetector(max_members=1000)
    settings = _settings(rate_limit=10)
    for i in range(20_000):
        detector.check(message("在吗", user=f"qq:{i}", group=f"qq:{i % 50}"), settings)
    assert len(detector) == 1000
    # one member's window never holds more than rate_limit timestamps
    for i in range(500):
        detector.check(message(str(i), user="qq:1", at=T0 + timedelta(minutes=i)), settings)
    assert max(len(w.times) for w in detector._windows.values()) <= 10


def test_evicted_member_starts_again() -> None:
    detector = FloodDetector(max_members=2)
    settings = _settings(**OFF)
    detector.check(message("在吗", user="qq:1"), settings)
    detector.check(message("在吗", user="qq:1"), settings)
    detector.check(message("x", user="qq:2"), settings)
    detector.check(message("x", user="qq:3"), settings)  # evicts qq:1
    assert not detector.check(message("在吗", user="qq:1"), settings)


# Monday 2026-11-02; Shanghai is UTC+8, so 01:00 UTC is 09:00 local.
MONDAY_0900 = datetime(2026, 11, 2, 1, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("when", "expected"),
    [
        (MONDAY_0900, True),
        (MONDAY_0900 + timedelta(hours=4), False),  # 13:00 lunch
        (MONDAY_0900 + timedelta(hours=5), True),  # 14:00
        (MONDAY_0900 + timedelta(hours=9), False),  # 18:00
        (MONDAY_0900 + timedelta(days=5), False),  # Saturday
        (MONDAY_0900 - timedelta(minutes=31), False),  # 08:29
    ],
)
def test_work_hours(when: datetime, expected: bool) -> None:
    assert in_work_hours(when, _settings()) is expected


def test_chatter_alert_in_work_hours_once_per_window() -> None:
    detector = ChatterDetector()
    settings = _settings(chatter_limit=10, chatter_window="10m")
    hits = []
    for i in range(40):  # a message every 20 s from five members
        event = message(f"聊{i}", user=f"qq:{i % 5}", at=MONDAY_0900 + timedelta(seconds=20 * i))
        found = detector.check(event, settings)
        if found:
            assert found[0].category == "chatter"
            hits.append(i)
    assert hits == [9, 39]  # then silent for the window (10 min = 30 messages)
    assert ChatterDetector.feeds_ladder is False


def test_chatter_off_hours_off_by_default_and_admins() -> None:
    detector = ChatterDetector()
    on = _settings(chatter_limit=3)
    evening = MONDAY_0900 + timedelta(hours=11)
    assert not any(detector.check(message("x", at=evening), on) for _ in range(10))
    assert not any(detector.check(message("x", at=MONDAY_0900), _settings()) for _ in range(10))
    admin = [message("x", role=Role.ADMIN, at=MONDAY_0900) for _ in range(10)]
    assert not any(detector.check(e, on) for e in admin)


def test_chatter_memory_is_bounded() -> None:
    detector = ChatterDetector(max_groups=100)
    settings = _settings(chatter_limit=5)
    for i in range(5000):
        detector.check(message("x", group=f"qq:{i}", at=MONDAY_0900), settings)
    assert len(detector) == 100
