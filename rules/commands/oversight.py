"""Looking over a group: /统计 (stats), /导出 (export the case records as a file, by private
message) and /检查名片 (audit every member's card now).
"""

from __future__ import annotations

from collections import Counter
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from rules.commands.access import GROUP_FORMS, caller_level, oversees_everything, typed_id
from rules.commands.parse import duration
from rules.commands.service import Call, CommandError
from rules.commands.spec import Level
from rules.core.messages import action_name, category_name, human_duration
from rules.core.records import ExportFormat
from rules.members.audit import audit_group
from rules.officers.export import export_for_officer

DEFAULT_STATS_PERIOD = timedelta(days=7)


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


async def export(call: Call) -> str:
    """The case records as a file, by private message (the file and its summary are the reply)."""
    args = list(call.args)
    group_id = typed_id(call.request.platform, args[0], GROUP_FORMS) if args else None
    if group_id is not None:
        args.pop(0)
        if caller_level(call.config, call.request.caller, group_id, False) < Level.OFFICER:
            raise CommandError(call.say("cmd_refused_private"), refused=True)
    elif not oversees_everything(call.config, call.request.caller.id):
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
        call.store,  # type: ignore[arg-type]  # CommandRepositories in practice: a CaseExport
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
