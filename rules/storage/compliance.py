"""Group-card compliance: when a member was first flagged, last reminded, and acted on
(table ``member_compliance``).

The :class:`rules.members.compliance.ComplianceStore` of
:class:`rules.members.compliance.Members` (the reminder -> grace -> action timeline).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, select, update

from rules.core.records import ComplianceRecord
from rules.storage.base import Repository
from rules.storage.tables import member_compliance as mc


class ComplianceRepository(Repository):
    async def get_compliance(self, group_id: str, member_id: str) -> ComplianceRecord | None:
        query = select(mc).where(mc.c.group_id == group_id).where(mc.c.member_id == member_id)
        async with self._read() as conn:
            row = (await conn.execute(query)).first()
        if row is None:
            return None
        return ComplianceRecord(
            row.group_id,
            row.member_id,
            row.problem,
            row.first_flagged_at,
            row.last_reminded_at,
            row.acted_at,
        )

    async def flag_member(
        self, group_id: str, member_id: str, problem: str, at: datetime
    ) -> ComplianceRecord:
        """Start (or restart) a member's timeline at ``at``."""
        timeline = {
            "problem": problem[:2000],
            "first_flagged_at": at,
            "last_reminded_at": None,
            "acted_at": None,
        }
        key = {"group_id": group_id, "member_id": member_id}
        async with self._write() as conn:
            await conn.execute(self._upsert(mc, {**key, **timeline}, timeline))
        return ComplianceRecord(group_id, member_id, problem, at, None, None)

    async def mark_reminded(
        self, group_id: str, member_id: str, problem: str, at: datetime
    ) -> None:
        await self._set(group_id, member_id, problem=problem[:2000], last_reminded_at=at)

    async def mark_acted(self, group_id: str, member_id: str, at: datetime) -> None:
        await self._set(group_id, member_id, acted_at=at)

    async def clear_compliance(self, group_id: str, member_id: str) -> None:
        async with self._write() as conn:
            await conn.execute(
                delete(mc).where(mc.c.group_id == group_id).where(mc.c.member_id == member_id)
            )

    async def flagged_members(self) -> list[tuple[str, str]]:
        """(group, member) of every timeline still open (not yet acted on)."""
        query = select(mc.c.group_id, mc.c.member_id).where(mc.c.acted_at.is_(None))
        async with self._read() as conn:
            return [(r.group_id, r.member_id) for r in (await conn.execute(query)).all()]

    async def _set(self, group_id: str, member_id: str, **values: object) -> None:
        async with self._write() as conn:
            await conn.execute(
                update(mc)
                .where(mc.c.group_id == group_id)
                .where(mc.c.member_id == member_id)
                .values(**values)
            )
