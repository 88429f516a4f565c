"""Raid mode: what happens in a group from a raid's trigger until it is lifted.

At the trigger (:mod:`rules.protection.raids`) the raid is recorded first (so a
restart still lifts it), then a case is opened and the measures run: the whole
group muted where the platform can (QQ ``set_group_whole_ban``), the raid's new
accounts muted or removed per ``[protection.raid] accounts``; the officers are
alerted at once (not batched). Accounts joining while it lasts get the same
treatment. When ``duration`` is over, :meth:`RaidMode.lift` unmutes the group and
the muted accounts and reports; a lift that fails (the account disconnected) is
tried again a few times before it is reported as failed. With several bot
processes only the one that claims the raid in the shared state acts.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

from rules.config import Config, Policy
from rules.core.model import (
    ActionKind,
    ChatEvent,
    EventKind,
    Finding,
    Member,
    Outcome,
    OutcomeStatus,
    Platform,
    split_id,
    utcnow,
)
from rules.core.ports import Gateway, SharedState, Store
from rules.core.protection_records import RaidRecord
from rules.moderation import executor
from rules.protection import reports
from rules.protection.bans import exemption
from rules.protection.joining import Tell
from rules.protection.raids import RaidStore, Trigger, account_actions, lift_actions, start_actions

log = logging.getLogger(__name__)

LIFT_RETRIES = 10
LIFT_RETRY_DELAY = timedelta(seconds=30)
_DONE = frozenset({OutcomeStatus.DONE})


@dataclass
class RaidState:
    """A raid under way in one group (``record`` is replaced as it changes)."""

    record: RaidRecord
    started: asyncio.Event = field(default_factory=asyncio.Event)
    attempts: int = 0
    dry_run: bool = False


class RaidMode:
    """The raids under way, their measures and their lifts."""

    def __init__(
        self,
        config: Config,
        store: RaidStore,
        journal: Store,
        gateways: Mapping[Platform, Gateway],
        tell: Tell,
        spawn: Callable[[Awaitable[None]], None],
        shared: SharedState | None = None,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.config = config
        self.store = store
        self.journal = journal
        self.gateways = gateways
        self.tell = tell
        self.spawn = spawn
        self.shared = shared
        self.clock = clock
        self.active: dict[str, RaidState] = {}
        self._timers: dict[str, asyncio.TimerHandle] = {}

    def under_raid(self, group_id: str) -> bool:
        return group_id in self.active

    # ------------------------------------------------------------ start

    def begin(self, trigger: Trigger, policy: Policy, gateway: Gateway, dry_run: bool) -> None:
        """Enter raid mode now (synchronously: joins that follow see it), act in the background."""
        if trigger.group_id in self.active:
            return
        settings = policy.protection.raid
        record = RaidRecord(
            trigger.group_id, trigger.at, trigger.at + settings.duration, trigger.kind
        )
        state = self.active[trigger.group_id] = RaidState(record, dry_run=dry_run)
        self.spawn(self._start(state, trigger, policy, gateway, dry_run))

    async def _start(
        self, state: RaidState, trigger: Trigger, policy: Policy, gateway: Gateway, dry_run: bool
    ) -> None:
        group = trigger.group_id
        settings = policy.protection.raid
        try:
            if self.shared is not None and self.shared.shared:
                key = (
                    f"raid:{group}:{int(trigger.at.timestamp() // settings.window.total_seconds())}"
                )
                if not await self.shared.claim(key, settings.duration):
                    del self.active[group]  # another process has it
                    return
            accounts = tuple(a for a in trigger.accounts if exemption(Member(a), policy) is None)
            acting = executor.DryRunGateway.wrapping(gateway, group) if dry_run else gateway
            trigger = replace(trigger, accounts=accounts)
            planned = start_actions(trigger, settings, acting.capabilities(group))
            record = replace(
                state.record,
                accounts=accounts,
                muted_group=any(a.kind is ActionKind.MUTE_ALL for a in planned),
                muted=tuple(a.target_id for a in planned if a.kind is ActionKind.MUTE),
            )
            record = await self.store.save_raid(record)  # intent before effect
            state.record = record
            event = _raid_event(record, accounts, trigger)
            finding = Finding("raid", "raid", trigger.kind, 0, 0, detail=f"{trigger.count}")
            case_id = await self.journal.open_case(event, (finding,), 0, trigger.at)
            planned = [replace(a, case_id=case_id) for a in planned]
            outcomes = await executor.perform(planned, acting)
            done = {(o.action.kind, o.action.target_id) for o in outcomes if o.status in _DONE}
            record = replace(
                record,
                case_id=case_id,
                muted_group=(ActionKind.MUTE_ALL, "") in done,
                muted=tuple(a for a in record.muted if (ActionKind.MUTE, a) in done),
                removed=tuple(a for a in accounts if (ActionKind.KICK, a) in done),
            )
            state.record = await self.store.save_raid(record)
            lang = policy.moderation.language
            measures = reports.raid_measures(outcomes, settings.refuse_joins, planned, lang)
            unsupported = settings.mute_group and ActionKind.MUTE_ALL not in acting.capabilities(
                group
            )
            text = reports.raid_alert(trigger, state.record, measures, policy, unsupported)
            await self.tell(policy.escalation.officers, text, case_id, True)
            await self.journal.record_outcomes(case_id, tuple(outcomes), trigger.at)
        finally:
            state.started.set()
            if self.active.get(group) is state:  # lifted when due, even after an error here
                self._schedule(group, state.record.until)

    async def joined(self, group_id: str, member: Member, policy: Policy, gateway: Gateway) -> None:
        """A member joined a group under raid: the raid's measures for new accounts."""
        state = self.active.get(group_id)
        if state is None:
            return
        await state.started.wait()
        if group_id not in self.active or member.id in state.record.accounts:
            return
        record = replace(state.record, accounts=(*state.record.accounts, member.id))
        state.record = record
        if exemption(member, policy) is not None:
            return
        acting = executor.DryRunGateway.wrapping(gateway, group_id) if state.dry_run else gateway
        planned = [
            replace(a, case_id=record.case_id)
            for a in account_actions(group_id, [member.id], policy.protection.raid)
        ]
        planned = [a for a in planned if a.kind in acting.capabilities(group_id)]
        outcomes = await executor.perform(planned, acting)
        for outcome in outcomes:
            if outcome.status not in _DONE:
                continue
            if outcome.action.kind is ActionKind.MUTE:
                record = replace(record, muted=(*record.muted, member.id))
            elif outcome.action.kind is ActionKind.KICK:
                record = replace(record, removed=(*record.removed, member.id))
        state.record = await self.store.save_raid(record)
        if record.case_id is not None and outcomes:
            await self.journal.record_outcomes(record.case_id, tuple(outcomes), self.clock())

    # ------------------------------------------------------------ lift

    def _schedule(self, group_id: str, at: datetime) -> None:
        old = self._timers.pop(group_id, None)
        if old is not None:
            old.cancel()
        delay = max(0.0, (at - self.clock()).total_seconds())
        loop = asyncio.get_running_loop()
        self._timers[group_id] = loop.call_later(delay, lambda: self.spawn(self.lift(group_id)))

    async def lift(self, group_id: str) -> None:
        """Undo a raid's measures (when its time is up), report, and close it."""
        self._timers.pop(group_id, None)
        state = self.active.get(group_id)
        if state is None:
            return
        record = state.record
        policy = self.config.policy_for(group_id)
        gateway = self.gateways.get(split_id(group_id)[0])
        outcomes: list[Outcome] = []
        planned = [replace(a, case_id=record.case_id) for a in lift_actions(record)]
        if planned and gateway is None:
            outcomes = [Outcome(a, OutcomeStatus.FAILED, "platform not connected") for a in planned]
        elif planned and gateway is not None:
            outcomes = await executor.perform(planned, gateway)
        failed = [o for o in outcomes if o.status not in _DONE]
        now = self.clock()
        if failed and state.attempts < LIFT_RETRIES:
            state.attempts += 1
            log.warning("raid lift in %s failed (%s); trying again", group_id, failed[0].detail)
            self._schedule(group_id, now + LIFT_RETRY_DELAY)
            return
        lifted = replace(record, lifted_at=now)
        del self.active[group_id]
        try:
            await self.store.save_raid(lifted)
        except Exception:  # the measures are undone; a restart would only lift it again
            log.exception("raid in %s lifted but not recorded as lifted", group_id)
        text = reports.raid_lifted(lifted, outcomes, now, policy)
        await self.tell(policy.escalation.officers, text, record.case_id, True)
        if record.case_id is not None and outcomes:
            await self.journal.record_outcomes(record.case_id, tuple(outcomes), now)

    async def recover(self) -> int:
        """Raids a restart interrupted: lift them when due; how many."""
        raids = await self.store.open_raids()
        for record in raids:
            state = RaidState(record)
            state.started.set()
            self.active[record.group_id] = state
            self._schedule(record.group_id, record.until)
        return len(raids)

    def close(self) -> None:
        for timer in self._timers.values():
            timer.cancel()
        self._timers.clear()


def _raid_event(record: RaidRecord, accounts: tuple[str, ...], trigger: Trigger) -> ChatEvent:
    """The event a raid's case is recorded under (the group, its first account)."""
    platform, _ = split_id(record.group_id)
    first = accounts[0] if accounts else (trigger.accounts[0] if trigger.accounts else "")
    return ChatEvent(
        kind=EventKind.JOIN,
        platform=platform,
        group_id=record.group_id,
        member=Member(first or record.group_id),
        time=trigger.at,
        text=reports.accounts_shown(accounts),
    )
