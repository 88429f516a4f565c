"""Per-group settings changed by command (``/config set``, ``/dryrun``), table ``group_settings``.

Each group's overrides are the nested mapping a ``[groups."<id>"]`` config
table would hold; the commands apply them at start over the config file.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import insert, select, update

from rules.storage.base import Repository
from rules.storage.tables import group_settings


class GroupSettingsRepository(Repository):
    """Every group's command-set overrides."""

    async def group_overrides(self) -> dict[str, dict[str, Any]]:
        """Every group's command-set overrides."""
        async with self._read() as conn:
            rows = (await conn.execute(select(group_settings))).mappings().all()
        return {r["group_id"]: dict(r["overrides"]) for r in rows}

    async def save_group_overrides(
        self, group_id: str, overrides: Mapping[str, Any], by: str, at: datetime
    ) -> None:
        values = {"overrides": dict(overrides), "updated_by": by, "updated_at": at}
        async with self._write() as conn:
            result = await conn.execute(
                update(group_settings).where(group_settings.c.group_id == group_id).values(values)
            )
            if not result.rowcount:
                await conn.execute(insert(group_settings).values(group_id=group_id, **values))
