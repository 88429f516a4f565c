"""One case: its evidence, pictures, findings, actions, the member's strikes, and decisions.

The page offers what :func:`plugins.console.decisions.case_choices` says the
case allows now (pardon, uphold; confirm or mark a false positive while it
waits for review, with the allow-list entry that offers; lift a mute still in
force), and each runs as the matching chat command. A picture kept with the
case is served from its own URL under the case (scoped like the case, with its
real content type), never inlined: the CSP allows images from the console only.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from fastapi import FastAPI, HTTPException, Request
from fastapi.responses import RedirectResponse, Response

from plugins.console.auth import Viewer
from plugins.console.decisions import (
    DONE_TEXT,
    UNMUTE,
    Choice,
    case_choices,
    mute_in_force,
    with_note,
)
from plugins.console.evidence import highlight
from plugins.console.web import group_names
from rules.storage.console_queries import CaseDetail

if TYPE_CHECKING:
    from plugins.console.app import Console

MAX_ID = 2**31
MAX_IMAGES = 64
STRENGTH_NAMES = {1: "弱", 2: "中", 3: "强"}


def checked_id(case_id: int) -> int:
    """A case id that can exist (larger numbers would overflow the database's integer)."""
    if not 0 < case_id < MAX_ID:
        raise HTTPException(404)
    return case_id


def image_type(data: bytes) -> str | None:
    """The content type of a stored thumbnail (JPEG or WebP), from its first bytes."""
    if data[:3] == b"\xff\xd8\xff":
        return "image/jpeg"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    if data[:8] == b"\x89PNG\r\n\x1a\n":
        return "image/png"
    return None


async def choices_for(console: Console, detail: CaseDetail) -> list[Choice]:
    """The decisions the case offers now, lifting a mute included."""
    allowed: list[str] = []
    if console.words is not None:
        listed = await console.words.list(detail.case.group_id)
        allowed = [w.word for w in listed if w.list == "allow"]
    choices = case_choices(
        detail.case.id, detail.case.status, detail.tasks, detail.findings, allowed
    )
    if mute_in_force(detail.actions, console.clock()):
        choices.append(UNMUTE)
    return choices


def register_case_page(app: FastAPI, console: Console) -> None:
    pages = console.pages

    async def render(
        request: Request, viewer: Viewer, case_id: int, status: int = 200, problem: str = ""
    ) -> Response:
        detail = await console.queries.case_detail(case_id, viewer.groups)
        if detail is None:
            raise HTTPException(404)
        names = await group_names(console, viewer)
        expire = console.config.policy_for(detail.case.group_id).ladder.expire_after
        since = console.clock() - expire
        active = sum(s.weight for s in detail.strikes if not s.voided and s.at >= since)
        done = request.query_params.get("done", "")
        return pages.render(
            request,
            "case.html",
            status=status,
            viewer=viewer,
            section="cases",
            d=detail,
            pieces=highlight(detail.evidence, detail.findings),
            names=names,
            active_weight=active,
            expire_days=max(expire.days, 1),
            done=DONE_TEXT.get(done, ""),
            problem=problem,
            choices=await choices_for(console, detail),
            strength_names=STRENGTH_NAMES,
        )

    @app.get("/cases/{case_id}")
    async def case_page(request: Request, case_id: int) -> Response:
        viewer = await console.require_viewer(request)
        return await render(request, viewer, checked_id(case_id))

    @app.get("/cases/{case_id}/images/{position}")
    async def case_image(request: Request, case_id: int, position: int) -> Response:
        viewer = await console.require_viewer(request)
        if not 0 <= position < MAX_IMAGES:
            raise HTTPException(404)
        data = await console.queries.case_thumbnail(checked_id(case_id), position, viewer.groups)
        kind = image_type(data) if data is not None else None
        if data is None or kind is None:
            raise HTTPException(404)
        return Response(data, media_type=kind, headers={"content-disposition": "inline"})

    @app.post("/cases/{case_id}/decision")
    async def decide(request: Request, case_id: int) -> Response:
        viewer = await console.require_viewer(request)
        detail = await console.queries.case_detail(checked_id(case_id), viewer.groups, history=0)
        if detail is None:
            raise HTTPException(404)
        form = await console.checked_form(request, viewer)
        offered = {c.key: c for c in await choices_for(console, detail)}
        choice = offered.get(form.get("decision", ""))
        if choice is None:
            # Not offered (any more): someone decided first, or a forged form.
            known = form.get("decision", "") in _ALL_KEYS
            if not known:
                raise HTTPException(400)
            return await render(request, viewer, case_id, 409, "此操作已不适用（可能已有人处理）。")
        text = with_note(choice.command, form.get("note", "") if choice.note else "")
        mentions = (detail.case.member_id,) if choice.mention else ()
        result = await console.run_command(request, viewer, detail.case.group_id, text, mentions)
        if not result.ok:
            return await render(request, viewer, case_id, 409, result.reply or "命令未执行。")
        root = request.scope.get("root_path", "")
        return RedirectResponse(f"{root}/cases/{case_id}?done={choice.done}", status_code=303)


_ALL_KEYS = frozenset({"pardon", "uphold", "confirm", "falsepositive", "allow", "unmute"})
