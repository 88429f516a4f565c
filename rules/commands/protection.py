"""Across groups: /封禁列表 (bans), /封禁 (ban), /解封 (unban), /全员禁言 (muteall) and
/名片记录 (cardhistory).

A ban by command is a case like a manual kick; the member is removed from every
guarded group where the bot finds them (this one too) and refused when applying
again; the officers get the sweep's report. /解封 lifts a ban everywhere (the
record stays, with who lifted it; the command is in the audit log like every
command). The work is done by :class:`rules.protection.service.Protection`.
"""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from rules.commands import targets
from rules.commands.access import MEMBER_FORMS, typed_id
from rules.commands.parse import switch
from rules.commands.service import Call, CommandError
from rules.commands.targets import shown
from rules.config import Policy
from rules.core.messages import render, truncate
from rules.core.model import ChatEvent, EventKind, Finding, OutcomeStatus
from rules.core.ports import NOMINAL_CAPABILITIES
from rules.core.protection_records import Ban
from rules.protection.service import Protection

MAX_LISTED = 30
MAX_HISTORY = 20


def _protection(call: Call) -> Protection:
    protection = call.service.protection
    if protection is None:
        raise call.fail("cmd_unsupported", what=call.name)
    return protection


def _time(call: Call, policy: Policy, when: datetime) -> str:
    return when.astimezone(ZoneInfo(policy.digest.timezone)).strftime("%Y-%m-%d %H:%M")


def _ban_line(call: Call, ban: Ban) -> str:
    policy = call.policy
    by = call.say("ban_by_bot") if ban.banned_by == "bot" else ban.banned_by
    lifted = ""
    if ban.lifted_at is not None:
        lifted = call.say(
            "cmd_bans_lifted", by=ban.lifted_by or "-", time=_time(call, policy, ban.lifted_at)
        )
    return call.say(
        "cmd_bans_line",
        id=ban.id,
        name=ban.name or ban.member_id,
        accounts="、".join(ban.accounts),
        reason=truncate(ban.reason, 60),
        by=by,
        time=_time(call, policy, ban.banned_at),
        case=f" #{ban.case_id}" if ban.case_id else "",
        lifted=lifted,
    )


async def bans(call: Call) -> str:
    """The ban list, newest first (``all``: lifted bans too)."""
    protection = _protection(call)
    everything = bool(call.args) and call.args[0].lower() in ("all", "全部")
    listed = await protection.bans(active_only=not everything, limit=MAX_LISTED)
    if not listed:
        return call.say("cmd_bans_empty")
    return "\n".join(
        [call.say("cmd_bans_header", count=len(listed)), *(_ban_line(call, b) for b in listed)]
    )


async def ban(call: Call) -> str:
    protection = _protection(call)
    group_id = call.require_group()
    member, rest = await targets.target(call, absent_ok=True)
    reason = " ".join(rest).strip()
    if not reason:
        raise call.fail("cmd_ban_need_reason", with_usage=True)
    why = protection.exempt_from_ban(member, group_id)
    if why is None and member.id in call.config.commands.superusers:
        why = "superuser"
    if why is not None:
        raise CommandError(call.say("cmd_ban_protected", who=shown(member), why=why), refused=True)
    event = ChatEvent(
        kind=EventKind.MESSAGE,
        platform=call.require_edge().gateway.platform,
        group_id=group_id,
        member=member,
        time=call.now,
        text=reason,
    )
    finding = Finding(
        "manual", "manual", truncate(reason, 80), 0, len(reason), f"ban by {call.request.caller.id}"
    )
    case_id = await call.store.open_case(event, (finding,), 0, call.now)
    banned, new = await protection.ban_member(
        member, group_id, reason, call.request.caller.id, call.now, case_id
    )
    if not new:
        return call.say("cmd_ban_exists", who=shown(member), id=banned.id)
    call.notes.append(f"ban #{banned.id} of {', '.join(banned.accounts)} (case #{case_id})")
    return call.say(
        "cmd_ban_done",
        name=banned.name or banned.member_id,
        accounts="、".join(banned.accounts),
        id=banned.id,
        reason=truncate(reason, 60),
    )


async def unban(call: Call) -> str:
    """Lift a ban everywhere: by the member's id (or @ in a group) or by ``#ban``."""
    protection = _protection(call)
    mentioned = [m for m in call.request.mentions if m != call.request.bot_id]
    word = mentioned[0] if mentioned and call.request.group_id else (call.args or [""])[0]
    word = word.strip().lstrip("@＠")
    if not word:
        raise call.usage_error()
    by, now = call.request.caller.id, call.now
    if word.startswith(("#", "＃")) and word[1:].isdigit():
        lifted = await protection.lift_ban(int(word[1:]), by, now)
    else:
        account = typed_id(call.request.platform, word, MEMBER_FORMS)
        if account is None:
            raise call.usage_error()
        lifted = await protection.unban(account, by, now)
    if lifted is None:
        return call.say("cmd_unban_none", who=word)
    call.notes.append(f"lifted ban #{lifted.id} of {', '.join(lifted.accounts)}")
    return call.say(
        "cmd_unban_done",
        name=lifted.name or lifted.member_id,
        accounts="、".join(lifted.accounts),
        id=lifted.id,
    )


async def muteall(call: Call) -> str:
    protection = _protection(call)
    edge = call.require_edge()
    group_id = call.require_group()
    on = switch(call.args[0]) if call.args else None
    if on is None:
        raise call.usage_error()
    outcome = await protection.mute_all(group_id, on, edge.gateway)
    kind = outcome.action.kind
    if outcome.status is OutcomeStatus.SKIPPED:
        verb = call.say(f"verb_{kind.value}")
        if kind not in NOMINAL_CAPABILITIES[edge.gateway.platform]:
            raise call.fail("cmd_unsupported", what=verb)
        raise call.fail("cmd_cannot", what=verb)
    if outcome.status is not OutcomeStatus.DONE:
        raise call.fail("cmd_muteall_failed", detail=outcome.detail or outcome.status.value)
    call.notes.append(f"{kind.value}: {outcome.status.value}")
    return call.say("cmd_muteall_on" if on else "cmd_muteall_off")


async def cardhistory(call: Call) -> str:
    protection = _protection(call)
    group_id = call.require_group()
    member, _ = await targets.target(call, absent_ok=True)
    history = await protection.card_history(group_id, member.id, MAX_HISTORY)
    who = shown(member)
    if not history:
        return call.say("cmd_cardhistory_empty", who=who)
    policy, empty = call.policy, call.say("card_empty_shown")
    lines = [call.say("cmd_cardhistory_header", who=who)]
    for change in history:
        lines.append(
            call.say(
                "cmd_cardhistory_line",
                time=_time(call, policy, change.at),
                old=change.old or empty,
                new=change.new or empty,
                source=render(f"card_source_{change.source}", call.lang),
            )
        )
    return "\n".join(lines)
