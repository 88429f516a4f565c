"""Moderation by hand: /警告 /禁言 /解禁 /踢出 (warn, mute, unmute, kick), /赦免 /维持
(pardon, uphold a case) and /记录 (a member's strikes and cases).

A manual warning, mute or kick is a case like any automatic one (export,
/strikes, /pardon, appeals); owners, admins, officers, superusers and the bot
itself are never acted on.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from rules.commands import targets
from rules.commands.parse import duration
from rules.commands.service import Call, CommandError
from rules.commands.targets import shown
from rules.core.messages import category_name, human_duration, render, truncate
from rules.core.model import (
    Action,
    ActionKind,
    CaseRecord,
    ChatEvent,
    EventKind,
    Finding,
    Member,
    Outcome,
    OutcomeStatus,
    TaskKind,
    TaskStatus,
)
from rules.core.ports import NOMINAL_CAPABILITIES

MIN_MUTE = timedelta(minutes=1)
MAX_MUTE = timedelta(days=30)


def _protect(call: Call, member: Member) -> None:
    """Refuse to act on owners, admins, officers, superusers and the bot itself."""
    if (
        member.role.value in ("owner", "admin")
        or member.id in call.policy.escalation.officers
        or member.id in call.config.commands.superusers
        or member.id == call.request.bot_id
    ):
        raise CommandError(call.say("cmd_protected"), refused=True)


async def _act(call: Call, action: Action) -> Outcome:
    """Carry out one action through the group's gateway; a failure is the caller's reply."""
    edge = call.require_edge()
    verb = call.say(f"verb_{action.kind.value}")
    if action.kind not in edge.gateway.capabilities(action.group_id):
        if action.kind not in NOMINAL_CAPABILITIES[edge.gateway.platform]:
            raise call.fail("cmd_unsupported", what=verb)
        raise call.fail("cmd_cannot", what=verb)
    outcome = await edge.gateway.perform(action)
    if outcome.status is not OutcomeStatus.DONE:
        raise call.fail("cmd_failed", what=verb, detail=outcome.detail or outcome.status.value)
    call.notes.append(f"{action.kind.value} {action.target_id}: {outcome.status.value}")
    return outcome


async def _record_case(
    call: Call, member: Member, reason: str, outcome: Outcome, strike_weight: int
) -> int:
    """A manual action is a case like any other (export, /strikes, /pardon, appeals)."""
    group_id = call.require_group()
    event = ChatEvent(
        kind=EventKind.MESSAGE,
        platform=call.require_edge().gateway.platform,
        group_id=group_id,
        member=member,
        time=call.now,
        text=reason,
    )
    finding = Finding(
        "manual", "manual", truncate(reason, 80), 0, len(reason), f"by {call.request.caller.id}"
    )
    case_id = await call.store.open_case(event, (finding,), 0, call.now, strike_weight)
    await call.store.record_outcomes(
        case_id, (replace(outcome, action=replace(outcome.action, case_id=case_id)),), call.now
    )
    return case_id


def _reason(call: Call, words: list[str]) -> str:
    return " ".join(words).strip() or call.say("cmd_no_reason")


async def warn(call: Call) -> str:
    member, rest = await targets.target(call)
    _protect(call, member)
    reason = _reason(call, rest)
    notice = call.say("cmd_warn_notice", reason=reason)
    action = Action(ActionKind.WARN, call.require_group(), member.id, text=notice)
    outcome = await _act(call, action)
    case_id = await _record_case(call, member, reason, outcome, call.policy.ladder.weights["low"])
    if call.request.group_id is not None:
        return ""  # the @-notice in the group is the answer
    return call.say("cmd_warned", who=shown(member), case_id=case_id)


async def mute(call: Call) -> str:
    member, rest = await targets.target(call)
    if not rest:
        raise call.fail("cmd_bad_duration", with_usage=True, value="")
    length = duration(rest[0])
    if length is None:
        raise call.fail("cmd_bad_duration", with_usage=True, value=rest[0])
    if not MIN_MUTE <= length <= MAX_MUTE:
        raise call.fail("cmd_mute_range")
    _protect(call, member)
    reason = _reason(call, rest[1:])
    action = Action(ActionKind.MUTE, call.require_group(), member.id, duration=length, text=reason)
    outcome = await _act(call, action)
    case_id = await _record_case(call, member, reason, outcome, call.policy.ladder.weights["low"])
    return call.say(
        "cmd_muted",
        who=shown(member),
        duration=human_duration(length, call.lang),
        reason=call.say("cmd_reason", reason=" ".join(rest[1:])) if rest[1:] else "",
        case_id=case_id,
    )


async def unmute(call: Call) -> str:
    member, _ = await targets.target(call)
    await _act(call, Action(ActionKind.UNMUTE, call.require_group(), member.id))
    return call.say("cmd_unmuted", who=shown(member))


async def kick(call: Call) -> str:
    member, rest = await targets.target(call)
    _protect(call, member)
    reason = _reason(call, rest)
    action = Action(
        ActionKind.KICK,
        call.require_group(),
        member.id,
        text=reason,
        block_rejoin=call.policy.ladder.block_rejoin,
    )
    outcome = await _act(call, action)
    case_id = await _record_case(call, member, reason, outcome, 0)
    return call.say(
        "cmd_kicked",
        who=shown(member),
        reason=call.say("cmd_reason", reason=" ".join(rest)) if rest else "",
        case_id=case_id,
    )


async def pardon(call: Call) -> str:
    if call.case is not None:
        await _decide(call, call.case, TaskStatus.PARDONED, "")
        return call.say("cmd_pardoned_case", case_id=call.case.id)
    member, _ = await targets.target(call, absent_ok=True)
    weight = await call.store.void_strikes(call.require_group(), member.id)
    call.notes.append(f"voided {weight} strike weight of {member.id}")
    return call.say("cmd_pardoned_member", who=shown(member), weight=weight)


async def uphold(call: Call) -> str:
    if call.case is None:
        raise call.fail("cmd_need_case", with_usage=True)
    await _decide(call, call.case, TaskStatus.UPHELD, " ".join(call.args[1:]))
    return call.say("cmd_upheld_case", case_id=call.case.id)


async def _decide(call: Call, case: CaseRecord, status: TaskStatus, note: str) -> None:
    """Record an officer's decision on a case and tell whoever appealed it."""
    await call.store.set_case_status(case.id, status.value)
    call.notes.append(f"case {case.id}: {status.value}")
    for task in await call.store.open_tasks_for_case(case.id):
        if task.id is None:
            continue
        await call.store.decide_task(task.id, status, call.request.caller.id, call.now)
        if task.kind is TaskKind.APPEAL:
            lang = call.config.policy_for(case.group_id).moderation.language
            key = "appeal_pardoned" if status is TaskStatus.PARDONED else "appeal_upheld"
            text = render(key, lang, case_id=case.id, note=note)
            await call.tell(task.requester_id, text.strip(), case.id)


async def strikes(call: Call) -> str:
    member, _ = await targets.target(call, absent_ok=True)
    group_id = call.require_group()
    expire = call.policy.ladder.expire_after
    weight = await call.store.strike_weight(group_id, member.id, call.now - expire)
    lines = [call.say("cmd_strikes", who=shown(member), weight=weight, days=max(expire.days, 1))]
    cases = await call.store.member_cases(group_id, member.id)
    lines.extend(
        call.say(
            "cmd_strikes_case",
            case_id=c.id,
            date=targets.local_date(c.created_at, call.policy),
            categories="、".join(category_name(k, call.lang) for k in c.categories),
            status=call.say(f"case_status_{c.status}"),
        )
        for c in cases
    )
    if not cases:
        lines.append(call.say("cmd_no_cases"))
    return "\n".join(lines)
