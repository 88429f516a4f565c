"""The journal on a SQLite file through the ``sqlite3`` module itself.

Measured (``make bench-qq``, every message a violation): the store's worker
threads spent about 1.5 ms of CPU per violation in SQLAlchemy's per-statement
execution machinery (cache keys, bind and result processing, cursor wrapping)
around work that takes SQLite itself a few tens of microseconds, all of it
holding the GIL the event loop needs. So on a SQLite file the journal's
statements (:mod:`rules.storage.journal_sql`, SQLAlchemy Core) are compiled
once each for ``sqlite3`` (:class:`SqliteExecutor`) and run there: the same
SQL, with SQLAlchemy's own bind processors, so both paths store values the
same way (aware datetimes as naive UTC text, booleans as 0/1, JSON as text)
and each reads what the other wrote. ``sqlite3`` errors are raised as
SQLAlchemy's, as the rest of the store raises them.

Two ways to run work on the file:

- :class:`SqliteFile` (the bot): one writer thread and one reader thread, each
  with its own connection (WAL: reads never wait for the writer); every
  :meth:`~SqliteFile.write` is one transaction.
- :class:`SqliteBatch` (offline ``scan``): work runs in the caller's thread on
  one connection whose write transaction stays open over many calls and is
  committed every :data:`BATCH_WRITES` writes, at close, and before any other
  connection reads or writes (:attr:`rules.storage.database.Database.settle`).
  Nobody waits for a platform offline, so nothing is gained by committing each
  line; reads on that connection see its own uncommitted writes.
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
import threading
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar, cast

from sqlalchemy.dialects import sqlite
from sqlalchemy.exc import DBAPIError
from sqlalchemy.sql import ClauseElement, Executable
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.dml import Insert

from rules.storage.database import Database, apply_pragmas
from rules.storage.journal_sql import JournalOps, Row

R = TypeVar("R")

BATCH_WRITES = 2000  # an offline batch commits after this many writes
_DIALECT = sqlite.dialect()


class _Recent:
    """Conversions of datetimes bound lately, by identity.

    One event's time is bound many times per decision (claim, case, strike,
    outcome, member, group), and SQLAlchemy's conversion to text costs a few
    microseconds each time. Datetimes are immutable, so a value seen again
    converts to the same text; the cache is dropped whole when it fills.
    """

    def __init__(self, process: Callable[[Any], Any], size: int = 512) -> None:
        self.process = process
        self.size = size
        self._seen: dict[int, tuple[datetime, Any]] = {}

    def __call__(self, value: Any) -> Any:
        if type(value) is not datetime:
            return self.process(value)
        seen = self._seen.get(id(value))
        if seen is not None and seen[0] is value:
            return seen[1]
        result = self.process(value)
        if len(self._seen) >= self.size:
            self._seen = {}
        self._seen[id(value)] = (value, result)
        return result


@dataclass(frozen=True, slots=True)
class _Compiled:
    """A statement as ``sqlite3`` runs it: the SQL, and how to build its parameters."""

    statement: Executable  # held, so its id (the cache key) is never reused
    sql: str
    template: tuple[Any, ...]  # literal values bound in the statement; row values go between
    taken: tuple[tuple[int, str], ...]  # (position, row key)
    processed: tuple[tuple[int, Callable[[Any], Any]], ...]  # (position, bind processor)

    def params(self, row: Row) -> tuple[Any, ...] | list[Any]:
        values = list(self.template)
        for at, key in self.taken:
            values[at] = row[key]
        for at, process in self.processed:
            values[at] = process(values[at])
        return values


_COMPILED: dict[tuple[int, tuple[str, ...]], _Compiled] = {}
_TYPE_PROCESSORS: dict[str, Callable[[Any], Any] | None] = {}


def _processor(bind_type: Any) -> Callable[[Any], Any] | None:
    """SQLAlchemy's bind processor for a column type on SQLite (one per distinct type)."""
    kind = repr(bind_type)  # the type with its arguments: String(length=128), UtcDateTime()
    if kind not in _TYPE_PROCESSORS:
        process = bind_type.dialect_impl(_DIALECT).bind_processor(_DIALECT)
        _TYPE_PROCESSORS[kind] = None if process is None else _Recent(process)
    return _TYPE_PROCESSORS[kind]


def compiled(statement: Executable, keys: tuple[str, ...]) -> _Compiled:
    """``statement`` compiled for ``sqlite3`` with parameters ``keys`` (cached)."""
    found = _COMPILED.get((id(statement), keys))
    if found is not None:
        return found
    clause = cast(ClauseElement, statement)
    column_keys = list(keys) if isinstance(statement, Insert) else None
    form = cast(SQLCompiler, clause.compile(dialect=_DIALECT, column_keys=column_keys))
    template: list[Any] = []
    taken, processed = [], []
    for at, name in enumerate(form.positiontup or ()):
        bind = form.binds[name]
        if name in keys:
            template.append(None)
            taken.append((at, name))
        elif isinstance(statement, Insert):
            # SQLAlchemy would fill in the column's default; this path does not
            raise ValueError(f"no value for column {name!r}: give every column a value")
        else:
            template.append(bind.value)  # a literal written in the statement
        process = _processor(bind.type)
        if process is not None:
            processed.append((at, process))
    found = _Compiled(statement, form.string, tuple(template), tuple(taken), tuple(processed))
    _COMPILED[(id(statement), keys)] = found
    return found


class SqliteExecutor:
    """:class:`rules.storage.journal_sql.Executor` on one ``sqlite3`` connection."""

    dialect = "sqlite"
    many_returning = False

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn

    def rows(self, statement: Executable, params: Row) -> Sequence[Sequence[Any]]:
        form = compiled(statement, tuple(params))
        return self.conn.execute(form.sql, form.params(params)).fetchall()

    def run_many(self, statement: Executable, rows: Sequence[Row]) -> None:
        form = compiled(statement, tuple(rows[0]))
        self.conn.executemany(form.sql, [form.params(row) for row in rows])

    def rows_many(self, statement: Executable, rows: Sequence[Row]) -> Sequence[Sequence[Any]]:
        raise NotImplementedError("sqlite3 runs a returning statement one row at a time")


@contextlib.contextmanager
def _as_sqlalchemy_errors() -> Iterator[None]:
    """Raise ``sqlite3`` errors as SQLAlchemy's (``IntegrityError``, ``OperationalError``...):
    callers tell a bad statement from an outage by them."""
    try:
        yield
    except sqlite3.Error as exc:
        raise DBAPIError.instance(None, None, exc, sqlite3.Error) from exc


def _connect(path: str) -> sqlite3.Connection:
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    apply_pragmas(conn)
    return conn


class SqliteFile:
    """A SQLite file worked on from two threads: one writes, one reads.

    Each thread keeps its own connection (in autocommit mode: :meth:`write` opens
    and ends its transaction itself). Writes hold the database's write lock.
    """

    def __init__(self, database: Database, path: str) -> None:
        assert database.write_lock is not None  # SQLite always has one
        self.path = path
        self._lock = database.write_lock
        self._local = threading.local()
        self._writer = ThreadPoolExecutor(1, thread_name_prefix="groupguard-sqlite-write")
        self._reader = ThreadPoolExecutor(1, thread_name_prefix="groupguard-sqlite-read")

    def _connection(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._local.conn = _connect(self.path)
        return conn

    def _in_transaction(self, work: Callable[[JournalOps], R]) -> R:
        with _as_sqlalchemy_errors():
            conn = self._connection()
            conn.execute("BEGIN IMMEDIATE")
            try:
                result = work(JournalOps(SqliteExecutor(conn)))
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")
            return result

    def _reading(self, work: Callable[[JournalOps], R]) -> R:
        with _as_sqlalchemy_errors():
            return work(JournalOps(SqliteExecutor(self._connection())))

    async def write(self, work: Callable[[JournalOps], R], urgent: bool = False) -> R:
        """Run ``work`` in one write transaction in the writer thread (``urgent``: before
        the writes waiting that are not, see :class:`rules.storage.database.WriteLock`)."""
        await self._lock.acquire(urgent)
        try:
            return await asyncio.get_running_loop().run_in_executor(
                self._writer, self._in_transaction, work
            )
        finally:
            self._lock.release()

    async def read(self, work: Callable[[JournalOps], R]) -> R:
        """Run ``work`` (reads only) in the reader thread."""
        return await asyncio.get_running_loop().run_in_executor(self._reader, self._reading, work)

    async def close(self) -> None:
        """Close each thread's connection (in its thread), then the threads."""

        def close_own() -> None:
            conn = getattr(self._local, "conn", None)
            if conn is not None:
                conn.close()
                self._local.conn = None

        for pool in (self._writer, self._reader):
            await asyncio.get_running_loop().run_in_executor(pool, close_own)
            await asyncio.to_thread(pool.shutdown)


class SqliteBatch:
    """A SQLite file written in large transactions from the caller's thread (see module doc)."""

    def __init__(self, database: Database, path: str, batch_writes: int = BATCH_WRITES) -> None:
        assert database.write_lock is not None
        self.batch_writes = batch_writes
        self._database = database
        self._lock = database.write_lock
        self._conn = _connect(path)
        self._ops = JournalOps(SqliteExecutor(self._conn))
        self._writes = 0  # in the open transaction; 0: none open
        database.settle = self.commit

    async def write(self, work: Callable[[JournalOps], R], urgent: bool = False) -> R:
        """Run ``work`` in the open write transaction (begun, holding the lock, if none is)."""
        if not self._writes:
            await self._lock.acquire()
            try:
                with _as_sqlalchemy_errors():
                    self._conn.execute("BEGIN IMMEDIATE")
            except BaseException:
                self._lock.release()
                raise
        self._writes += 1
        try:
            with _as_sqlalchemy_errors():
                self._conn.execute("SAVEPOINT work")
                try:
                    result = work(self._ops)
                except BaseException:
                    self._conn.execute("ROLLBACK TO work")  # this work only: the batch stays
                    raise
                finally:
                    self._conn.execute("RELEASE work")
        finally:
            if self._writes >= self.batch_writes:
                self.commit()
        return result

    async def read(self, work: Callable[[JournalOps], R]) -> R:
        """Run ``work`` on the batch's connection: it sees the batch's own writes."""
        with _as_sqlalchemy_errors():
            return work(self._ops)

    def commit(self) -> None:
        """Commit the open transaction, if any, and let other writers in."""
        if not self._writes:
            return
        self._writes = 0
        try:
            with _as_sqlalchemy_errors():
                self._conn.execute("COMMIT")
        finally:
            self._lock.release()

    async def close(self) -> None:
        self.commit()
        if self._database.settle == self.commit:
            self._database.settle = None
        self._conn.close()
