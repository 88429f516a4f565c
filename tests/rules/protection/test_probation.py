"""Probation: a new member's first messages are judged with the strict policy."""

from __future__ import annotations

from datetime import timedelta

import pytest

from rules.config import Config, parse_config
from rules.core.model import Severity
from rules.detectors.link import LinkDetector
from rules.moderation import ladder
from rules.protection.probation import Probation, strict_policy
from tests.fakes import T0, message

GROUP, NEW, OLD = "qq:1001", "qq:3001", "qq:2001"


def config(**probation: object) -> Config:
    return parse_config(
        {
            "links": {"allow_domains": ["edu.cn"]},
            "protection": {"probation": probation},
        }
    )


@pytest.mark.parametrize(
    ("settings", "after", "messages_before", "strict"),
    [
        ({}, timedelta(minutes=5), 0, True),  # just joined
        ({}, timedelta(days=4), 0, False),  # period (3 days) over
        ({"messages": 2}, timedelta(minutes=5), 2, False),  # first two messages used up
        ({"messages": 2}, timedelta(minutes=5), 1, True),
        ({"messages": 0}, timedelta(days=2), 50, True),  # 0: the whole period
        ({"enabled": False}, timedelta(minutes=5), 0, False),
    ],
)
def test_who_is_on_probation(
    settings: dict[str, object], after: timedelta, messages_before: int, strict: bool
) -> None:
    policy = config(**settings).policy_for(GROUP)
    probation = Probation()
    probation.joined(GROUP, NEW, T0)
    for _ in range(messages_before):
        probation.policy_for_message(GROUP, NEW, T0 + after, policy)
    judged = probation.policy_for_message(GROUP, NEW, T0 + after, policy)
    assert (judged is not policy) == strict
    # a member who did not join (as far as we know) is never on probation
    assert probation.policy_for_message(GROUP, OLD, T0 + after, policy) is policy


def test_strict_links_ignore_allowed_domains_and_catch_cards() -> None:
    policy = config().policy_for(GROUP)
    strict = strict_policy(policy)
    text = "报名请进 http://x.edu.cn/a"
    detector = LinkDetector()
    assert detector.check(message(text), policy.links) == []
    assert [f.category for f in detector.check(message(text), strict.links)] == ["link"]
    assert strict.ladder.delete_message and strict.links.cards and strict.images.qrcode.enabled


def test_strict_policy_deletes_at_the_first_offence_even_if_the_group_does_not() -> None:
    policy = parse_config({"ladder": {"delete_message": False}}).policy_for(GROUP)
    strict = strict_policy(policy)
    assert ladder.removal_of(message("x"), strict.ladder) is not None
    assert ladder.removal_of(message("x"), policy.ladder) is None


def test_kick_action_makes_probation_categories_critical() -> None:
    strict = strict_policy(config(action="kick").policy_for(GROUP))
    assert strict.ladder.severity_of("link") is Severity.CRITICAL
    assert strict.ladder.severity_of("solicit") is Severity.CRITICAL
    assert strict.ladder.severity_of("insult") is Severity.MEDIUM  # others unchanged
    finding = LinkDetector().check(message("www.spam.cn"), strict.links)
    rung = ladder.climb(tuple(finding), 0, strict.ladder)
    assert rung.step_of(strict.ladder).kind.value == "kick"


def test_strict_policy_is_cached_per_group_policy_object() -> None:
    cfg = config()
    probation = Probation()
    probation.joined(GROUP, NEW, T0)
    first = probation.policy_for_message(GROUP, NEW, T0, cfg.policy_for(GROUP))
    second = probation.policy_for_message(GROUP, NEW, T0, cfg.policy_for(GROUP))
    assert first is second
    cfg.set_runtime_overrides(GROUP, {"links": {"ips": False}})  # a new policy object
    third = probation.policy_for_message(GROUP, NEW, T0, cfg.policy_for(GROUP))
    assert third is not first


def test_rejoining_restarts_probation_and_leaving_ends_it() -> None:
    policy = config(messages=1).policy_for(GROUP)
    probation = Probation()
    probation.joined(GROUP, NEW, T0)
    probation.policy_for_message(GROUP, NEW, T0, policy)
    assert not probation.on_probation(GROUP, NEW, T0, policy.protection.probation)
    probation.joined(GROUP, NEW, T0 + timedelta(hours=1))
    assert probation.on_probation(GROUP, NEW, T0, policy.protection.probation)
    probation.left(GROUP, NEW)
    assert probation.joined_at(GROUP, NEW) is None


def test_join_times_are_bounded() -> None:
    probation = Probation(capacity=100)
    for i in range(1000):
        probation.joined(GROUP, f"qq:{i}", T0)
    assert len(probation) == 100
    assert probation.joined_at(GROUP, "qq:999") == T0
    assert probation.joined_at(GROUP, "qq:0") is None
