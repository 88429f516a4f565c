"""Making a ban and sweeping it across the groups, with its one officer report.

:class:`Banning` records the ban (the account, and with ``ban_roster`` the
roster's other accounts of the person; exempt accounts never), runs the sweep
over the gateways the platforms registered (:mod:`rules.protection.sweep`; the
bans of a storm swept together, a pass at a time, by one :class:`Sweeper`), and
writes the report for the officers of the origin group and of every group the
member was found in.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection, Iterable, Mapping
from datetime import datetime

from rules.config import Config, Policy
from rules.core.model import Member, Platform
from rules.core.ports import Gateway
from rules.core.protection_records import Ban
from rules.detectors.nickname.roster import Roster
from rules.protection import reports
from rules.protection.bans import BanList, exempt_account, exemption
from rules.protection.sweep import Sweeper, SweepResult

log = logging.getLogger(__name__)


class Banning:
    """The ban list with its sweep (see the module docstring)."""

    def __init__(
        self,
        config: Config,
        banlist: BanList,
        gateways: Mapping[Platform, Gateway],
        roster_for: Callable[[Policy], Roster | None],
        bot_ids: Collection[str],
    ) -> None:
        self.config = config
        self.banlist = banlist
        self.gateways = gateways
        self.roster_for = roster_for
        self.bot_ids = bot_ids
        self.sweeper = Sweeper(gateways, config.policy_for, bot_ids, concurrency=8)

    def exempt(self, member: Member, group_id: str) -> str | None:
        """Why ``member`` may not be banned (None: they may)."""
        policy = self.config.policy_for(group_id)
        why = exemption(member, policy, self.bot_ids)
        if why is None and exempt_account([member.id], [policy, self.config.policy()]):
            why = "officer or exempt id"
        return why

    async def record(
        self,
        member: Member,
        group_id: str | None,
        reason: str,
        by: str,
        at: datetime,
        policy: Policy,
        case_id: int | None,
    ) -> tuple[Ban, bool]:
        """The ban of ``member`` (new, or the one already covering them)."""
        roster = self.roster_for(policy) if policy.protection.ban_roster else None
        policies = [policy, self.config.policy()]
        ban, new = await self.banlist.ban(
            member.id,
            reason=reason,
            by=by,
            at=at,
            name=member.card or member.nickname,
            origin_group=group_id,
            case_id=case_id,
            roster=_without_exempt(roster, member.id, policies),
        )
        return ban, new

    async def sweep(self, ban: Ban, skip: Collection[str] = ()) -> SweepResult:
        result = await self.sweeper.sweep(ban, skip)
        log.info(
            "ban #%s of %s: %d group(s) checked, %d removal(s) in %.2f s",
            ban.id,
            ban.member_id,
            result.checked,
            result.removed,
            result.seconds,
        )
        return result

    def close(self) -> None:
        self.sweeper.close()

    def report(
        self, ban: Ban, result: SweepResult, policy: Policy, lines: Iterable[str] = ()
    ) -> tuple[list[str], str]:
        """(the officers to tell, the report): the ban, ``lines``, then the sweep."""
        lang = policy.moderation.language
        text = "\n".join(
            [reports.ban_text(ban, policy), *lines, *reports.sweep_lines(result, lang)]
        )
        officers = list(policy.escalation.officers)
        for r in result.results:
            officers.extend(self.config.policy_for(r.group_id).escalation.officers)
        return officers, text


def _without_exempt(roster: Roster | None, member_id: str, policies: list[Policy]) -> Roster | None:
    """The roster, unless it would extend the ban to an officer's or exempt account."""
    if roster is None:
        return None
    person = roster.person_for(member_id)
    if person is None or exempt_account(person.ids - {member_id}, policies) is None:
        return roster
    return None
