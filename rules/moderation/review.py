"""The officers' review queue: evidence too weak for the ladder waits for a person.

Every finding carries a strength (``Finding.strength``). Per group, ``[review]
ladder_from`` says how strong a finding must be to feed the ladder by itself
(``rules.config.review_sections`` gives the defaults and why). The engine asks
this module, at its planning step:

- :func:`route` splits the findings that would feed the ladder into those strong
  enough (the ladder acts on them as before) and those held for review. When
  any finding is strong enough the ladder acts and the weaker ones are only
  recorded with the case; when all are too weak, :func:`plan` gives the
  review's actions instead of a ladder step: the deletion where ``[review]``
  keeps it for that strength, and a ``review`` action (no strike, no @-notice).
- :func:`outcome` is the ``review`` action's outcome, recorded with the case's
  intent (it needs no platform).
- once the case is carried out, :class:`ReviewQueue` opens the review item (an
  officer task of kind ``review`` on the case) and tells the officers per
  ``[review] tell``. The commands ``/确认 #N`` and ``/误判 #N``
  (``rules.commands.review``) decide it; the digest lists what is open.

The item is written after the case is recorded, not in the same transaction:
a crash in between leaves the case (with its ``review`` action) but no item.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection, Iterable
from datetime import datetime
from typing import Protocol

from rules.config import Policy, ReviewSettings
from rules.core.messages import Language, category_name, render, truncate
from rules.core.model import (
    Action,
    ActionKind,
    ChatEvent,
    Decision,
    Finding,
    OfficerTask,
    Outcome,
    OutcomeStatus,
    TaskKind,
    masked_text,
    utcnow,
)

log = logging.getLogger(__name__)

_DELETED = frozenset({OutcomeStatus.DONE, OutcomeStatus.DRY_RUN})


def route(
    findings: Iterable[Finding], settings: ReviewSettings, reminder_only: Collection[str] = ()
) -> tuple[tuple[Finding, ...], tuple[Finding, ...]]:
    """(findings that feed the ladder, findings held for review).

    Findings of ``reminder_only`` detectors (card reminders, chatter) are in neither:
    they never feed the ladder and are not evidence of a violation.
    """
    ladder: list[Finding] = []
    held: list[Finding] = []
    for finding in findings:
        if finding.detector in reminder_only:
            continue
        (ladder if settings.feeds_ladder(finding.strength) else held).append(finding)
    return tuple(ladder), tuple(held)


def feeding_ladder(
    findings: Iterable[Finding], settings: ReviewSettings, reminder_only: Collection[str] = ()
) -> tuple[Finding, ...]:
    """The findings strong enough for the ladder (see :func:`route`)."""
    return route(findings, settings, reminder_only)[0]


def held(
    findings: Iterable[Finding], settings: ReviewSettings, reminder_only: Collection[str] = ()
) -> tuple[Finding, ...]:
    """The findings held for review (see :func:`route`)."""
    return route(findings, settings, reminder_only)[1]


def plan(event: ChatEvent, findings: tuple[Finding, ...], policy: Policy) -> tuple[Action, ...]:
    """The actions for a message whose findings all wait for review: its deletion where
    ``[review]`` keeps it for the strongest of them (and ``[ladder] delete_message``
    deletes at all), then the ``review`` action."""
    group, target = event.group_id, event.member.id
    actions: list[Action] = []
    strongest = max(f.strength for f in findings)
    if (
        event.message_id is not None
        and policy.ladder.delete_message
        and policy.review.deletes(strongest)
    ):
        actions.append(Action(ActionKind.DELETE, group, target, message_id=event.message_id))
    actions.append(Action(ActionKind.REVIEW, group, target, message_id=event.message_id))
    return tuple(actions)


def outcome(action: Action, dry_run: bool) -> Outcome:
    """The ``review`` action's outcome, known when the case is recorded."""
    if dry_run:
        return Outcome(action, OutcomeStatus.DRY_RUN, "dry run: no review item opened")
    return Outcome(action, OutcomeStatus.DONE, "held for the officers' review")


def evidence_line(findings: Iterable[Finding], lang: Language) -> str:
    """``「大码」毒品（谐音，弱）``: what was matched, its category, how and how strongly."""
    sep = "；" if lang == "zh" else "; "
    return sep.join(
        render(
            "review_finding",
            lang,
            match=truncate(f.match, 40),
            category=category_name(f.category, lang),
            how=render(f"how_{f.how.value}", lang),
            strength=render(f"strength_{f.strength.name.lower()}", lang),
        )
        for f in findings
    )


class ReviewTasks(Protocol):
    """Where review items are kept (``rules.storage.tasks.TaskRepository``)."""

    async def add_task(self, task: OfficerTask) -> int: ...


class ReviewReports(Protocol):
    """How the people who decide are told (the moderation journal's outbox)."""

    async def enqueue_report(
        self,
        officer_id: str,
        text: str,
        case_id: int | None,
        at: datetime,
        due: datetime | None = None,
        held: bool = False,
    ) -> int: ...


class ReviewQueue:
    """Opens a review item for every case the engine held for review, and tells who decides."""

    def __init__(
        self,
        tasks: ReviewTasks,
        reports: ReviewReports,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.tasks = tasks
        self.reports = reports
        self.clock = clock
        self.opened = 0  # review items opened since start

    async def after(self, event: ChatEvent, decision: Decision, policy: Policy) -> int | None:
        """Open the review item of a decided case that went to review; its task id, or None
        (not a review, a dry run, or the item could not be written: logged)."""
        review = next(
            (o for o in decision.outcomes if o.action.kind is ActionKind.REVIEW),
            None,
        )
        if review is None or review.status is not OutcomeStatus.DONE or decision.case_id is None:
            return None
        case_id = decision.case_id
        findings = held(decision.findings, policy.review)
        lang = policy.moderation.language
        evidence = truncate(masked_text(event.text, decision.findings))
        try:
            task_id = await self.tasks.add_task(
                OfficerTask(
                    kind=TaskKind.REVIEW,
                    group_id=event.group_id,
                    requester_id="",  # the bot raised it
                    created_at=event.time,
                    subject_id=event.member.id,
                    case_id=case_id,
                    text=evidence_line(findings, lang),
                    evidence=evidence,
                )
            )
        except Exception:  # the case is recorded; the item is what is lost
            log.exception("review item for case %s not written", case_id)
            return None
        self.opened += 1
        await self._tell(event, decision, findings, evidence, policy)
        return task_id

    async def _tell(
        self,
        event: ChatEvent,
        decision: Decision,
        findings: tuple[Finding, ...],
        evidence: str,
        policy: Policy,
    ) -> None:
        settings = policy.review
        if settings.tell == "digest" and policy.digest.enabled:
            return  # listed in the officers' next digest
        people = list(dict.fromkeys([*policy.escalation.officers, *settings.notify]))
        if not people:
            return
        lang = policy.moderation.language
        deletion = next((o for o in decision.outcomes if o.action.kind is ActionKind.DELETE), None)
        if deletion is None:
            message = render("review_kept", lang)
        elif deletion.status in _DELETED:
            message = render("review_deleted", lang)
        else:
            message = render("review_not_deleted", lang, detail=deletion.detail or "-")
        member = event.member
        text = render(
            "review_item",
            lang,
            case_id=decision.case_id,
            group=event.group_id,
            member=f"{member.card or member.nickname or '-'} ({member.id})",
            findings=evidence_line(findings, lang),
            evidence=evidence,
            message=message,
        )
        queued = self.clock()
        due = queued + policy.escalation.batch_window  # a burst reaches them as one message
        for person in people:
            await self.reports.enqueue_report(person, text, decision.case_id, queued, due=due)
