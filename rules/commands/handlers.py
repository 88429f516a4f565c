"""What each command does. Every handler takes a :class:`Call` and returns the reply.

Handlers raise :class:`CommandError` (via ``call.fail``) for anything the caller
should fix; the service turns it into one line plus the usage, and audits it.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import replace
from datetime import date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from rules.commands import settings, targets
from rules.commands.parse import case_number, duration, switch
from rules.commands.service import (
    GROUP_FORMS,
    Call,
    CommandError,
    Handler,
    caller_level,
    typed_id,
)
from rules.commands.spec import Level
from rules.config import ConfigError
from rules.core.messages import (
    action_name,
    category_key,
    category_name,
    human_duration,
    render,
    truncate,
)
from rules.core.model import (
    Action,
    ActionKind,
    CaseRecord,
    ChatEvent,
    EventKind,
    Finding,
    Member,
    OfficerTask,
    Outcome,
    OutcomeStatus,
    TaskKind,
    TaskStatus,
    masked_text,
)
from rules.core.ports import NOMINAL_CAPABILITIES
from rules.detectors.custom_words import DEFAULT_CATEGORY, WordError
from rules.detectors.keyword import expand_globs
from rules.detectors.keyword_index import ALLOW
from rules.groups.registry import RegistryError, entry_text, parse_fields
from rules.members.audit import audit_group
from rules.officers.export import export_for_officer
from rules.storage.export import ExportFormat

MIN_MUTE = timedelta(minutes=1)
MAX_MUTE = timedelta(days=30)
DEFAULT_STATS_PERIOD = timedelta(days=7)
# Detectors that only read the text: safe to run on a quoted message (flood
# windows would count it a second time).
STATELESS_DETECTORS = frozenset({"keyword", "link", "pii"})
ADD = {"add", "添加", "增加", "加"}
DELETE = {"del", "delete", "remove", "rm", "删除", "删"}
LIST = {"list", "ls", "show", "列表", "查看"}


# ---------------------------------------------------------------- shared steps


def _shown(member: Member) -> str:
    name = member.card or member.nickname
    return f"{name}({member.id.split(':', 1)[-1]})" if name else member.id.split(":", 1)[-1]


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


async def _queue_for_officers(call: Call, group_id: str, text: str, case_id: int | None) -> int:
    officers = call.config.policy_for(group_id).escalation.officers
    for officer in officers:
        await call.store.enqueue_report(officer, text, case_id, call.now)
    if officers:
        call.service.notify()
    return len(officers)


async def _tell(call: Call, member_id: str, text: str, case_id: int | None) -> None:
    """A private message to a member, through the durable outbox."""
    await call.store.enqueue_report(member_id, text, case_id, call.now)
    call.service.notify()


# ---------------------------------------------------------------- commands


async def help_(call: Call) -> str:
    in_group = call.request.group_id is not None
    lines = [call.say("help_header"), *call.service.help_lines(call.level, in_group, call.lang)]
    if not in_group and call.level >= Level.MANAGER:
        lines.append(call.say("help_private_note"))
    return "\n".join(lines)


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
    return call.say("cmd_warned", who=_shown(member), case_id=case_id)


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
        who=_shown(member),
        duration=human_duration(length, call.lang),
        reason=call.say("cmd_reason", reason=" ".join(rest[1:])) if rest[1:] else "",
        case_id=case_id,
    )


async def unmute(call: Call) -> str:
    member, _ = await targets.target(call)
    await _act(call, Action(ActionKind.UNMUTE, call.require_group(), member.id))
    return call.say("cmd_unmuted", who=_shown(member))


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
        who=_shown(member),
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
    return call.say("cmd_pardoned_member", who=_shown(member), weight=weight)


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
            await _tell(call, task.requester_id, text.strip(), case.id)


async def strikes(call: Call) -> str:
    member, _ = await targets.target(call, absent_ok=True)
    group_id = call.require_group()
    expire = call.policy.ladder.expire_after
    weight = await call.store.strike_weight(group_id, member.id, call.now - expire)
    lines = [call.say("cmd_strikes", who=_shown(member), weight=weight, days=max(expire.days, 1))]
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


async def audit(call: Call) -> str:
    edge = call.require_edge()
    result = await audit_group(
        call.service.engine,
        edge.directory,
        edge.gateway,
        call.require_group(),
        bot_id=call.request.bot_id,
    )
    summary = call.say(
        "cmd_audit_done",
        checked=result.checked,
        flagged=result.flagged,
        reminded=result.reminded,
        acted=result.acted,
    )
    return "\n".join([summary, *result.problems])


async def words(call: Call) -> str:
    return await _word_list(call, allow=False)


async def allow(call: Call) -> str:
    return await _word_list(call, allow=True)


async def _word_list(call: Call, allow: bool) -> str:
    service = call.service.words
    group_id = call.require_group()
    if service is None or not call.args:
        raise call.usage_error()
    verb, rest = call.args[0].lower(), call.args[1:]
    if verb in LIST:
        listed = [w.word for w in await service.list(group_id) if (w.list == "allow") == allow]
        return call.say("cmd_words_list", count=len(listed), words="、".join(listed) or "-")
    category = ""
    if not allow and rest and verb in ADD | DELETE:
        known = _categories(call)
        key = category_key(rest[0], known)
        if verb in ADD and key is None:
            names = "、".join(category_name(k, call.lang) for k in known)
            raise call.fail("cmd_words_category", category=rest[0], categories=names)
        if key is not None:
            category, rest = key, rest[1:]
    if verb not in ADD | DELETE or not rest:
        raise call.usage_error()
    changed: list[str] = []
    unchanged: list[str] = []
    for word in rest:
        if verb in ADD:
            try:
                done = await service.add(
                    group_id, word, category=category, allow=allow, added_by=call.request.caller.id
                )
            except WordError as exc:
                raise call.fail("cmd_words_bad", word=word, why=str(exc)) from None
        else:
            done = await service.remove(group_id, word, allow=allow)
        (changed if done else unchanged).append(word)
    call.notes.append(f"{verb} {','.join(changed)}")
    lines = []
    if changed:
        key = "cmd_words_added" if verb in ADD else "cmd_words_removed"
        lines.append(call.say(key, words="、".join(changed)))
    if unchanged:
        lines.append(call.say("cmd_words_unchanged", words="、".join(unchanged)))
    return "\n".join(lines)


def _categories(call: Call) -> list[str]:
    """Categories a custom word may be filed under: the loaded lists', and "custom"."""
    files = [Path(f).stem for f in expand_globs(call.config.keywords.files)]
    known = [stem for stem in files if stem != ALLOW]
    return [*dict.fromkeys([*known, *call.policy.ladder.severity, DEFAULT_CATEGORY])]


async def config(call: Call) -> str:
    group_id = call.require_group()
    if not call.args:
        raise call.usage_error()
    verb, rest = call.args[0].lower(), call.args[1:]
    if verb in LIST:
        return settings.show(call, group_id, rest[0] if rest else None)
    if verb in {"set", "设置", "设"} and len(rest) >= 2:
        return await settings.set_value(call, group_id, rest[0], " ".join(rest[1:]))
    if verb in {"unset", "reset", "恢复", "重置"} and len(rest) == 1:
        return await settings.unset_value(call, group_id, rest[0])
    raise call.usage_error()


async def dryrun(call: Call) -> str:
    group_id = call.require_group()
    value = switch(call.args[0]) if call.args else None
    if value is None:
        raise call.usage_error()
    try:
        await settings.store_override(call, group_id, ("moderation", "dry_run"), value)
    except ConfigError as exc:  # pragma: no cover - a bool is always valid here
        raise call.fail("cmd_config_invalid", problem=exc.problems[0]) from None
    return call.say("cmd_dryrun_on" if value else "cmd_dryrun_off")


async def stats(call: Call) -> str:
    group_id = call.require_group()
    period = duration(call.args[0]) if call.args else DEFAULT_STATS_PERIOD
    if period is None:
        raise call.fail("cmd_bad_duration", with_usage=True, value=call.args[0])
    since, until = call.now - period, call.now + timedelta(seconds=1)  # up to now, inclusive
    by_category: Counter[str] = Counter()
    for stat in await call.store.case_stats([group_id], since, until):
        by_category.update(stat.categories)
    by_action: Counter[str] = Counter()
    for tally in await call.store.action_tallies([group_id], since, until):
        if tally.status in ("done", "failed"):
            by_action[tally.kind if tally.status == "done" else "failed"] += tally.count
    none = call.say("none")
    categories = "、".join(
        f"{category_name(k, call.lang)} {n}"
        for k, n in sorted(by_category.items(), key=lambda kv: -kv[1])
    )
    actions = "、".join(
        f"{call.say('action_failed') if k == 'failed' else action_name(k, call.lang)} {n}"
        for k, n in sorted(by_action.items(), key=lambda kv: -kv[1])
    )
    return call.say(
        "cmd_stats",
        period=human_duration(period, call.lang),
        cases=sum(by_category.values()),
        categories=categories or none,
        actions=actions or none,
    )


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
        requester=_shown(call.request.caller),
        subject=_shown(subject),
        evidence=evidence or "-",
        reason=reason or "-",
        findings=found or call.say("none"),
    )
    await _queue_for_officers(call, group_id, officer_text, None)
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
            settings_ = getattr(call.policy, detector.section)
            if settings_.enabled:
                findings.extend(detector.check(event, settings_))
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
        requester=_shown(call.request.caller),
        categories="、".join(category_name(k, call.lang) for k in case.categories),
        evidence=truncate(case.evidence) or "-",
        reason=truncate(reason),
    )
    await _queue_for_officers(call, case.group_id, officer_text, case.id)
    return call.say("cmd_appealed", case_id=case.id)


async def register(call: Call) -> str:
    group_id = call.require_group()
    registry = call.service.registry
    if registry is None:
        raise call.usage_error()
    verb = call.args[0].lower() if call.args else "show"
    if verb in LIST:
        entry = await registry.get(group_id)
        return entry_text(entry, call.lang) if entry else call.say("cmd_register_none")
    if verb in DELETE:
        if call.level < Level.OFFICER:
            raise CommandError(call.say("cmd_refused", name=call.name), refused=True)
        await registry.remove(group_id)
        return call.say("cmd_register_removed")
    if verb not in {"set", "设置", "登记"} or len(call.args) < 2:
        raise call.usage_error()
    try:
        changes = parse_fields(" ".join(call.args[1:]))
        current = await registry.get(group_id)
        if not (current and current.name) and "name" not in changes:
            changes["name"] = (await call.require_edge().directory.group_info(group_id)).name
        entry = await registry.update(group_id, call.request.caller.id, changes)
    except RegistryError as exc:
        raise call.fail("cmd_register_bad", problem=str(exc)) from None
    lines = [call.say("cmd_register_done"), entry_text(entry, call.lang)]
    if current is not None and registry.from_config(current):
        lines.append(call.say("cmd_register_config"))
    call.notes.append("registered: " + ", ".join(sorted(changes)))
    return "\n".join(lines)


async def groups(call: Call) -> str:
    """The groups the bot is in that the caller oversees, and which are not registered."""
    registry = call.service.registry
    if registry is None:
        raise call.usage_error()
    caller = call.request.caller
    visible: list[str] = []
    lines: list[str] = []
    for platform, edge in call.service.edges.items():
        try:
            listed = await edge.directory.list_groups()
        except Exception:
            lines.append(call.say("cmd_groups_unreachable", platform=platform.value))
            continue
        visible += [
            g for g in listed if caller_level(call.config, caller, g, False) >= Level.OFFICER
        ]
    missing = await registry.unregistered(visible)
    lines.insert(
        0,
        call.say(
            "cmd_groups",
            total=len(visible),
            registered=len(visible) - len(missing),
            count=len(missing),
            colon="：" if missing and call.lang == "zh" else (": " if missing else ""),
            groups="、".join(missing),
        ),
    )
    return "\n".join(lines)


async def export(call: Call) -> str:
    """The case records as a file, by private message (the file and its summary are the reply)."""
    args = list(call.args)
    group_id = typed_id(call.request.platform, args[0], GROUP_FORMS) if args else None
    if group_id is not None:
        args.pop(0)
        if caller_level(call.config, call.request.caller, group_id, False) < Level.OFFICER:
            raise CommandError(call.say("cmd_refused_private"), refused=True)
    elif not _oversees_everything(call):
        raise call.fail("cmd_export_need_group", with_usage=True)
    fmt: ExportFormat = "xlsx"
    if args and args[-1].lower() in ("xlsx", "csv"):
        fmt = "csv" if args.pop().lower() == "csv" else "xlsx"
    zone = call.config.digest.timezone
    since = call.now - DEFAULT_STATS_PERIOD
    if args:
        since = _since(call, args[0], zone)
    edge = call.service.edges.get(call.request.platform)
    if edge is None:
        raise call.usage_error()
    result = await export_for_officer(
        call.store,  # type: ignore[arg-type]  # SqlStore in practice
        edge.gateway,
        call.request.caller.id,
        since,
        group=group_id,
        fmt=fmt,
        timezone=zone,
        language=call.lang,
        now=call.now,
    )
    call.notes.append(f"export {group_id or 'all'}: {result.cases} case(s), sent={result.sent}")
    return ""  # export_for_officer answered with the file and a summary line


def _oversees_everything(call: Call) -> bool:
    caller = call.request.caller.id
    return caller in call.config.commands.superusers or caller in call.config.escalation.officers


def _since(call: Call, word: str, zone: str) -> datetime:
    """``7d`` before now, or local midnight of ``2026-11-01``."""
    period = duration(word)
    if period is not None:
        return call.now - period
    try:
        day = date.fromisoformat(word)
    except ValueError:
        raise call.fail("cmd_bad_since", with_usage=True, value=word) from None
    return datetime.combine(day, time(), ZoneInfo(zone))


HANDLERS: dict[str, Handler] = {
    "help": help_,
    "warn": warn,
    "mute": mute,
    "unmute": unmute,
    "kick": kick,
    "pardon": pardon,
    "uphold": uphold,
    "strikes": strikes,
    "audit": audit,
    "words": words,
    "allow": allow,
    "config": config,
    "dryrun": dryrun,
    "stats": stats,
    "report": report,
    "appeal": appeal,
    "register": register,
    "groups": groups,
    "export": export,
}
