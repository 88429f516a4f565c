"""Officer tasks: appeals (``/appeal``), member reports (``/report``) and cases held for
review (``rules.moderation.review``), table ``tasks``."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import RowMapping, func, insert, select, update

from rules.core.model import OfficerTask, TaskKind, TaskStatus
from rules.storage.base import Repository
from rules.storage.tables import tasks


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


class TaskRepository(Repository):
    """Tasks for officers: created by members, decided by officers."""

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
        async with self._read() as conn:
            rows = (await conn.execute(query.order_by(tasks.c.id))).mappings().all()
        return [_task(r) for r in rows]

    async def count_tasks(self, requester_id: str, kind: TaskKind, since: datetime) -> int:
        """How many tasks of a kind one member created since a time (rate limits)."""
        query = select(func.count()).where(
            tasks.c.requester_id == requester_id,
            tasks.c.kind == kind.value,
            tasks.c.created_at >= since,
        )
        async with self._read() as conn:
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

    async def close_task(
        self, task_id: int, status: TaskStatus, decided_by: str, at: datetime
    ) -> bool:
        """Decide a task that is still open; False when someone decided it first."""
        async with self._write() as conn:
            result = await conn.execute(
                update(tasks)
                .where(tasks.c.id == task_id, tasks.c.status == TaskStatus.OPEN.value)
                .values(status=status.value, decided_by=decided_by, decided_at=at)
            )
            return bool(result.rowcount)
