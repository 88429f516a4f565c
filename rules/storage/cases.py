"""Store methods for cases read back, pardons, officer tasks and command-set group settings.

Mixed into :class:`rules.storage.sql_store.SqlStore`; used by the commands
(``rules.commands``): ``/strikes`` reads cases, ``/pardon`` voids strikes and
cases, ``/appeal`` and ``/report`` create officer tasks, ``/config set``
persists a group's overrides (table ``group_settings``).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import RowMapping, func, insert, select, update

from rules.core.model import CaseRecord, OfficerTask, TaskKind, TaskStatus
from rules.officers.digest import finding_categories
from rules.storage.base import StoreBase
from rules.storage.tables import cases, group_settings, strikes, tasks


def _case(row: RowMapping) -> CaseRecord:
    categories = finding_categories(row["findings"])
    return CaseRecord(
        id=int(row["id"]),
        group_id=row["group_id"],
        member_id=row["member_id"],
        member_card=row["member_card"],
        evidence=row["evidence"],
        categories=categories,
        status=row["status"],
        created_at=row["created_at"],
        step=int(row["step"]),
    )


def _task(row: RowMapping) -> OfficerTask:
    return OfficerTask(
        kind=TaskKind(row["kind"]),
        group_id=row["group_id"],
        requester_id=row["requester_id"],
        created_at=row["created_at"],
        subject_id=row["subject_id"],
        case_id=row["case_id"],
        text=row["text"],
        evidence=row["evidence"],
        status=TaskStatus(row["status"]),
        id=int(row["id"]),
        decided_by=row["decided_by"],
    )


class CasesStoreMixin(StoreBase):
    # ------------------------------------------------------------ cases and strikes

    async def get_case(self, case_id: int) -> CaseRecord | None:
        async with self.engine.connect() as conn:
            row = (
                (await conn.execute(select(cases).where(cases.c.id == case_id))).mappings().first()
            )
        return _case(row) if row else None

    async def member_cases(self, group_id: str, member_id: str, limit: int = 5) -> list[CaseRecord]:
        """The member's most recent cases in the group, newest first."""
        query = (
            select(cases)
            .where(cases.c.group_id == group_id, cases.c.member_id == member_id)
            .order_by(cases.c.created_at.desc(), cases.c.id.desc())
            .limit(limit)
        )
        async with self.engine.connect() as conn:
            rows = (await conn.execute(query)).mappings().all()
        return [_case(r) for r in rows]

    async def set_case_status(self, case_id: int, status: str) -> None:
        """Record an officer's decision; a pardon also voids the case's strikes."""
        async with self._write() as conn:
            await conn.execute(update(cases).where(cases.c.id == case_id).values(status=status))
            if status == TaskStatus.PARDONED:
                await conn.execute(
                    update(strikes).where(strikes.c.case_id == case_id).values(voided=True)
                )

    async def void_strikes(self, group_id: str, member_id: str) -> int:
        """Void every strike of a member in a group; return the weight cleared."""
        active = (
            strikes.c.group_id == group_id,
            strikes.c.member_id == member_id,
            strikes.c.voided.is_(False),
        )
        async with self._write() as conn:
            weight = (
                await conn.execute(
                    select(func.coalesce(func.sum(strikes.c.weight), 0)).where(*active)
                )
            ).scalar_one()
            await conn.execute(update(strikes).where(*active).values(voided=True))
        return int(weight)

    # ------------------------------------------------------------ officer tasks

    async def add_task(self, task: OfficerTask) -> int:
        async with self._write() as conn:
            result = await conn.execute(
                insert(tasks)
                .values(
                    kind=task.kind.value,
                    group_id=task.group_id,
                    case_id=task.case_id,
                    requester_id=task.requester_id,
                    subject_id=task.subject_id,
                    text=task.text,
                    evidence=task.evidence,
                    status=task.status.value,
                    created_at=task.created_at,
                )
                .returning(tasks.c.id)
            )
            return int(result.scalar_one())

    async def open_tasks_for_case(self, case_id: int) -> list[OfficerTask]:
        query = select(tasks).where(tasks.c.case_id == case_id, tasks.c.status == TaskStatus.OPEN)
        async with self.engine.connect() as conn:
            rows = (await conn.execute(query.order_by(tasks.c.id))).mappings().all()
        return [_task(r) for r in rows]

    async def count_tasks(self, requester_id: str, kind: TaskKind, since: datetime) -> int:
        """How many tasks of a kind one member created since a time (rate limits)."""
        query = select(func.count()).where(
            tasks.c.requester_id == requester_id,
            tasks.c.kind == kind.value,
            tasks.c.created_at >= since,
        )
        async with self.engine.connect() as conn:
            return int((await conn.execute(query)).scalar_one())

    async def decide_task(
        self, task_id: int, status: TaskStatus, decided_by: str, at: datetime
    ) -> None:
        async with self._write() as conn:
            await conn.execute(
                update(tasks)
                .where(tasks.c.id == task_id)
                .values(status=status.value, decided_by=decided_by, decided_at=at)
            )

    # ------------------------------------------------------------ command-set group settings

    async def group_overrides(self) -> dict[str, dict[str, Any]]:
        """Every group's command-set overrides."""
        async with self.engine.connect() as conn:
            rows = (await conn.execute(select(group_settings))).mappings().all()
        return {r["group_id"]: dict(r["overrides"]) for r in rows}

    async def save_group_overrides(
        self, group_id: str, overrides: Mapping[str, Any], by: str, at: datetime
    ) -> None:
        values = {"overrides": dict(overrides), "updated_by": by, "updated_at": at}
        async with self._write() as conn:
            result = await conn.execute(
                update(group_settings).where(group_settings.c.group_id == group_id).values(values)
            )
            if not result.rowcount:
                await conn.execute(insert(group_settings).values(group_id=group_id, **values))
