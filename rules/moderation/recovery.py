"""Settling the cases a stop or a crash interrupted, once, without acting again.

The engine records each decision before it acts (the case, its planned
actions, the reports it owes and its place on the unsettled list) and settles
it when the outcomes are known (:mod:`rules.moderation.engine`). A case still
on the list belongs to a process run that stopped or died mid-case. Recovery
(run by the holder of the lease :data:`LEASE`, at start and then periodically)
finds those and, for each:

1. **Holds its reports back** while it finds out what happened, so the officer
   does not receive the intent's "planned" wording first.
2. **Checks what the platform can tell** about each action that was never
   recorded: a removal (is the member still in the group?), a mute or an
   unmute (is the member muted now?), through the gateway's
   :class:`~rules.core.ports.MemberChecker` or its member list. A deletion, a
   notice or a card change cannot be checked: it is recorded as ``unknown``.
   It never acts: a missing deletion or kick is recorded (failed, unknown),
   not carried out again, so nothing is ever done twice because of a restart.
   A platform that is not connected yet is waited for (:data:`PATIENCE`), then
   its checks are recorded as ``unknown``.
3. **Settles it** through the journal (the engine's statements): the outcomes,
   and its reports released with a first line saying the bot restarted
   mid-case (``report_restarted`` in the catalogue).

Whose cases: a case's ``handler`` is the process run that decided it. Another
run's case is recovered once that run is gone: its liveness lease
(``alive:<handler>``, held by every running bot, see :func:`alive_lease`) is
free. With one process (no Redis) every earlier run is gone by definition. A
run's own case is recovered only if it is not in flight and older than
:data:`OWN_STALE` (its settle failed).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from rules.config import Config
from rules.core.model import (
    Action,
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
from rules.core.ports import (
    DecisionStore,
    Gateway,
    MemberState,
    SharedState,
    as_directory,
    as_member_checker,
)
from rules.core.records import CaseSettlement, PlannedAction, UnsettledCase
from rules.moderation.notices import report_text

log = logging.getLogger(__name__)

LEASE = "recovery"  # the process that recovers the others' cases
PATIENCE = timedelta(seconds=60)  # a platform not connected this long: checks are "unknown"
OWN_STALE = timedelta(minutes=5)  # an own case not in flight and this old: its settle failed
ALIVE_TTL = timedelta(seconds=15)  # a dead run's cases are recovered this long after its death
UNFINISHED = frozenset({OutcomeStatus.PLANNED.value, OutcomeStatus.INTERRUPTED.value})


def alive_lease(handler: str) -> str:
    """The lease a running bot holds while it may have cases in flight."""
    return f"alive:{handler}"


class UnsettledStore(Protocol):
    """The unsettled list as recovery reads it (``rules.storage.unsettled``)."""

    async def unsettled(
        self, own: str, own_before: datetime, limit: int = 200
    ) -> list[UnsettledCase]: ...

    async def hold_reports(self, case_ids: Collection[int], until: datetime) -> int: ...


class _Wait(Exception):
    """A check the platform could not answer yet (not connected, an error)."""


@dataclass(slots=True)
class RecoveryPass:
    settled: int = 0  # cases settled in this pass
    waiting: int = 0  # cases of gone runs still waiting for a platform to answer
    skipped: int = 0  # cases of runs that are alive (or whose liveness cannot be told)


class Recovery:
    """Finds and settles interrupted cases (see module doc); call :meth:`run` repeatedly."""

    def __init__(
        self,
        config: Config,
        unsettled: UnsettledStore,
        journal: DecisionStore,
        gateways: Mapping[Platform, Gateway],
        shared: SharedState,
        handler: str,
        in_flight: Callable[[], Collection[int]] = frozenset,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.config = config
        self.store = unsettled
        self.journal = journal
        self.gateways = gateways
        self.shared = shared
        self.handler = handler
        self.in_flight = in_flight
        self.clock = clock
        self._first_seen: dict[int, datetime] = {}  # case -> when this process first saw it

    async def run(self) -> RecoveryPass:
        """One pass over the unsettled list."""
        now = self.clock()
        listed = await self.store.unsettled(self.handler, now - OWN_STALE)
        alive: dict[str, bool] = {}
        gone = [c for c in listed if await self._gone(c, alive)]
        result = RecoveryPass(skipped=len(listed) - len(gone))
        if not gone:
            return result
        fresh = [c.case_id for c in gone if c.case_id not in self._first_seen]
        for case_id in fresh:
            self._first_seen[case_id] = now
        # reports wait for the checks below; released (or re-held) before this runs again
        await self.store.hold_reports([c.case_id for c in gone], now + PATIENCE)
        for case in gone:
            patient = now - self._first_seen[case.case_id] < PATIENCE
            try:
                checked = [await self._check(case, a, now, patient) for a in _unfinished(case)]
            except _Wait:
                result.waiting += 1
                continue
            await self._settle(case, checked, now)
            self._first_seen.pop(case.case_id, None)
            result.settled += 1
        return result

    async def _gone(self, case: UnsettledCase, alive: dict[str, bool]) -> bool:
        """Whether the run that decided ``case`` is gone (so the case is ours to settle).

        ``alive`` remembers the answer per run for one pass.
        """
        if case.handler == self.handler:  # listed only when older than OWN_STALE
            return case.case_id not in self.in_flight()
        if case.handler not in alive:
            lease = alive_lease(case.handler)
            # free: the run is gone (taken, then given back). Held, or Redis unable to
            # tell (nothing new is taken then): alive.
            free = await self.shared.try_lease(lease, ALIVE_TTL)
            if free:
                await self.shared.release(lease)
            alive[case.handler] = not free
        return not alive[case.handler]

    async def _check(
        self, case: UnsettledCase, planned: PlannedAction, now: datetime, patient: bool
    ) -> tuple[int, Outcome]:
        """What happened to one action nobody recorded (never carried out again)."""
        action = _action(case, planned)
        prefix = "interrupted by a stop" if planned.status == "interrupted" else "bot restarted"
        try:
            status, detail = await self._ask(case, action, now)
        except _Wait as exc:
            if patient:
                raise
            status, detail = OutcomeStatus.UNKNOWN, f"could not be checked ({exc})"
        return planned.seq, Outcome(action, status, f"{prefix}; {detail}")

    async def _ask(
        self, case: UnsettledCase, action: Action, now: datetime
    ) -> tuple[OutcomeStatus, str]:
        kind = action.kind
        if kind not in (ActionKind.KICK, ActionKind.MUTE, ActionKind.UNMUTE):
            return OutcomeStatus.UNKNOWN, "the platform cannot tell whether it happened"
        platform = split_id(case.group_id)[0]
        gateway = self.gateways.get(platform)
        if gateway is None:
            raise _Wait(f"no {platform.value} connection")
        checker = as_member_checker(gateway)
        try:
            if checker is not None:
                state = await checker.member_state(action.group_id, action.target_id)
            else:
                directory = as_directory(gateway)
                if directory is None or kind is not ActionKind.KICK:
                    return OutcomeStatus.UNKNOWN, "the platform cannot tell whether it happened"
                listed = await directory.list_members(action.group_id)
                state = MemberState(any(m.id == action.target_id for m in listed), None, False)
        except Exception as exc:
            raise _Wait(f"{type(exc).__name__}: {exc}") from None
        if kind is ActionKind.KICK:
            if state.present:
                return OutcomeStatus.FAILED, "checked after the restart: still in the group"
            return OutcomeStatus.DONE, "checked after the restart: no longer in the group"
        if not state.present:
            return OutcomeStatus.UNKNOWN, "checked after the restart: no longer in the group"
        if not state.mute_known:
            return OutcomeStatus.UNKNOWN, "the platform does not say whether the member is muted"
        muted_until = state.muted_until
        muted = muted_until is not None and muted_until > now
        if kind is ActionKind.UNMUTE:
            if muted:
                return OutcomeStatus.FAILED, "checked after the restart: still muted"
            return OutcomeStatus.DONE, "checked after the restart: not muted"
        if muted:
            assert muted_until is not None
            until = muted_until.isoformat(timespec="seconds")
            return OutcomeStatus.DONE, f"checked after the restart: muted until {until}"
        if action.duration is not None and case.created_at + action.duration <= now:
            return OutcomeStatus.UNKNOWN, "not muted now; the mute would have ended by now"
        return OutcomeStatus.FAILED, "checked after the restart: not muted"

    async def _settle(
        self, case: UnsettledCase, checked: list[tuple[int, Outcome]], now: datetime
    ) -> None:
        report = None
        if case.reports_unsent:
            found = dict(checked)
            outcomes = [
                found.get(p.seq) or _recorded(case, p)
                for p in case.actions
                if p.kind != ActionKind.ESCALATE.value
            ]
            policy = self.config.policy_for(case.group_id)
            report = report_text(
                case.case_id,
                _event(case),
                _findings(case),
                outcomes,
                policy,
                case.created_at,
                restarted=True,
                evidence=case.evidence,
            )
        await self.journal.settle_case(
            CaseSettlement(
                case_id=case.case_id,
                results=tuple(checked),
                extra=(),
                at=case.created_at,
                report=report,
                due=now,
            )
        )
        log.warning(
            "case #%d, interrupted by a stop or crash of %s, settled after the restart: %s",
            case.case_id,
            case.handler,
            "; ".join(f"{o.action.kind.value}: {o.status.value}" for _, o in checked) or "-",
        )


def _unfinished(case: UnsettledCase) -> list[PlannedAction]:
    return [a for a in case.actions if a.status in UNFINISHED and a.seq >= 0]


def _action(case: UnsettledCase, planned: PlannedAction) -> Action:
    kind = ActionKind(planned.kind)
    return Action(
        kind,
        case.group_id,
        planned.target_id,
        message_id=case.message_id if kind is ActionKind.DELETE else None,
        duration=None if planned.duration_s is None else timedelta(seconds=planned.duration_s),
        case_id=case.case_id,
    )


def _recorded(case: UnsettledCase, planned: PlannedAction) -> Outcome:
    """An action's outcome as recorded before the stop."""
    return Outcome(_action(case, planned), OutcomeStatus(planned.status), planned.detail)


def _event(case: UnsettledCase) -> ChatEvent:
    """The case's message as the report names it (its text is the stored, masked evidence)."""
    return ChatEvent(
        kind=EventKind.MESSAGE,
        platform=split_id(case.group_id)[0],
        group_id=case.group_id,
        member=Member(case.member_id, card=case.member_card),
        time=case.created_at,
        message_id=case.message_id,
    )


def _findings(case: UnsettledCase) -> list[Finding]:
    return [
        Finding(
            str(f.get("detector") or "?"),
            f.get("category"),
            str(f.get("match") or ""),
            int(f.get("start") or 0),
            int(f.get("end") or 0),
        )
        for f in case.findings
    ]
