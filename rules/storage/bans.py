"""The organisation's ban list (tables ``bans`` and ``ban_accounts``).

The :class:`rules.protection.bans.BanStore` of the protection across groups. A
ban covers several accounts (the banned one, position 0, and the roster's other
accounts of the person), looked up by account through ``ix_ban_accounts_account``.
A lifted ban keeps its rows, with who lifted it and when.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from rules.core.protection_records import Ban
from rules.storage.base import Repository
from rules.storage.tables import ban_accounts, bans


def _ban(row: Any, accounts: Sequence[str]) -> Ban:
    return Ban(
        member_id=row.member_id,
        accounts=tuple(accounts),
        reason=row.reason,
        banned_by=row.banned_by,
        banned_at=row.banned_at,
        name=row.name,
        origin_group=row.origin_group,
        case_id=row.case_id,
        id=int(row.id),
        lifted_by=row.lifted_by,
        lifted_at=row.lifted_at,
    )


class BanRepository(Repository):
    async def add_ban(self, ban: Ban) -> Ban:
        async with self._write() as conn:
            result = await conn.execute(
                insert(bans)
                .values(
                    member_id=ban.member_id,
                    name=ban.name,
                    reason=ban.reason,
                    origin_group=ban.origin_group,
                    case_id=ban.case_id,
                    banned_by=ban.banned_by,
                    banned_at=ban.banned_at,
                )
                .returning(bans.c.id)
            )
            ban_id = int(result.scalar_one())
            accounts = list(dict.fromkeys(ban.accounts))
            await conn.execute(
                insert(ban_accounts),
                [{"ban_id": ban_id, "account": a, "position": i} for i, a in enumerate(accounts)],
            )
        return Ban(**{**_fields(ban), "id": ban_id, "accounts": tuple(accounts)})

    async def active_ban_for(self, accounts: Collection[str]) -> Ban | None:
        if not accounts:
            return None
        query = (
            select(bans)
            .join(ban_accounts, ban_accounts.c.ban_id == bans.c.id)
            .where(ban_accounts.c.account.in_(list(accounts)), bans.c.lifted_at.is_(None))
            .order_by(bans.c.id)
            .limit(1)
        )
        async with self._read() as conn:
            row = (await conn.execute(query)).first()
            if row is None:
                return None
            ban_id = int(row.id)
            return _ban(row, (await self._accounts(conn, [ban_id]))[ban_id])

    async def get_ban(self, ban_id: int) -> Ban | None:
        async with self._read() as conn:
            row = (await conn.execute(select(bans).where(bans.c.id == ban_id))).first()
            if row is None:
                return None
            return _ban(row, (await self._accounts(conn, [ban_id]))[ban_id])

    async def list_bans(self, active_only: bool = True, limit: int = 50) -> list[Ban]:
        query = select(bans).order_by(bans.c.id.desc()).limit(limit)
        if active_only:
            query = query.where(bans.c.lifted_at.is_(None))
        async with self._read() as conn:
            rows = (await conn.execute(query)).all()
            accounts = await self._accounts(conn, [int(r.id) for r in rows])
        return [_ban(r, accounts[int(r.id)]) for r in rows]

    async def lift_ban(self, ban_id: int, by: str, at: datetime) -> Ban | None:
        async with self._write() as conn:
            result = await conn.execute(
                update(bans)
                .where(bans.c.id == ban_id, bans.c.lifted_at.is_(None))
                .values(lifted_by=by, lifted_at=at)
            )
        if not result.rowcount:
            return None
        return await self.get_ban(ban_id)

    @staticmethod
    async def _accounts(conn: AsyncConnection, ban_ids: list[int]) -> dict[int, list[str]]:
        found: dict[int, list[str]] = {i: [] for i in ban_ids}
        if not ban_ids:
            return found
        query = (
            select(ban_accounts.c.ban_id, ban_accounts.c.account)
            .where(ban_accounts.c.ban_id.in_(ban_ids))
            .order_by(ban_accounts.c.ban_id, ban_accounts.c.position)
        )
        for row in (await conn.execute(query)).all():
            found[int(row.ban_id)].append(row.account)
        return found


def _fields(ban: Ban) -> dict[str, Any]:
    return {name: getattr(ban, name) for name in Ban.__dataclass_fields__}
