"""Cases read back and decided: ``/strikes`` reads a member's cases, ``/pardon`` voids
strikes and cases, ``/确认`` confirms a case held for review (tables ``cases``,
``strikes`` and ``actions``; the journal writes them).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import RowMapping, func, insert, select, update

from rules.core.model import CaseRecord, Finding, MatchKind, Strength, Strike, TaskStatus
from rules.core.records import ReviewCase, finding_categories
from rules.storage.base import Repository
from rules.storage.database import Database
from rules.storage.strike_tally import StrikeTally
from rules.storage.tables import actions, cases, strikes

_CARRIED_OUT = ("done", "dry_run")


def _case(row: RowMapping) -> CaseRecord:
    categories = finding_categories(row["findings"])
    return CaseRecord(
        id=int(row["id"]),
        group_id=row["group_id"],
        member_id=row["member_id"],
        member_card=row["member_card"],
        evidence=row["evidence"],
        categories=categories,
        status=row["status"],
        created_at=row["created_at"],
        step=int(row["step"]),
    )


def stored_finding(row: Mapping[str, Any]) -> Finding:
    """A finding as the journal stored it (a case's ``findings`` JSON); older rows lack
    ``how`` and ``strength`` (they were direct and strong)."""
    image = row.get("image")
    return Finding(
        detector=str(row.get("detector") or ""),
        category=row.get("category"),
        match=str(row.get("match") or ""),
        start=int(row.get("start", -1)),
        end=int(row.get("end", -1)),
        detail=str(row.get("detail") or ""),
        how=MatchKind(row.get("how") or MatchKind.DIRECT),
        strength=Strength(int(row.get("strength") or Strength.STRONG)),
        image=None if image is None else int(image),
    )


class CaseRepository(Repository):
    """Cases and their strikes, read back and decided by officers (``tally``: the
    journal's strikes in memory, told when strikes are voided or confirmed here)."""

    def __init__(self, database: Database, tally: StrikeTally | None = None) -> None:
        super().__init__(database)
        self.tally = tally

    async def get_case(self, case_id: int) -> CaseRecord | None:
        async with self._read() as conn:
            row = (
                (await conn.execute(select(cases).where(cases.c.id == case_id))).mappings().first()
            )
        return _case(row) if row else None

    async def member_cases(self, group_id: str, member_id: str, limit: int = 5) -> list[CaseRecord]:
        """The member's most recent cases in the group, newest first."""
        query = (
            select(cases)
            .where(cases.c.group_id == group_id, cases.c.member_id == member_id)
            .order_by(cases.c.created_at.desc(), cases.c.id.desc())
            .limit(limit)
        )
        async with self._read() as conn:
            rows = (await conn.execute(query)).mappings().all()
        return [_case(r) for r in rows]

    async def set_case_status(self, case_id: int, status: str) -> None:
        """Record an officer's decision; a pardon also voids the case's strikes."""
        async with self._write() as conn:
            await conn.execute(update(cases).where(cases.c.id == case_id).values(status=status))
            if status == TaskStatus.PARDONED:
                await conn.execute(
                    update(strikes).where(strikes.c.case_id == case_id).values(voided=True)
                )
        if status == TaskStatus.PARDONED and self.tally is not None:
            self.tally.clear()  # (rare: whose strikes they were is not looked up)

    async def void_strikes(self, group_id: str, member_id: str) -> int:
        """Void every strike of a member in a group; return the weight cleared."""
        active = (
            strikes.c.group_id == group_id,
            strikes.c.member_id == member_id,
            strikes.c.voided.is_(False),
        )
        async with self._write() as conn:
            weight = (
                await conn.execute(
                    select(func.coalesce(func.sum(strikes.c.weight), 0)).where(*active)
                )
            ).scalar_one()
            await conn.execute(update(strikes).where(*active).values(voided=True))
        if self.tally is not None:
            self.tally.forget(group_id, member_id)
        return int(weight)

    async def review_case(self, case_id: int) -> ReviewCase | None:
        """A case with its findings and whether its message was deleted (``/确认``, ``/误判``)."""
        deleted = (
            select(func.count())
            .where(
                actions.c.case_id == case_id,
                actions.c.kind == "delete",
                actions.c.status.in_(_CARRIED_OUT),
            )
            .scalar_subquery()
        )
        async with self._read() as conn:
            row = (
                (
                    await conn.execute(
                        select(cases, deleted.label("deleted")).where(cases.c.id == case_id)
                    )
                )
                .mappings()
                .first()
            )
        if row is None:
            return None
        return ReviewCase(
            case_id=int(row["id"]),
            group_id=row["group_id"],
            member_id=row["member_id"],
            member_card=row["member_card"],
            message_id=row["message_id"],
            evidence=row["evidence"],
            findings=tuple(stored_finding(f) for f in row["findings"] or () if isinstance(f, dict)),
            created_at=row["created_at"],
            deleted=bool(row["deleted"]),
        )

    async def confirm_review(self, case_id: int, step: int, strike: Strike | None) -> None:
        """A case held for review is confirmed: upheld, at its ladder step, with its strike."""
        async with self._write() as conn:
            await conn.execute(
                update(cases)
                .where(cases.c.id == case_id)
                .values(status=TaskStatus.UPHELD.value, step=step)
            )
            if strike is not None and strike.weight:
                await conn.execute(
                    insert(strikes).values(
                        group_id=strike.group_id,
                        member_id=strike.member_id,
                        weight=strike.weight,
                        at=strike.at,
                        case_id=case_id,
                        voided=False,
                    )
                )
        if strike is not None and strike.weight and self.tally is not None:
            self.tally.forget(strike.group_id, strike.member_id)
