"""Members' group-card changes (table ``card_changes``).

The :class:`rules.protection.cards.CardHistoryStore`: every change seen (from a
notice, a message, a join or the audit), read back per member newest first
(``/名片记录``), and the newest card of each member of a group (to compare a new
card with after a restart).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, cast

from sqlalchemy import func, insert, select

from rules.core.protection_records import CardChange, CardSource
from rules.storage.base import Repository
from rules.storage.tables import card_changes as cc


def _change(row: Any) -> CardChange:
    return CardChange(
        group_id=row.group_id,
        member_id=row.member_id,
        old=row.old_card,
        new=row.new_card,
        at=row.at,
        source=cast(CardSource, row.source),
    )


class CardHistoryRepository(Repository):
    async def add_card_changes(self, changes: Sequence[CardChange]) -> None:
        if not changes:
            return
        rows = [
            {
                "group_id": c.group_id,
                "member_id": c.member_id,
                "old_card": c.old,
                "new_card": c.new,
                "source": c.source,
                "at": c.at,
            }
            for c in changes
        ]
        async with self._write() as conn:
            await conn.execute(insert(cc), rows)

    async def card_history(
        self, group_id: str, member_id: str, limit: int = 20
    ) -> list[CardChange]:
        query = (
            select(cc)
            .where(cc.c.group_id == group_id, cc.c.member_id == member_id)
            .order_by(cc.c.id.desc())
            .limit(limit)
        )
        async with self._read() as conn:
            rows = (await conn.execute(query)).all()
        return [_change(r) for r in rows]

    async def last_cards(self, group_id: str) -> dict[str, str]:
        newest = (
            select(func.max(cc.c.id))
            .where(cc.c.group_id == group_id)
            .group_by(cc.c.member_id)
            .scalar_subquery()
        )
        query = select(cc.c.member_id, cc.c.new_card).where(cc.c.id.in_(newest))
        async with self._read() as conn:
            rows = (await conn.execute(query)).all()
        return {r.member_id: r.new_card for r in rows}
