"""The one pipeline: event -> findings -> decision -> actions -> records.

Platform edges and the offline ``scan`` both call :meth:`Engine.handle`. The
engine never branches on the platform: what a platform cannot do is handled by
the executor's fallbacks, and dry run is a gateway.

Order on the violation path, so the first action goes out as soon as it is
decided and events never queue behind each other:

1. detectors (before the first await: they see a member's messages in order);
2. when this process works alone (``delete_first``: no shared state, i.e. no
   ``[redis]``), the message's deletion, which every ladder step starts with,
   goes out at once: it depends on neither the claim nor the strikes, so the
   offending message does not stay up for a database round trip (a message
   delivered twice is deleted once). With several processes the claim comes
   first, so only one of them acts on a message;
3. per member, one decision at a time (:class:`~rules.core.batching.KeyedLock`):
   claim the message and read the member's strikes (together), plan; then the
   enforcement starts *while* the case and its strike are written, and the
   notices follow, worded from what really happened (gateways verify mutes
   and kicks) and carrying the case number. The member's next decision waits
   only for the case write, so strikes are always counted in order;
4. outside the member's lock: wait for the actions, queue reports, record
   every outcome.

Writing the member (first sight, changed card or role) runs beside all of it.
``handle`` returns once everything, records included, is done. The store
group-commits these writes (:class:`~rules.core.batching.Batcher`), so concurrent
events share transactions.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Protocol

from rules.config import Config, DetectorSettings, Policy
from rules.core.batching import KeyedLock
from rules.core.model import (
    Action,
    ActionKind,
    ChatEvent,
    Decision,
    EventKind,
    Finding,
    Outcome,
    OutcomeStatus,
    utcnow,
)
from rules.core.ports import Gateway, Store
from rules.detectors.base import Detector
from rules.moderation import executor, ladder
from rules.moderation.activity import MemberNotes
from rules.moderation.escalation import held_for_digest
from rules.moderation.notices import report_text, worded_notice

log = logging.getLogger(__name__)

ENFORCEMENT = frozenset(
    {ActionKind.DELETE, ActionKind.MUTE, ActionKind.UNMUTE, ActionKind.KICK, ActionKind.SET_CARD}
)
NOTICES = frozenset({ActionKind.WARN, ActionKind.REMIND})
REMEMBERED_REMOVALS = 10_000  # recent deletions: a message delivered again is not re-deleted


class MemberRules(Protocol):
    """What the engine asks of the member rules (``rules.members.compliance.Members``).

    ``screen_join`` decides a join request; ``observe`` sees every event (to forget a
    card that is fixed now); ``plan`` gives the actions for findings that do not feed
    the ladder (card reminders, chatter reports), empty when nothing is due.
    """

    async def screen_join(
        self, event: ChatEvent, gateway: Gateway, policy: Policy, store: Store, dry_run: bool
    ) -> Decision: ...

    async def observe(
        self, event: ChatEvent, findings: Sequence[Finding], policy: Policy
    ) -> None: ...

    async def plan(
        self, event: ChatEvent, findings: Sequence[Finding], policy: Policy, now: datetime
    ) -> tuple[Action, ...]: ...


class ProtectionHooks(Protocol):
    """What the engine asks of the protection across groups (``rules.protection.service``).

    ``arrive`` sees every event before detection (it remembers message ids for a
    recall and gives the policy to judge the event by: strict on probation);
    ``screen_join`` may refuse a join request first (a banned applicant, an unknown
    one during a raid), None to leave it to the member rules; ``after`` sees every
    decided event and does its work in the background (raids, bans and their
    sweep, clean-up, card history), so it never delays a decision.
    """

    def arrive(self, event: ChatEvent, policy: Policy) -> Policy: ...

    async def screen_join(
        self, event: ChatEvent, gateway: Gateway, policy: Policy, dry_run: bool
    ) -> Decision | None: ...

    def after(
        self, event: ChatEvent, decision: Decision, policy: Policy, gateway: Gateway, dry_run: bool
    ) -> None: ...


@dataclass(slots=True)
class EngineStats:
    """Counts since start, for the operator's periodic log line."""

    events: int = 0
    cases: int = 0
    failed_actions: int = 0
    notices_skipped: int = 0  # e.g. held back by a platform's rate limits

    def line(self, before: EngineStats | None = None) -> str:
        """``events N (+d), cases N (+d), ...``; deltas since ``before``."""
        parts = []
        for name in ("events", "cases", "failed_actions", "notices_skipped"):
            now = getattr(self, name)
            delta = f" (+{now - getattr(before, name):,})" if before is not None else ""
            parts.append(f"{name.replace('_', ' ')} {now:,}{delta}")
        return ", ".join(parts)


class Engine:
    """Runs detectors on events and carries out what the ladder decides."""

    def __init__(
        self,
        config: Config,
        detectors: Sequence[Detector[DetectorSettings]],
        store: Store,
        clock: Callable[[], datetime] = utcnow,
        dry_run: bool = False,
        members: MemberRules | None = None,
        protection: ProtectionHooks | None = None,
    ) -> None:
        self.config = config
        self.members = members  # card timeline, chatter reports, join screening
        self.protection = protection  # bans across groups, raids, probation, clean-up
        self.force_dry_run = dry_run
        self.detectors = list(detectors)
        self._reminder_only = {d.name for d in self.detectors if not d.feeds_ladder}
        self._settling = [d for d in self.detectors if d.settles]  # shared state (Redis)
        self.store = store
        self.clock = clock
        self._member_notes = MemberNotes()  # which member writes are due
        self._deciding = KeyedLock()  # (group, member): one decision at a time
        self._removed: dict[tuple[str, str | None], None] = {}  # deletions started, in order
        self.delete_first = True  # False when other processes may claim the same messages
        self.stats = EngineStats()

    def detect(self, event: ChatEvent, policy: Policy) -> list[Finding]:
        """Every finding of every enabled detector that handles this kind of event."""
        findings: list[Finding] = []
        for detector in self.detectors:
            if event.kind not in detector.kinds:
                continue
            settings: DetectorSettings = getattr(policy, detector.section)
            if settings.enabled:
                findings.extend(detector.check(event, settings))
        return findings

    def is_exempt(self, event: ChatEvent, policy: Policy) -> bool:
        member = event.member
        return (
            member.role.value in policy.moderation.exempt_roles
            or member.id in policy.moderation.exempt_ids
            or member.id in policy.escalation.officers
            or member.id == event.bot_id
        )

    async def handle(self, event: ChatEvent, gateway: Gateway) -> Decision:
        """Detect, decide, act and record for one event."""
        self.stats.events += 1
        policy = self.config.policy_for(event.group_id)
        protection = self.protection
        if protection is not None:
            policy = protection.arrive(event, policy)
        if event.kind is EventKind.JOIN_REQUEST and protection is not None:
            dry_run = self.force_dry_run or policy.moderation.dry_run
            refused = await protection.screen_join(event, gateway, policy, dry_run)
            if refused is not None:
                return refused
        if event.kind is EventKind.JOIN_REQUEST and self.members is not None:
            dry_run = self.force_dry_run or policy.moderation.dry_run
            return await self.members.screen_join(event, gateway, policy, self.store, dry_run)
        # Detectors run before the first await, so they see a member's messages
        # in arrival order (flood windows) however the rest interleaves.
        findings = tuple(self.detect(event, policy))
        if self._settling:
            findings = await self._settle(event, policy, findings)
        noting = self._member_notes.note(event, self.store)
        try:
            decision = await self._moderate(event, findings, policy, gateway)
        finally:
            if noting is not None:
                await noting
        if protection is not None:
            dry_run = self.force_dry_run or policy.moderation.dry_run
            protection.after(event, decision, policy, gateway, dry_run)
        return decision

    async def _moderate(
        self, event: ChatEvent, findings: tuple[Finding, ...], policy: Policy, gateway: Gateway
    ) -> Decision:
        if self.members is not None:
            await self.members.observe(event, findings, policy)  # forgets a fixed card
        if not findings:
            return Decision()
        if self.is_exempt(event, policy):
            return Decision(findings=findings, notes=("exempt member: no action",))
        dry_run = self.force_dry_run or policy.moderation.dry_run
        if dry_run:
            gateway = executor.DryRunGateway.wrapping(gateway, event.group_id)

        strike_findings = tuple(f for f in findings if f.detector not in self._reminder_only)
        started = self._remove_at_once(event, strike_findings, policy, gateway)
        try:
            return await self._decide(
                event, findings, strike_findings, policy, gateway, started, dry_run
            )
        finally:
            if started:  # whatever happened meanwhile, the deletion is seen through
                await asyncio.wait(started.values())

    def _remove_at_once(
        self,
        event: ChatEvent,
        strike_findings: tuple[Finding, ...],
        policy: Policy,
        gateway: Gateway,
    ) -> dict[Action, asyncio.Task[Outcome]]:
        """Start the message's deletion now if the ladder will surely do it (see module doc)."""
        if not self.delete_first or not strike_findings:
            return {}
        removal = ladder.removal_of(event, policy.ladder)
        if removal is None or removal.kind not in gateway.capabilities(event.group_id):
            return {}  # (no fallbacks to weigh up front: the plan resolves those)
        key = (event.group_id, removal.message_id)
        if key in self._removed:  # delivered again: the claim will turn it away
            return {}
        self._removed[key] = None
        if len(self._removed) > REMEMBERED_REMOVALS:
            del self._removed[next(iter(self._removed))]  # the oldest
        return {removal: executor.start(removal, gateway)}

    async def _decide(
        self,
        event: ChatEvent,
        findings: tuple[Finding, ...],
        strike_findings: tuple[Finding, ...],
        policy: Policy,
        gateway: Gateway,
        started: dict[Action, asyncio.Task[Outcome]],
        dry_run: bool,
    ) -> Decision:
        now = event.time  # cases and strikes are dated by the event (replays stay true)
        async with self._deciding.hold((event.group_id, event.member.id)):
            # the claim and the strike read go together: neither waits for the other
            claimed, prior = await asyncio.gather(
                self._claim(event, now), self._prior_strikes(event, strike_findings, policy, now)
            )
            if not claimed:
                return Decision(findings=findings, notes=("message already handled",))
            plan = await self._plan(event, findings, strike_findings, prior, policy, now)
            if plan is None:
                return Decision(findings=findings, notes=("nothing due (reminder throttled)",))
            planned, step, weight, total = plan
            effective, outcomes = executor.resolve(
                planned, gateway.capabilities(event.group_id), policy.fallbacks
            )
            recorded: asyncio.Future[int | None] = asyncio.get_running_loop().create_future()
            acting = asyncio.ensure_future(
                self._act(effective, findings, total, policy, gateway, recorded, started)
            )
            try:
                case_id = await self.store.open_case(
                    event, findings, step, now, strike_weight=weight
                )
            except BaseException:
                recorded.set_result(None)  # notices go out without a case number
                await asyncio.wait([acting])  # the actions went out; let them finish
                raise
            recorded.set_result(case_id)

        done, effective = await acting
        outcomes.extend(replace(o, action=replace(o.action, case_id=case_id)) for o in done)
        effective = [replace(a, case_id=case_id) for a in effective]
        for action in effective:
            if action.kind is ActionKind.ESCALATE:
                outcomes.append(
                    await self._escalate(action, event, findings, outcomes, policy, now, dry_run)
                )

        final = tuple(outcomes)
        self.stats.cases += 1
        self.stats.failed_actions += sum(o.status is OutcomeStatus.FAILED for o in final)
        self.stats.notices_skipped += sum(
            o.status is OutcomeStatus.SKIPPED and o.action.kind in NOTICES for o in final
        )
        await self.store.record_outcomes(case_id, final, now)
        return Decision(
            findings=findings,
            actions=tuple(effective),
            outcomes=final,
            case_id=case_id,
            strikes_added=weight,
            step=step,
        )

    async def _settle(
        self, event: ChatEvent, policy: Policy, findings: tuple[Finding, ...]
    ) -> tuple[Finding, ...]:
        """Replace each settling detector's local findings by its shared answer."""
        settled = list(findings)
        for detector in self._settling:
            own = [f for f in settled if f.detector == detector.name]
            final = await detector.settle(event, getattr(policy, detector.section), own)
            if final != own:
                settled = [f for f in settled if f.detector != detector.name] + final
        return tuple(settled)

    async def _claim(self, event: ChatEvent, now: datetime) -> bool:
        """Whether this event is ours to act on (a message is handled once)."""
        key = event.message_id or event.event_key
        if key is None:
            return True
        return await self.store.claim_message(event.group_id, key, now)

    async def _prior_strikes(
        self, event: ChatEvent, strike_findings: tuple[Finding, ...], policy: Policy, now: datetime
    ) -> int:
        """The member's strike weight within the ladder's window (0 when nothing feeds it)."""
        if not strike_findings:
            return 0
        since = now - policy.ladder.expire_after
        return await self.store.strike_weight(event.group_id, event.member.id, since)

    async def _plan(
        self,
        event: ChatEvent,
        findings: tuple[Finding, ...],
        strike_findings: tuple[Finding, ...],
        prior: int,
        policy: Policy,
        now: datetime,
    ) -> tuple[tuple[Action, ...], int, int, int] | None:
        """(actions, ladder step, strike weight added, strikes in total); None if nothing due."""
        if strike_findings:
            rung = ladder.climb(strike_findings, prior, policy.ladder)
            return ladder.plan(event, rung, policy.ladder), rung.step, rung.weight, rung.total
        if self.members is not None:  # card reminder -> grace -> action; chatter report
            planned = await self.members.plan(event, findings, policy, now)
            return (planned, 0, 0, 0) if planned else None
        # only reminders (e.g. a group card to fix)
        return (Action(ActionKind.REMIND, event.group_id, event.member.id),), 0, 0, 0

    async def _act(
        self,
        effective: list[Action],
        findings: tuple[Finding, ...],
        total: int,
        policy: Policy,
        gateway: Gateway,
        recorded: Awaitable[int | None],
        started: Mapping[Action, Awaitable[Outcome]],
    ) -> tuple[list[Outcome], list[Action]]:
        """Enforce, then send the notices worded from what happened; (outcomes, actions).

        Enforcement does not wait for the case to be written; the notices do, so they
        can give the member the case number to appeal with (``recorded``). Actions in
        ``started`` are under way already.
        """
        enforcing = [a for a in effective if a.kind in ENFORCEMENT]
        # started but no longer planned (the group's capabilities changed meanwhile): kept
        enforcing += [a for a in started if a not in enforcing]
        enforced = await executor.perform(enforcing, gateway, started)
        case_id = await recorded
        worded = [
            worded_notice(a, findings, enforced, total, policy, case_id) if a.kind in NOTICES else a
            for a in effective
        ]
        noticed = await executor.perform([a for a in worded if a.kind in NOTICES], gateway)
        return enforced + noticed, worded

    async def _escalate(
        self,
        action: Action,
        event: ChatEvent,
        findings: tuple[Finding, ...],
        outcomes: list[Outcome],
        policy: Policy,
        now: datetime,
        dry_run: bool,
    ) -> Outcome:
        officers = policy.escalation.officers
        if dry_run:
            return Outcome(
                action,
                OutcomeStatus.DRY_RUN,
                f"dry run: not reported to {len(officers)} officer(s)",
            )
        if not officers:
            return Outcome(action, OutcomeStatus.SKIPPED, "no officer configured for this group")
        text = report_text(action.case_id, event, findings, outcomes, policy, now)
        queued = self.clock()  # delivery runs on the wall clock, not the event's
        due = queued + policy.escalation.batch_window
        held = held_for_digest(findings, policy)  # below [escalation] immediate_from
        for officer in officers:
            await self.store.enqueue_report(
                officer, text, action.case_id, queued, due=due, held=held
            )
        where = "held for the digest of" if held else "queued for"
        return Outcome(action, OutcomeStatus.DONE, f"{where} {len(officers)} officer(s)")
