"""Export cases with their evidence and action outcomes for an officer's records.

CSV is written with a UTF-8 BOM so Excel shows Chinese correctly; XLSX uses
openpyxl. Evidence is already masked when stored (no raw personal data), and
times are shown in the officer's time zone (default Asia/Shanghai).
"""

from __future__ import annotations

import csv
import io
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo

from openpyxl import Workbook
from sqlalchemy import select

from rules.storage.sql_store import SqlStore
from rules.storage.tables import actions, cases

ExportFormat = Literal["csv", "xlsx"]
COLUMNS = (
    "case",
    "time",
    "group",
    "member",
    "card",
    "findings",
    "evidence",
    "step",
    "status",
    "actions",
)


@dataclass(frozen=True, slots=True)
class CaseRow:
    case: int
    time: str
    group: str
    member: str
    card: str
    findings: str
    evidence: str
    step: int
    status: str
    actions: str

    def values(self) -> list[str | int]:
        return [getattr(self, name) for name in COLUMNS]


async def case_rows(
    store: SqlStore, since: datetime, group: str | None = None, tz: str = "Asia/Shanghai"
) -> list[CaseRow]:
    """Cases created at or after ``since`` (optionally one group), oldest first."""
    zone = ZoneInfo(tz)
    query = select(cases).where(cases.c.created_at >= since).order_by(cases.c.id)
    if group is not None:
        query = query.where(cases.c.group_id == group)
    async with store.engine.connect() as conn:
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


def rows_bytes(rows: list[CaseRow], fmt: ExportFormat) -> bytes:
    """The rows with a header line as a CSV (UTF-8 with BOM) or XLSX file's bytes."""
    if fmt == "csv":
        text = io.StringIO()
        writer = csv.writer(text)
        writer.writerow(COLUMNS)
        writer.writerows(row.values() for row in rows)
        return text.getvalue().encode("utf-8-sig")
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = "cases"
    sheet.append(list(COLUMNS))
    for row in rows:
        sheet.append(row.values())
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def write_rows(rows: list[CaseRow], path: Path, fmt: ExportFormat) -> None:
    """Write the rows with a header line as CSV or XLSX."""
    path.write_bytes(rows_bytes(rows, fmt))
