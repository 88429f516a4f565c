"""SqlStore: the Store port on SQLAlchemy 2 async (aiosqlite by default, asyncpg too).

``SqlStore.open(url)`` creates the engine, applies migrations and, for SQLite,
turns on WAL, foreign keys and a busy timeout. ``sqlite+aiosqlite://`` with no
path is a throw-away database in a temporary file, removed at close (used by
``scan`` without ``--db`` and by tests).

What every violation touches (claim, strike read, case, outcomes, officer
report and its delivery marks) and a member's first sight live in
:mod:`rules.storage.batched`: batched, and on SQLite files run as whole
transactions in a worker thread.
"""

from __future__ import annotations

import dataclasses
import shutil
import tempfile
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Self

from sqlalchemy import event, insert, select
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine

from rules.core.model import Strike
from rules.core.ports import AuditEntry, OutboxItem
from rules.storage import migrate
from rules.storage.batched import BatchedStoreMixin, sqlite_pragmas, strike_row
from rules.storage.cases import CasesStoreMixin
from rules.storage.compliance import ComplianceStoreMixin
from rules.storage.digest import DigestStoreMixin
from rules.storage.registry import RegistryStoreMixin
from rules.storage.tables import audit_log, outbox, strikes
from rules.storage.words import WordsStoreMixin


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


class SqlStore(
    BatchedStoreMixin,
    WordsStoreMixin,
    ComplianceStoreMixin,
    CasesStoreMixin,
    DigestStoreMixin,
    RegistryStoreMixin,
):
    """Durable state in a SQL database. Create with :meth:`open`."""

    _scratch: str | None = None  # folder of a throw-away database, removed at close

    @classmethod
    async def open(cls, url: str, answer_within: timedelta | None = None) -> Self:
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
            event.listen(engine.sync_engine, "connect", sqlite_pragmas)
        await migrate.upgrade(engine)
        store = cls(engine)
        store._scratch = scratch
        return store

    async def close(self) -> None:
        await self._close_batched()
        await self.engine.dispose()
        if self._scratch is not None:
            shutil.rmtree(self._scratch, ignore_errors=True)

    # -- strikes ------------------------------------------------------------

    async def add_strike(self, strike: Strike) -> None:
        async with self._write() as conn:
            await conn.execute(insert(strikes).values(strike_row(strike)))

    # -- officer outbox -----------------------------------------------------

    async def due_reports(self, now: datetime, limit: int = 50) -> list[OutboxItem]:
        query = (
            select(outbox.c.id, outbox.c.officer_id, outbox.c.text, outbox.c.attempts)
            .add_columns(outbox.c.case_id, outbox.c.kind, outbox.c.image)
            .where(outbox.c.sent_at.is_(None))
            .where(outbox.c.next_attempt_at <= now)
            .where(outbox.c.kind != "held")
            .order_by(outbox.c.id)
            .limit(limit)
        )
        async with self.engine.connect() as conn:
            rows = (await conn.execute(query)).all()
        return [
            OutboxItem(r.id, r.officer_id, r.text, r.attempts, r.case_id, r.kind, r.image)
            for r in rows
        ]

    # -- audit log ----------------------------------------------------------

    async def record_audit(self, entry: AuditEntry) -> None:
        async with self._write() as conn:
            await conn.execute(insert(audit_log).values(**dataclasses.asdict(entry)))
