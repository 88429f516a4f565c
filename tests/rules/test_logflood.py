"""Repeated log lines: a few pass, the rest are counted and summarised (rules.logflood)."""

from __future__ import annotations

import logging

import pytest

from rules.logflood import RepeatLimiter


class Ticks:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


Logged = tuple[logging.Logger, list[str], RepeatLimiter, Ticks]


@pytest.fixture
def logged() -> Logged:
    clock = Ticks()
    limiter = RepeatLimiter(burst=2, window=60, clock=clock)
    lines: list[str] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            lines.append(f"{record.levelname} {record.getMessage()}")

    handler = Keep()
    handler.addFilter(limiter)
    logger = logging.getLogger("tests.logflood")
    logger.handlers[:] = [handler]
    logger.propagate = False
    logger.setLevel(logging.INFO)
    return logger, lines, limiter, clock


def test_a_storm_of_one_kind_shows_a_few_then_one_count(logged: Logged) -> None:
    logger, lines, _, clock = logged
    for n in range(100):
        logger.warning("kick in %s failed: %s", f"group{n}", "member not found")
    logger.warning("another kind of line %d", 1)  # other kinds are not held back
    assert lines == [
        "WARNING kick in group0 failed: member not found",
        "WARNING kick in group1 failed: member not found",
        "WARNING another kind of line 1",
    ]
    clock.now = 61  # the window is over: the next line of that kind brings the count
    logger.warning("kick in %s failed: %s", "group100", "member not found")
    assert lines[3:] == [
        "WARNING 98 more like this held back (beyond 2 in 60 s); the last: "
        "kick in group99 failed: member not found",
        "WARNING kick in group100 failed: member not found",
    ]


def test_a_storm_that_stopped_is_counted_by_the_next_line_of_any_kind(logged: Logged) -> None:
    logger, lines, _, clock = logged
    for _ in range(5):
        logger.info("report not delivered")
    clock.now = 61
    logger.info("something else")
    assert lines[-2:] == [
        "INFO 3 more like this held back (beyond 2 in 60 s); the last: report not delivered",
        "INFO something else",
    ]


def test_levels_and_loggers_are_kinds_of_their_own_and_flush_tells_the_rest(logged: Logged) -> None:
    logger, lines, limiter, _ = logged
    for _ in range(3):
        logger.warning("same text")
        logger.error("same text")
    assert lines.count("WARNING same text") == 2 and lines.count("ERROR same text") == 2
    limiter.flush()
    assert sorted(lines[-2:]) == [
        "ERROR 1 more like this held back (beyond 2 in 60 s); the last: same text",
        "WARNING 1 more like this held back (beyond 2 in 60 s); the last: same text",
    ]
