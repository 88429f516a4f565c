"""SqlStore: the Store port on SQLAlchemy 2 async (aiosqlite by default, asyncpg too).

``SqlStore.open(url)`` creates the engine, applies migrations and, for SQLite,
turns on WAL, foreign keys and a busy timeout. ``sqlite+aiosqlite://`` with no
path is a throw-away database in a temporary file, removed at close (used by
``scan`` without ``--db`` and by tests).
"""

from __future__ import annotations

import dataclasses
import shutil
import tempfile
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Self

from sqlalchemy import event, func, insert, select, update
from sqlalchemy.engine import make_url
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import create_async_engine

from rules.model import ChatEvent, Finding, Outcome, Strike, masked_text
from rules.normalize import fold
from rules.ports import AuditEntry, OutboxItem
from rules.storage import migrate
from rules.storage.cases import CasesStoreMixin
from rules.storage.compliance import ComplianceStoreMixin
from rules.storage.digest import DigestStoreMixin
from rules.storage.registry import RegistryStoreMixin
from rules.storage.tables import (
    actions,
    audit_log,
    cases,
    groups,
    handled_messages,
    members,
    outbox,
    strikes,
)
from rules.storage.words import WordsStoreMixin


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=5000")
    # WAL + NORMAL: commits skip the fsync (done at checkpoints); the database
    # cannot be corrupted, a power cut may lose only the last transactions.
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


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


def _strike_row(strike: Strike) -> dict[str, object]:
    return {**dataclasses.asdict(strike), "voided": False}


def _seconds(value: timedelta | None) -> int | None:
    return None if value is None else int(value.total_seconds())


class SqlStore(
    WordsStoreMixin, ComplianceStoreMixin, CasesStoreMixin, DigestStoreMixin, RegistryStoreMixin
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
            event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        await migrate.upgrade(engine)
        store = cls(engine)
        store._scratch = scratch
        return store

    async def close(self) -> None:
        await self.engine.dispose()
        if self._scratch is not None:
            shutil.rmtree(self._scratch, ignore_errors=True)

    # -- members and groups -------------------------------------------------

    async def claim_message(self, group_id: str, message_id: str, at: datetime) -> bool:
        try:
            async with self._write() as conn:
                await conn.execute(
                    insert(handled_messages).values(group_id=group_id, message_id=message_id, at=at)
                )
        except IntegrityError:
            return False
        return True

    async def note_member(self, event: ChatEvent) -> None:
        at = event.time
        group = {"id": event.group_id, "platform": event.platform.value, "name": ""}
        member = {
            "card": event.member.card,
            "nickname": event.member.nickname,
            "role": event.member.role.value,
            "last_seen": at,
        }
        key = {"group_id": event.group_id, "member_id": event.member.id}
        async with self._write() as conn:
            await conn.execute(
                self._upsert(
                    groups, {**group, "first_seen": at, "last_activity": at}, {"last_activity": at}
                )
            )
            await conn.execute(self._upsert(members, {**key, **member, "first_seen": at}, member))

    # -- strikes and cases --------------------------------------------------

    async def strike_weight(self, group_id: str, member_id: str, since: datetime) -> int:
        query = (
            select(func.coalesce(func.sum(strikes.c.weight), 0))
            .where(strikes.c.group_id == group_id)
            .where(strikes.c.member_id == member_id)
            .where(strikes.c.at >= since)
            .where(strikes.c.voided.is_(False))
        )
        async with self.engine.connect() as conn:
            return int((await conn.execute(query)).scalar_one())

    async def add_strike(self, strike: Strike) -> None:
        async with self._write() as conn:
            await conn.execute(insert(strikes).values(_strike_row(strike)))

    async def open_case(
        self,
        event: ChatEvent,
        findings: tuple[Finding, ...],
        step: int,
        at: datetime,
        strike_weight: int = 0,
    ) -> int:
        evidence = masked_text(event.text, findings)
        async with self._write() as conn:
            result = await conn.execute(
                insert(cases)
                .values(
                    group_id=event.group_id,
                    member_id=event.member.id,
                    member_card=event.member.card,
                    message_id=event.message_id,
                    evidence=evidence,
                    normalized=fold(evidence),
                    findings=[dataclasses.asdict(f) for f in findings],
                    step=step,
                    status="open",
                    created_at=at,
                )
                .returning(cases.c.id)
            )
            case_id = int(result.scalar_one())
            if strike_weight:
                strike = Strike(event.group_id, event.member.id, strike_weight, at, case_id)
                await conn.execute(
                    insert(strikes).values(**dataclasses.asdict(strike), voided=False)
                )
            return case_id

    async def record_outcomes(
        self, case_id: int, outcomes: tuple[Outcome, ...], at: datetime
    ) -> None:
        if not outcomes:
            return
        rows = [
            {
                "case_id": case_id,
                "kind": o.action.kind.value,
                "target_id": o.action.target_id,
                "status": o.status.value,
                "detail": o.detail,
                "duration_s": _seconds(o.action.duration),
                "at": at,
            }
            for o in outcomes
        ]
        async with self._write() as conn:
            await conn.execute(insert(actions), rows)

    # -- officer outbox -----------------------------------------------------

    async def enqueue_report(
        self,
        officer_id: str,
        text: str,
        case_id: int | None,
        at: datetime,
        due: datetime | None = None,
        held: bool = False,
    ) -> int:
        async with self._write() as conn:
            result = await conn.execute(
                insert(outbox)
                .values(
                    officer_id=officer_id,
                    text=text,
                    case_id=case_id,
                    created_at=at,
                    next_attempt_at=due or at,
                    attempts=0,
                    last_error="",
                    kind="held" if held else "report",
                )
                .returning(outbox.c.id)
            )
            return int(result.scalar_one())

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

    async def mark_report_sent(self, item_id: int, at: datetime) -> None:
        async with self._write() as conn:
            await conn.execute(
                update(outbox)
                .where(outbox.c.id == item_id)
                .values(sent_at=at, attempts=outbox.c.attempts + 1, image=None)
            )

    async def mark_report_failed(self, item_id: int, error: str, retry_at: datetime) -> None:
        async with self._write() as conn:
            await conn.execute(
                update(outbox)
                .where(outbox.c.id == item_id)
                .values(
                    attempts=outbox.c.attempts + 1,
                    last_error=error[:1000],
                    next_attempt_at=retry_at,
                )
            )

    # -- audit log ----------------------------------------------------------

    async def record_audit(self, entry: AuditEntry) -> None:
        async with self._write() as conn:
            await conn.execute(insert(audit_log).values(**dataclasses.asdict(entry)))
