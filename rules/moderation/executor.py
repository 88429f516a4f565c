"""Carry planned actions out through a Gateway, honest about what happened.

Two steps. :func:`resolve` (pure) replaces what the gateway cannot do in this
group with the configured fallbacks and records each substitution or skip as an
Outcome, so nothing is dropped silently. :func:`perform` runs the remaining
platform actions in order and turns exceptions into FAILED outcomes.

Dry run is not a flag here but a gateway: :class:`DryRunGateway` reports what it
would do with the real gateway's capabilities and touches nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

from rules.config import FallbackSettings
from rules.core.model import Action, ActionKind, Outcome, OutcomeStatus, Platform
from rules.core.ports import Gateway

log = logging.getLogger(__name__)

# Handled by the core (officer outbox, review queue), never by a platform gateway.
CORE_ACTIONS = frozenset({ActionKind.ESCALATE, ActionKind.REVIEW})


def resolve(
    actions: Iterable[Action],
    capabilities: frozenset[ActionKind],
    fallbacks: FallbackSettings,
) -> tuple[list[Action], list[Outcome]]:
    """Return (actions to run, outcomes for what was substituted or skipped)."""
    planned = list(actions)
    effective: list[Action] = []
    notes: list[Outcome] = []
    for action in planned:
        _resolve_one(action, capabilities, fallbacks, effective, notes, seen=set())
    return _dedupe(effective), notes


def _resolve_one(
    action: Action,
    capabilities: frozenset[ActionKind],
    fallbacks: FallbackSettings,
    effective: list[Action],
    notes: list[Outcome],
    seen: set[ActionKind],
) -> None:
    if action.kind in CORE_ACTIONS or action.kind in capabilities:
        effective.append(action)
        return
    seen = seen | {action.kind}
    replacements = [k for k in fallbacks.for_kind(action.kind) if k not in seen]
    if not replacements:
        notes.append(
            Outcome(action, OutcomeStatus.SKIPPED, "not possible here; no fallback configured")
        )
        return
    names = ", ".join(k.value for k in replacements)
    notes.append(Outcome(action, OutcomeStatus.SUBSTITUTED, f"not possible here; instead: {names}"))
    for kind in replacements:
        substitute = Action(
            kind,
            action.group_id,
            action.target_id,
            message_id=action.message_id,
            text=action.text,
            case_id=action.case_id,
        )
        _resolve_one(substitute, capabilities, fallbacks, effective, notes, seen)


def _dedupe(actions: list[Action]) -> list[Action]:
    """Keep the first action of each (kind, target): a fallback warn joins the planned warn."""
    seen: set[tuple[ActionKind, str]] = set()
    out: list[Action] = []
    for action in actions:
        key = (action.kind, action.target_id)
        if key not in seen:
            seen.add(key)
            out.append(action)
    return out


async def perform(actions: Iterable[Action], gateway: Gateway) -> list[Outcome]:
    """Run platform actions one by one; a failure never stops the rest."""
    outcomes: list[Outcome] = []
    for action in actions:
        if action.kind in CORE_ACTIONS:
            raise ValueError(f"{action.kind} is handled by the engine, not a gateway")
        try:
            outcome = await gateway.perform(action)
        except Exception as exc:  # a platform error must not lose the case
            log.warning("action %s on %s failed: %r", action.kind, action.target_id, exc)
            outcome = Outcome(action, OutcomeStatus.FAILED, f"{type(exc).__name__}: {exc}")
        outcomes.append(outcome)
    return outcomes


class DryRunGateway:
    """A gateway that decides with the real capabilities but does nothing."""

    def __init__(self, platform: Platform, capabilities: frozenset[ActionKind]) -> None:
        self.platform = platform
        self._capabilities = capabilities

    @classmethod
    def wrapping(cls, gateway: Gateway, group_id: str) -> DryRunGateway:
        return cls(gateway.platform, gateway.capabilities(group_id))

    def capabilities(self, group_id: str) -> frozenset[ActionKind]:
        return self._capabilities

    async def perform(self, action: Action) -> Outcome:
        return Outcome(action, OutcomeStatus.DRY_RUN, "dry run: not carried out")

    async def send_private(self, user_id: str, text: str) -> None:
        raise RuntimeError("dry run: no private messages are sent")
