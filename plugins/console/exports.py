"""导出 (export): what a list page shows, as a CSV or XLSX file.

``/cases/export`` takes the case list's filters (its rows are those of ``bot.py
export`` and ``/导出``: ``rules.officers.export``, evidence masked, times in the
console's time zone), ``/audit/export`` the audit log's, ``/tasks/export`` the
open to-do items; each in the viewer's scope, newest first, at most
``MAX_ROWS``. Every cell is written as text, never as a formula
(``rules.officers.export.inert``): messages are written by spammers. Each
export is recorded in the audit log.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from fastapi import FastAPI, HTTPException, Request
from fastapi.responses import Response

from plugins.console.filters import audit_filter, case_filter, filter_params
from plugins.console.web import client_address
from rules.core.records import ExportFormat
from rules.officers.export import rows_bytes, table_bytes

if TYPE_CHECKING:
    from plugins.console.app import Console

MAX_ROWS = 20_000
MEDIA_TYPES = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}
AUDIT_COLUMNS = ("id", "time", "actor", "group", "command", "outcome")
TASK_COLUMNS = ("id", "kind", "group", "case", "requester", "subject", "time", "text", "evidence")


def register_exports(app: FastAPI, console: Console) -> None:
    def file_format(request: Request) -> ExportFormat:
        fmt = request.query_params.get("format", "csv")
        if fmt == "csv":
            return "csv"
        if fmt == "xlsx":
            return "xlsx"
        raise HTTPException(400)

    def local(at: object) -> str:
        return console.pages.local(at, "%Y-%m-%d %H:%M:%S")  # type: ignore[arg-type]

    async def sent(
        request: Request, person: str, what: str, data: bytes, rows: int, fmt: ExportFormat
    ) -> Response:
        stamp = console.pages.local(console.clock(), "%Y%m%d-%H%M")
        await console.record(
            person, None, f"export {what} ({fmt})", f"ok: {rows} row(s)", client_address(request)
        )
        return Response(
            data,
            media_type=MEDIA_TYPES[fmt],
            headers={
                "content-disposition": f'attachment; filename="groupguard-{what}-{stamp}.{fmt}"'
            },
        )

    @app.get("/cases/export")
    async def export_cases(request: Request) -> Response:
        viewer = await console.require_viewer(request)
        fmt = file_format(request)
        flt = case_filter(console, viewer, filter_params(request))
        rows = await console.queries.export_rows(flt, console.config.digest.timezone, MAX_ROWS)
        data = await asyncio.to_thread(rows_bytes, rows, fmt)
        return await sent(request, viewer.person_id, "cases", data, len(rows), fmt)

    @app.get("/audit/export")
    async def export_audit(request: Request) -> Response:
        viewer = await console.require_viewer(request)
        fmt = file_format(request)
        _, group, actors = audit_filter(request, viewer)
        found, _ = await console.queries.audit_page(
            viewer.groups, None, MAX_ROWS, group, actors, viewer.person_id
        )
        rows = [
            (r.id, local(r.at), r.actor_id, r.group_id or "", r.command, r.outcome) for r in found
        ]
        data = await asyncio.to_thread(table_bytes, AUDIT_COLUMNS, rows, fmt, "audit")
        return await sent(request, viewer.person_id, "audit", data, len(rows), fmt)

    @app.get("/tasks/export")
    async def export_tasks(request: Request) -> Response:
        viewer = await console.require_viewer(request)
        fmt = file_format(request)
        found = await console.queries.open_tasks(viewer.groups, MAX_ROWS)
        rows = [
            (t.id, t.kind, t.group_id, t.case_id or "", t.requester_id, t.subject_id,
             local(t.created_at), t.text, t.evidence)
            for t in found
        ]  # fmt: skip
        data = await asyncio.to_thread(table_bytes, TASK_COLUMNS, rows, fmt, "tasks")
        return await sent(request, viewer.person_id, "tasks", data, len(rows), fmt)
