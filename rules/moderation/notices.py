"""What the engine says: the @-notice to a member and the report to the officers.

Both are worded from what really happened (a mute the platform refused is not
announced as a mute) in the group's language, from the templates of
:mod:`rules.core.messages`. The engine decides and acts; this module only writes.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import replace
from datetime import datetime, timedelta

from rules.config import Policy
from rules.core.messages import category_name, human_duration, render, truncate
from rules.core.model import (
    Action,
    ActionKind,
    ChatEvent,
    Finding,
    Outcome,
    OutcomeStatus,
    masked_text,
)

_SUCCEEDED = frozenset({OutcomeStatus.DONE, OutcomeStatus.DRY_RUN})


def worded_notice(
    action: Action,
    findings: Sequence[Finding],
    enforced: Iterable[Outcome],
    count: int,
    policy: Policy,
    case_id: int | None = None,
) -> Action:
    """The WARN or REMIND ``action`` with its text filled in from what actually happened.

    ``enforced``: the outcomes of the enforcement that went before (the notice of
    a kick says so only if the kick was done); ``count``: the member's strikes in
    total; ``case_id``: the case to appeal, once it is recorded.
    """
    lang = policy.moderation.language
    if action.kind is ActionKind.REMIND:
        if action.text:  # already worded (rules.members.compliance: deadline, expected card)
            return action
        detail = "; ".join(f.detail or f.match for f in findings) or category_name("nickname", lang)
        return replace(action, text=render("remind", lang, detail=detail))
    reason = "、".join(dict.fromkeys(category_name(f.category, lang) for f in findings))
    done = {o.action.kind: o.action for o in enforced if o.status in _SUCCEEDED}
    ref = render("case_ref", lang, case=case_id) if case_id else ""
    if ActionKind.KICK in done:
        text = render("warn_kicked", lang, reason=reason, case_ref=ref)
    elif ActionKind.MUTE in done:
        duration = done[ActionKind.MUTE].duration
        shown = human_duration(duration or timedelta(0), lang)
        text = render("warn_muted", lang, reason=reason, duration=shown, count=count, case_ref=ref)
    else:
        text = render("warn", lang, reason=reason, count=count, case_ref=ref)
    return replace(action, text=text)


def report_text(
    case_id: int | str | None,
    event: ChatEvent,
    findings: Sequence[Finding],
    outcomes: Iterable[Outcome],
    policy: Policy,
    now: datetime,
    restarted: bool = False,
    evidence: str | None = None,
) -> str:
    """The officer's report: who, where, what was found, what was done.

    ``case_id`` may be a stand-in the store replaces (``rules.core.records.CASE_NUMBER``);
    ``restarted``: the outcomes were recorded by the recovery after a restart (it says so);
    ``evidence``: the text as stored, masked already (else the event's, masked here).
    """
    lang = policy.moderation.language
    found = "; ".join(
        f"{f.detector}/{category_name(f.category, lang)}「{truncate(f.match, 40)}」"
        for f in findings
    )
    done = "; ".join(f"{o.action.kind.value}: {o.status.value}" for o in outcomes) or "-"
    member = f"{event.member.card or event.member.nickname or '-'} ({event.member.id})"
    note = render("report_restarted", lang) + "\n" if restarted else ""
    return note + render(
        "report",
        lang,
        case_id=case_id,
        group=event.group_id,
        member=member,
        findings=found,
        evidence=truncate(
            masked_text(event.text, tuple(findings)) if evidence is None else evidence
        ),
        outcomes=done,
        time=now.isoformat(timespec="seconds"),
    )
