"""The one pipeline: event -> findings -> decision -> actions -> records.

Platform edges and the offline ``scan`` both call :meth:`Engine.handle`. The
engine never branches on the platform: what a platform cannot do is handled by
the executor's fallbacks, and dry run is a gateway.

Order on the violation path. *Intent before effect*: nothing is carried out
on a platform until the decision is durable, and every outcome updates it.

1. detectors (before the first await: they see a member's messages in order);
2. per member, one decision at a time (:class:`~rules.core.batching.KeyedLock`):
   claim the message and read the member's strikes (together), plan, then write
   the **intent** in one transaction: the case, its strike, its planned actions
   (status ``planned``), the reports it owes (held in the outbox) and its place
   on the unsettled list (:meth:`DecisionStore.open_intent`). The member's next
   decision waits only for this write, so strikes are always counted in order;
3. outside the member's lock: enforce (the message's deletion first), then the
   notices, worded from what really happened (gateways verify mutes and kicks)
   and carrying the case number;
4. **settle**: every planned action's outcome, and the reports reworded from
   those outcomes and released, in one transaction (:meth:`DecisionStore.settle_case`).

A report waits for its case's outcomes at most :data:`REPORT_HOLD`; a stop or
a crash before step 4 leaves the case unsettled, and the recovery at the next
start checks what happened and releases its reports
(:mod:`rules.moderation.recovery`). The deletion does not go out before the
intent (it once did, for latency, when the process worked alone): a crash
between the two would leave a deleted message with no case, no strike and no
report. It costs the first action one group-committed write (see the README's
figures).

Writing the member (first sight, changed card or role) runs beside all of it.
``handle`` returns once everything, records included, is done. The store
group-commits these writes (:class:`~rules.core.batching.Batcher`), so concurrent
events share transactions. :meth:`Engine.stop_taking` and :meth:`Engine.drain`
stop the intake for a graceful stop and tell which cases are still in flight.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import operator
import os
import secrets
import socket
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any, Protocol

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
from rules.core.ports import DecisionStore, Gateway, Store
from rules.core.records import CASE_NUMBER, CaseIntent, CaseSettlement, OwedReport
from rules.detectors.base import Detector
from rules.moderation import executor, ladder, review
from rules.moderation.activity import MemberNotes
from rules.moderation.escalation import held_for_digest
from rules.moderation.notices import report_text, worded_notice

log = logging.getLogger(__name__)

ENFORCEMENT = frozenset(
    {ActionKind.DELETE, ActionKind.MUTE, ActionKind.UNMUTE, ActionKind.KICK, ActionKind.SET_CARD}
)
NOTICES = frozenset({ActionKind.WARN, ActionKind.REMIND})
# A case's reports wait for its outcomes at most this long (or the batch window, if longer),
# then go with what is known: an action still running after it is reported as planned.
REPORT_HOLD = timedelta(minutes=2)


def process_run_id() -> str:
    """Names this process run in the cases it decides (host, pid and a random part)."""
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(4)}"


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
        store: DecisionStore,
        clock: Callable[[], datetime] = utcnow,
        dry_run: bool = False,
        members: MemberRules | None = None,
        protection: ProtectionHooks | None = None,
        reviews: review.ReviewQueue | None = None,
    ) -> None:
        self.config = config
        self.members = members  # card timeline, chatter reports, join screening
        self.protection = protection  # bans across groups, raids, probation, clean-up
        self.reviews = reviews  # opens the review items of cases held for review
        self.force_dry_run = dry_run
        self.detectors = tuple(detectors)  # (the setter plans who looks at what)
        self.store = store
        self.clock = clock
        self._member_notes = MemberNotes()  # which member writes are due
        self._deciding = KeyedLock()  # (group, member): one decision at a time
        self.stats = EngineStats()
        self.handler = process_run_id()  # who decided a case: see rules.moderation.recovery
        self.in_flight_cases: set[int] = set()  # recorded, not yet settled, in this process
        self._busy = 0  # events being handled
        self._idle = asyncio.Event()
        self._stopping = False
        self.refused = 0  # events that arrived after stop() and were not handled

    @property
    def detectors(self) -> tuple[Detector[Any], ...]:
        return self._detectors

    @detectors.setter
    def detectors(self, detectors: Sequence[Detector[Any]]) -> None:
        """Set the detectors; per kind of event, which of them handle it and how each finds
        its settings in a policy is worked out now (the picture detectors never look at a
        text message)."""
        self._detectors = tuple(detectors)
        self._reminder_only = {d.name for d in self._detectors if not d.feeds_ladder}
        self._settling = [d for d in self._detectors if d.settles]  # shared state (Redis)
        self._detecting = {
            kind: tuple(
                (d, operator.attrgetter(d.section)) for d in self._detectors if kind in d.kinds
            )
            for kind in EventKind
        }

    def detect(self, event: ChatEvent, policy: Policy) -> list[Finding]:
        """Every finding of every enabled detector that handles this kind of event."""
        findings: list[Finding] = []
        for detector, section in self._detecting[event.kind]:
            settings: DetectorSettings = section(policy)
            if settings.enabled:
                found = detector.check(event, settings)
                if found:
                    findings.extend(found)
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
        """Detect, decide, act and record for one event (none after :meth:`stop_taking`,
        except the picture verdicts of messages taken before)."""
        if self._stopping and event.kind is not EventKind.IMAGES:
            self.refused += 1
            return Decision(notes=("stopping: not handled",))
        self._busy += 1
        try:
            return await self._handle(event, gateway)
        finally:
            self._busy -= 1
            if not self._busy and self._stopping:
                self._idle.set()

    def stop_taking(self) -> None:
        """Take no new events from now on (the bot is stopping)."""
        self._stopping = True

    async def drain(self, grace: float) -> list[int]:
        """Wait up to ``grace`` seconds for the events being handled (after :meth:`stop_taking`).

        Returns the cases still in flight then (recorded, not settled): the caller
        marks them interrupted (:meth:`DecisionStore.interrupt`); they are settled at
        the next start (``rules.moderation.recovery``).
        """
        self._stopping = True
        if self._busy:
            self._idle.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._idle.wait(), grace)
        return sorted(self.in_flight_cases)

    @property
    def busy(self) -> int:
        """Events being handled now."""
        return self._busy

    async def _handle(self, event: ChatEvent, gateway: Gateway) -> Decision:
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
        if self.reviews is not None:
            await self.reviews.after(event, decision, policy)
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

        # Weak evidence waits for a person ([review]): only what is strong enough feeds the ladder.
        strike_findings = review.feeding_ladder(findings, policy.review, self._reminder_only)
        return await self._decide(event, findings, strike_findings, policy, gateway, dry_run)

    async def _decide(
        self,
        event: ChatEvent,
        findings: tuple[Finding, ...],
        strike_findings: tuple[Finding, ...],
        policy: Policy,
        gateway: Gateway,
        dry_run: bool,
    ) -> Decision:
        now = event.time  # cases and strikes are dated by the event (replays stay true)
        async with self._deciding.hold((event.group_id, event.member.id)):
            # On the ladder's path the plan is worked out from the strikes alone, so the
            # message's claim goes with the intent (one write). Otherwise (card reminders,
            # chatter: planning writes the card timeline) the claim comes first, beside
            # the strike read.
            claim = _claim_key(event) if strike_findings else None
            if claim is not None:
                prior = await self._prior_strikes(event, strike_findings, policy, now)
            else:
                claimed, prior = await asyncio.gather(
                    self._claim(event, now),
                    self._prior_strikes(event, strike_findings, policy, now),
                )
                if not claimed:
                    return Decision(findings=findings, notes=("message already handled",))
            plan = await self._plan(event, findings, strike_findings, prior, policy, now)
            if plan is None:
                return Decision(findings=findings, notes=("nothing due (reminder throttled)",))
            planned, step, weight, total = plan
            effective, notes = executor.resolve(
                planned, gateway.capabilities(event.group_id), policy.fallbacks
            )
            intent = self._intent(
                event, findings, step, weight, notes, effective, policy, dry_run, claim
            )
            # Intent before effect: nothing is carried out until the decision is durable.
            # The member's next decision waits only for this write, so strikes are counted
            # in order.
            case_id = await self.store.open_intent(intent.record)
            if case_id is None:
                return Decision(findings=findings, notes=("message already handled",))
            intent = intent.with_case(case_id)
        self.in_flight_cases.add(case_id)
        try:
            return await self._carry_out(intent, case_id, findings, total, policy, gateway)
        finally:
            self.in_flight_cases.discard(case_id)

    def _intent(
        self,
        event: ChatEvent,
        findings: tuple[Finding, ...],
        step: int,
        weight: int,
        notes: list[Outcome],
        effective: list[Action],
        policy: Policy,
        dry_run: bool,
        claim: str | None,
    ) -> _Intent:
        """The decision as it is written before anything is done (see module doc)."""
        enforcing = [a for a in effective if a.kind in ENFORCEMENT]
        noticing = [a for a in effective if a.kind in NOTICES]
        known = [*notes, *(Outcome(a, OutcomeStatus.PLANNED) for a in (*enforcing, *noticing))]
        reports: list[OwedReport] = []
        for action in effective:
            if action.kind is ActionKind.ESCALATE:
                outcome, owed = self._escalation(action, event, findings, known, policy, dry_run)
                known.append(outcome)
                reports += owed
            elif action.kind is ActionKind.REVIEW:
                known.append(review.outcome(action, dry_run))
        queued = self.clock()  # delivery runs on the wall clock, not the event's
        record = CaseIntent(
            event=event,
            findings=findings,
            step=step,
            at=event.time,
            strike_weight=weight,
            plan=tuple(known),
            reports=tuple(reports),
            queued_at=queued,
            hold_until=queued + max(policy.escalation.batch_window, REPORT_HOLD),
            handler=self.handler,
            claim=claim,
        )
        return _Intent(record, effective, enforcing, noticing, len(notes))

    async def _carry_out(
        self,
        intent: _Intent,
        case_id: int,
        findings: tuple[Finding, ...],
        total: int,
        policy: Policy,
        gateway: Gateway,
    ) -> Decision:
        """Act on a recorded decision, then settle it: its outcomes, its reports released."""
        record, first = intent.record, intent.notes
        enforced, noticed, worded = await self._act(
            intent, findings, total, policy, gateway, case_id
        )
        done = [_stamped(o, case_id) for o in (*enforced, *noticed)]
        results = [(first + n, o) for n, o in enumerate(done)]  # in the plan's order
        notes = [_stamped(o, case_id) for o in record.plan[:first]]
        escalations = [_stamped(o, case_id) for o in record.plan[first + len(done) :]]
        final = (*notes, *done, *escalations)
        report = None
        if record.reports:  # worded from what really happened
            report = report_text(
                case_id, record.event, findings, (*notes, *done), policy, record.at
            )
        await self.store.settle_case(
            CaseSettlement(
                case_id=case_id,
                results=tuple(results),
                extra=(),
                at=record.at,
                report=report,
                due=record.queued_at + policy.escalation.batch_window,
            )
        )
        self.stats.cases += 1
        self.stats.failed_actions += sum(o.status is OutcomeStatus.FAILED for o in final)
        self.stats.notices_skipped += sum(
            o.status is OutcomeStatus.SKIPPED and o.action.kind in NOTICES for o in final
        )
        wording = dict(zip(map(id, intent.noticing), worded, strict=True))
        return Decision(
            findings=findings,
            actions=tuple(wording.get(id(a), a) for a in intent.effective),
            outcomes=final,
            case_id=case_id,
            strikes_added=record.strike_weight,
            step=record.step,
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
        """Whether this event is ours to act on (a message is handled once).

        An event's own key wins over its message id: the decision on a message's
        pictures (``images:<id>``) is claimed apart from the decision on its text.
        """
        key = event.event_key or event.message_id
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
        held = review.held(findings, policy.review, self._reminder_only)
        if held:  # all too weak for the ladder: no strike, no @-notice; an officer decides
            return review.plan(event, held, policy), 0, 0, 0
        if self.members is not None:  # card reminder -> grace -> action; chatter report
            planned = await self.members.plan(event, findings, policy, now)
            return (planned, 0, 0, 0) if planned else None
        # only reminders (e.g. a group card to fix)
        return (Action(ActionKind.REMIND, event.group_id, event.member.id),), 0, 0, 0

    async def _act(
        self,
        intent: _Intent,
        findings: tuple[Finding, ...],
        total: int,
        policy: Policy,
        gateway: Gateway,
        case_id: int,
    ) -> tuple[list[Outcome], list[Outcome], list[Action]]:
        """Enforce, then send the notices worded from what happened (with the case number to
        appeal with): (enforcement outcomes, notice outcomes, the worded notices).

        The enforcement's outcomes are recorded before the notices go out: a notice may
        wait long for a platform's rate limits, and a crash meanwhile must not leave a
        done deletion or removal unrecorded.
        """
        enforced = await executor.perform(intent.enforcing, gateway)
        if enforced and intent.noticing:
            first = intent.notes
            await self.store.settle_case(
                CaseSettlement(
                    case_id=case_id,
                    results=tuple(
                        (first + n, _stamped(o, case_id)) for n, o in enumerate(enforced)
                    ),
                    extra=(),
                    at=intent.record.at,
                    final=False,
                )
            )
        noticing = intent.noticing
        worded = [worded_notice(a, findings, enforced, total, policy, case_id) for a in noticing]
        noticed = await executor.perform(worded, gateway)
        return enforced, noticed, worded

    def _escalation(
        self,
        action: Action,
        event: ChatEvent,
        findings: tuple[Finding, ...],
        known: list[Outcome],
        policy: Policy,
        dry_run: bool,
    ) -> tuple[Outcome, list[OwedReport]]:
        """The reports an escalation owes (written with the case) and its outcome."""
        officers = policy.escalation.officers
        if dry_run:
            return Outcome(
                action,
                OutcomeStatus.DRY_RUN,
                f"dry run: not reported to {len(officers)} officer(s)",
            ), []
        if not officers:
            skipped = Outcome(action, OutcomeStatus.SKIPPED, "no officer configured for this group")
            return skipped, []
        # What is known so far (planned actions say so); replaced by the outcomes when
        # the case is settled, or by the recovery's findings after a restart.
        text = report_text(CASE_NUMBER, event, findings, known, policy, event.time)
        held = held_for_digest(findings, policy)  # below [escalation] immediate_from
        where = "held for the digest of" if held else "queued for"
        outcome = Outcome(action, OutcomeStatus.DONE, f"{where} {len(officers)} officer(s)")
        return outcome, [OwedReport(officer, text, held) for officer in officers]


@dataclass(frozen=True, slots=True)
class _Intent:
    """A decision as written (``record``) and the actions to carry out for it."""

    record: CaseIntent
    effective: list[Action]  # in the plan's order, as the decision lists them
    enforcing: list[Action]
    noticing: list[Action]
    notes: int  # the plan's first outcomes, known before acting (substitutions, skips)

    def with_case(self, case_id: int) -> _Intent:
        """The actions to carry out with their case number (each stamped once: their
        outcomes then carry it, and :func:`_stamped` has nothing left to do for them)."""
        stamped = {id(a): replace(a, case_id=case_id) for a in self.effective}
        return _Intent(
            self.record,
            [stamped[id(a)] for a in self.effective],
            [stamped[id(a)] for a in self.enforcing],
            [stamped[id(a)] for a in self.noticing],
            self.notes,
        )


def _claim_key(event: ChatEvent) -> str | None:
    """What a decision on ``event`` claims (as :meth:`Engine._claim` does)."""
    return event.event_key or event.message_id


def _stamped(outcome: Outcome, case_id: int) -> Outcome:
    """The outcome with its action's case number."""
    if outcome.action.case_id == case_id:
        return outcome
    return replace(outcome, action=replace(outcome.action, case_id=case_id))
