"""The executor: capability fallbacks are applied and recorded; failures never escape."""

from __future__ import annotations

import pytest

from rules.config import FallbackSettings
from rules.core.model import Action, ActionKind, OutcomeStatus, Platform
from rules.core.ports import NOMINAL_CAPABILITIES
from rules.moderation import executor
from tests.fakes import FakeGateway

QQ = NOMINAL_CAPABILITIES[Platform.QQ]
WECHAT = NOMINAL_CAPABILITIES[Platform.WECHAT]


def act(kind: ActionKind, target: str = "qq:2") -> Action:
    return Action(kind, "qq:1", target, message_id="m1")


@pytest.mark.parametrize(
    ("planned", "caps", "effective", "notes"),
    [
        # everything possible: unchanged
        ([ActionKind.DELETE, ActionKind.MUTE, ActionKind.WARN], QQ,
         [ActionKind.DELETE, ActionKind.MUTE, ActionKind.WARN], []),
        # WeChat: no delete (skipped, recorded), mute -> warn + escalate, warn deduplicated
        ([ActionKind.DELETE, ActionKind.MUTE, ActionKind.WARN], WECHAT,
         [ActionKind.WARN, ActionKind.ESCALATE],
         [(ActionKind.DELETE, OutcomeStatus.SKIPPED),
          (ActionKind.MUTE, OutcomeStatus.SUBSTITUTED)]),
        # a bot without admin rights: kick -> escalate
        ([ActionKind.KICK, ActionKind.WARN], frozenset({ActionKind.WARN}),
         [ActionKind.ESCALATE, ActionKind.WARN], [(ActionKind.KICK, OutcomeStatus.SUBSTITUTED)]),
        # escalation is the core's job: always kept
        ([ActionKind.ESCALATE], frozenset(), [ActionKind.ESCALATE], []),
    ],
)  # fmt: skip
def test_resolve(
    planned: list[ActionKind],
    caps: frozenset[ActionKind],
    effective: list[ActionKind],
    notes: list[tuple[ActionKind, OutcomeStatus]],
) -> None:
    actions, outcomes = executor.resolve([act(k) for k in planned], caps, FallbackSettings())
    assert [a.kind for a in actions] == effective
    assert [(o.action.kind, o.status) for o in outcomes] == notes


def test_fallback_chains_stop_at_cycles() -> None:
    fallbacks = FallbackSettings.model_validate({"mute": ["kick"], "kick": ["mute", "warn"]})
    actions, outcomes = executor.resolve(
        [act(ActionKind.MUTE)], WECHAT - {ActionKind.KICK}, fallbacks
    )
    assert [a.kind for a in actions] == [ActionKind.WARN]
    assert [o.status for o in outcomes] == [OutcomeStatus.SUBSTITUTED, OutcomeStatus.SUBSTITUTED]


def test_no_fallback_is_recorded_as_skipped() -> None:
    fallbacks = FallbackSettings.model_validate({"mute": []})
    actions, outcomes = executor.resolve([act(ActionKind.MUTE)], WECHAT, fallbacks)
    assert actions == []
    assert outcomes[0].status is OutcomeStatus.SKIPPED and outcomes[0].detail


async def test_perform_turns_failures_and_exceptions_into_outcomes() -> None:
    gateway = FakeGateway(fail={ActionKind.MUTE}, raise_on={ActionKind.DELETE})
    outcomes = await executor.perform(
        [act(ActionKind.DELETE), act(ActionKind.MUTE), act(ActionKind.WARN)], gateway
    )
    assert [o.status for o in outcomes] == [
        OutcomeStatus.FAILED,
        OutcomeStatus.FAILED,
        OutcomeStatus.DONE,
    ]
    assert "ConnectionError" in outcomes[0].detail
    assert gateway.kinds() == [ActionKind.MUTE, ActionKind.WARN]  # the rest still ran


async def test_perform_refuses_core_actions() -> None:
    with pytest.raises(ValueError):
        await executor.perform([act(ActionKind.ESCALATE)], FakeGateway())


async def test_dry_run_gateway_keeps_capabilities_and_does_nothing() -> None:
    real = FakeGateway(platform=Platform.WECHAT)
    dry = executor.DryRunGateway.wrapping(real, "wechat:r")
    assert dry.capabilities("wechat:r") == WECHAT
    outcomes = await executor.perform([act(ActionKind.WARN)], dry)
    assert outcomes[0].status is OutcomeStatus.DRY_RUN
    assert real.performed == []
    with pytest.raises(RuntimeError):
        await dry.send_private("qq:1", "x")
