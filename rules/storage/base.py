"""What a repository built on SQLAlchemy Core shares: the database, a read, a write.

Every repository takes the one :class:`~rules.storage.database.Database`, so all
of them write through its write lock (SQLite) and read on its engine.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from typing import Any

from sqlalchemy import Table
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine
from sqlalchemy.sql.dml import Insert

from rules.storage.database import Database


class Repository:
    """Base of the repositories: :meth:`_read` and :meth:`_write` on the shared database."""

    def __init__(self, database: Database) -> None:
        self.database = database

    @property
    def engine(self) -> AsyncEngine:
        return self.database.engine

    def _read(self) -> contextlib.AbstractAsyncContextManager[AsyncConnection]:
        return self.database.read()

    def _write(self) -> contextlib.AbstractAsyncContextManager[AsyncConnection]:
        return self.database.write()

    def _upsert(self, table: Table, values: Mapping[str, Any], update: Mapping[str, Any]) -> Insert:
        return self.database.upsert(table, values, update)
