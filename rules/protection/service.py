"""The protection across groups as one component: what the engine, the commands and the
composition root call.

The engine calls three hooks (its ``ProtectionHooks`` protocol), none of which
delays the first action on a message:

- :meth:`Protection.arrive` for every event before detection (synchronous): notes a
  message's id for a later recall, and gives the policy to judge it by (the strict
  one while the member is on probation);
- :meth:`Protection.screen_join` for a join request, before the roster screening: a
  banned applicant is refused, and while a raid lasts so is anyone the roster does
  not know;
- :meth:`Protection.after` once an event is decided (synchronous; the work runs in
  the background): joins (probation starts, raid counting, a banned account removed
  again), card changes (history, impersonation), new members' posts (raid
  counting), and a removal for a violation (clean-up, ban and sweep).

The commands use :meth:`ban_member`, :meth:`unban`, :meth:`bans`,
:meth:`card_history` and :meth:`mute_all`. The composition root calls
:meth:`recover` at start (raids a restart interrupted) and :meth:`close`.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Collection, Mapping
from datetime import datetime, timedelta

from rules.config import Config, Policy
from rules.core.messages import category_name, render
from rules.core.model import (
    Action,
    ActionKind,
    ChatEvent,
    Decision,
    EventKind,
    Member,
    Outcome,
    OutcomeStatus,
    Platform,
    Severity,
    utcnow,
)
from rules.core.ports import Gateway, SharedState, Store
from rules.core.protection_records import Ban, CardChange
from rules.detectors.nickname import NicknameDetector
from rules.detectors.nickname.roster import Roster
from rules.moderation import executor
from rules.protection import joining, reports
from rules.protection.banning import Banning
from rules.protection.bans import BanList, BanStore, exemption
from rules.protection.card_watch import CardWatch
from rules.protection.cards import CardHistoryStore
from rules.protection.probation import Probation
from rules.protection.raid_mode import RaidMode
from rules.protection.raids import PostKind, RaidStore, RaidWatch
from rules.protection.recent import RecentMessages
from rules.text.normalize import fold

log = logging.getLogger(__name__)

_DONE = frozenset({OutcomeStatus.DONE, OutcomeStatus.DRY_RUN})
MAX_TEXT_KEY = 200  # characters of a new member's folded text compared for "the same text"
CANNOT_RECALL = "this platform cannot recall other people's messages"


class Protection:
    """Bans across groups, clean-up, raids, probation and card history (see the module doc)."""

    def __init__(
        self,
        config: Config,
        journal: Store,
        bans: BanStore,
        cards: CardHistoryStore,
        raids: RaidStore,
        gateways: Mapping[Platform, Gateway],
        *,
        shared: SharedState | None = None,
        nickname: NicknameDetector | None = None,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.config = config
        self.journal = journal
        self.banlist = BanList(bans)
        self.card_store = cards
        self.gateways = gateways  # the runtime's: platforms register theirs as they start
        self.nickname = nickname
        self.clock = clock
        self.notify: Callable[[], None] = lambda: None  # wakes the outbox after a report
        settings = config.protection
        windows = [config.policy_for(g).protection.cleanup_window for g in config.groups]
        horizon = max([settings.cleanup_window, *windows, timedelta(hours=1)])
        self.recent = RecentMessages(settings.recent_per_member, settings.recent_max, horizon)
        self.probation = Probation()
        self.cards = CardWatch(cards, self._tell, self._spawn, self._roster, nickname)
        self.watch = RaidWatch()
        self.raids = RaidMode(
            config, raids, journal, gateways, self._tell, self._spawn, shared, clock
        )
        self.bot_ids: set[str] = set()
        self.banning = Banning(config, self.banlist, gateways, self._roster, self.bot_ids)
        self._tasks: set[asyncio.Task[None]] = set()

    # ------------------------------------------------------------ engine hooks

    def arrive(self, event: ChatEvent, policy: Policy) -> Policy:
        """Before detection: remember a message for recall; the policy to judge it by."""
        kind = event.kind
        if kind is EventKind.MESSAGE:
            if event.message_id is not None and policy.protection.cleanup:
                self.recent.note(event.group_id, event.member.id, event.message_id, event.time)
            return self.probation.policy_for_message(
                event.group_id, event.member.id, event.time, policy
            )
        if kind is EventKind.IMAGES:
            return self.probation.policy_for_other(
                event.group_id, event.member.id, event.time, policy
            )
        return policy

    async def screen_join(
        self, event: ChatEvent, gateway: Gateway, policy: Policy, dry_run: bool
    ) -> Decision | None:
        """Refuse a banned applicant, or an unknown one during a raid; None: not ours."""
        member = event.member
        if policy.protection.share_bans and exemption(member, policy) is None:
            ban = await self.banlist.banned(member.id)
            if ban is not None:
                return await joining.refuse(
                    self.journal, self._tell, event, gateway, policy, dry_run, ban
                )
        raid = policy.protection.raid
        if raid.refuse_joins and self.raids.under_raid(event.group_id):
            roster = self._roster(policy)
            if roster is None or roster.person_for(member.id) is None:
                return await joining.refuse(
                    self.journal, self._tell, event, gateway, policy, dry_run, None
                )
        return None

    def after(
        self,
        event: ChatEvent,
        decision: Decision,
        policy: Policy,
        gateway: Gateway,
        dry_run: bool,
    ) -> None:
        """Once an event is decided: what protection does about it (in the background)."""
        if event.bot_id is not None and event.bot_id not in self.bot_ids:
            self.bot_ids.add(event.bot_id)
        kind = event.kind
        if kind is EventKind.MESSAGE:
            self.cards.seen(event, policy, "message")
            self._count_post(event, decision, policy, gateway, dry_run)
        elif kind is EventKind.JOIN:
            self._joined(event, policy, gateway, dry_run)
        elif kind is EventKind.CARD_CHANGE:
            self.cards.seen(event, policy, "notice" if event.event_key else "audit")
        elif kind is EventKind.LEAVE:
            self.probation.left(event.group_id, event.member.id)
        for outcome in decision.outcomes:  # deleted already: a removal's recall skips it
            action, done = outcome.action, outcome.status is OutcomeStatus.DONE
            if done and action.kind is ActionKind.DELETE and action.message_id is not None:
                self.recent.discard(action.group_id, action.target_id, action.message_id)
        if decision.step > 0 and decision.case_id is not None and _removed(decision):
            self._spawn(self._after_removal(event, decision, policy, gateway, dry_run))

    # ------------------------------------------------------------ joins and posts

    def _joined(self, event: ChatEvent, policy: Policy, gateway: Gateway, dry_run: bool) -> None:
        group, member = event.group_id, event.member
        self.probation.joined(group, member.id, event.time)
        self.cards.seen(event, policy, "join")
        trigger = self.watch.join(group, member.id, event.time, policy.protection.raid)
        if trigger is not None:
            self.raids.begin(trigger, policy, gateway, dry_run)
        elif self.raids.under_raid(group):
            self._spawn(self.raids.joined(group, member, policy, gateway))
        if policy.protection.share_bans and exemption(member, policy, self.bot_ids) is None:
            self._spawn(self._banned_joined(event, policy, gateway, dry_run))

    def _count_post(
        self,
        event: ChatEvent,
        decision: Decision,
        policy: Policy,
        gateway: Gateway,
        dry_run: bool,
    ) -> None:
        """A new member's message with links, pictures or text counts towards a raid."""
        raid = policy.protection.raid
        if not raid.enabled or raid.new_posts == 0:
            return
        group, member = event.group_id, event.member.id
        if not self.probation.is_new(group, member, event.time, policy.protection.probation):
            return
        kinds: list[PostKind] = []
        if event.cards or any(f.detector == "link" for f in decision.findings):
            kinds.append("link")
        if event.images:
            kinds.append("image")
        key = fold(event.text)[:MAX_TEXT_KEY] if event.text else ""
        trigger = self.watch.post(group, member, event.time, kinds, key, raid)
        if trigger is not None:
            self.raids.begin(trigger, policy, gateway, dry_run)

    async def _banned_joined(
        self, event: ChatEvent, policy: Policy, gateway: Gateway, dry_run: bool
    ) -> None:
        ban = await self.banlist.banned(event.member.id)
        if ban is not None:
            await joining.remove_banned(
                self.journal, self._tell, event, ban, policy, gateway, dry_run
            )

    # ------------------------------------------------------------ removals: clean-up and ban

    async def _after_removal(
        self,
        event: ChatEvent,
        decision: Decision,
        policy: Policy,
        gateway: Gateway,
        dry_run: bool,
    ) -> None:
        """A member removed for a violation: their recent messages recalled, and from
        ``ban_from`` on, banned and swept from the other groups; one report."""
        settings = policy.protection
        severity = max(
            (policy.ladder.severity_of(f.category) for f in decision.findings),
            default=Severity.LOW,
        )
        case_id = decision.case_id
        assert case_id is not None
        lang = policy.moderation.language
        outcomes: list[Outcome] = []
        lines: list[str] = []
        if settings.cleanup and severity >= settings.cleanup_from:
            recalled = await self._recall(event, case_id, policy, gateway, dry_run)
            outcomes.extend(recalled)
            member = reports.member_shown(event.member.id, event.member.card)
            window = settings.cleanup_window
            line = reports.cleanup_line(
                event.group_id, member, window, len(recalled), recalled, lang
            )
            lines.extend([line] if line else [])
        officers: list[str] = list(policy.escalation.officers)
        text = render("cleanup_report", lang, case=case_id, lines="\n".join(lines))
        if not lines:
            text = ""
        if settings.share_bans and severity >= settings.ban_from and not dry_run:
            reason = "、".join(
                dict.fromkeys(category_name(f.category, lang) for f in decision.findings)
            )
            ban, new = await self.banning.record(
                event.member, event.group_id, reason, "bot", event.time, policy, case_id
            )
            if new:  # (banned already: swept then)
                result = await self.banning.sweep(ban, skip={event.group_id})
                outcomes.extend(result.outcomes())
                officers, text = self.banning.report(ban, result, policy, lines)
        if outcomes:
            await self.journal.record_outcomes(case_id, tuple(outcomes), event.time)
        if text:
            await self._tell(officers, text, case_id, False)

    async def _recall(
        self, event: ChatEvent, case_id: int, policy: Policy, gateway: Gateway, dry_run: bool
    ) -> list[Outcome]:
        """Delete the member's messages of the clean-up window (but the one acted on)."""
        group, member = event.group_id, event.member.id
        since = event.time - policy.protection.cleanup_window
        ids = [m for m in self.recent.recent(group, member, since) if m != event.message_id]
        self.recent.forget(group, member)
        actions = [
            Action(ActionKind.DELETE, group, member, message_id=m, case_id=case_id) for m in ids
        ]
        acting = executor.DryRunGateway.wrapping(gateway, group) if dry_run else gateway
        if ActionKind.DELETE not in acting.capabilities(group):
            return [Outcome(a, OutcomeStatus.SKIPPED, CANNOT_RECALL) for a in actions]
        return await executor.perform(actions, acting)

    # ------------------------------------------------------------ commands

    async def ban_member(
        self,
        member: Member,
        group_id: str,
        reason: str,
        by: str,
        at: datetime,
        case_id: int | None,
    ) -> tuple[Ban, bool]:
        """An officer's ban, recorded now; (the ban, whether it is new).

        The sweep (every group, this one too) and its report to the officers of
        this group and of every group the member is found in follow in the background.
        """
        policy = self.config.policy_for(group_id)
        ban, new = await self.banning.record(member, group_id, reason, by, at, policy, case_id)
        if new:
            self._spawn(self._sweep_and_report(ban, policy, case_id, at))
        return ban, new

    async def _sweep_and_report(
        self, ban: Ban, policy: Policy, case_id: int | None, at: datetime
    ) -> None:
        result = await self.banning.sweep(ban)
        if case_id is not None and result.results:
            await self.journal.record_outcomes(case_id, result.outcomes(), at)
        officers, text = self.banning.report(ban, result, policy)
        await self._tell(officers, text, case_id, False)

    def exempt_from_ban(self, member: Member, group_id: str) -> str | None:
        """Why ``member`` may not be banned (None: they may)."""
        return self.banning.exempt(member, group_id)

    async def unban(self, account: str, by: str, at: datetime) -> Ban | None:
        return await self.banlist.lift(account, by, at)

    async def lift_ban(self, ban_id: int, by: str, at: datetime) -> Ban | None:
        return await self.banlist.store.lift_ban(ban_id, by, at)

    async def bans(self, active_only: bool = True, limit: int = 50) -> list[Ban]:
        return await self.banlist.listing(active_only, limit)

    async def card_history(
        self, group_id: str, member_id: str, limit: int = 20
    ) -> list[CardChange]:
        return await self.card_store.card_history(group_id, member_id, limit)

    async def mute_all(
        self, group_id: str, on: bool, gateway: Gateway, case_id: int | None = None
    ) -> Outcome:
        kind = ActionKind.MUTE_ALL if on else ActionKind.UNMUTE_ALL
        action = Action(kind, group_id, "", case_id=case_id)
        if kind not in gateway.capabilities(group_id):
            return Outcome(action, OutcomeStatus.SKIPPED, "not possible here")
        (outcome,) = await executor.perform([action], gateway)
        return outcome

    # ------------------------------------------------------------ life cycle

    async def recover(self) -> int:
        """At start: raids a restart interrupted (lifted when due); how many."""
        return await self.raids.recover()

    async def idle(self) -> None:
        """Wait until the background work started so far (and what it started) is done."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    async def close(self) -> None:
        self.raids.close()
        self.banning.close()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*list(self._tasks), return_exceptions=True)

    # ------------------------------------------------------------ helpers

    def _spawn(self, work: Awaitable[None]) -> None:
        task = asyncio.ensure_future(work)
        self._tasks.add(task)
        task.add_done_callback(self._finished)

    def _finished(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("protection task failed", exc_info=task.exception())

    async def _tell(
        self, officers: Collection[str], text: str, case_id: int | None, at_once: bool
    ) -> None:
        """Queue ``text`` for each officer (once each), at once or after the batch window
        (so that it goes out with the other reports of the moment), and wake the outbox then."""
        if not officers:
            return
        now = self.clock()
        window = self.config.policy().escalation.batch_window
        due = None if at_once else now + window
        for officer in dict.fromkeys(officers):
            await self.journal.enqueue_report(officer, text, case_id, now, due=due)
        if at_once:
            self.notify()
        else:
            delay = window.total_seconds() + 0.05
            asyncio.get_running_loop().call_later(delay, lambda: self.notify())

    def _roster(self, policy: Policy) -> Roster | None:
        if self.nickname is None or not policy.nickname.roster:
            return None
        return self.nickname.roster_for(policy.nickname)


def _removed(decision: Decision) -> bool:
    """Whether the decision removed the member (or would have, in dry run)."""
    return any(o.action.kind is ActionKind.KICK and o.status in _DONE for o in decision.outcomes)
