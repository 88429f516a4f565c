"""The ladder: strikes escalate by severity, critical jumps, escalation thresholds."""

from __future__ import annotations

import pytest

from rules.config import LadderSettings
from rules.core.model import ActionKind, Finding
from rules.moderation.ladder import climb, plan
from tests.fakes import message

SETTINGS = LadderSettings()  # warn, mute 10m, mute 1d, kick; escalate from step 4 or high


def finding(category: str | None) -> Finding:
    return Finding("keyword", category, "x", 0, 1)


@pytest.mark.parametrize(
    ("category", "prior", "step", "weight", "escalate"),
    [
        ("insult", 0, 1, 1, False),  # medium: first strike warns
        ("insult", 1, 2, 1, False),  # second: mute 10m
        ("insult", 2, 3, 1, False),  # third: mute 1d
        ("insult", 3, 4, 1, True),  # fourth: kick, reported
        ("insult", 9, 4, 1, True),  # capped at the last step
        ("flood", 0, 1, 1, False),  # low
        ("gambling", 0, 2, 2, True),  # high: two strikes, reported at once
        ("politics", 0, 4, 4, True),  # critical: straight to the last step
        ("politics", 3, 4, 1, True),
        (None, 0, 1, 1, False),  # unknown category: default (medium)
        ("made-up", 0, 1, 1, False),
    ],
)
def test_climb(category: str | None, prior: int, step: int, weight: int, escalate: bool) -> None:
    rung = climb((finding(category),), prior, SETTINGS)
    assert (rung.step, rung.weight, rung.escalate) == (step, weight, escalate)
    assert rung.total == prior + weight


def test_most_severe_finding_decides() -> None:
    rung = climb((finding("flood"), finding("porn")), 0, SETTINGS)
    assert rung.step == 2 and rung.escalate


def test_weights_and_thresholds_are_configurable() -> None:
    settings = LadderSettings.model_validate(
        {
            "steps": ["warn", "kick"],
            "weights": {"low": 1, "medium": 2, "high": 2},
            "escalate_from_step": 2,
            "escalate_severity": "critical",
        }
    )
    assert climb((finding("insult"),), 0, settings).step == 2
    assert climb((finding("gambling"),), 0, settings).escalate is True  # step 2 >= 2
    assert climb((finding("flood"),), 0, settings).escalate is False


def test_climb_needs_a_finding() -> None:
    with pytest.raises(ValueError):
        climb((), 0, SETTINGS)


@pytest.mark.parametrize(
    ("prior", "kinds"),
    [
        (0, [ActionKind.DELETE, ActionKind.WARN]),
        (1, [ActionKind.DELETE, ActionKind.MUTE, ActionKind.WARN]),
        (3, [ActionKind.DELETE, ActionKind.KICK, ActionKind.WARN, ActionKind.ESCALATE]),
    ],
)
def test_plan_orders_enforcement_then_notice_then_report(
    prior: int, kinds: list[ActionKind]
) -> None:
    event = message("x")
    actions = plan(event, climb((finding("insult"),), prior, SETTINGS), SETTINGS)
    assert [a.kind for a in actions] == kinds
    assert all(a.target_id == event.member.id and a.group_id == event.group_id for a in actions)


def test_plan_carries_mute_duration_and_rejoin_block() -> None:
    settings = LadderSettings.model_validate({"block_rejoin": True, "delete_message": False})
    event = message("x")
    muted = plan(event, climb((finding("insult"),), 2, settings), settings)
    assert [a.kind for a in muted] == [ActionKind.MUTE, ActionKind.WARN]
    assert muted[0].duration is not None and muted[0].duration.total_seconds() == 86400
    kicked = plan(event, climb((finding("insult"),), 3, settings), settings)
    assert kicked[0].kind is ActionKind.KICK and kicked[0].block_rejoin
