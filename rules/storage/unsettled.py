"""Cases whose outcomes were never all recorded, read back for the recovery after a restart.

The engine puts a case on the unsettled list (table ``unsettled_cases``) in the
transaction that records its intent, and takes it off when it settles it
(:mod:`rules.storage.journal`). What stays on the list belongs to a process run
that stopped or died mid-case: :mod:`rules.moderation.recovery` reads it here,
holds its reports back while it checks what happened, and settles it through
the journal (the same statements as the engine).
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime

from sqlalchemy import func, or_, select, update

from rules.core.records import PlannedAction, UnsettledCase
from rules.storage.base import Repository
from rules.storage.tables import actions, cases, outbox, unsettled_cases


class UnsettledRepository(Repository):
    """The unsettled list with each case's evidence, actions and unsent reports."""

    async def unsettled(
        self, own: str, own_before: datetime, limit: int = 200
    ) -> list[UnsettledCase]:
        """Up to ``limit`` unsettled cases, oldest first; those of the run ``own`` (the
        caller's, mostly in flight) only when listed before ``own_before``."""
        listed = (
            select(unsettled_cases.c.handler, unsettled_cases.c.since, cases)
            .join(cases, cases.c.id == unsettled_cases.c.case_id)
            .where(or_(unsettled_cases.c.handler != own, unsettled_cases.c.since < own_before))
            .order_by(unsettled_cases.c.case_id)
            .limit(limit)
        )
        async with self._read() as conn:
            rows = (await conn.execute(listed)).mappings().all()
            ids = [int(r["id"]) for r in rows]
            if not ids:
                return []
            planned = (
                await conn.execute(
                    select(actions)
                    .where(actions.c.case_id.in_(ids))
                    .order_by(actions.c.case_id, actions.c.seq, actions.c.id)
                )
            ).mappings()
            by_case: dict[int, list[PlannedAction]] = {}
            for a in planned:
                by_case.setdefault(int(a["case_id"]), []).append(
                    PlannedAction(
                        seq=-1 if a["seq"] is None else int(a["seq"]),
                        kind=a["kind"],
                        target_id=a["target_id"],
                        status=a["status"],
                        detail=a["detail"],
                        duration_s=a["duration_s"],
                    )
                )
            unsent: dict[int, int] = dict(
                (
                    await conn.execute(
                        select(outbox.c.case_id, func.count())
                        .where(outbox.c.case_id.in_(ids), outbox.c.sent_at.is_(None))
                        .where(outbox.c.kind != "digest")
                        .group_by(outbox.c.case_id)
                    )
                ).all()
            )
        return [
            UnsettledCase(
                case_id=int(r["id"]),
                handler=r["handler"],
                since=r["since"],
                group_id=r["group_id"],
                member_id=r["member_id"],
                member_card=r["member_card"],
                message_id=r["message_id"],
                evidence=r["evidence"],
                findings=tuple(r["findings"] or ()),
                created_at=r["created_at"],
                actions=tuple(by_case.get(int(r["id"]), ())),
                reports_unsent=int(unsent.get(int(r["id"]), 0)),
            )
            for r in rows
        ]

    async def hold_reports(self, case_ids: Collection[int], until: datetime) -> int:
        """Keep these cases' unsent reports (not yet tried) back until ``until``, while the
        recovery finds out what happened; returns how many."""
        if not case_ids:
            return 0
        query = (
            update(outbox)
            .where(outbox.c.case_id.in_(list(case_ids)), outbox.c.sent_at.is_(None))
            .where(outbox.c.attempts == 0, outbox.c.kind == "report")
            .values(next_attempt_at=until)
        )
        async with self._write() as conn:
            result = await conn.execute(query)
        return int(result.rowcount or 0)
