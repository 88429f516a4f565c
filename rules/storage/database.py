"""The database every repository shares: the engine, its dialect and pragmas, the write lock,
the migrations, and the throw-away file behind ``sqlite+aiosqlite://``.

SQLite allows one writer at a time; many concurrent write transactions from
one process only queue up on its file lock (``database is locked`` after the
busy timeout) and exhaust the connection pool. So on SQLite every write from
this process, whichever repository makes it and whichever path it takes
(SQLAlchemy, or ``sqlite3`` itself for the journal), holds
:attr:`Database.write_lock`: writes run one after another, never contend, and
readers (WAL) are not blocked. PostgreSQL needs no such lock.

``Database.open(url)`` creates the engine, applies the migrations and, for
SQLite, turns on WAL, foreign keys and a busy timeout. ``sqlite+aiosqlite://``
with no path is a throw-away database in a temporary file, removed at close.
"""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import tempfile
from collections import deque
from collections.abc import AsyncIterator, Callable, Mapping
from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Table, event
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine
from sqlalchemy.sql.dml import Insert

from rules.storage.migrate import upgrade


def apply_pragmas(conn: Any) -> None:
    """WAL, foreign keys, a busy timeout and NORMAL sync on a new SQLite DB-API connection."""
    cursor = conn.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=5000")
    # WAL + NORMAL: commits skip the fsync (done at checkpoints); the database
    # cannot be corrupted, a power cut may lose only the last transactions.
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def _on_connect(dbapi_connection: Any, _record: Any) -> None:
    apply_pragmas(dbapi_connection)


def resolve_url(url: str, root: Path) -> str:
    """Make a relative SQLite path absolute under ``root`` and create its folder."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:"):
        path = Path(parsed.database)
        if not path.is_absolute():
            path = root / path
        path.parent.mkdir(parents=True, exist_ok=True)
        return parsed.set(database=str(path)).render_as_string(hide_password=False)
    return url


def safe_url(url: str) -> str:
    """The URL with any password hidden, for banners and logs."""
    return make_url(url).render_as_string(hide_password=True)


class WriteLock:
    """The SQLite write lock: an asyncio lock whose *urgent* waiters go first.

    The moderation journal's claims and decisions are urgent: a message's deletion
    waits for them (intent before effect). Everything else (outcomes, members,
    delivery marks, the other repositories) waits in arrival order behind them, so
    a decision never queues behind a batch of writes nobody is waiting for.
    """

    def __init__(self) -> None:
        self._held = False
        self._urgent: deque[asyncio.Future[None]] = deque()
        self._others: deque[asyncio.Future[None]] = deque()

    def locked(self) -> bool:
        return self._held

    async def acquire(self, urgent: bool = False) -> bool:
        if not self._held and not self._urgent and not self._others:
            self._held = True
            return True
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        queue = self._urgent if urgent else self._others
        queue.append(waiter)
        try:
            await waiter
        except BaseException:
            if waiter.done() and not waiter.cancelled():
                self.release()  # handed over just as the waiter gave up: pass it on
            else:
                queue.remove(waiter)
            raise
        return True

    def release(self) -> None:
        for queue in (self._urgent, self._others):
            while queue:
                waiter = queue.popleft()
                if not waiter.done():
                    waiter.set_result(None)  # handed over: still held
                    return
        self._held = False

    async def __aenter__(self) -> None:
        await self.acquire()

    async def __aexit__(self, *exc: object) -> None:
        self.release()


class Database:
    """One database: its engine, the write lock, and how to read and write. See module doc."""

    def __init__(self, engine: AsyncEngine, scratch: str | None = None) -> None:
        self.engine = engine
        self.dialect: str = engine.dialect.name
        self.write_lock: WriteLock | None = WriteLock() if self.dialect == "sqlite" else None
        self._scratch = scratch  # folder of a throw-away database, removed at close
        # An offline batch (rules.storage.raw_sqlite.SqliteBatch) keeps its write
        # transaction open between calls; it is committed before any other access.
        self.settle: Callable[[], None] | None = None

    @classmethod
    async def open(cls, url: str, answer_within: timedelta | None = None) -> Database:
        """Connect and migrate; on PostgreSQL a call unanswered after ``answer_within`` fails."""
        parsed = make_url(url)
        scratch = None
        kwargs: dict[str, Any] = {}
        if parsed.get_backend_name() == "sqlite" and parsed.database in (None, "", ":memory:"):
            # A throw-away database in a temporary file, not SQLite's :memory: on one
            # shared connection: there, a reader closing its connection rolls back a
            # writer's open transaction. A file gives every connection its own.
            scratch = tempfile.mkdtemp(prefix="groupguard-db-")
            parsed = parsed.set(database=str(Path(scratch) / "scratch.db"))
        if parsed.get_backend_name() == "postgresql" and answer_within is not None:
            seconds = answer_within.total_seconds()
            kwargs = {"connect_args": {"timeout": seconds, "command_timeout": seconds}}
        engine = create_async_engine(parsed, **kwargs)
        if parsed.get_backend_name() == "sqlite":
            event.listen(engine.sync_engine, "connect", _on_connect)
        try:
            await upgrade(engine)
        except BaseException:
            await engine.dispose()
            if scratch is not None:
                shutil.rmtree(scratch, ignore_errors=True)
            raise
        return cls(engine, scratch)

    @property
    def sqlite_file(self) -> str | None:
        """The path of a SQLite database file; None on PostgreSQL or SQLite in memory."""
        url = self.engine.url
        if self.dialect != "sqlite" or url.database in (None, "", ":memory:"):
            return None
        return url.database

    @property
    def url(self) -> str:
        """The URL, password hidden."""
        return safe_url(self.engine.url.render_as_string(hide_password=False))

    @contextlib.asynccontextmanager
    async def write(self) -> AsyncIterator[AsyncConnection]:
        """A transaction that commits on success; serialised on SQLite."""
        if self.settle is not None:
            self.settle()
        if self.write_lock is None:
            async with self.engine.begin() as conn:
                yield conn
            return
        async with self.write_lock, self.engine.begin() as conn:
            yield conn

    @contextlib.asynccontextmanager
    async def read(self) -> AsyncIterator[AsyncConnection]:
        """A connection for reads (WAL: never waits for a writer on SQLite)."""
        if self.settle is not None:
            self.settle()
        async with self.engine.connect() as conn:
            yield conn

    def upsert(self, table: Table, values: Mapping[str, Any], update: Mapping[str, Any]) -> Insert:
        """Insert a row, or update ``update`` in the row with the same primary key.

        One statement, so two processes writing the same row at once (both bots
        seeing the same new member) do not collide.
        """
        dialect = postgresql if self.dialect == "postgresql" else sqlite
        keys = [column.name for column in table.primary_key.columns]
        return (
            dialect.insert(table)
            .values(**values)
            .on_conflict_do_update(index_elements=keys, set_=dict(update))
        )

    async def ping(self) -> None:
        """One round trip; raises when the database cannot be reached."""
        async with self.engine.connect() as conn:
            await conn.exec_driver_sql("SELECT 1")

    async def close(self) -> None:
        await self.engine.dispose()
        if self._scratch is not None:
            shutil.rmtree(self._scratch, ignore_errors=True)
