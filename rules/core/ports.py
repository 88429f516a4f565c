"""What the core needs from outside: a Gateway (a platform), the stores, and SharedState.

Platform plugins implement :class:`Gateway`; ``rules.storage`` implements the
moderation journal (:class:`Store`) and the outbox (:class:`ReportQueue`);
:class:`SharedState` is in memory (``rules.shared_state.memory``) or in Redis
(``rules.shared_state.redis``). The core only ever talks to these protocols;
services declare the narrower stores they need beside themselves (e.g.
``rules.members.compliance.ComplianceStore``).
"""

from __future__ import annotations

from collections.abc import Awaitable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol, runtime_checkable

from rules.core.model import (
    Action,
    ActionKind,
    ChatEvent,
    Finding,
    Member,
    Outcome,
    Platform,
    Role,
    Strike,
)
from rules.core.records import CaseIntent, CaseSettlement

# What a platform can do at best (the bot owning the group). A Gateway reports
# its real, per-group capabilities; offline tools (scan) use these.
NOMINAL_CAPABILITIES: dict[Platform, frozenset[ActionKind]] = {
    Platform.QQ: frozenset(
        {
            ActionKind.DELETE,
            ActionKind.WARN,
            ActionKind.REMIND,
            ActionKind.MUTE,
            ActionKind.UNMUTE,
            ActionKind.KICK,
            ActionKind.SET_CARD,
            ActionKind.APPROVE_JOIN,
            ActionKind.REJECT_JOIN,
            ActionKind.MUTE_ALL,
            ActionKind.UNMUTE_ALL,
        }
    ),
    # WeChat: no per-member mute, no recall of others' messages, no alias setting.
    Platform.WECHAT: frozenset({ActionKind.WARN, ActionKind.REMIND, ActionKind.KICK}),
}


class Gateway(Protocol):
    """Acts on one platform. ESCALATE never reaches a gateway: it goes to the outbox."""

    platform: Platform

    def capabilities(self, group_id: str) -> frozenset[ActionKind]:
        """What the bot can do in this group right now (platform and its own role)."""
        ...

    async def perform(self, action: Action) -> Outcome:
        """Carry out one action; report failure as an Outcome, not an exception."""
        ...

    async def send_private(self, user_id: str, text: str) -> None:
        """Send a private message (officer reports); raise on failure so it is retried."""
        ...


@runtime_checkable
class MediaSender(Protocol):
    """What a gateway adds when its platform can send an officer images and files.

    Optional beside :class:`Gateway` (QQ and WeChat have it; a dry run or a
    text-only platform does not): callers ask :func:`media_sender` and send
    text alone when it answers None. Both methods raise on failure.
    """

    async def send_private_image(self, user_id: str, png: bytes) -> None:
        """Send a PNG image by private message."""
        ...

    async def send_private_file(self, user_id: str, name: str, data: bytes) -> None:
        """Send a file (e.g. an export) named ``name`` by private message."""
        ...


def media_sender(gateway: object) -> MediaSender | None:
    """The gateway as a :class:`MediaSender`, or None when its platform cannot send media."""
    return gateway if isinstance(gateway, MediaSender) else None


@dataclass(frozen=True, slots=True)
class GroupInfo:
    group_id: str
    name: str
    member_count: int
    bot_role: Role


@runtime_checkable
class Directory(Protocol):
    """Read access to a platform's groups and members (audits, checks, commands).

    Platform gateways implement this beside :class:`Gateway`.
    """

    async def list_members(self, group_id: str) -> list[Member]: ...

    async def group_info(self, group_id: str) -> GroupInfo: ...

    async def list_groups(self) -> list[str]:
        """Platform-qualified ids of the groups the bot is in."""
        ...


def as_directory(gateway: object) -> Directory | None:
    """The gateway as a :class:`Directory`, or None when it cannot list groups and members."""
    return gateway if isinstance(gateway, Directory) else None


@dataclass(frozen=True, slots=True)
class MemberState:
    """Whether a member is in a group now, and muted until when (None: not muted)."""

    present: bool
    muted_until: datetime | None = None
    mute_known: bool = True  # False: the platform does not say whether the member is muted


@runtime_checkable
class MemberChecker(Protocol):
    """What a gateway adds when its platform can say whether one member is still in a
    group and muted (QQ). Recovery after a restart checks interrupted actions with it."""

    async def member_state(self, group_id: str, member_id: str) -> MemberState:
        """Asked of the platform now; raises when it cannot answer."""
        ...


def as_member_checker(gateway: object) -> MemberChecker | None:
    return gateway if isinstance(gateway, MemberChecker) else None


@dataclass(frozen=True, slots=True)
class OutboxItem:
    id: int
    officer_id: str
    text: str
    attempts: int
    case_id: int | None
    kind: str = "report"  # report | digest (a digest is never coalesced with reports)
    image: bytes | None = None  # sent after the text where the platform can send images


@dataclass(frozen=True, slots=True)
class AuditEntry:
    """One admin command (allowed or refused), for the audit log."""

    actor_id: str
    group_id: str | None
    command: str
    outcome: str
    at: datetime


class Store(Protocol):
    """The moderation journal: claims, strikes, cases, action outcomes, officer reports,
    members and the audit log (``rules.storage.journal``)."""

    async def claim_message(self, group_id: str, message_id: str, at: datetime) -> bool:
        """True the first time a message is seen; False if it was already handled."""
        ...

    async def note_member(self, event: ChatEvent) -> None:
        """Remember the group and the member (card, role, last seen)."""
        ...

    async def strike_weight(self, group_id: str, member_id: str, since: datetime) -> int:
        """Sum of the member's strike weights recorded at or after ``since``."""
        ...

    async def add_strike(self, strike: Strike) -> None: ...

    async def open_case(
        self,
        event: ChatEvent,
        findings: tuple[Finding, ...],
        step: int,
        at: datetime,
        strike_weight: int = 0,
    ) -> int:
        """Record a decision's evidence (and its strike, in the same transaction); return its id."""
        ...

    async def record_outcomes(
        self, case_id: int, outcomes: tuple[Outcome, ...], at: datetime
    ) -> None: ...

    async def enqueue_report(
        self,
        officer_id: str,
        text: str,
        case_id: int | None,
        at: datetime,
        due: datetime | None = None,
        held: bool = False,
    ) -> int:
        """Queue a report for an officer, to be sent from ``due`` (default: at once).

        A ``held`` report is not sent by itself: it is listed in the officer's next digest.
        """
        ...

    async def record_audit(self, entry: AuditEntry) -> None:
        """One admin command (allowed or refused)."""
        ...


class DecisionStore(Store, Protocol):
    """The journal as the engine writes its decisions: intent before effect.

    A decision is recorded before anything is carried out (:meth:`open_intent`) and
    settled when its outcomes are known (:meth:`settle_case`); what a stop or a crash
    interrupts stays unsettled and is settled by ``rules.moderation.recovery``.
    """

    async def open_intent(self, intent: CaseIntent) -> int | None:
        """Record a decision before it is carried out, in one transaction: the message's
        claim (if the intent carries it), the case, its strike, its planned actions, the
        reports it owes (held) and its place on the unsettled list; return the case's id,
        or None when the claim was lost (another process or delivery handled it)."""
        ...

    async def settle_case(self, settlement: CaseSettlement) -> None:
        """Record the outcomes of a case's planned actions and release its reports."""
        ...

    async def interrupt(self, case_ids: list[int]) -> None:
        """Mark what is still planned in these cases as interrupted (stopping)."""
        ...


class ReportQueue(Protocol):
    """The officer outbox as its sender sees it (``rules.storage.outbox``)."""

    async def due_reports(self, now: datetime, limit: int = 50) -> list[OutboxItem]:
        """Unsent reports due by ``now``, oldest first (held reports wait for the digest)."""
        ...

    async def mark_report_sent(self, item_id: int, at: datetime) -> None: ...

    async def mark_report_failed(self, item_id: int, error: str, retry_at: datetime) -> None: ...


@dataclass(frozen=True, slots=True)
class FloodSample:
    """One message as the shared flood windows count it (see ``rules.detectors.flood``)."""

    group_id: str
    member_id: str
    message_id: str  # the same message delivered to two processes is counted once
    key: str  # what counts as "the same text" (a digest); "" when the text has none
    at: datetime
    rate_limit: int
    rate_window: timedelta


@dataclass(frozen=True, slots=True)
class FloodCount:
    repeats: int  # the same text this many times in a row, this message included (0: no text)
    burst: bool  # this message completes ``rate_limit`` messages within ``rate_window``


class SharedState(Protocol):
    """State that several bot processes guarding the same groups must share.

    With Redis it is shared between processes; in memory it serves one process
    (``shared`` is False). An implementation that loses its backend falls back
    to local state rather than failing: moderation never waits for it.
    """

    shared: bool

    async def claim(self, key: str, ttl: timedelta) -> bool:
        """True for the first caller (in any process) within ``ttl``, False afterwards."""
        ...

    async def try_lease(self, name: str, ttl: timedelta) -> bool:
        """Take or renew the lease ``name`` for this process; False while another holds it.

        A holder keeps it by calling again before ``ttl`` runs out (a loop that
        only one process may run), or lets it expire (a job run at most once per
        ``ttl``, e.g. a daily digest: ``try_lease("digest", timedelta(hours=20))``).
        """
        ...

    async def release(self, name: str) -> None:
        """Give up the lease ``name`` if this process holds it."""
        ...

    def lease(self, name: str, ttl: timedelta) -> AbstractAsyncContextManager[bool]:
        """``async with state.lease(name, ttl) as held``: renewed inside, released after."""
        ...

    def count_flood(self, sample: FloodSample) -> Awaitable[FloodCount | None]:
        """Count one message in the shared flood windows.

        Called synchronously (detectors do no I/O), so messages are counted in the
        order this process saw them; the result is awaited later. None: no shared
        count (one process alone, or the backend is unreachable), use the local one.
        """
        ...

    async def close(self) -> None: ...
