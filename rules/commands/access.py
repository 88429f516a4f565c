"""Who may command what: a caller's level for a group, and reading a typed group or member id.

Officers (global or of the group) and superusers are OFFICER everywhere; owners
and admins are MANAGER only in their own group, by the role the platform
reported with the message (never by card text). The web console uses the same
rule for who may sign in.
"""

from __future__ import annotations

from collections.abc import Callable

from rules.commands.spec import Level
from rules.config import Config
from rules.core.model import Member, Platform, Role, qualify, split_id


def caller_level(config: Config, caller: Member, group_id: str, in_that_group: bool) -> Level:
    """What the caller may do in ``group_id``.

    Officers (global or of that group) and superusers are OFFICER everywhere;
    owners and admins are MANAGER only when the command is typed in their group
    (their role comes from the platform's event, never from card text).
    """
    policy = config.policy_for(group_id)
    if caller.id in config.commands.superusers or caller.id in policy.escalation.officers:
        return Level.OFFICER
    if in_that_group and caller.role in (Role.OWNER, Role.ADMIN):
        return Level.MANAGER
    return Level.MEMBER


def is_officer_anywhere(config: Config, member_id: str) -> bool:
    """Superuser, global officer, or officer of any group with its own override."""
    if oversees_everything(config, member_id):
        return True
    return any(member_id in config.policy_for(g).escalation.officers for g in config.groups)


def oversees_everything(config: Config, member_id: str) -> bool:
    """Superuser or global officer (not only an officer of some groups)."""
    return member_id in config.commands.superusers or member_id in config.escalation.officers


RawForms = dict[Platform, Callable[[str], bool]]
# How people type a group's or a member's bare id on each platform.
GROUP_FORMS: RawForms = {
    Platform.QQ: str.isdigit,
    Platform.WECHAT: lambda word: word.endswith("@chatroom"),
}
MEMBER_FORMS: RawForms = {
    Platform.QQ: lambda word: word.isdigit() and len(word) >= 5,
    Platform.WECHAT: lambda word: word.startswith(("wxid_", "wxid-")),
}


def typed_id(platform: Platform, word: str, forms: RawForms) -> str | None:
    """A typed id, qualified: ``qq:123`` as is, a bare id of this platform's form, else None."""
    word = word.strip()
    if ":" in word:
        try:
            split_id(word)
        except ValueError:
            return None
        return word
    looks_raw = forms.get(platform)
    return qualify(platform, word) if looks_raw is not None and looks_raw(word) else None
