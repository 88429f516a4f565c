"""Raids (table ``raids``): recorded before raid mode acts, so that a restart still lifts it.

The :class:`rules.protection.raids.RaidStore`.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import insert, select, update

from rules.core.protection_records import RaidRecord
from rules.storage.base import Repository
from rules.storage.tables import raids


def _raid(row: Any) -> RaidRecord:
    return RaidRecord(
        group_id=row.group_id,
        started_at=row.started_at,
        until=row.until,
        trigger=row.trigger,
        accounts=tuple(row.accounts or ()),
        muted_group=bool(row.muted_group),
        muted=tuple(row.muted or ()),
        removed=tuple(row.removed or ()),
        case_id=row.case_id,
        id=int(row.id),
        lifted_at=row.lifted_at,
    )


class RaidRepository(Repository):
    async def save_raid(self, raid: RaidRecord) -> RaidRecord:
        values = {
            "group_id": raid.group_id,
            "trigger": raid.trigger,
            "started_at": raid.started_at,
            "until": raid.until,
            "accounts": list(raid.accounts),
            "muted_group": raid.muted_group,
            "muted": list(raid.muted),
            "removed": list(raid.removed),
            "case_id": raid.case_id,
            "lifted_at": raid.lifted_at,
        }
        async with self._write() as conn:
            if raid.id is None:
                result = await conn.execute(insert(raids).values(values).returning(raids.c.id))
                raid_id = int(result.scalar_one())
            else:
                raid_id = raid.id
                await conn.execute(update(raids).where(raids.c.id == raid_id).values(values))
        return RaidRecord(
            **{name: getattr(raid, name) for name in RaidRecord.__dataclass_fields__}
            | {"id": raid_id}
        )

    async def open_raids(self) -> list[RaidRecord]:
        query = select(raids).where(raids.c.lifted_at.is_(None)).order_by(raids.c.id)
        async with self._read() as conn:
            rows = (await conn.execute(query)).all()
        return [_raid(r) for r in rows]
