"""The penalty ladder: pure functions from (strike history, findings) to actions.

Each violation adds strikes by its severity (``[ladder.weights]``); the member's
active strikes (those younger than ``expire_after``) pick the step
(``steps[n-1]``, capped at the last step). A critical finding jumps straight to
the last step. Officers are told from ``escalate_from_step`` on, or at once for
findings at or above ``escalate_severity``.
"""

from __future__ import annotations

from dataclasses import dataclass

from rules.config import LadderSettings, LadderStep
from rules.core.model import Action, ActionKind, ChatEvent, Finding, Severity


@dataclass(frozen=True, slots=True)
class Rung:
    """Where one violation lands on the ladder."""

    severity: Severity
    weight: int
    total: int  # active strikes including this violation
    step: int  # 1-based index into LadderSettings.steps
    escalate: bool

    def step_of(self, settings: LadderSettings) -> LadderStep:
        return settings.steps[self.step - 1]


def climb(findings: tuple[Finding, ...], prior_weight: int, settings: LadderSettings) -> Rung:
    """Place a violation with these findings on the ladder, given the active strikes."""
    if not findings:
        raise ValueError("climb() needs at least one finding")
    severity = max(settings.severity_of(f.category) for f in findings)
    last = len(settings.steps)
    if severity is Severity.CRITICAL:
        weight = max(last - prior_weight, 1)
    else:
        weight = settings.weights[severity.name.lower()]  # type: ignore[index]
    total = prior_weight + weight
    step = min(total, last)
    escalate = step >= settings.escalate_from_step or severity >= settings.escalate_severity
    return Rung(severity=severity, weight=weight, total=total, step=step, escalate=escalate)


def removal_of(event: ChatEvent, settings: LadderSettings) -> Action | None:
    """The message's deletion, which every step starts with (when configured): it does
    not depend on the member's strikes, so it can start before they are read."""
    if not settings.delete_message or event.message_id is None:
        return None
    return Action(ActionKind.DELETE, event.group_id, event.member.id, message_id=event.message_id)


def plan(event: ChatEvent, rung: Rung, settings: LadderSettings) -> tuple[Action, ...]:
    """The actions for one violation, in the order they should run.

    Enforcement first (delete, mute/kick), then the @-notice in the group (whose
    wording the engine fills in from what actually happened), then the report.
    """
    group, target = event.group_id, event.member.id
    step = rung.step_of(settings)
    removal = removal_of(event, settings)
    actions: list[Action] = [] if removal is None else [removal]
    if step.kind is ActionKind.MUTE:
        actions.append(Action(ActionKind.MUTE, group, target, duration=step.duration))
    elif step.kind is ActionKind.KICK:
        actions.append(Action(ActionKind.KICK, group, target, block_rejoin=settings.block_rejoin))
    actions.append(Action(ActionKind.WARN, group, target, message_id=event.message_id))
    if rung.escalate:
        actions.append(Action(ActionKind.ESCALATE, group, target, message_id=event.message_id))
    return tuple(actions)
