"""The hot path's statements on a SQLite file, through the ``sqlite3`` module itself.

Measured (``make bench-qq``, every message a violation): the store's worker
threads spent about 1.5 ms of CPU per violation in SQLAlchemy's per-statement
machinery (compiling cache keys, bind and result processors, cursor wrapping)
around work that takes SQLite itself a few tens of microseconds, all of it
holding the GIL the event loop needs. Through ``sqlite3`` the same statements
cost a fraction of that, and a row at a time is cheap enough that the batch
logic here stays simple (one statement per row where a result per row is
needed: a claim's win, a new row's id).

Values are stored exactly as SQLAlchemy stores them, so each side reads what the
other wrote (see :func:`db_value`): aware datetimes as naive UTC text
``YYYY-MM-DD HH:MM:SS.ffffff`` (timestamps compare as text), booleans as 0/1,
JSON through ``json.dumps``.

:class:`SqliteFile` runs work in one writer thread and one reader thread (WAL:
reads never wait for the writer), each with its own connection.
:class:`RawOps` is the hot path's statements for one connection; its SQLAlchemy
twin is ``rules.storage.batched.AlchemyOps`` (PostgreSQL, and SQLite in memory).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import sqlite3
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any, TypeVar

from sqlalchemy.exc import DBAPIError

from rules.storage.tables import metadata

R = TypeVar("R")

# Columns a conflicting insert refreshes (another process, or an earlier event, added
# the row first); none: the row is skipped. Shared with the SQLAlchemy statements.
REFRESH: dict[str, tuple[str, ...]] = {
    "handled_messages": (),
    "groups": ("last_activity",),
    "members": ("card", "nickname", "role", "last_seen"),
}
# Their conflict keys: the primary keys in the schema.
KEYS: dict[str, tuple[str, ...]] = {
    name: tuple(column.name for column in metadata.tables[name].primary_key.columns)
    for name in REFRESH
}


def apply_pragmas(conn: Any) -> None:
    """WAL, foreign keys, a busy timeout and NORMAL sync on a new DB-API connection."""
    cursor = conn.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=5000")
    # WAL + NORMAL: commits skip the fsync (done at checkpoints); the database
    # cannot be corrupted, a power cut may lose only the last transactions.
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def db_value(value: Any) -> Any:
    """A Python value as SQLAlchemy's SQLite dialect stores it in our tables."""
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the store; use aware datetimes")
        return value.astimezone(UTC).replace(tzinfo=None).isoformat(" ", "microseconds")
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, list | dict):
        return json.dumps(value)
    return value


@functools.cache
def insert_sql(table: str, columns: tuple[str, ...]) -> str:
    """``INSERT`` of ``columns``; for tables in :data:`REFRESH`, conflict-safe."""
    sql = f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})"
    if table not in REFRESH:
        return sql
    refresh = REFRESH[table]
    on = f" ON CONFLICT ({', '.join(KEYS[table])}) DO "
    if not refresh:
        return sql + on + "NOTHING"
    return sql + on + "UPDATE SET " + ", ".join(f"{c} = excluded.{c}" for c in refresh)


def _params(rows: Iterable[Mapping[str, Any]]) -> Iterable[tuple[Any, ...]]:
    return (tuple(db_value(v) for v in row.values()) for row in rows)


_STRIKE_SUM = (
    "SELECT coalesce(sum(weight), 0) FROM strikes"
    " WHERE group_id = ? AND member_id = ? AND voided = 0 AND at >= ?"
)
_REPORT_SENT = "UPDATE outbox SET sent_at = ?, attempts = attempts + 1, image = NULL WHERE id = ?"
_REPORT_FAILED = (
    "UPDATE outbox SET attempts = attempts + 1, last_error = ?, next_attempt_at = ? WHERE id = ?"
)


class RawOps:
    """The hot path's statements on one ``sqlite3`` connection (rows are dicts, in
    column order; every row of a call has the same columns)."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn

    def claim(self, rows: Sequence[Mapping[str, Any]]) -> set[tuple[str, str]]:
        """Insert new handled messages; the (group, message) keys that went in."""
        won = set()
        for row in rows:
            cursor = self.conn.execute(insert_sql("handled_messages", tuple(row)), *_params([row]))
            if cursor.rowcount == 1:
                won.add((row["group_id"], row["message_id"]))
        return won

    def strike_weights(self, queries: Sequence[tuple[str, str, datetime]]) -> list[int]:
        """Each (group, member, since)'s sum of unvoided strike weights since then."""
        run = self.conn.execute
        return [
            int(run(_STRIKE_SUM, (group, member, db_value(since))).fetchone()[0])
            for group, member, since in queries
        ]

    def insert(self, table: str, rows: Sequence[Mapping[str, Any]]) -> None:
        """Insert ``rows`` (conflict-safe for the tables in :data:`REFRESH`)."""
        if rows:
            self.conn.executemany(insert_sql(table, tuple(rows[0])), _params(rows))

    def insert_ids(self, table: str, rows: Sequence[Mapping[str, Any]]) -> list[int]:
        """Insert ``rows``; their new ids, in order."""
        ids = []
        for row in rows:
            cursor = self.conn.execute(insert_sql(table, tuple(row)), *_params([row]))
            assert cursor.lastrowid is not None
            ids.append(cursor.lastrowid)
        return ids

    def mark_reports(
        self, sent: Sequence[tuple[int, datetime]], failed: Sequence[tuple[int, datetime, str]]
    ) -> None:
        """Outbox items sent (id, at), or failed (id, retry at, error)."""
        if sent:
            self.conn.executemany(_REPORT_SENT, ((db_value(at), i) for i, at in sent))
        if failed:
            self.conn.executemany(
                _REPORT_FAILED, ((error, db_value(at), i) for i, at, error in failed)
            )


@contextlib.contextmanager
def _as_sqlalchemy_errors() -> Iterator[None]:
    """Raise ``sqlite3`` errors as SQLAlchemy's (``IntegrityError``, ``OperationalError``...),
    as the rest of the store does: callers tell a bad statement from an outage by them."""
    try:
        yield
    except sqlite3.Error as exc:
        raise DBAPIError.instance(None, None, exc, sqlite3.Error) from exc


class SqliteFile:
    """A SQLite file worked on from two threads: one writes, one reads.

    Each thread keeps its own connection (in autocommit mode: :meth:`write` opens
    and ends its transaction itself).
    """

    def __init__(self, path: str) -> None:
        self.path = path
        self._local = threading.local()
        self._writer = ThreadPoolExecutor(1, thread_name_prefix="groupguard-sqlite-write")
        self._reader = ThreadPoolExecutor(1, thread_name_prefix="groupguard-sqlite-read")

    def _connection(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(self.path, isolation_level=None)
            apply_pragmas(conn)
            self._local.conn = conn
        return conn

    def _in_transaction(self, work: Callable[[RawOps], R]) -> R:
        with _as_sqlalchemy_errors():
            conn = self._connection()
            conn.execute("BEGIN IMMEDIATE")
            try:
                result = work(RawOps(conn))
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")
            return result

    def _reading(self, work: Callable[[RawOps], R]) -> R:
        with _as_sqlalchemy_errors():
            return work(RawOps(self._connection()))

    async def write(self, work: Callable[[RawOps], R]) -> R:
        """Run ``work`` in one write transaction in the writer thread."""
        return await asyncio.get_running_loop().run_in_executor(
            self._writer, self._in_transaction, work
        )

    async def read(self, work: Callable[[RawOps], R]) -> R:
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
