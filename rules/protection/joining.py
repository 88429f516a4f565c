"""What protection does when someone asks to join or joins: refusals and removals.

A banned applicant's join request is refused (on QQ; WeChat has no requests),
and so is an applicant the roster does not know while the group is under a
raid. A banned account that joins anyway (invited by a member, or in a group
the sweep could not see) is removed again. Each is a case with its outcomes;
the officers are told of every ban hit at once.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Collection
from dataclasses import replace

from rules.config import Policy
from rules.core.messages import render
from rules.core.model import (
    Action,
    ActionKind,
    ChatEvent,
    Decision,
    Finding,
    Outcome,
)
from rules.core.ports import Gateway, Store
from rules.core.protection_records import Ban
from rules.moderation import executor
from rules.protection import reports

# (officers, text, case id, send at once): queue one report for each officer
Tell = Callable[[Collection[str], str, int | None, bool], Awaitable[None]]


async def act(
    journal: Store,
    event: ChatEvent,
    finding: Finding,
    actions: list[Action],
    policy: Policy,
    gateway: Gateway,
    dry_run: bool,
) -> tuple[int, list[Outcome]]:
    """A case for ``finding``, the actions (with the group's fallbacks), their outcomes."""
    now = event.time
    case_id = await journal.open_case(event, (finding,), 0, now)
    acting = executor.DryRunGateway.wrapping(gateway, event.group_id) if dry_run else gateway
    effective, outcomes = executor.resolve(
        [replace(a, case_id=case_id) for a in actions],
        acting.capabilities(event.group_id),
        policy.fallbacks,
    )
    platform_actions = [a for a in effective if a.kind is not ActionKind.ESCALATE]
    outcomes.extend(await executor.perform(platform_actions, acting))
    await journal.record_outcomes(case_id, tuple(outcomes), now)
    return case_id, outcomes


def ban_finding(ban: Ban) -> Finding:
    return Finding("ban", "ban", ban.member_id, 0, 0, detail=f"ban #{ban.id}: {ban.reason}")


def _outcome_of(kind: ActionKind, outcomes: list[Outcome], policy: Policy) -> str:
    lang = policy.moderation.language
    found = [o for o in outcomes if o.action.kind is kind]
    if found:
        return reports.join_outcome(found[0], lang)
    return render("outcome_not_done", lang, action="", detail="-")


async def refuse(
    journal: Store,
    tell: Tell,
    event: ChatEvent,
    gateway: Gateway,
    policy: Policy,
    dry_run: bool,
    ban: Ban | None,
) -> Decision:
    """Refuse a join request: ``ban`` hit, or (None) an unknown applicant during a raid."""
    lang = policy.moderation.language
    reason = render("ban_join_reason" if ban else "raid_join_refused", lang)
    finding = (
        ban_finding(ban) if ban else Finding("raid", "raid", event.member.id, 0, 0, detail=reason)
    )
    action = Action(ActionKind.REJECT_JOIN, event.group_id, event.member.id, text=reason)
    case_id, outcomes = await act(journal, event, finding, [action], policy, gateway, dry_run)
    if ban is not None:
        text = render(
            "ban_join_refused",
            lang,
            member=reports.member_shown(event.member.id, event.member.nickname),
            group=event.group_id,
            ban=ban.id,
            reason=ban.reason,
            outcome=_outcome_of(ActionKind.REJECT_JOIN, outcomes, policy),
        )
        await tell(policy.escalation.officers, text, case_id, True)
    note = "banned applicant refused" if ban else "unknown applicant refused during a raid"
    return Decision(
        findings=(finding,),
        actions=tuple(o.action for o in outcomes),
        outcomes=tuple(outcomes),
        case_id=case_id,
        notes=(note,),
    )


async def remove_banned(
    journal: Store,
    tell: Tell,
    event: ChatEvent,
    ban: Ban,
    policy: Policy,
    gateway: Gateway,
    dry_run: bool,
) -> None:
    """A banned account joined: removed again, and the officers told."""
    action = Action(ActionKind.KICK, event.group_id, event.member.id, text=ban.reason)
    case_id, outcomes = await act(
        journal, event, ban_finding(ban), [action], policy, gateway, dry_run
    )
    text = render(
        "ban_join_removed",
        policy.moderation.language,
        member=reports.member_shown(event.member.id, event.member.card),
        group=event.group_id,
        ban=ban.id,
        reason=ban.reason,
        outcome=_outcome_of(ActionKind.KICK, outcomes, policy),
    )
    await tell(policy.escalation.officers, text, case_id, True)
