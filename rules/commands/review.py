"""/确认 and /误判 (confirm, falsepositive): deciding a case held for review.

A case whose findings were all too weak for the ladder (``[review]``,
``rules.moderation.review``) has an open review item and no strike. ``/确认 #N``
says the finding was right: the ladder step is applied now, as if the evidence
had been strong (the member's strikes counted now, the step's mute or removal,
the @-notice with the case number, the report where the step reports; the
message is deleted unless it already was). ``/误判 #N`` voids the case; its reply
offers ``/误判 #N 加白``, which also puts the matched text on the group's
allow-list (through the word service) so the same text passes from then on.
Only spellings that differ from the banned term (a sound-alike such as 大码, a
pinyin or mixed spelling) are offered: allow-listing a term as written, or a
picture, would let every such message pass in the group.

The decision is recorded before anything is carried out: the case (upheld, its
step, its strike) and the review item, which only one caller can close.
"""

from __future__ import annotations

from dataclasses import replace

from rules.commands.service import Call
from rules.core.messages import action_name, render
from rules.core.model import (
    Action,
    ActionKind,
    CaseRecord,
    ChatEvent,
    EventKind,
    Finding,
    MatchKind,
    Member,
    OfficerTask,
    Outcome,
    OutcomeStatus,
    Strike,
    TaskKind,
    TaskStatus,
    split_id,
)
from rules.core.records import ReviewCase
from rules.moderation import executor, ladder
from rules.moderation.executor import DryRunGateway
from rules.moderation.notices import report_text, worded_notice

ALLOW_WORDS = frozenset({"加白", "白名单", "allow", "allowlist"})
# Spellings that are not the banned term itself: allow-listing one clears that spelling only.
ALLOWABLE = frozenset({MatchKind.HOMOPHONE, MatchKind.PINYIN, MatchKind.MIXED})
_CARRIED_OUT = frozenset({OutcomeStatus.DONE, OutcomeStatus.DRY_RUN})


async def confirm(call: Call) -> str:
    case = _case(call)
    task = await _open_review(call, case)
    found = await call.store.review_case(case.id)
    if found is None:  # (the case was just read)
        raise call.fail("cmd_review_none", case_id=case.id)
    policy = call.config.policy_for(case.group_id)
    findings = _ladder_findings(call, found)
    if not findings:
        raise call.fail("cmd_review_none", case_id=case.id)
    event = _event(call, found)
    expire = policy.ladder.expire_after
    prior = await call.store.strike_weight(found.group_id, found.member_id, call.now - expire)
    rung = ladder.climb(findings, prior, policy.ladder)
    planned = [
        a
        for a in ladder.plan(event, rung, policy.ladder)
        if not (a.kind is ActionKind.DELETE and found.deleted)
    ]
    # Decided before anything is done: only one caller closes the item.
    if task.id is None or not await call.store.close_task(
        task.id, TaskStatus.UPHELD, call.request.caller.id, call.now
    ):
        raise call.fail("cmd_review_decided", case_id=case.id, status=_status(call, "upheld"))
    strike = Strike(found.group_id, found.member_id, rung.weight, found.created_at, case.id)
    await call.store.confirm_review(case.id, rung.step, strike)
    call.notes.append(f"case {case.id}: confirmed, step {rung.step}, weight {rung.weight}")

    gateway = call.require_edge().gateway
    if policy.moderation.dry_run:
        gateway = DryRunGateway.wrapping(gateway, case.group_id)
    effective, outcomes = executor.resolve(
        planned, gateway.capabilities(case.group_id), policy.fallbacks
    )
    enforcing = [a for a in effective if a.kind not in executor.CORE_ACTIONS | _NOTICES]
    enforced = await executor.perform(enforcing, gateway)
    outcomes += enforced
    notices = [
        worded_notice(a, findings, enforced, rung.total, policy, case.id)
        for a in effective
        if a.kind in _NOTICES
    ]
    outcomes += await executor.perform(notices, gateway)
    for action in effective:
        if action.kind is ActionKind.ESCALATE:
            outcomes.append(await _report(call, action, event, findings, outcomes, case.id))
    stamped = tuple(replace(o, action=replace(o.action, case_id=case.id)) for o in outcomes)
    await call.store.record_outcomes(case.id, stamped, call.now)
    return call.say(
        "cmd_review_confirmed", case_id=case.id, actions=_done(call, stamped)
    ) + _not_done(call, stamped)


async def falsepositive(call: Call) -> str:
    case = _case(call)
    wants_allow = any(word.lower() in ALLOW_WORDS for word in call.args[1:])
    reviews = [
        t for t in await call.store.open_tasks_for_case(case.id) if t.kind is TaskKind.REVIEW
    ]
    lines = []
    if reviews:
        task = reviews[0]
        if task.id is None or not await call.store.close_task(
            task.id, TaskStatus.PARDONED, call.request.caller.id, call.now
        ):
            raise call.fail("cmd_review_decided", case_id=case.id, status=_status(call, "upheld"))
        await call.store.set_case_status(case.id, TaskStatus.PARDONED.value)
        call.notes.append(f"case {case.id}: false positive")
        lines.append(call.say("cmd_review_voided", case_id=case.id))
    elif case.status == TaskStatus.PARDONED.value and wants_allow:
        pass  # voided before: the allow-list entry the reply offered
    elif case.status in (TaskStatus.PARDONED.value, TaskStatus.UPHELD.value):
        raise call.fail("cmd_review_decided", case_id=case.id, status=_status(call, case.status))
    else:
        raise call.fail("cmd_review_none", case_id=case.id)

    found = await call.store.review_case(case.id)
    words = _allowable(found.findings) if found is not None else []
    if not wants_allow:
        if words:
            lines.append(
                call.say("cmd_review_offer_allow", case_id=case.id, words="、".join(words))
            )
        return "\n".join(lines)
    if not words:
        lines.append(call.say("cmd_review_nothing_to_allow", case_id=case.id))
        return "\n".join(lines)
    service = call.service.words
    if service is None:
        raise call.fail("cmd_review_no_words")
    for word in words:
        await service.add(case.group_id, word, allow=True, added_by=call.request.caller.id)
    call.notes.append(f"allow {','.join(words)}")
    lines.append(call.say("cmd_review_allowed", words="、".join(words)))
    return "\n".join(lines)


_NOTICES = frozenset({ActionKind.WARN, ActionKind.REMIND})


def _case(call: Call) -> CaseRecord:
    """The case the command names (``#N``; the service resolved it)."""
    if call.case is None:
        raise call.fail("cmd_need_case", with_usage=True)
    return call.case


async def _open_review(call: Call, case: CaseRecord) -> OfficerTask:
    """The case's open review item, or the reason there is none."""
    for task in await call.store.open_tasks_for_case(case.id):
        if task.kind is TaskKind.REVIEW:
            return task
    if case.status in (TaskStatus.PARDONED.value, TaskStatus.UPHELD.value):
        raise call.fail("cmd_review_decided", case_id=case.id, status=_status(call, case.status))
    raise call.fail("cmd_review_none", case_id=case.id)


def _status(call: Call, status: str) -> str:
    return call.say(f"review_status_{status}")


def _ladder_findings(call: Call, found: ReviewCase) -> tuple[Finding, ...]:
    """The case's findings that count as a violation (not card reminders), taken as strong."""
    reminder_only = {d.name for d in call.service.engine.detectors if not d.feeds_ladder}
    return tuple(f for f in found.findings if f.detector not in reminder_only)


def _allowable(findings: tuple[Finding, ...]) -> list[str]:
    """The matched text of the case's text findings spelled unlike the banned term."""
    return list(
        dict.fromkeys(
            f.match.strip()
            for f in findings
            if f.detector == "keyword"
            and f.image is None
            and f.how in ALLOWABLE
            and f.match.strip()
        )
    )


def _event(call: Call, found: ReviewCase) -> ChatEvent:
    """The case's message as the ladder plans for it (the evidence is masked already)."""
    return ChatEvent(
        kind=EventKind.MESSAGE,
        platform=split_id(found.group_id)[0],
        group_id=found.group_id,
        member=Member(found.member_id, card=found.member_card),
        time=found.created_at,
        text=found.evidence,
        message_id=found.message_id,
    )


async def _report(
    call: Call,
    action: Action,
    event: ChatEvent,
    findings: tuple[Finding, ...],
    outcomes: list[Outcome],
    case_id: int,
) -> Outcome:
    """The step reports to the officers: what was found and what has been done."""
    policy = call.config.policy_for(event.group_id)
    if policy.moderation.dry_run:
        return Outcome(action, OutcomeStatus.DRY_RUN, "dry run: not reported")
    text = report_text(case_id, event, findings, outcomes, policy, call.now, evidence=event.text)
    told = await call.tell_officers(event.group_id, text, case_id)
    if not told:
        return Outcome(action, OutcomeStatus.SKIPPED, "no officer configured for this group")
    return Outcome(action, OutcomeStatus.DONE, f"queued for {told} officer(s)")


def _done(call: Call, outcomes: tuple[Outcome, ...]) -> str:
    kinds = dict.fromkeys(
        o.action.kind.value
        for o in outcomes
        if o.status in _CARRIED_OUT and o.action.kind is not ActionKind.ESCALATE
    )
    kinds.pop(ActionKind.REVIEW.value, None)
    sep = "、" if call.lang == "zh" else ", "
    shown = [action_name(k, call.lang) for k in kinds]
    if any(o.action.kind is ActionKind.ESCALATE and o.status in _CARRIED_OUT for o in outcomes):
        shown.append(action_name(ActionKind.ESCALATE.value, call.lang))
    return sep.join(shown) or render("none", call.lang)


def _not_done(call: Call, outcomes: tuple[Outcome, ...]) -> str:
    failed = [
        action_name(o.action.kind.value, call.lang)
        for o in outcomes
        if o.status in (OutcomeStatus.FAILED, OutcomeStatus.SKIPPED)
    ]
    if not failed:
        return ""
    sep = "、" if call.lang == "zh" else ", "
    return call.say("cmd_review_not_done", actions=sep.join(failed))
