"""Cases with their evidence and action outcomes, as rows of an officer's export.

The :class:`rules.officers.export.CaseExport` of the ``export`` command and
``/export`` (which make the CSV or XLSX file). Evidence is already masked when
stored (no raw personal data); times are shown in the officer's time zone
(default Asia/Shanghai).
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import select

from rules.core.records import CaseRow
from rules.storage.base import Repository
from rules.storage.tables import actions, cases


class ExportQueries(Repository):
    """Cases as export rows."""

    async def case_rows(
        self, since: datetime, group: str | None = None, tz: str = "Asia/Shanghai"
    ) -> list[CaseRow]:
        """Cases created at or after ``since`` (optionally one group), oldest first."""
        zone = ZoneInfo(tz)
        query = select(cases).where(cases.c.created_at >= since).order_by(cases.c.id)
        if group is not None:
            query = query.where(cases.c.group_id == group)
        async with self._read() as conn:
            found = (await conn.execute(query)).all()
            ids = [row.id for row in found]
            done: dict[int, list[str]] = defaultdict(list)
            if ids:
                rows = await conn.execute(
                    select(actions.c.case_id, actions.c.kind, actions.c.status)
                    .where(actions.c.case_id.in_(ids))
                    .order_by(actions.c.id)
                )
                for case_id, kind, status in rows:
                    done[case_id].append(f"{kind}:{status}")
        return [
            CaseRow(
                case=row.id,
                time=row.created_at.astimezone(zone).isoformat(timespec="seconds"),
                group=row.group_id,
                member=row.member_id,
                card=row.member_card,
                findings="; ".join(
                    f"{f['detector']}/{f['category'] or '-'}「{f['match']}」" for f in row.findings
                ),
                evidence=row.evidence,
                step=row.step,
                status=row.status,
                actions=", ".join(done[row.id]),
            )
            for row in found
        ]
