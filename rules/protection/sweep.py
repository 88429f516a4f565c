"""The sweep: a banned member is removed from every other guarded group.

For each platform the ban has accounts on, the platform's gateway lists the
groups the bot is in and their members (the core's ``Directory`` port: QQ group
member lists, WeChat rooms); member lists are read a few groups at a time
(``concurrency``), so a ban across fifty groups takes a few round trips, not
fifty. Where a banned account is found:

- exempt there (owner, admin, officer, exempt id: :func:`~rules.protection.bans.exemption`):
  left alone, and said so;
- the bot cannot remove members there (not an admin; a WeChat room it does not
  own): left, and said so, for an officer to act;
- the group runs in dry run: what would have been done;
- otherwise removed. Re-joining is refused by the ban list itself (join requests
  are screened against it, a banned member who joins by invitation is removed
  again), not by the platform's own block list: that one cannot be undone
  through OneBot, and a ban must be reversible (``/解封``).

Groups whose ``[protection] share_bans`` is false are not looked at. The result
lists each group where an account was found and its outcome; the caller sends
it to the officers as one report and records the outcomes with the ban's case.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from typing import Literal

from rules.config import Policy
from rules.core.model import (
    Action,
    ActionKind,
    Member,
    Outcome,
    OutcomeStatus,
    Platform,
    split_id,
)
from rules.core.ports import Directory, Gateway, as_directory
from rules.core.protection_records import Ban
from rules.protection.bans import exemption

log = logging.getLogger(__name__)

SweepStatus = Literal["removed", "failed", "exempt", "cannot", "dry_run"]
_OUTCOME_STATUS: Mapping[SweepStatus, OutcomeStatus] = {
    "removed": OutcomeStatus.DONE,
    "failed": OutcomeStatus.FAILED,
    "exempt": OutcomeStatus.SKIPPED,
    "cannot": OutcomeStatus.SKIPPED,
    "dry_run": OutcomeStatus.DRY_RUN,
}


@dataclass(frozen=True, slots=True)
class GroupResult:
    """What happened to one banned account found in one group."""

    group_id: str
    member_id: str
    status: SweepStatus
    detail: str = ""
    card: str = ""

    def outcome(self, case_id: int | None) -> Outcome:
        action = Action(ActionKind.KICK, self.group_id, self.member_id, case_id=case_id)
        detail = f"{self.group_id}: {self.detail}" if self.detail else self.group_id
        return Outcome(action, _OUTCOME_STATUS[self.status], detail)


@dataclass(frozen=True, slots=True)
class SweepResult:
    ban: Ban
    results: tuple[GroupResult, ...] = ()
    checked: int = 0  # groups whose member list was read
    opted_out: int = 0  # groups left out by [protection] share_bans = false
    unreadable: tuple[str, ...] = ()  # groups whose member list could not be read
    # platforms the ban has accounts on but no gateway that can list groups
    unswept: tuple[Platform, ...] = ()
    seconds: float = field(default=0.0, compare=False)

    @property
    def removed(self) -> int:
        return sum(r.status == "removed" for r in self.results)

    def outcomes(self) -> tuple[Outcome, ...]:
        """The results as outcomes, to record with the ban's case."""
        return tuple(r.outcome(self.ban.case_id) for r in self.results)


async def sweep(
    ban: Ban,
    gateways: Mapping[Platform, Gateway],
    policy_for: Callable[[str], Policy],
    *,
    skip_groups: Collection[str] = (),
    bot_ids: Collection[str] = (),
    force_dry_run: bool = False,
    concurrency: int = 8,
) -> SweepResult:
    """Remove ``ban``'s accounts from every group the gateways list (but ``skip_groups``)."""
    started = time.perf_counter()
    by_platform: dict[Platform, set[str]] = {}
    for account in ban.accounts:
        platform, _ = split_id(account)
        by_platform.setdefault(platform, set()).add(account)
    run = _Sweep(ban, policy_for, bot_ids, force_dry_run, asyncio.Semaphore(max(1, concurrency)))
    for platform, accounts in sorted(by_platform.items()):
        gateway = gateways.get(platform)
        if gateway is None or as_directory(gateway) is None:
            run.unswept.append(platform)
            continue
        await run.platform(platform, gateway, accounts, skip_groups)
    return SweepResult(
        ban=ban,
        results=tuple(run.results),
        checked=run.checked,
        opted_out=run.opted_out,
        unreadable=tuple(run.unreadable),
        unswept=tuple(run.unswept),
        seconds=time.perf_counter() - started,
    )


class _Sweep:
    """One sweep's state, gathered platform by platform."""

    def __init__(
        self,
        ban: Ban,
        policy_for: Callable[[str], Policy],
        bot_ids: Collection[str],
        force_dry_run: bool,
        limit: asyncio.Semaphore,
    ) -> None:
        self.ban = ban
        self.policy_for = policy_for
        self.bot_ids = bot_ids
        self.force_dry_run = force_dry_run
        self.limit = limit
        self.results: list[GroupResult] = []
        self.unreadable: list[str] = []
        self.unswept: list[Platform] = []
        self.checked = 0
        self.opted_out = 0

    async def platform(
        self,
        platform: Platform,
        gateway: Gateway,
        accounts: Collection[str],
        skip_groups: Collection[str],
    ) -> None:
        directory = as_directory(gateway)
        assert directory is not None
        try:
            groups = await directory.list_groups()
        except Exception as exc:  # a platform that cannot list its groups: reported
            log.warning("ban sweep: %s groups unavailable: %r", platform.value, exc)
            self.unswept.append(platform)
            return
        targets: list[tuple[str, Policy]] = []
        for group_id in groups:
            if group_id in skip_groups:
                continue
            policy = self.policy_for(group_id)
            if policy.protection.share_bans:
                targets.append((group_id, policy))
            else:
                self.opted_out += 1
        answers = await asyncio.gather(
            *(self.group(directory, gateway, accounts, g, p) for g, p in targets)
        )
        for (group_id, _), answer in zip(targets, answers, strict=True):
            if answer is None:
                self.unreadable.append(group_id)
            else:
                self.checked += 1
                self.results.extend(answer)

    async def group(
        self,
        directory: Directory,
        gateway: Gateway,
        accounts: Collection[str],
        group_id: str,
        policy: Policy,
    ) -> list[GroupResult] | None:
        """The results in one group; None when its members cannot be listed."""
        async with self.limit:
            try:
                members = await directory.list_members(group_id)
            except Exception as exc:
                log.warning("ban sweep: members of %s unavailable: %r", group_id, exc)
                return None
        found: list[GroupResult] = []
        for member in members:
            if member.id in accounts:
                why = exemption(member, policy, self.bot_ids)
                dry = self.force_dry_run or policy.moderation.dry_run
                found.append(await _remove(member, group_id, self.ban, gateway, why, dry))
        return found


async def _remove(
    member: Member,
    group_id: str,
    ban: Ban,
    gateway: Gateway,
    exempt: str | None,
    dry_run: bool,
) -> GroupResult:
    member_id, card = member.id, member.card
    if exempt is not None:
        return GroupResult(group_id, member_id, "exempt", exempt, card)
    if ActionKind.KICK not in gateway.capabilities(group_id):
        return GroupResult(group_id, member_id, "cannot", "the bot cannot remove here", card)
    if dry_run:
        return GroupResult(group_id, member_id, "dry_run", "dry run: not removed", card)
    action = Action(
        ActionKind.KICK,
        group_id,
        member_id,
        text=ban.reason,
        case_id=ban.case_id,
    )
    try:
        outcome = await gateway.perform(action)
    except Exception as exc:  # a gateway that raises instead of reporting
        return GroupResult(group_id, member_id, "failed", f"{type(exc).__name__}: {exc}", card)
    if outcome.status is OutcomeStatus.DONE:
        return GroupResult(group_id, member_id, "removed", outcome.detail, card)
    return GroupResult(group_id, member_id, "failed", outcome.detail or outcome.status.value, card)
