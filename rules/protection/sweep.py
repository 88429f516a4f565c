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

Bans come in storms (a raid's spammers reach the removal step within seconds of
each other), so a :class:`Sweeper` sweeps them in passes: a ban decided when no
pass has started for ``spacing`` (half a second) is swept at once; the bans decided
while a pass runs, or within ``spacing`` of its start, are swept together by the
next one (:func:`sweep_together`), which lists the groups and reads each group's
member list once for all of them, not once per ban. Each ban still gets its own
result (its groups, outcomes, counts, and the time from its request to the end of
its pass), hence its own report. The removals found in one group are made
together, so that their verifications can share one read of the list (the QQ
gateway coalesces the reads of a group's list made close together).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Collection, Mapping, Sequence
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

PASS_SPACING = 0.5  # seconds: a ban storm is swept in at most two passes a second

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
    (result,) = await sweep_together(
        [SweepRequest(ban, frozenset(skip_groups), force_dry_run)],
        gateways,
        policy_for,
        bot_ids=bot_ids,
        concurrency=concurrency,
    )
    return result


@dataclass(frozen=True, slots=True)
class SweepRequest:
    """One ban to sweep, with the groups it leaves out (where it was decided)."""

    ban: Ban
    skip_groups: frozenset[str] = frozenset()
    force_dry_run: bool = False
    started: float = field(default_factory=time.perf_counter, compare=False)


async def sweep_together(
    requests: Sequence[SweepRequest],
    gateways: Mapping[Platform, Gateway],
    policy_for: Callable[[str], Policy],
    *,
    bot_ids: Collection[str] = (),
    concurrency: int = 8,
) -> list[SweepResult]:
    """Sweep several bans in one pass: each platform's groups listed once, each group's
    members read once for all of them; one result per request, in order."""
    tallies = [_Tally(r) for r in requests]
    by_platform: dict[Platform, list[tuple[_Tally, frozenset[str]]]] = {}
    for tally in tallies:
        accounts: dict[Platform, set[str]] = {}
        for account in tally.request.ban.accounts:
            platform, _ = split_id(account)
            accounts.setdefault(platform, set()).add(account)
        for platform, found in accounts.items():
            by_platform.setdefault(platform, []).append((tally, frozenset(found)))
    run = _Pass(policy_for, bot_ids, asyncio.Semaphore(max(1, concurrency)))
    for platform, wanted in sorted(by_platform.items()):
        gateway = gateways.get(platform)
        directory = as_directory(gateway) if gateway is not None else None
        if gateway is None or directory is None:
            for tally, _ in wanted:
                tally.unswept.append(platform)
            continue
        await run.platform(platform, gateway, directory, wanted)
    ended = time.perf_counter()
    return [t.result(ended) for t in tallies]


class Sweeper:
    """Sweeps bans in passes: a ban asked for while a pass runs joins the next one.

    :meth:`sweep` returns the ban's own result once its pass has ended. One pass
    runs at a time, so a storm of bans costs a few passes over the groups, not one
    sweep each.
    """

    def __init__(
        self,
        gateways: Mapping[Platform, Gateway],
        policy_for: Callable[[str], Policy],
        bot_ids: Collection[str] = (),
        concurrency: int = 8,
        spacing: float = PASS_SPACING,
    ) -> None:
        self.gateways = gateways
        self.policy_for = policy_for
        self.bot_ids = bot_ids
        self.concurrency = concurrency  # member lists read at once
        self.spacing = spacing  # seconds from one pass's start to the next one's, at least
        self.passes = 0  # passes run so far
        self._last_pass = -spacing  # when the last pass started (event loop time)
        self._pending: list[tuple[SweepRequest, asyncio.Future[SweepResult]]] = []
        self._runner: asyncio.Task[None] | None = None

    async def sweep(
        self, ban: Ban, skip_groups: Collection[str] = (), force_dry_run: bool = False
    ) -> SweepResult:
        """``ban`` swept by the next pass (with the other bans asked for until it starts)."""
        done: asyncio.Future[SweepResult] = asyncio.get_running_loop().create_future()
        self._pending.append((SweepRequest(ban, frozenset(skip_groups), force_dry_run), done))
        if self._runner is None:
            self._runner = asyncio.ensure_future(self._run())
        return await asyncio.shield(done)  # a caller that gives up leaves the pass alone

    async def _run(self) -> None:
        batch: list[tuple[SweepRequest, asyncio.Future[SweepResult]]] = []
        try:
            while self._pending:
                loop = asyncio.get_running_loop()
                wait = self._last_pass + self.spacing - loop.time()
                if wait > 0:  # in a storm: the bans of the next moments join this pass
                    await asyncio.sleep(wait)
                self._last_pass = loop.time()
                batch, self._pending = self._pending, []
                self.passes += 1
                try:
                    results = await sweep_together(
                        [request for request, _ in batch],
                        self.gateways,
                        self.policy_for,
                        bot_ids=self.bot_ids,
                        concurrency=self.concurrency,
                    )
                except Exception as exc:  # every ban of the pass hears of it
                    for _, done in batch:
                        if not done.done():
                            done.set_exception(exc)
                    continue
                for (_, done), result in zip(batch, results, strict=True):
                    if not done.done():
                        done.set_result(result)
        finally:
            self._runner = None
            for _, done in batch:  # cancelled mid-pass (closing): its bans are not left waiting
                if not done.done():
                    done.cancel()

    def close(self) -> None:
        """Stop the pass running and fail the bans waiting (the process is stopping)."""
        if self._runner is not None:
            self._runner.cancel()
        pending, self._pending = self._pending, []
        for _, done in pending:
            if not done.done():
                done.cancel()


class _Tally:
    """One request's result, gathered platform by platform."""

    __slots__ = ("checked", "opted_out", "request", "results", "unreadable", "unswept")

    def __init__(self, request: SweepRequest) -> None:
        self.request = request
        self.results: list[GroupResult] = []
        self.unreadable: list[str] = []
        self.unswept: list[Platform] = []
        self.checked = 0
        self.opted_out = 0

    def result(self, ended: float) -> SweepResult:
        return SweepResult(
            ban=self.request.ban,
            results=tuple(self.results),
            checked=self.checked,
            opted_out=self.opted_out,
            unreadable=tuple(self.unreadable),
            unswept=tuple(self.unswept),
            seconds=ended - self.request.started,
        )


class _Pass:
    """One pass over the groups for the bans it sweeps."""

    def __init__(
        self,
        policy_for: Callable[[str], Policy],
        bot_ids: Collection[str],
        limit: asyncio.Semaphore,
    ) -> None:
        self.policy_for = policy_for
        self.bot_ids = bot_ids
        self.limit = limit

    async def platform(
        self,
        platform: Platform,
        gateway: Gateway,
        directory: Directory,
        wanted: list[tuple[_Tally, frozenset[str]]],
    ) -> None:
        """Sweep one platform's groups for each ``(tally, its accounts there)``."""
        try:
            groups = await directory.list_groups()
        except Exception as exc:  # a platform that cannot list its groups: reported
            log.warning("ban sweep: %s groups unavailable: %r", platform.value, exc)
            for tally, _ in wanted:
                tally.unswept.append(platform)
            return
        targets: list[tuple[str, Policy, list[tuple[_Tally, frozenset[str]]]]] = []
        for group_id in groups:
            looking = [(t, a) for t, a in wanted if group_id not in t.request.skip_groups]
            if not looking:
                continue
            policy = self.policy_for(group_id)
            if policy.protection.share_bans:
                targets.append((group_id, policy, looking))
            else:
                for tally, _ in looking:
                    tally.opted_out += 1
        answers = await asyncio.gather(
            *(self.group(directory, gateway, g, p, looking) for g, p, looking in targets)
        )
        for (group_id, _, looking), answer in zip(targets, answers, strict=True):
            for tally, _ in looking:
                if answer is None:
                    tally.unreadable.append(group_id)
                else:
                    tally.checked += 1
            if answer is not None:
                for tally, found in answer:
                    tally.results.extend(found)

    async def group(
        self,
        directory: Directory,
        gateway: Gateway,
        group_id: str,
        policy: Policy,
        looking: list[tuple[_Tally, frozenset[str]]],
    ) -> list[tuple[_Tally, list[GroupResult]]] | None:
        """Each request's results in one group; None when its members cannot be listed."""
        async with self.limit:
            try:
                members = await directory.list_members(group_id)
            except Exception as exc:
                log.warning("ban sweep: members of %s unavailable: %r", group_id, exc)
                return None
        wanted: set[str] = set()
        for _, accounts in looking:
            wanted |= accounts
        found = [m for m in members if m.id in wanted]
        if not found:
            return [(tally, []) for tally, _ in looking]
        # one removal per (account, dry run) even if two bans of the pass cover it
        work: dict[tuple[str, bool], Member] = {}
        for tally, accounts in looking:
            for member in found:
                if member.id in accounts:
                    work.setdefault((member.id, self._dry(tally, policy)), member)
        keys = list(work)
        done = await asyncio.gather(
            *(
                _remove(
                    work[key],
                    group_id,
                    self._ban_of(looking, key[0]),
                    gateway,
                    exemption(work[key], policy, self.bot_ids),
                    key[1],
                )
                for key in keys
            )
        )
        outcome = dict(zip(keys, done, strict=True))
        return [
            (
                tally,
                [outcome[(m.id, self._dry(tally, policy))] for m in found if m.id in accounts],
            )
            for tally, accounts in looking
        ]

    @staticmethod
    def _dry(tally: _Tally, policy: Policy) -> bool:
        return tally.request.force_dry_run or policy.moderation.dry_run

    @staticmethod
    def _ban_of(looking: list[tuple[_Tally, frozenset[str]]], account: str) -> Ban:
        """The (first) ban of the pass covering ``account``: its reason and case go with
        the removal."""
        return next(t.request.ban for t, accounts in looking if account in accounts)


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
