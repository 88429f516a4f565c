"""What the protection across groups tells the officers, worded from the catalogue.

One report per ban (the ban, then each group the sweep found the member in and
what happened there), one line per clean-up (what was recalled, or that the
platform cannot recall others' messages), the raid alert and the raid's lift,
and the impersonation notice. Times are shown in ``[digest] timezone``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from rules.config import Policy
from rules.core.messages import Language, action_name, human_duration, render, truncate
from rules.core.model import Action, ActionKind, Outcome, OutcomeStatus, Platform, split_id
from rules.core.protection_records import Ban, RaidRecord
from rules.protection.cards import Impersonation
from rules.protection.raids import Trigger
from rules.protection.sweep import SweepResult

MAX_ACCOUNTS_SHOWN = 30
_PLATFORM_NAMES = {Platform.QQ: "QQ", Platform.WECHAT: "微信"}
_DONE = frozenset({OutcomeStatus.DONE, OutcomeStatus.DRY_RUN})


def local_time(when: datetime, policy: Policy) -> str:
    return when.astimezone(ZoneInfo(policy.digest.timezone)).strftime("%Y-%m-%d %H:%M:%S")


def member_shown(member_id: str, card: str = "") -> str:
    return f"{truncate(card, 30)}({member_id})" if card else member_id


def accounts_shown(accounts: Sequence[str]) -> str:
    shown = "、".join(accounts[:MAX_ACCOUNTS_SHOWN])
    more = len(accounts) - MAX_ACCOUNTS_SHOWN
    return shown + (f" …(+{more})" if more > 0 else "") if accounts else "-"


def ban_text(ban: Ban, policy: Policy) -> str:
    lang = policy.moderation.language
    by = (
        render("ban_by_bot", lang)
        if ban.banned_by == "bot"
        else render("ban_by_officer", lang, officer=ban.banned_by)
    )
    return render(
        "ban_report",
        lang,
        name=ban.name or ban.member_id,
        accounts="、".join(ban.accounts),
        ban=ban.id,
        reason=truncate(ban.reason, 200),
        case=render("ban_case", lang, case=ban.case_id) if ban.case_id else "",
        origin=ban.origin_group or render("ban_origin_none", lang),
        by=by,
        time=local_time(ban.banned_at, policy),
    )


def sweep_lines(result: SweepResult, lang: Language) -> list[str]:
    """Each group where the banned member was found and its outcome, then the totals."""
    lines = [render("sweep_header", lang)]
    for r in result.results:
        lines.append(
            render(
                f"sweep_{r.status}",
                lang,
                group=r.group_id,
                member=member_shown(r.member_id, r.card),
                detail=truncate(r.detail, 100),
            )
        )
    if not result.results:
        lines.append(render("sweep_none", lang))
    lines.append(
        render(
            "sweep_summary",
            lang,
            checked=result.checked,
            removed=result.removed,
            seconds=f"{result.seconds:.1f}",
        )
    )
    if result.opted_out:
        lines.append(render("sweep_opted_out", lang, count=result.opted_out))
    if result.unreadable:
        lines.append(render("sweep_unreadable", lang, groups="、".join(result.unreadable)))
    if result.unswept:
        names = "、".join(_PLATFORM_NAMES.get(p, p.value) for p in result.unswept)
        lines.append(render("sweep_unswept", lang, platforms=names))
    return lines


def cleanup_line(
    group_id: str,
    member: str,
    window: timedelta,
    wanted: int,
    outcomes: Sequence[Outcome],
    lang: Language,
) -> str | None:
    """One line on the recall of a removed member's messages (None: there was nothing)."""
    if wanted == 0:
        return None
    shown_window = human_duration(window, lang)
    done = sum(o.status in _DONE for o in outcomes)
    skipped = sum(o.status is OutcomeStatus.SKIPPED for o in outcomes)
    if skipped == wanted:
        platform, _ = split_id(group_id)
        return render(
            "cleanup_cannot",
            lang,
            platform=_PLATFORM_NAMES.get(platform, platform.value),
            member=member,
            group=group_id,
            window=shown_window,
            count=wanted,
        )
    if done == wanted:
        return render(
            "cleanup_done", lang, member=member, group=group_id, window=shown_window, count=done
        )
    return render(
        "cleanup_partly",
        lang,
        member=member,
        group=group_id,
        window=shown_window,
        done=done,
        failed=wanted - done,
    )


def join_outcome(outcome: Outcome, lang: Language) -> str:
    name = action_name(outcome.action.kind.value, lang)
    if outcome.status in _DONE:
        return render("outcome_done", lang, action=name)
    return render("outcome_not_done", lang, action=name, detail=outcome.detail or "-")


def _count(outcomes: Iterable[Outcome], kind: ActionKind, ok: bool = True) -> int:
    return sum(o.action.kind is kind and (o.status in _DONE) == ok for o in outcomes)


def raid_measures(
    outcomes: Sequence[Outcome], refuse_joins: bool, planned: Sequence[Action], lang: Language
) -> str:
    """What raid mode did at its start, in words."""
    parts: list[str] = []
    if any(a.kind is ActionKind.MUTE_ALL for a in planned):
        mute_all = [o for o in outcomes if o.action.kind is ActionKind.MUTE_ALL]
        if mute_all and mute_all[0].status in _DONE:
            parts.append(render("raid_mute_all", lang))
        else:
            detail = mute_all[0].detail if mute_all else "-"
            parts.append(render("raid_mute_all_failed", lang, detail=truncate(detail, 80)))
    if refuse_joins:
        parts.append(render("raid_refuse_joins", lang))
    muted = _count(outcomes, ActionKind.MUTE)
    removed = _count(outcomes, ActionKind.KICK)
    failed = _count(outcomes, ActionKind.MUTE, False) + _count(outcomes, ActionKind.KICK, False)
    if muted:
        parts.append(render("raid_accounts_muted", lang, count=muted))
    if removed:
        parts.append(render("raid_accounts_removed", lang, count=removed))
    if failed:
        parts.append(render("raid_accounts_failed", lang, count=failed))
    return "；".join(parts) if parts else render("raid_none", lang)


def raid_alert(
    trigger: Trigger,
    raid: RaidRecord,
    measures: str,
    policy: Policy,
    unsupported: bool,
) -> str:
    lang = policy.moderation.language
    window = human_duration(policy.protection.raid.window, lang)
    trigger_text = render(f"raid_trigger_{trigger.kind}", lang, count=trigger.count, window=window)
    if unsupported:
        measures = "；".join([measures, render("raid_mute_all_unsupported", lang)])
    return render(
        "raid_alert",
        lang,
        group=raid.group_id,
        trigger=trigger_text,
        measures=measures,
        until=local_time(raid.until, policy),
        count=len(raid.accounts),
        accounts=accounts_shown(raid.accounts),
    )


def raid_lifted(raid: RaidRecord, outcomes: Sequence[Outcome], at: datetime, policy: Policy) -> str:
    lang = policy.moderation.language
    parts: list[str] = []
    for outcome in outcomes:
        if outcome.action.kind is ActionKind.UNMUTE_ALL:
            parts.append(render("raid_lift_unmute_all", lang) + _status(outcome, lang))
    unmuted = [o for o in outcomes if o.action.kind is ActionKind.UNMUTE]
    if unmuted:
        parts.append(render("raid_lift_unmuted", lang, count=len(unmuted)))
    measures = "；".join(parts) if parts else render("raid_lift_nothing", lang)
    return render(
        "raid_lifted",
        lang,
        group=raid.group_id,
        started=local_time(raid.started_at, policy),
        ended=local_time(at, policy),
        measures=measures,
        count=len(raid.accounts),
        accounts=accounts_shown(raid.accounts),
    )


def _status(outcome: Outcome, lang: Language) -> str:
    if outcome.status in _DONE:
        return ""
    return f"（{outcome.status.value}: {truncate(outcome.detail, 60)}）"


def impersonation_text(
    group_id: str, member_id: str, old: str, found: Impersonation, policy: Policy
) -> str:
    lang = policy.moderation.language
    if found.kind == "member":
        whom = render("impersonation_member", lang, member=found.whom)
    else:
        whom = render("impersonation_roster", lang, name=found.whom)
    empty = render("card_empty_shown", lang)
    return render(
        "impersonation_report",
        lang,
        group=group_id,
        member=member_id,
        old=truncate(old, 40) or empty,
        new=truncate(found.card, 40),
        whom=whom,
    )
