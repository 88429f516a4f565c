"""Records that storage reads and writes and the services use: plain frozen dataclasses.

They live here, at the bottom, because several layers share them: a
repository in ``rules.storage`` builds them from rows, a service (members,
groups, officers, commands) reads them. Neither imports the other for them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Literal

from rules.core.model import ChatEvent, Finding, Outcome

# ---------------------------------------------------------------- cases (digest, commands)


def finding_categories(findings: Iterable[Mapping[str, Any]]) -> tuple[str, ...]:
    """A stored case's categories, each once (a finding without one counts as its detector)."""
    return tuple(
        dict.fromkeys(str(f.get("category") or f.get("detector") or "?") for f in findings)
    )


@dataclass(frozen=True, slots=True)
class CaseStat:
    group_id: str
    at: datetime
    categories: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class ActionTally:
    group_id: str
    kind: str
    status: str
    count: int


@dataclass(frozen=True, slots=True)
class FailedAction:
    group_id: str
    case_id: int
    member_id: str
    card: str
    kind: str
    detail: str
    at: datetime


@dataclass(frozen=True, slots=True)
class OpenTimeline:
    """A member flagged for a wrong card and not yet acted on."""

    group_id: str
    member_id: str
    card: str
    problem: str
    flagged_at: datetime


@dataclass(frozen=True, slots=True)
class OpenAppeal:
    group_id: str
    task_id: int
    case_id: int | None
    requester_id: str
    at: datetime


@dataclass(frozen=True, slots=True)
class OpenReview:
    """A case held for review (weak evidence), not yet confirmed or voided."""

    group_id: str
    task_id: int
    case_id: int | None
    member_id: str
    card: str
    findings: str  # what was matched, how and how strongly (``review.evidence_line``)
    at: datetime


@dataclass(frozen=True, slots=True)
class ReviewCase:
    """A case as ``/确认`` and ``/误判`` need it: its findings and whether its message is gone."""

    case_id: int
    group_id: str
    member_id: str
    member_card: str
    message_id: str | None
    evidence: str  # personal data masked
    findings: tuple[Finding, ...]
    created_at: datetime
    deleted: bool  # the message's deletion was carried out (or would have been: dry run)


@dataclass(frozen=True, slots=True)
class GroupActivity:
    group_id: str
    name: str
    last_activity: datetime


@dataclass(frozen=True, slots=True)
class HeldReport:
    """A report held for the digest (``[escalation] immediate_from``)."""

    id: int
    case_id: int | None
    group_id: str
    member_id: str
    card: str
    categories: tuple[str, ...]
    at: datetime
    text: str


# ---------------------------------------------------------------- intent before effect

# Stands for the case's number in a report written together with its case (the number
# is known only once the case row is in): the store puts the number in its place.
CASE_NUMBER = "\ue000case\ue000"


@dataclass(frozen=True, slots=True)
class OwedReport:
    """A report a case owes an officer, written with the case; its text holds CASE_NUMBER."""

    officer_id: str
    text: str
    held: bool = False  # below [escalation] immediate_from: waits for the officer's digest


@dataclass(frozen=True, slots=True)
class CaseIntent:
    """What the engine decided, written in one transaction before any platform call.

    ``plan`` holds one outcome per action in the order they are recorded (an action's
    position is its ``seq``): PLANNED for what is about to be carried out, a final
    status for what is already known (substituted, skipped, reports queued).
    ``reports`` wait in the outbox until ``hold_until`` unless the case's outcomes
    come first (:class:`CaseSettlement`), so the officer reads what really happened.
    ``handler`` names the process run that decided it (who may settle it).
    """

    event: ChatEvent
    findings: tuple[Finding, ...]
    step: int
    at: datetime  # the event's time: the case, its strike and its actions are dated by it
    strike_weight: int
    plan: tuple[Outcome, ...]
    reports: tuple[OwedReport, ...]
    queued_at: datetime  # the wall clock when the reports were queued
    hold_until: datetime
    handler: str
    # The message's claim, made in the same transaction (None: claimed before): the case
    # is written only if the claim is won, unless ``claim_required`` is off (a replay).
    claim: str | None = None
    claim_required: bool = True


@dataclass(frozen=True, slots=True)
class CaseSettlement:
    """A case's outcomes once known: the planned rows updated, its reports released.

    ``results`` pairs a planned action's ``seq`` with its outcome; ``extra`` are
    outcomes of actions not in the plan. ``report``: the reports' final text (None:
    as written); ``due``: when they may go (unless a failed send set its own retry).
    The engine records the enforcement's outcomes as soon as they are known
    (``final`` False: notices may wait long in a platform's rate limits), then the rest.
    """

    case_id: int
    results: tuple[tuple[int, Outcome], ...]
    extra: tuple[Outcome, ...]
    at: datetime
    report: str | None = None
    due: datetime | None = None
    final: bool = True  # False: some outcomes only (the case stays unsettled, reports held)


@dataclass(frozen=True, slots=True)
class PlannedAction:
    """One recorded action of a case that is not settled (as the store holds it)."""

    seq: int
    kind: str
    target_id: str
    status: str
    detail: str
    duration_s: int | None


@dataclass(frozen=True, slots=True)
class UnsettledCase:
    """A case whose outcomes were never all recorded: its handler stopped or died."""

    case_id: int
    handler: str
    since: datetime
    group_id: str
    member_id: str
    member_card: str
    message_id: str | None
    evidence: str  # personal data masked
    findings: tuple[Mapping[str, Any], ...]
    created_at: datetime
    actions: tuple[PlannedAction, ...]
    reports_unsent: int  # reports of this case still in the outbox


# ---------------------------------------------------------------- card compliance


@dataclass(frozen=True, slots=True)
class ComplianceRecord:
    """A member's card timeline: flagged, last reminded, acted on."""

    group_id: str
    member_id: str
    problem: str
    first_flagged_at: datetime
    last_reminded_at: datetime | None
    acted_at: datetime | None


# ---------------------------------------------------------------- custom words

WordList = Literal["block", "allow"]


@dataclass(frozen=True, slots=True)
class GroupWord:
    """One custom word: ``group_id`` is a group or "*" (every group)."""

    group_id: str
    list: WordList
    category: str
    word: str
    added_by: str = ""
    at: datetime | None = None


# ---------------------------------------------------------------- group registry (备案)

REGISTRY_FIELDS = ("name", "owner", "admins", "responsible", "purpose", "registered_on")


@dataclass(frozen=True, slots=True)
class RegistryEntry:
    """One group's registration. ``registered_on`` is a calendar date (no time zone)."""

    group_id: str
    name: str = ""
    owner: str = ""
    admins: tuple[str, ...] = ()
    responsible: str = ""
    purpose: str = ""
    registered_on: date | None = None
    updated_by: str = ""
    updated_at: datetime | None = None

    def same_content(self, other: RegistryEntry) -> bool:
        """Equal in every registered field (who changed it and when aside)."""
        return all(getattr(self, f) == getattr(other, f) for f in ("group_id", *REGISTRY_FIELDS))


# ---------------------------------------------------------------- case export

ExportFormat = Literal["csv", "xlsx"]
EXPORT_COLUMNS = (
    "case",
    "time",
    "group",
    "member",
    "card",
    "findings",
    "evidence",
    "step",
    "status",
    "actions",
)


@dataclass(frozen=True, slots=True)
class CaseRow:
    """One exported case, as the officer reads it (times in their zone, evidence masked)."""

    case: int
    time: str
    group: str
    member: str
    card: str
    findings: str
    evidence: str
    step: int
    status: str
    actions: str

    def values(self) -> list[str | int]:
        return [getattr(self, name) for name in EXPORT_COLUMNS]
