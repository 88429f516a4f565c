"""Join screening for QQ group-add requests (不得接受不明身份人员加入, 000 §6, 003 §7).

:func:`screen` (pure) decides from the request's comment and the applicant's
account: approve when the account or the comment identifies a current roster
person, or when the comment follows the group's card format (per
``[join] approve``); reject a person the roster marks as left; otherwise reject
or leave the request for a human (``[join] otherwise``). :func:`handle` carries
the decision out (APPROVE_JOIN / REJECT_JOIN with the reason as ``text``),
records a case and tells the officers (and ``[join] notify``) what was decided
and why.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Literal

from rules.config import Policy
from rules.core.messages import Language, render, truncate
from rules.core.model import (
    Action,
    ActionKind,
    ChatEvent,
    Decision,
    Finding,
    Outcome,
    OutcomeStatus,
)
from rules.core.ports import Gateway, Store
from rules.detectors.nickname import NicknameDetector
from rules.moderation import executor

Verdict = Literal["approve", "reject", "ignore"]
# QQ puts the join question and answer in the comment: "问题：...\n答案：张三+办公室".
_ANSWER = re.compile(r"答案[:：]\s*(.*)$", re.S)


@dataclass(frozen=True, slots=True)
class Screening:
    verdict: Verdict
    reason: str


def answer_of(comment: str) -> str:
    """The applicant's own words in a QQ request comment."""
    match = _ANSWER.search(comment)
    return (match[1] if match else comment).strip()


def screen(event: ChatEvent, policy: Policy, nickname: NicknameDetector) -> Screening:
    """Decide one join request (no I/O)."""
    lang: Language = policy.moderation.language
    settings = policy.nickname
    comment = answer_of(event.comment)
    roster = nickname.roster_for(settings) if settings.roster else None
    rules = nickname.rules_for(settings)
    if roster is not None:
        person = roster.person_for(event.member.id)
        if person is not None and person.left:
            return Screening("reject", render("join_left", lang, name=person.name))
        if person is not None and policy.join.approve != "format":
            return Screening("approve", render("join_roster_id", lang, name=person.name))
        names = {r.get("name") or r.get("child") or "" for r in rules.valid_readings(comment)}
        names.add(comment)
        people = [p for n in sorted(names) if n for p in roster.named(n)]
        current = [p for p in people if not p.left]
        if current and policy.join.approve != "format":
            name = current[0].name
            return Screening(
                "approve", render("join_roster_name", lang, comment=comment, name=name)
            )
        if people and not current:
            return Screening("reject", render("join_left", lang, name=people[0].name))
    problems = rules.problems(comment)
    if not problems and policy.join.approve != "roster":
        return Screening("approve", render("join_format", lang, comment=comment))
    detail = "；".join(p.text(lang) for p in problems)
    if not detail and roster is not None:
        detail = render("roster_unknown_name", lang, value=comment)
    reason = render("join_unknown", lang, comment=truncate(comment, 40), detail=detail)
    return Screening("reject" if policy.join.otherwise == "reject" else "ignore", reason)


async def handle(
    event: ChatEvent,
    gateway: Gateway,
    policy: Policy,
    store: Store,
    nickname: NicknameDetector,
    now: datetime,
    dry_run: bool,
) -> Decision:
    """Screen, act, record and report one join request."""
    if not policy.join.enabled:
        return Decision(notes=("join screening is off for this group",))
    lang = policy.moderation.language
    result = screen(event, policy, nickname)
    finding = Finding("join", "join", answer_of(event.comment), 0, 0, detail=result.reason)
    case_id = await store.open_case(event, (finding,), 0, now)
    planned: list[Action] = []
    if result.verdict != "ignore":
        kind = ActionKind.APPROVE_JOIN if result.verdict == "approve" else ActionKind.REJECT_JOIN
        planned.append(Action(kind, event.group_id, event.member.id, text=result.reason))
    if dry_run:
        gateway = executor.DryRunGateway.wrapping(gateway, event.group_id)
    effective, outcomes = executor.resolve(
        planned, gateway.capabilities(event.group_id), policy.fallbacks
    )
    effective = [replace(a, case_id=case_id) for a in effective]
    outcomes.extend(await executor.perform(effective, gateway))
    decision_key = {
        "approve": "join_approved",
        "reject": "join_rejected",
        "ignore": "join_left_for_admin",
    }[result.verdict]
    text = render(
        "join_report",
        lang,
        group=event.group_id,
        member=f"{event.member.nickname or '-'} ({event.member.id})",
        comment=truncate(event.comment or "-", 100),
        decision=render(decision_key, lang),
        reason=result.reason,
        time=now.isoformat(timespec="seconds"),
    )
    recipients = list(dict.fromkeys([*policy.escalation.officers, *policy.join.notify]))
    report = Action(ActionKind.ESCALATE, event.group_id, event.member.id, case_id=case_id)
    if dry_run:
        outcomes.append(Outcome(report, OutcomeStatus.DRY_RUN, "dry run: not reported"))
    elif recipients:
        for officer in recipients:
            await store.enqueue_report(officer, text, case_id, now)
        outcomes.append(Outcome(report, OutcomeStatus.DONE, f"queued for {len(recipients)}"))
    else:
        outcomes.append(Outcome(report, OutcomeStatus.SKIPPED, "no officer configured"))
    final = tuple(outcomes)
    await store.record_outcomes(case_id, final, now)
    return Decision(
        findings=(finding,),
        actions=tuple(effective),
        outcomes=final,
        case_id=case_id,
        notes=(result.verdict,),
    )
