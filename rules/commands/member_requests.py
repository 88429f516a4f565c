"""Members asking the officers: /举报 (report a message or a member, in the group) and
/申诉 (appeal a case, by private message).

Each becomes an officer task and a message to the group's officers through the
outbox; both are rate-limited per member (``[commands]``).
"""

from __future__ import annotations

from datetime import timedelta

from rules.commands import targets
from rules.commands.parse import case_number
from rules.commands.service import Call, CommandError
from rules.commands.targets import shown
from rules.core.messages import category_name, truncate
from rules.core.model import (
    ChatEvent,
    EventKind,
    Finding,
    Member,
    OfficerTask,
    TaskKind,
    masked_text,
)

# Detectors that only read the text: safe to run on a quoted message (flood
# windows would count it a second time).
STATELESS_DETECTORS = frozenset({"keyword", "link", "pii"})


async def report(call: Call) -> str:
    group_id = call.require_group()
    quoted = call.request.quoted
    if quoted is not None:
        subject, text = quoted.sender, quoted.text
    elif _mentioned(call):
        subject, _ = await targets.target(call, absent_ok=True)
        text = ""
    else:
        raise call.fail("cmd_need_reply")
    limits = call.config.commands
    since = call.now - limits.report_window
    if await call.store.count_tasks(call.request.caller.id, TaskKind.REPORT, since) >= (
        limits.report_limit
    ):
        raise call.fail("cmd_busy")
    if not call.policy.escalation.officers:
        raise call.fail("cmd_no_officer")
    findings = _inspect(call, subject, text)
    evidence = truncate(masked_text(text, findings))
    reason = " ".join(call.args).strip()
    task = OfficerTask(
        TaskKind.REPORT,
        group_id,
        call.request.caller.id,
        call.now,
        subject_id=subject.id,
        text=reason,
        evidence=evidence,
    )
    task_id = await call.store.add_task(task)
    found = "; ".join(
        f"{category_name(f.category, call.lang)}「{truncate(f.match, 40)}」" for f in findings
    )
    officer_text = call.say(
        "task_report",
        task_id=task_id,
        group=group_id,
        requester=shown(call.request.caller),
        subject=shown(subject),
        evidence=evidence or "-",
        reason=reason or "-",
        findings=found or call.say("none"),
    )
    await call.tell_officers(group_id, officer_text, None)
    call.notes.append(f"task {task_id}")
    return call.say("cmd_reported")


def _mentioned(call: Call) -> bool:
    return any(m != call.request.bot_id for m in call.request.mentions)


def _inspect(call: Call, subject: Member, text: str) -> list[Finding]:
    """What the text-only detectors see in a reported message (flood windows untouched)."""
    if not text:
        return []
    event = ChatEvent(
        kind=EventKind.MESSAGE,
        platform=call.request.platform,
        group_id=call.require_group(),
        member=subject,
        time=call.now,
        text=text,
    )
    findings: list[Finding] = []
    for detector in call.service.engine.detectors:
        if detector.name in STATELESS_DETECTORS:
            settings = getattr(call.policy, detector.section)
            if settings.enabled:
                findings.extend(detector.check(event, settings))
    return findings


async def appeal(call: Call) -> str:
    number = case_number(call.args[0]) if call.args else None
    if number is None:
        raise call.fail("cmd_need_case", with_usage=True)
    case = await call.store.get_case(number)
    if case is None:
        raise call.fail("cmd_unknown_case", case_id=number)
    call.group_id = case.group_id  # audited and worded for the case's group
    if case.member_id != call.request.caller.id:
        raise CommandError(call.say("cmd_appeal_not_yours"), refused=True)
    if case.status != "open":
        raise call.fail(
            "cmd_appeal_closed", case_id=number, status=call.say(f"case_status_{case.status}")
        )
    if any(t.kind is TaskKind.APPEAL for t in await call.store.open_tasks_for_case(number)):
        raise call.fail("cmd_appeal_pending", case_id=number)
    reason = " ".join(call.args[1:]).strip()
    if not reason:
        raise call.fail("cmd_need_reason", with_usage=True)
    since = call.now - timedelta(days=1)
    if await call.store.count_tasks(call.request.caller.id, TaskKind.APPEAL, since) >= (
        call.config.commands.appeal_limit
    ):
        raise call.fail("cmd_busy")
    task = OfficerTask(
        TaskKind.APPEAL,
        case.group_id,
        call.request.caller.id,
        call.now,
        subject_id=case.member_id,
        case_id=case.id,
        text=truncate(reason),
        evidence=case.evidence,
    )
    if not call.policy.escalation.officers:
        raise call.fail("cmd_no_officer")
    await call.store.add_task(task)
    officer_text = call.say(
        "task_appeal",
        case_id=case.id,
        group=case.group_id,
        requester=shown(call.request.caller),
        categories="、".join(category_name(k, call.lang) for k in case.categories),
        evidence=truncate(case.evidence) or "-",
        reason=truncate(reason),
    )
    await call.tell_officers(case.group_id, officer_text, case.id)
    return call.say("cmd_appealed", case_id=case.id)
