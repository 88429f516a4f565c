"""The officer outbox: delivering reports, and the digest's side of it (table ``outbox``).

Reports enter the outbox with their case, in the moderation journal's
transaction (:meth:`rules.storage.journal.ModerationJournal.enqueue_report`);
this repository serves the delivery (:class:`rules.officers.outbox.OutboxSender`:
due items, sent and failed marks, group-committed like the journal's writes)
and the daily digest (held reports, queuing a digest, releasing what no digest
will list).
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import insert, select, update
from sqlalchemy.exc import IntegrityError

from rules.core.ports import OutboxItem
from rules.core.records import HeldReport, finding_categories
from rules.storage.base import Repository
from rules.storage.database import Database
from rules.storage.journal import LINGER, batched
from rules.storage.tables import cases, outbox
from rules.storage.transactions import Transactions


@dataclass(frozen=True, slots=True)
class _Mark:
    item_id: int
    at: datetime  # sent at, or next attempt at
    sent: bool
    error: str = ""


class OutboxRepository(Repository):
    """Due reports, delivery marks, held reports and digests."""

    def __init__(
        self, database: Database, transactions: Transactions, group_commit: bool = True
    ) -> None:
        super().__init__(database)
        self.transactions = transactions
        self._marks = batched(self._mark, group_commit, LINGER)

    async def close(self) -> None:
        await self._marks.flush()

    # -- delivery -------------------------------------------------------------

    async def due_reports(self, now: datetime, limit: int = 50) -> list[OutboxItem]:
        """Unsent items due by ``now`` (held reports wait for the digest), oldest first."""
        query = (
            select(outbox.c.id, outbox.c.officer_id, outbox.c.text, outbox.c.attempts)
            .add_columns(outbox.c.case_id, outbox.c.kind, outbox.c.image)
            .where(outbox.c.sent_at.is_(None))
            .where(outbox.c.next_attempt_at <= now)
            .where(outbox.c.kind != "held")
            .order_by(outbox.c.id)
            .limit(limit)
        )
        async with self._read() as conn:
            rows = (await conn.execute(query)).all()
        return [
            OutboxItem(r.id, r.officer_id, r.text, r.attempts, r.case_id, r.kind, r.image)
            for r in rows
        ]

    async def mark_report_sent(self, item_id: int, at: datetime) -> None:
        await self._marks.submit(_Mark(item_id, at, sent=True))

    async def mark_report_failed(self, item_id: int, error: str, retry_at: datetime) -> None:
        await self._marks.submit(_Mark(item_id, retry_at, sent=False, error=error))

    async def _mark(self, marks: list[_Mark]) -> list[None]:
        sent = [(m.item_id, m.at) for m in marks if m.sent]
        failed = [(m.item_id, m.at, m.error[:1000]) for m in marks if not m.sent]
        await self.transactions.write(lambda ops: ops.mark_reports(sent, failed))
        return [None] * len(marks)

    # -- the digest's side ----------------------------------------------------

    async def held_reports(self, officer_id: str) -> list[HeldReport]:
        """Reports held for this officer's next digest (not yet folded into one), oldest first."""
        query = (
            select(outbox.c.id, outbox.c.case_id, outbox.c.text, outbox.c.created_at)
            .add_columns(cases.c.group_id, cases.c.member_id, cases.c.member_card, cases.c.findings)
            .add_columns(cases.c.created_at.label("case_at"))
            .outerjoin(cases, cases.c.id == outbox.c.case_id)
            .where(outbox.c.officer_id == officer_id)
            .where(outbox.c.kind == "held")
            .where(outbox.c.sent_at.is_(None))
            .order_by(outbox.c.id)
        )
        async with self._read() as conn:
            rows = (await conn.execute(query)).all()
        return [
            HeldReport(
                id=r.id,
                case_id=r.case_id,
                group_id=r.group_id or "",
                member_id=r.member_id or "",
                card=r.member_card or "",
                categories=finding_categories(r.findings or []),
                at=r.case_at or r.created_at,  # when it happened, if from a case
                text=r.text,
            )
            for r in rows
        ]

    async def enqueue_digest(
        self,
        officer_id: str,
        parts: Sequence[tuple[str, bytes | None]],
        held_ids: Collection[int],
        key: str,
        at: datetime,
    ) -> bool:
        """Queue a digest (its messages, the first may carry an image) and fold held reports in.

        One transaction: the digest's items are written and the held reports it
        lists are marked delivered with it. ``key`` makes it idempotent: False
        (and nothing written) when a digest with this key was already queued.
        """
        try:
            async with self._write() as conn:
                for n, (text, image) in enumerate(parts, 1):
                    await conn.execute(
                        insert(outbox).values(
                            officer_id=officer_id,
                            text=text,
                            case_id=None,
                            created_at=at,
                            next_attempt_at=at,
                            attempts=0,
                            last_error="",
                            kind="digest",
                            image=image,
                            dedupe_key=f"{key}#{n}",
                        )
                    )
                if held_ids:
                    await conn.execute(
                        update(outbox)
                        .where(outbox.c.id.in_(list(held_ids)))
                        .values(sent_at=at, last_error=f"listed in digest {key}")
                    )
        except IntegrityError:
            return False
        return True

    async def release_held(self, keep: Collection[str], at: datetime) -> int:
        """Send held reports of officers outside ``keep`` as ordinary reports (no digest for them).

        Guards against reports waiting forever after an officer's groups stop
        getting digests (config change). Returns how many were released.
        """
        query = (
            update(outbox)
            .where(outbox.c.kind == "held")
            .where(outbox.c.sent_at.is_(None))
            .where(outbox.c.officer_id.not_in(list(keep)))
            .values(kind="report", next_attempt_at=at)
        )
        async with self._write() as conn:
            result = await conn.execute(query)
        return int(result.rowcount or 0)
