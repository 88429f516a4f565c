"""Cases read back and decided: ``/strikes`` reads a member's cases, ``/pardon`` voids
strikes and cases (tables ``cases`` and ``strikes``; the journal writes them).
"""

from __future__ import annotations

from sqlalchemy import RowMapping, func, select, update

from rules.core.model import CaseRecord, TaskStatus
from rules.core.records import finding_categories
from rules.storage.base import Repository
from rules.storage.tables import cases, strikes


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


class CaseRepository(Repository):
    """Cases and their strikes, read back and decided by officers."""

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
        return int(weight)
