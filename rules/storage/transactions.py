"""How the journal's work reaches the database: one of three ways, chosen once per database.

Work is a function of :class:`~rules.storage.journal_sql.JournalOps`, run in one
write transaction (:meth:`Transactions.write`) or as a read. Which way runs it:

- a SQLite file, live: :class:`~rules.storage.raw_sqlite.SqliteFile` (``sqlite3`` in a
  writer and a reader thread; SQLAlchemy's execution cost more than SQLite's work);
- a SQLite file, offline (``scan``): :class:`~rules.storage.raw_sqlite.SqliteBatch`
  (``sqlite3`` in the caller's thread, many calls per transaction);
- otherwise (PostgreSQL): :class:`AlchemyTransactions`, SQLAlchemy on the async engine.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol, TypeVar

from rules.storage.database import Database
from rules.storage.journal_sql import AlchemyExecutor, JournalOps
from rules.storage.raw_sqlite import SqliteBatch, SqliteFile

R = TypeVar("R")


class Transactions(Protocol):
    async def write(self, work: Callable[[JournalOps], R], urgent: bool = False) -> R:
        """Run ``work`` in one write transaction (serialised with every other write;
        ``urgent`` ones first where writes queue: the engine's claims and decisions)."""
        ...

    async def read(self, work: Callable[[JournalOps], R]) -> R:
        """Run ``work`` (reads only)."""
        ...

    async def close(self) -> None: ...


class AlchemyTransactions:
    """:class:`Transactions` through SQLAlchemy's async engine (``run_sync`` per transaction)."""

    def __init__(self, database: Database) -> None:
        self.database = database

    async def write(self, work: Callable[[JournalOps], R], urgent: bool = False) -> R:
        async with self.database.write() as conn:
            return await conn.run_sync(lambda sync: work(JournalOps(AlchemyExecutor(sync))))

    async def read(self, work: Callable[[JournalOps], R]) -> R:
        async with self.database.read() as conn:
            return await conn.run_sync(lambda sync: work(JournalOps(AlchemyExecutor(sync))))

    async def close(self) -> None:
        return None


def transactions_for(database: Database, offline: bool = False) -> Transactions:
    """The way to run journal work on ``database`` (see module doc)."""
    path = database.sqlite_file
    if path is None:
        return AlchemyTransactions(database)
    return SqliteBatch(database, path) if offline else SqliteFile(database, path)
