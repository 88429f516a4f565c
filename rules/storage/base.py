"""What every part of the SQL store shares: the engine and the way to write.

SQLite allows one writer at a time; many concurrent write transactions from
one process only queue up on its file lock (``database is locked`` after the
busy timeout) and exhaust the connection pool. So on SQLite all writes from
this process go through one asyncio lock: they run one after another, never
contend, and readers (WAL) are not blocked. PostgreSQL needs no such lock.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Mapping
from typing import Any

from sqlalchemy import Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine
from sqlalchemy.sql.dml import Insert


class StoreBase:
    """Holds the engine; :meth:`_write` opens a write transaction."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self._write_lock: asyncio.Lock | None = (
            asyncio.Lock() if engine.dialect.name == "sqlite" else None
        )

    @contextlib.asynccontextmanager
    async def _write(self) -> AsyncIterator[AsyncConnection]:
        """A transaction that commits on success; serialised on SQLite."""
        if self._write_lock is None:
            async with self.engine.begin() as conn:
                yield conn
            return
        async with self._write_lock, self.engine.begin() as conn:
            yield conn

    def _upsert(self, table: Table, values: Mapping[str, Any], update: Mapping[str, Any]) -> Insert:
        """Insert a row, or update ``update`` in the row with the same primary key.

        One statement, so two processes writing the same row at once (both bots
        seeing the same new member) do not collide.
        """
        dialect = postgresql if self.engine.dialect.name == "postgresql" else sqlite
        keys = [column.name for column in table.primary_key.columns]
        return (
            dialect.insert(table)
            .values(**values)
            .on_conflict_do_update(index_elements=keys, set_=dict(update))
        )
