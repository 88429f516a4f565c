"""Case exports for officers: the file (CSV or XLSX), and sending it by private message.

The rows come from the store (:class:`CaseExport`, ``rules.storage.export``);
:func:`rows_bytes` makes the file (``python bot.py export`` writes it to disk).
The ``/export`` command (commands layer) calls :func:`export_for_officer` after
it has checked that the officer may see the groups asked for; this module does
not authorise. The rows are those of ``python bot.py export`` (evidence
masked, times in the officer's time zone). A platform that cannot send files,
or a send that fails, gets a short text with the command to run on the server.
"""

from __future__ import annotations

import asyncio
import csv
import io
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Protocol
from zoneinfo import ZoneInfo

from openpyxl import Workbook

from rules.core.messages import Language, render
from rules.core.model import utcnow
from rules.core.ports import Gateway, media_sender
from rules.core.records import EXPORT_COLUMNS, CaseRow, ExportFormat


class CaseExport(Protocol):
    """The store's side of an export (``rules.storage.export`` implements it)."""

    async def case_rows(
        self, since: datetime, group: str | None = None, tz: str = "Asia/Shanghai"
    ) -> list[CaseRow]:
        """Cases created at or after ``since`` (optionally one group), oldest first."""
        ...


def inert(value: str | int) -> str | int:
    """A cell value a spreadsheet shows as text, never runs as a formula.

    Evidence and cards are written by spammers: a cell such as ``=HYPERLINK(...)``
    would be a live formula in Excel (openpyxl also stores such a string as one).
    A leading quote keeps it text (OWASP's advice for CSV injection).
    """
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r") and len(value) > 1:
        return "'" + value
    return value


def rows_bytes(rows: list[CaseRow], fmt: ExportFormat) -> bytes:
    """The rows with a header line as a CSV (UTF-8 with BOM) or XLSX file's bytes."""
    return table_bytes(EXPORT_COLUMNS, [row.values() for row in rows], fmt, "cases")


def table_bytes(
    columns: Sequence[str], rows: Iterable[Sequence[str | int]], fmt: ExportFormat, title: str
) -> bytes:
    """A header line and rows as a CSV (UTF-8 with BOM) or XLSX file's bytes.

    CSV has a BOM so Excel shows Chinese correctly; XLSX is written by openpyxl.
    Every cell goes through :func:`inert`.
    """
    if fmt == "csv":
        text = io.StringIO()
        writer = csv.writer(text)
        writer.writerow(columns)
        writer.writerows([inert(v) for v in row] for row in rows)
        return text.getvalue().encode("utf-8-sig")
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = title
    sheet.append(list(columns))
    for row in rows:
        sheet.append([inert(v) for v in row])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def write_rows(rows: list[CaseRow], path: Path, fmt: ExportFormat) -> None:
    """Write the rows with a header line as CSV or XLSX."""
    path.write_bytes(rows_bytes(rows, fmt))


@dataclass(frozen=True, slots=True)
class ExportResult:
    cases: int
    file_name: str = ""  # set when a file was sent
    error: str = ""  # why no file was sent ("" when sent or when there was nothing to send)

    @property
    def sent(self) -> bool:
        return bool(self.file_name)


def file_name(since: datetime, now: datetime, group: str | None, fmt: ExportFormat) -> str:
    """``groupguard-cases-20261101-20261102[-qq_1001].xlsx`` (safe on every platform)."""
    scope = f"-{re.sub(r'[^A-Za-z0-9._-]', '_', group)}" if group else ""
    return f"groupguard-cases-{since:%Y%m%d}-{now:%Y%m%d}{scope}.{fmt}"


def server_command(since: datetime, group: str | None, fmt: ExportFormat) -> str:
    group_arg = f" --group {group}" if group else ""
    return (
        f"python bot.py export --since {since:%Y-%m-%d}{group_arg} --format {fmt} "
        f"--output cases.{fmt}"
    )


async def export_for_officer(
    store: CaseExport,
    gateway: Gateway,
    officer_id: str,
    since: datetime,
    *,
    group: str | None = None,
    fmt: ExportFormat = "xlsx",
    timezone: str = "Asia/Shanghai",
    language: Language = "zh",
    now: datetime | None = None,
) -> ExportResult:
    """Build the export of cases since ``since`` (one group or all) and send it to the officer.

    Always answers the officer: the file and a one-line summary; or, when
    there are no cases, the platform cannot send files or the send fails, a
    short text (with the server command). Raises only if even the text cannot
    be sent (the caller's reply path is broken too).
    """
    zone = ZoneInfo(timezone)
    local_since = since.astimezone(zone)
    now = (now or utcnow()).astimezone(zone)
    rows = await store.case_rows(since, group, timezone)
    everywhere = render("export_all_groups", language)
    scope = render(
        "export_scope", language, since=f"{local_since:%Y-%m-%d}", group=group or everywhere
    )
    command = server_command(local_since, group, fmt)
    if not rows:
        await gateway.send_private(officer_id, render("export_empty", language, scope=scope))
        return ExportResult(0)
    sender = media_sender(gateway)
    if sender is None:
        text = render("export_no_files", language, count=len(rows), scope=scope, command=command)
        await gateway.send_private(officer_id, text)
        return ExportResult(len(rows), error="the platform cannot send files")
    name = file_name(local_since, now, group, fmt)
    data = await asyncio.to_thread(rows_bytes, rows, fmt)  # XLSX of many rows takes a while
    try:
        await sender.send_private_file(officer_id, name, data)
    except Exception as exc:
        error = str(exc) or type(exc).__name__
        text = render("export_failed", language, error=error[:200], command=command)
        await gateway.send_private(officer_id, text)
        return ExportResult(len(rows), error=error)
    text = render("export_sent", language, count=len(rows), scope=scope, name=name)
    await gateway.send_private(officer_id, text)
    return ExportResult(len(rows), file_name=name)
