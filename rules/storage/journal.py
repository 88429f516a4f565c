"""The moderation journal: what every violation (and a member's first sight) writes or reads.

Claims, strike reads, cases with their strikes, action outcomes, officer
reports and members (the :class:`rules.core.ports.Store` the engine uses), and
the audit lines of commands. The engine writes a decision as an *intent*
(:meth:`ModerationJournal.open_intent`: the case, its strike, its planned
actions, the reports it owes and its place on the unsettled list, in one
transaction) before any platform call, and *settles* it once the outcomes are
known (:meth:`ModerationJournal.settle_case`). Two costs shaped it:

- **Per call**: each transaction is one hand-off to wherever the statements run
  (:mod:`rules.storage.transactions`: ``sqlite3`` in a worker thread on a
  SQLite file, SQLAlchemy elsewhere), never one hand-off per statement.
- **Per row**: concurrent calls are group-committed (:class:`rules.core.batching.Batcher`):
  while one batch runs, the next collects, and each batch is one transaction
  with one statement per kind of row. Writes that are not needed for the next
  decision (outcomes, reports, members) also wait a few milliseconds for company.
  Offline (``scan``) nobody else is coming: each call runs alone, at once, and the
  transactions are batched below it instead; members and outcomes, which nothing
  reads back during a scan, are written 500 at a time and at :meth:`close`.

Every call still returns only once its rows are committed (offline: written in
the batch's open transaction, see :class:`rules.storage.raw_sqlite.SqliteBatch`).
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any, Generic, TypeVar

from sqlalchemy import insert

from rules.core.batching import Batcher
from rules.core.model import ChatEvent, Finding, Outcome, Strike, masked_text
from rules.core.ports import AuditEntry
from rules.core.records import CASE_NUMBER, CaseIntent, CaseSettlement
from rules.storage.database import Database
from rules.storage.journal_sql import JournalOps
from rules.storage.strike_tally import StrikeTally
from rules.storage.tables import audit_log
from rules.storage.transactions import Transactions

log = logging.getLogger(__name__)

LINGER = 0.005  # seconds a write nobody waits on to decide may wait for others

T = TypeVar("T")
R = TypeVar("R")


class _Alone(Generic[T, R]):
    """A :class:`Batcher`'s interface without the batching: each item runs at once, alone.

    Offline one call comes at a time and nobody waits for a platform: there is no
    company to wait for, and the transactions are batched below (``SqliteBatch``).
    """

    def __init__(self, run: Callable[[list[T]], Awaitable[list[R]]]) -> None:
        self._run = run

    async def submit(self, item: T) -> R:
        return (await self._run([item]))[0]

    async def flush(self) -> None:
        return None


class _Deferred(Generic[T]):
    """Offline, for rows nothing reads back while the scan runs (members, outcomes): calls
    return at once and their rows are written together, ``size`` at a time and at close."""

    def __init__(self, run: Callable[[list[T]], Awaitable[list[None]]], size: int = 500) -> None:
        self._run = run
        self.size = size
        self._items: list[T] = []

    async def submit(self, item: T) -> None:
        self._items.append(item)
        if len(self._items) >= self.size:
            await self.flush()

    async def flush(self) -> None:
        items, self._items = self._items, []
        if items:
            await self._run(items)


def batched(
    run: Callable[[list[T]], Awaitable[list[R]]], group_commit: bool, linger: float = 0.0
) -> Batcher[T, R] | _Alone[T, R]:
    """Calls of ``run`` group-committed (``linger``: how long a lone one waits), or alone."""
    return Batcher(run, linger=linger) if group_commit else _Alone(run)


def written_later(
    run: Callable[[list[T]], Awaitable[list[None]]], group_commit: bool
) -> Batcher[T, None] | _Deferred[T]:
    """Calls nobody needs an answer from: group-committed with a linger, or offline deferred."""
    return Batcher(run, linger=LINGER) if group_commit else _Deferred(run)


def fields(value: Any) -> dict[str, Any]:
    """A flat dataclass as a dict (``dataclasses.asdict`` deep-copies: slow on the hot path)."""
    return {f.name: getattr(value, f.name) for f in dataclasses.fields(value)}


def strike_row(strike: Strike) -> dict[str, object]:
    return {**fields(strike), "voided": False}


def _seconds(value: timedelta | None) -> int | None:
    return None if value is None else int(value.total_seconds())


@dataclasses.dataclass(frozen=True, slots=True)
class _Claim:
    group_id: str
    message_id: str
    at: datetime


@dataclasses.dataclass(frozen=True, slots=True)
class _WeightQuery:
    group_id: str
    member_id: str
    since: datetime


@dataclasses.dataclass(frozen=True, slots=True)
class _NewCase:
    event: ChatEvent
    findings: tuple[Finding, ...]
    step: int
    at: datetime
    strike_weight: int


@dataclasses.dataclass(frozen=True, slots=True)
class _Outcomes:
    case_id: int
    outcomes: tuple[Outcome, ...]
    at: datetime


@dataclasses.dataclass(frozen=True, slots=True)
class _Report:
    officer_id: str
    text: str
    case_id: int | None
    at: datetime
    due: datetime | None
    held: bool


class ModerationJournal:
    """Claims, strikes, cases, outcomes, reports and members, group-committed (see module doc).

    ``normalize`` turns a case's evidence into what the filter saw, stored beside
    it (the composition root passes the text layer's fold; by default it is kept
    as it is: storage does not load the text layer). ``tally``: when this process
    is the only one writing strikes, members' strikes kept in memory
    (:mod:`rules.storage.strike_tally`), so a repeat offender's weight needs no read.
    """

    def __init__(
        self,
        database: Database,
        transactions: Transactions,
        normalize: Callable[[str], str] = str,
        group_commit: bool = True,
        tally: StrikeTally | None = None,
    ) -> None:
        self.database = database
        self.transactions = transactions
        self.normalize = normalize
        self.tally = tally
        self._claims = batched(self._claim_messages, group_commit)
        self._weights = batched(self._strike_weights, group_commit)
        self._strike_lists = batched(self._read_strike_lists, group_commit)
        self._cases = batched(self._open_cases, group_commit)
        self._intents = batched(self._open_intents, group_commit)
        self._outcomes = written_later(self._record_outcomes, group_commit)
        self._settlements = written_later(self._settle_cases, group_commit)
        self._reports = batched(self._enqueue_reports, group_commit, LINGER)
        self._members = written_later(self._note_members, group_commit)
        self._roll_read: asyncio.Future[None] | None = None

    async def close(self) -> None:
        """Wait for what was submitted (outcomes linger for company, or are deferred) to land."""
        if self._roll_read is not None:
            await self._roll_read
        for batcher in (
            self._claims,
            self._weights,
            self._strike_lists,
            self._cases,
            self._intents,
            self._outcomes,
            self._settlements,
            self._reports,
            self._members,
        ):
            await batcher.flush()

    # -- claims and strikes -------------------------------------------------

    async def claim_message(self, group_id: str, message_id: str, at: datetime) -> bool:
        """True the first time a message is seen; False if it was already handled."""
        return await self._claims.submit(_Claim(group_id, message_id, at))

    async def _claim_messages(self, claims: list[_Claim]) -> list[bool]:
        return await self.transactions.write(lambda ops: _claim_rows(ops, claims), urgent=True)

    async def strike_weight(
        self, group_id: str, member_id: str, since: datetime, cached: bool = True
    ) -> int:
        """Sum of the member's strike weights recorded at or after ``since`` (from the
        tally when it knows them and ``cached``; else read)."""
        tally = self.tally if cached else None
        if tally is None:
            return await self._weights.submit(_WeightQuery(group_id, member_id, since))
        if tally.roll_due():
            self._roll_read = asyncio.ensure_future(self._read_roll(tally))
        known = tally.weight(group_id, member_id, since)
        if known is not None:
            return known
        tally.begin_load(group_id, member_id)
        try:
            strikes = await self._strike_lists.submit(_WeightQuery(group_id, member_id, since))
        except BaseException:
            tally.abandon(group_id, member_id)
            raise
        tally.install(group_id, member_id, since, strikes)
        return sum(w for _, w in strikes)

    async def _read_roll(self, tally: StrikeTally) -> None:
        """Read the tally's roll of struck members (in the background: meanwhile, and if
        it fails, members are read one by one as before)."""
        horizon = tally.begin_roll()
        limit = tally.max_roll + 1
        try:
            struck = await self.transactions.read(lambda ops: ops.struck_since(horizon, limit))
        except Exception as exc:
            log.warning("strike roll unreadable (members are read one by one): %r", exc)
            tally.abandon_roll()
            return
        except BaseException:
            tally.abandon_roll()
            raise
        tally.install_roll(struck)

    async def _strike_weights(self, queries: list[_WeightQuery]) -> list[int]:
        return await self.transactions.read(
            lambda ops: ops.strike_weights([(q.group_id, q.member_id, q.since) for q in queries])
        )

    async def _read_strike_lists(
        self, queries: list[_WeightQuery]
    ) -> list[list[tuple[datetime, int]]]:
        return await self.transactions.read(
            lambda ops: ops.strike_lists([(q.group_id, q.member_id, q.since) for q in queries])
        )

    async def _striking(
        self, strike: Strike, write: Awaitable[T], committed: Callable[[T], bool]
    ) -> T:
        """Run ``write``, which writes ``strike`` (if it has a weight), keeping the tally
        current: ``committed`` tells from its result whether the strike went in."""
        tally = self.tally
        if tally is None or not strike.weight:
            return await write
        key = strike.group_id, strike.member_id
        tally.begin_write(*key)
        try:
            result = await write
        except BaseException:
            tally.end_write(*key, strike.at, strike.weight, None)
            raise
        tally.end_write(*key, strike.at, strike.weight, committed(result))
        return result

    async def add_strike(self, strike: Strike) -> None:
        await self._striking(
            strike,
            self.transactions.write(lambda ops: ops.insert("strikes", [strike_row(strike)])),
            lambda _: True,
        )

    # -- cases and outcomes -------------------------------------------------

    async def open_case(
        self,
        event: ChatEvent,
        findings: tuple[Finding, ...],
        step: int,
        at: datetime,
        strike_weight: int = 0,
    ) -> int:
        """Record a decision's evidence (and its strike, in the same transaction); its id."""
        strike = Strike(event.group_id, event.member.id, strike_weight, at, None)
        return await self._striking(
            strike,
            self._cases.submit(_NewCase(event, findings, step, at, strike_weight)),
            lambda _: True,
        )

    async def _open_cases(self, new: list[_NewCase]) -> list[int]:
        return await self.transactions.write(lambda ops: self._case_rows(ops, new))

    def _case_rows(self, ops: JournalOps, new: list[_NewCase]) -> list[int]:
        rows = []
        for case in new:
            evidence = masked_text(case.event.text, case.findings)
            rows.append(
                {
                    "group_id": case.event.group_id,
                    "member_id": case.event.member.id,
                    "member_card": case.event.member.card,
                    "message_id": case.event.message_id,
                    "evidence": evidence,
                    "normalized": self.normalize(evidence),
                    "findings": [fields(f) for f in case.findings],
                    "step": case.step,
                    "status": "open",
                    "created_at": case.at,
                }
            )
        case_ids = ops.insert_ids("cases", rows)
        strike_rows = [
            strike_row(Strike(c.event.group_id, c.event.member.id, c.strike_weight, c.at, case_id))
            for c, case_id in zip(new, case_ids, strict=True)
            if c.strike_weight
        ]
        ops.insert("strikes", strike_rows)
        return case_ids

    async def open_intent(self, intent: CaseIntent) -> int | None:
        """Record a decision before it is carried out (see module doc); the case's id, or
        None when the intent claims its message and another handled it first."""
        event = intent.event
        strike = Strike(event.group_id, event.member.id, intent.strike_weight, intent.at, None)
        return await self._striking(
            strike, self._intents.submit(intent), lambda case_id: case_id is not None
        )

    async def _open_intents(self, intents: list[CaseIntent]) -> list[int | None]:
        # urgent: the decision's first action waits for this write
        return await self.transactions.write(
            lambda ops: self._intent_rows(ops, intents), urgent=True
        )

    def _intent_rows(self, ops: JournalOps, intents: list[CaseIntent]) -> list[int | None]:
        claims = [_Claim(i.event.group_id, i.claim, i.at) for i in intents if i.claim is not None]
        won = iter(_claim_rows(ops, claims) if claims else [])
        decided = [i for i in intents if i.claim is None or next(won) or not i.claim_required]
        if not decided:
            return [None] * len(intents)
        new = [_NewCase(i.event, i.findings, i.step, i.at, i.strike_weight) for i in decided]
        case_ids = self._case_rows(ops, new)
        planned, owed, unsettled = [], [], []
        for intent, case_id in zip(decided, case_ids, strict=True):
            planned += [
                {**_action_row(case_id, o, intent.at), "seq": seq}
                for seq, o in enumerate(intent.plan)
            ]
            owed += [
                {
                    "officer_id": r.officer_id,
                    "text": r.text.replace(CASE_NUMBER, str(case_id), 1),
                    "case_id": case_id,
                    "created_at": intent.queued_at,
                    "next_attempt_at": intent.hold_until,
                    "attempts": 0,
                    "last_error": "",
                    "kind": "held" if r.held else "report",
                    "dedupe_key": f"case:{case_id}:{n}",  # a case's report is queued once
                }
                for n, r in enumerate(intent.reports)
            ]
            unsettled.append(
                {"case_id": case_id, "handler": intent.handler, "since": intent.queued_at}
            )
        ops.insert("actions", planned)
        ops.insert("owed_reports", owed)
        ops.insert("unsettled_cases", unsettled)
        written = dict(zip(map(id, decided), case_ids, strict=True))
        return [written.get(id(i)) for i in intents]

    async def settle_case(self, settlement: CaseSettlement) -> None:
        """Record a case's outcomes and release its reports (see module doc)."""
        await self._settlements.submit(settlement)

    async def _settle_cases(self, batch: list[CaseSettlement]) -> list[None]:
        results = [
            {
                "case": s.case_id,
                "position": seq,
                "state": o.status.value,
                "note": o.detail,
                "when": s.at,
            }
            for s in batch
            for seq, o in s.results
        ]
        extra = [_action_row(s.case_id, o, s.at) for s in batch for o in s.extra]
        reports = [
            {"case": s.case_id, "body": s.report, "due": s.due}
            for s in batch
            if s.final and s.report is not None and s.due is not None
        ]
        settled = [s.case_id for s in batch if s.final]

        def settle(ops: JournalOps) -> None:
            ops.settle(results, reports, settled)
            ops.insert("actions", extra)

        await self.transactions.write(settle)
        return [None] * len(batch)

    async def interrupt(self, case_ids: list[int]) -> None:
        """Mark what is still planned in these cases as interrupted (the bot is stopping);
        they stay unsettled, for the recovery at the next start."""
        await self.transactions.write(lambda ops: ops.interrupt(case_ids))

    async def record_outcomes(
        self, case_id: int, outcomes: tuple[Outcome, ...], at: datetime
    ) -> None:
        if outcomes:
            await self._outcomes.submit(_Outcomes(case_id, outcomes, at))

    async def _record_outcomes(self, batch: list[_Outcomes]) -> list[None]:
        rows = [_action_row(item.case_id, o, item.at) for item in batch for o in item.outcomes]
        await self.transactions.write(lambda ops: ops.insert("actions", rows))
        return [None] * len(batch)

    # -- officer reports ----------------------------------------------------

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

        A ``held`` report is not sent on its own: it waits for the officer's digest.
        """
        return await self._reports.submit(_Report(officer_id, text, case_id, at, due, held))

    async def _enqueue_reports(self, reports: list[_Report]) -> list[int]:
        rows = [
            {
                "officer_id": r.officer_id,
                "text": r.text,
                "case_id": r.case_id,
                "created_at": r.at,
                "next_attempt_at": r.due or r.at,
                "attempts": 0,
                "last_error": "",
                "kind": "held" if r.held else "report",
            }
            for r in reports
        ]
        return await self.transactions.write(lambda ops: ops.insert_ids("outbox", rows))

    # -- members ------------------------------------------------------------

    async def note_member(self, event: ChatEvent) -> None:
        """Remember the group and the member (card, role, last seen)."""
        await self._members.submit(event)

    async def _note_members(self, events: list[ChatEvent]) -> list[None]:
        def upsert(ops: JournalOps) -> None:
            ops.insert("groups", _group_rows(events))
            ops.insert("members", _member_rows(events))

        await self.transactions.write(upsert)
        return [None] * len(events)

    # -- audit log ----------------------------------------------------------

    async def record_audit(self, entry: AuditEntry) -> None:
        """One admin command (allowed or refused)."""
        async with self.database.write() as conn:
            await conn.execute(insert(audit_log).values(**fields(entry)))


def _action_row(case_id: int, outcome: Outcome, at: datetime) -> dict[str, Any]:
    """An ``actions`` row for an outcome (no place in a plan: ``seq`` None)."""
    return {
        "case_id": case_id,
        "kind": outcome.action.kind.value,
        "target_id": outcome.action.target_id,
        "status": outcome.status.value,
        "detail": outcome.detail,
        "duration_s": _seconds(outcome.action.duration),
        "at": at,
        "seq": None,
    }


def _claim_rows(ops: JournalOps, claims: list[_Claim]) -> list[bool]:
    """True for the first sight of a (group, message), in the store or in this batch.

    Each (group, message) is inserted once, skipping conflicts; only the rows that went
    in count, so one claimed earlier (or meanwhile by another process) is not first.
    """
    keys = [(c.group_id, c.message_id) for c in claims]
    rows: dict[tuple[str, str], dict[str, Any]] = {}
    for c, k in zip(claims, keys, strict=True):
        rows.setdefault(k, {"group_id": c.group_id, "message_id": c.message_id, "at": c.at})
    won = ops.claim(list(rows.values()))
    first: list[bool] = []
    for k in keys:
        first.append(k in won)
        won.discard(k)  # a second copy in the same batch is not first
    return first


def _group_rows(events: list[ChatEvent]) -> list[dict[str, Any]]:
    """Each event's group, once: first seen at its first event here, active at its last."""
    first: dict[str, ChatEvent] = {}
    latest: dict[str, ChatEvent] = {}
    for e in events:
        first.setdefault(e.group_id, e)
        latest[e.group_id] = e
    return [
        {
            "id": g,
            "platform": e.platform.value,
            "name": "",
            "first_seen": first[g].time,
            "last_activity": e.time,
        }
        for g, e in latest.items()
    ]


def _member_rows(events: list[ChatEvent]) -> list[dict[str, Any]]:
    """Each event's member (card, nickname, role, last seen), once: the last word wins;
    first seen at the member's first event here."""
    first: dict[tuple[str, str], datetime] = {}
    latest: dict[tuple[str, str], ChatEvent] = {}
    for e in events:
        key = (e.group_id, e.member.id)
        first.setdefault(key, e.time)
        latest[key] = e
    return [
        {
            "group_id": g,
            "member_id": m,
            "card": e.member.card,
            "nickname": e.member.nickname,
            "role": e.member.role.value,
            "first_seen": first[(g, m)],
            "last_seen": e.time,
        }
        for (g, m), e in latest.items()
    ]
