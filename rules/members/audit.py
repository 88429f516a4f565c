"""The scheduled member audit (定期认定, 每周检查): every member of every group, plus group checks.

Platform-free: it reads groups and members through the :class:`Directory` port
and runs each member through the engine as a card-change event, so exemptions,
the reminder -> grace -> action timeline, fallbacks, dry run and case records
are exactly those of live events. Group checks (size cap, 单位简称+群名) are
reported to the officers. ``plugins/member_audit`` schedules :func:`audit_all`.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from rules.config import GroupCheckSettings, Policy
from rules.core.messages import Language, render
from rules.core.model import ActionKind, ChatEvent, EventKind, OutcomeStatus
from rules.core.ports import Directory, Gateway, GroupInfo
from rules.moderation.engine import Engine

log = logging.getLogger(__name__)
_DONE = frozenset({OutcomeStatus.DONE, OutcomeStatus.DRY_RUN})


@dataclass
class GroupAudit:
    group_id: str
    checked: int = 0
    flagged: int = 0
    reminded: int = 0
    acted: int = 0
    problems: tuple[str, ...] = ()


def check_group(info: GroupInfo, settings: GroupCheckSettings, lang: Language = "zh") -> list[str]:
    """What is wrong with a group itself: too many members, a name without its unit."""
    if not settings.enabled:
        return []
    problems = []
    if info.member_count > settings.max_members:
        problems.append(
            render(
                "group_too_big",
                lang,
                name=info.name,
                group=info.group_id,
                count=info.member_count,
                limit=settings.max_members,
            )
        )
    units = [u for u in settings.units if u]
    if units and not any(info.name.startswith(u) and len(info.name) > len(u) for u in units):
        units_text = "、".join(units)
        problems.append(
            render("group_bad_name", lang, name=info.name, group=info.group_id, units=units_text)
        )
    return problems


async def audit_group(
    engine: Engine,
    directory: Directory,
    gateway: Gateway,
    group_id: str,
    bot_id: str | None = None,
) -> GroupAudit:
    """Check one group's members (through the engine) and the group itself."""
    policy: Policy = engine.config.policy_for(group_id)
    result = GroupAudit(group_id)
    now = engine.clock()
    for member in await directory.list_members(group_id):
        event = ChatEvent(
            kind=EventKind.CARD_CHANGE,
            platform=gateway.platform,
            group_id=group_id,
            member=member,
            time=now,
            bot_id=bot_id,
        )
        decision = await engine.handle(event, gateway)
        result.checked += 1
        if any(f.detector == "nickname" for f in decision.findings) and decision.notes != (
            "exempt member: no action",
        ):
            result.flagged += 1
        done = {o.action.kind for o in decision.outcomes if o.status in _DONE}
        result.reminded += ActionKind.REMIND in done
        result.acted += bool(done & {ActionKind.KICK, ActionKind.ESCALATE})
    info = await directory.group_info(group_id)
    result.problems = tuple(check_group(info, policy.groupcheck, policy.moderation.language))
    return result


async def audit_all(
    engine: Engine, directory: Directory, gateway: Gateway, bot_id: str | None = None
) -> list[GroupAudit]:
    """Audit every group the bot is in; report group problems and a summary to officers."""
    results = []
    for group_id in await directory.list_groups():
        try:
            results.append(await audit_group(engine, directory, gateway, group_id, bot_id))
        except Exception:  # one unreachable group must not stop the audit
            log.exception("member audit of %s failed", group_id)
    await report(engine, results)
    return results


async def report(engine: Engine, results: list[GroupAudit]) -> None:
    """Queue one audit report per officer covering the groups they oversee."""
    now = engine.clock()
    lines_by_officer: dict[str, list[str]] = {}
    for result in results:
        policy = engine.config.policy_for(result.group_id)
        lang = policy.moderation.language
        if not (result.flagged or result.problems):
            continue
        line = render(
            "audit_group_line",
            lang,
            group=result.group_id,
            checked=result.checked,
            flagged=result.flagged,
            reminded=result.reminded,
            acted=result.acted,
        )
        for officer in policy.escalation.officers:
            lines_by_officer.setdefault(officer, []).extend([line, *result.problems])
    lang = engine.config.moderation.language
    stamp = now.isoformat(timespec="seconds")
    for officer, lines in lines_by_officer.items():
        text = render("audit_report", lang, time=stamp, lines="\n".join(lines))
        await engine.store.enqueue_report(officer, text, None, now)
