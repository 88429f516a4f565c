"""Severity decides: at or above [escalation] immediate_from a report goes at once, below it
waits for the officer's next digest (only where the group gets digests)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from rules.config import parse_config
from rules.core.model import ActionKind, Finding, OutcomeStatus
from rules.core.ports import Store
from rules.moderation.engine import Engine
from rules.moderation.escalation import held_for_digest
from rules.storage import Storage
from tests.fakes import Clock, FakeGateway, WordListDetector, message

OFFICER = "qq:90001"
WORDS = {"测试脏话": "insult", "测试赌局": "gambling", "测试链接": "link"}


def engine(store: Store, clock: Clock, **escalation: Any) -> Engine:
    config = parse_config(
        {
            "escalation": {"officers": [OFFICER], **escalation},
            # every violation is escalated, so only the severity routing differs
            "ladder": {
                "escalate_from_step": 1,
                "severity": {"link": "low", "insult": "medium", "gambling": "high"},
            },
            "groups": {"qq:77": {"digest": {"enabled": False}}},
        }
    )
    return Engine(config, [WordListDetector(WORDS)], store, clock=clock)  # type: ignore[list-item]


async def routed(text: str, group: str = "qq:1001", **escalation: Any) -> tuple[bool, str]:
    """Whether the report was held for the digest, and the escalation's outcome detail."""
    storage, clock = await Storage.open("sqlite+aiosqlite://"), Clock()
    decision = await engine(storage.journal, clock, **escalation).handle(
        message(text, group=group), FakeGateway()
    )
    [outcome] = [o for o in decision.outcomes if o.action.kind is ActionKind.ESCALATE]
    assert outcome.status is OutcomeStatus.DONE
    held = [h.case_id for h in await storage.outbox.held_reports(OFFICER)]
    due = [r.case_id for r in await storage.outbox.due_reports(clock.now + timedelta(days=30))]
    assert sorted(held + due) == [decision.case_id]  # queued exactly once, one way or the other
    return bool(held), outcome.detail


@pytest.mark.parametrize(
    ("text", "group", "immediate_from", "held"),
    [
        ("测试脏话", "qq:1001", "high", True),  # medium < high: waits for the digest
        ("测试链接", "qq:1001", "medium", True),  # low < medium
        ("测试赌局", "qq:1001", "high", False),  # high: at once
        ("测试脏话 测试赌局", "qq:1001", "high", False),  # a case is as severe as its worst
        ("测试脏话", "qq:77", "high", False),  # no digest for this group: never held
        ("测试链接", "qq:1001", "low", False),  # the default: everything at once
    ],
)
async def test_severity_routes_the_report(
    text: str, group: str, immediate_from: str, held: bool
) -> None:
    was_held, detail = await routed(text, group, immediate_from=immediate_from)
    assert was_held is held
    assert detail == ("held for the digest of 1 officer(s)" if held else "queued for 1 officer(s)")


def test_findings_without_a_category_use_the_default_severity() -> None:
    policy = parse_config({"escalation": {"immediate_from": "high"}}).policy()
    assert held_for_digest([Finding("x", None, "m", 0, 1)], policy) is True  # medium default
    assert held_for_digest([], policy) is True
    critical = parse_config({"ladder": {"default_severity": "critical"}}).policy()
    assert held_for_digest([], critical) is False
