"""The organisation's ban list: one record per banned person, visible and reversible.

A ban is made when the bot removes a member for a violation at least as severe
as ``[protection] ban_from`` (in a group taking part, ``share_bans``), or by an
officer's command. It covers the account and, with a roster and ``ban_roster``,
the person's other accounts (on the other platform too). A banned account is
removed from the other guarded groups (``rules.protection.sweep``) and refused
when it applies to join again; ``/解封`` lifts it everywhere (the record stays,
with who lifted it and when).

Nobody who is exempt is ever banned or removed by a ban: owners and admins (their
role where they are found), officers, ``[moderation] exempt_ids`` and the roles
in ``exempt_roles``, and the bot itself (:func:`exemption`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Collection, Iterable
from datetime import datetime
from typing import Protocol

from rules.config import Policy
from rules.core.model import Member, Role
from rules.core.protection_records import Ban
from rules.detectors.nickname.roster import Roster


class BanStore(Protocol):
    """What the ban list needs of storage (``rules.storage.bans``)."""

    async def add_ban(self, ban: Ban) -> Ban:
        """Record a ban; return it with its id."""
        ...

    async def active_ban_for(self, accounts: Collection[str]) -> Ban | None:
        """The active ban covering any of ``accounts`` (the oldest), or None."""
        ...

    async def get_ban(self, ban_id: int) -> Ban | None: ...

    async def list_bans(self, active_only: bool = True, limit: int = 50) -> list[Ban]:
        """Bans, newest first."""
        ...

    async def lift_ban(self, ban_id: int, by: str, at: datetime) -> Ban | None:
        """Mark an active ban lifted; return it, or None when it was not active."""
        ...


def linked_accounts(member_id: str, roster: Roster | None) -> tuple[str, ...]:
    """``member_id`` and the roster's other accounts of the same person (sorted)."""
    person = roster.person_for(member_id) if roster is not None else None
    if person is None:
        return (member_id,)
    return (member_id, *sorted(a for a in person.ids if a != member_id))


def exemption(member: Member, policy: Policy, bot_ids: Collection[str] = ()) -> str | None:
    """Why ``member`` may not be banned or removed by a ban here (None: they may be)."""
    if member.id in bot_ids:
        return "the bot itself"
    if member.role is not Role.MEMBER or member.role.value in policy.moderation.exempt_roles:
        return f"group {member.role.value}"
    if member.id in policy.escalation.officers:
        return "officer"
    if member.id in policy.moderation.exempt_ids:
        return "exempt id"
    return None


def exempt_account(accounts: Iterable[str], policies: Iterable[Policy]) -> str | None:
    """The first of ``accounts`` that is an officer or exempt id in any of ``policies``."""
    policies = list(policies)
    for account in accounts:
        for policy in policies:
            if account in policy.escalation.officers or account in policy.moderation.exempt_ids:
                return account
    return None


class BanList:
    """Making, finding and lifting bans over a :class:`BanStore`."""

    def __init__(self, store: BanStore) -> None:
        self.store = store
        # one ban made at a time: a member removed in two groups at once is banned once
        self._making = asyncio.Lock()

    async def ban(
        self,
        member_id: str,
        *,
        reason: str,
        by: str,
        at: datetime,
        name: str = "",
        origin_group: str | None = None,
        case_id: int | None = None,
        roster: Roster | None = None,
    ) -> tuple[Ban, bool]:
        """Ban ``member_id`` (and the roster's accounts); (the ban, whether it is new).

        An account already banned keeps its ban: the existing one is returned (also
        to a second removal of the member decided while the first was being banned).
        Callers check :func:`exemption` first.
        """
        accounts = linked_accounts(member_id, roster)
        async with self._making:
            existing = await self.store.active_ban_for(accounts)
            if existing is not None:
                return existing, False
            ban = Ban(
                member_id=member_id,
                accounts=accounts,
                reason=reason,
                banned_by=by,
                banned_at=at,
                name=name,
                origin_group=origin_group,
                case_id=case_id,
            )
            return await self.store.add_ban(ban), True

    async def banned(self, account: str) -> Ban | None:
        """The active ban covering ``account``."""
        return await self.store.active_ban_for((account,))

    async def lift(self, account: str, by: str, at: datetime) -> Ban | None:
        """Lift the active ban covering ``account`` everywhere; None when there is none."""
        ban = await self.store.active_ban_for((account,))
        if ban is None or ban.id is None:
            return None
        return await self.store.lift_ban(ban.id, by, at)

    async def listing(self, active_only: bool = True, limit: int = 50) -> list[Ban]:
        return await self.store.list_bans(active_only, limit)
