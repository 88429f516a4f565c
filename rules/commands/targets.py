"""Naming a member in a command: by @mention, by platform id, or by card text when unique."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from rules.commands.access import MEMBER_FORMS, typed_id
from rules.commands.service import Call, CommandError
from rules.config import Policy
from rules.core.model import Member, Platform


def shown(member: Member) -> str:
    """A member as a reply names them: ``card(id)``, or the bare id."""
    name = member.card or member.nickname
    return f"{name}({member.id.split(':', 1)[-1]})" if name else member.id.split(":", 1)[-1]


def local_date(when: datetime, policy: Policy) -> str:
    """A date as people in the group read it (the group's time zone)."""
    return when.astimezone(ZoneInfo(policy.flood.timezone)).strftime("%Y-%m-%d")


def match(members: list[Member], word: str, platform: Platform) -> list[Member]:
    """Members ``word`` names: by id, else exact card or nickname, else card prefix."""
    wanted = typed_id(platform, word, MEMBER_FORMS)
    if wanted is not None:
        return [m for m in members if m.id == wanted]
    folded = word.casefold()
    for named in (
        lambda m: m.card.casefold() == folded,
        lambda m: not m.card and m.nickname.casefold() == folded,
        lambda m: m.card.casefold().startswith(folded),
    ):
        found = [m for m in members if named(m)]
        if found:
            return found
    return []


async def target(call: Call, absent_ok: bool = False) -> tuple[Member, list[str]]:
    """The member a command is about, and the words after it.

    In a group an @mention names the member (the edge took it out of the text);
    otherwise the first word does. ``absent_ok`` accepts an id of someone no
    longer in the group (for /strikes and /pardon).
    """
    edge = call.require_edge()
    group_id = call.require_group()
    platform = edge.gateway.platform
    mentioned = [m for m in call.request.mentions if m != call.request.bot_id]
    args = list(call.args)
    if mentioned and call.request.group_id is not None:
        word, wanted = mentioned[0], mentioned[0]
    elif args:
        word = args.pop(0).lstrip("@＠")
        wanted = None
    else:
        raise call.fail("cmd_need_member", with_usage=True)
    listed = await edge.directory.list_members(group_id)
    found = [m for m in listed if m.id == wanted] if wanted else match(listed, word, platform)
    if len(found) == 1:
        return found[0], args
    if len(found) > 1:
        raise CommandError(call.say("cmd_ambiguous_member", who=word, count=len(found)))
    fallback = wanted or typed_id(platform, word, MEMBER_FORMS)
    if absent_ok and fallback is not None:
        return Member(fallback), args
    shown = word.split(":", 1)[-1]
    raise CommandError(call.say("cmd_unknown_member", who=shown))
