"""待处理 (to do): appeals, member reports and review items in one list, decided in place.

Appeals and review items are decided by their case's commands (``/赦免``,
``/维持``, ``/确认``, ``/误判``, ``/误判 #N 加白``), run as the signed-in
person (:mod:`plugins.console.decisions`). A member report is acted on by
``/警告`` or ``/禁言`` naming the reported member and then closed, or closed
as handled or dismissed; no command closes a report, so the console does,
with one conditional update (of two officers, one wins) and an audit line.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from fastapi import FastAPI, HTTPException, Request
from fastapi.responses import RedirectResponse, Response

from plugins.console.auth import Viewer
from plugins.console.decisions import (
    DONE_TEXT,
    Choice,
    case_choices,
    report_choices,
    with_note,
)
from plugins.console.evidence import Piece, highlight
from plugins.console.web import client_address, group_names
from rules.storage.console_queries import TASK_KINDS, TaskCase, TaskRow

if TYPE_CHECKING:
    from plugins.console.app import Console

MAX_ID = 2**31
SHOWN = 100
KIND_TABS = (("", "全部"), ("review", "待核实"), ("appeal", "申诉"), ("report", "举报"))
REPORT_CLOSE = {"close": "upheld", "dismiss": "pardoned"}


@dataclass(frozen=True, slots=True)
class Item:
    task: TaskRow
    case: TaskCase | None
    pieces: list[Piece]
    choices: list[Choice]


async def _choices(
    console: Console, task: TaskRow, case: TaskCase | None, allowed: dict[str, list[str]]
) -> list[Choice]:
    if task.kind == "report":
        return [c for c in report_choices() if task.subject_id or not c.mention]
    if case is None:
        return []
    if task.group_id not in allowed:
        listed = await console.words.list(task.group_id) if console.words is not None else []
        allowed[task.group_id] = [w.word for w in listed if w.list == "allow"]
    return case_choices(case.id, case.status, [task], case.findings, allowed[task.group_id])


async def _items(console: Console, viewer: Viewer, tasks: list[TaskRow]) -> list[Item]:
    ids = {t.case_id for t in tasks if t.case_id is not None}
    cases = await console.queries.task_cases(ids, viewer.groups)
    allowed: dict[str, list[str]] = {}
    items = []
    for task in tasks:
        case = cases.get(task.case_id) if task.case_id is not None else None
        pieces = highlight(case.evidence, case.findings) if case is not None else []
        items.append(Item(task, case, pieces, await _choices(console, task, case, allowed)))
    return items


def register_todo(app: FastAPI, console: Console) -> None:
    pages = console.pages

    async def render(
        request: Request, viewer: Viewer, status: int = 200, problem: str = ""
    ) -> Response:
        kind = request.query_params.get("kind", "")
        if kind and kind not in TASK_KINDS:
            raise HTTPException(400)
        group = request.query_params.get("group", "") or None
        if group is not None and not viewer.may_see(group):
            raise HTTPException(404)
        tasks = await console.queries.open_tasks(viewer.groups, SHOWN, kind or None, group)
        done = request.query_params.get("done", "")
        return pages.render(
            request,
            "tasks.html",
            status=status,
            viewer=viewer,
            section="tasks",
            items=await _items(console, viewer, tasks),
            names=await group_names(console, viewer),
            kind=kind,
            tabs=KIND_TABS,
            shown=SHOWN,
            done=DONE_TEXT.get(done, ""),
            problem=problem,
        )

    @app.get("/tasks")
    async def todo(request: Request) -> Response:
        viewer = await console.require_viewer(request)
        return await render(request, viewer)

    @app.post("/tasks/{task_id}/decision")
    async def decide(request: Request, task_id: int) -> Response:
        viewer = await console.require_viewer(request)
        if not 0 < task_id < MAX_ID:
            raise HTTPException(404)
        task = await console.queries.task(task_id, viewer.groups)
        if task is None:
            raise HTTPException(404)
        form = await console.checked_form(request, viewer)
        wanted = form.get("decision", "")
        if task.status != "open":
            return await render(request, viewer, 409, f"#{task_id} 已有人处理。")
        cases = await console.queries.task_cases(
            {task.case_id} if task.case_id is not None else set(), viewer.groups
        )
        case = cases.get(task.case_id) if task.case_id is not None else None
        choice = {c.key: c for c in await _choices(console, task, case, {})}.get(wanted)
        if choice is None:
            raise HTTPException(400)
        if choice.command:
            text = with_note(choice.command, form.get("note", "") if choice.note else "")
            mentions = (task.subject_id,) if choice.mention else ()
            result = await console.run_command(request, viewer, task.group_id, text, mentions)
            if not result.ok:
                return await render(request, viewer, 409, result.reply or "命令未执行。")
        if task.kind == "report":
            status = REPORT_CLOSE.get(choice.key, "upheld")
            closed = await console.queries.close_task(
                task_id, viewer.groups, "report", status, viewer.person_id, console.clock()
            )
            await console.record(
                viewer.person_id,
                task.group_id,
                f"report #{task_id}: {choice.key}",
                f"ok: {status}" if closed else "refused: already closed",
                client_address(request),
            )
            if not closed and not choice.command:
                return await render(request, viewer, 409, f"#{task_id} 已有人处理。")
        root = request.scope.get("root_path", "")
        back = request.query_params.get("kind", "")
        kind = f"&kind={back}" if back in TASK_KINDS else ""
        return RedirectResponse(f"{root}/tasks?done={choice.done}{kind}", status_code=303)
