"""The group registry (备案, table ``group_registry``).

The :class:`rules.groups.registry.RegistryStore` of
:class:`rules.groups.registry.RegistryService`. Dates are stored as ``YYYY-MM-DD``.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import delete, insert, select

from rules.core.model import utcnow
from rules.core.records import RegistryEntry
from rules.storage.base import Repository
from rules.storage.tables import group_registry as reg


def _entry(row: Any) -> RegistryEntry:
    return RegistryEntry(
        group_id=row.group_id,
        name=row.name,
        owner=row.owner,
        admins=tuple(str(a) for a in row.admins or ()),
        responsible=row.responsible,
        purpose=row.purpose,
        registered_on=date.fromisoformat(row.registered_on) if row.registered_on else None,
        updated_by=row.updated_by,
        updated_at=row.updated_at,
    )


class RegistryRepository(Repository):
    async def put_registry(self, entry: RegistryEntry) -> None:
        """Insert or replace a group's entry."""
        values = {
            "group_id": entry.group_id,
            "name": entry.name,
            "owner": entry.owner,
            "admins": list(entry.admins),
            "responsible": entry.responsible,
            "purpose": entry.purpose,
            "registered_on": entry.registered_on.isoformat() if entry.registered_on else "",
            "updated_by": entry.updated_by,
            "updated_at": entry.updated_at or utcnow(),
        }
        async with self._write() as conn:
            await conn.execute(delete(reg).where(reg.c.group_id == entry.group_id))
            await conn.execute(insert(reg).values(values))

    async def get_registry(self, group_id: str) -> RegistryEntry | None:
        async with self._read() as conn:
            row = (await conn.execute(select(reg).where(reg.c.group_id == group_id))).first()
        return None if row is None else _entry(row)

    async def list_registry(self) -> list[RegistryEntry]:
        async with self._read() as conn:
            rows = (await conn.execute(select(reg).order_by(reg.c.group_id))).all()
        return [_entry(row) for row in rows]

    async def delete_registry(self, group_id: str) -> bool:
        async with self._write() as conn:
            result = await conn.execute(delete(reg).where(reg.c.group_id == group_id))
        return bool(result.rowcount)
