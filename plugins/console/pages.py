"""The console's pages: overview, cases, one case and its decision, to-do, groups, audit.

Every page starts from the signed-in :class:`~plugins.console.auth.Viewer`
and passes its groups to the queries, so what is outside them is not found
(404), whatever id is typed. Decisions run through the command service, as
if the viewer had typed ``/赦免 #12`` or ``/维持 #12`` in the case's group:
the same checks, records, appeal answers and audit line as the commands.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime, time, timedelta
from typing import TYPE_CHECKING

from fastapi import FastAPI, HTTPException, Request
from fastapi.responses import RedirectResponse, Response

from plugins.console.auth import Viewer
from plugins.console.charts import bar_chart, day_chart
from plugins.console.evidence import highlight
from plugins.console.web import client_address, query_string
from rules.commands import CommandRequest
from rules.commands.spec import Level
from rules.core.messages import action_name, category_key, category_name
from rules.core.model import Member, Platform, Role, split_id
from rules.storage.console_queries import CASE_STATUSES, CaseFilter, Cursor

if TYPE_CHECKING:
    from plugins.console.app import Console

PERIOD_DAYS = 30
PAGE_SIZE = 50
MAX_NOTE = 200
MAX_ID = 2**31
DECISIONS = {"pardon": ("/赦免", "pardoned"), "uphold": ("/维持", "upheld")}


def _day_starts(console: Console, now: datetime) -> list[datetime]:
    zone = console.pages.zone
    today = now.astimezone(zone).date()
    return [
        datetime.combine(today - timedelta(days=PERIOD_DAYS - 1 - i), time(), zone)
        for i in range(PERIOD_DAYS)
    ]


def _local_day(console: Console, text: str, field: str) -> datetime | None:
    if not text:
        return None
    try:
        day = date.fromisoformat(text)
    except ValueError:
        raise HTTPException(400, f"bad {field}") from None
    return datetime.combine(day, time(), console.pages.zone)


def _member_ids(text: str) -> tuple[str, ...]:
    """A typed member: ``qq:123`` as is, a bare id on every platform."""
    text = text.strip()[:128]
    if not text:
        return ()
    if ":" in text:
        try:
            split_id(text)
        except ValueError:
            return (text,)
        return (text,)
    return tuple(f"{p.value}:{text}" for p in Platform)


def _checked(case_id: int) -> int:
    """A case id that can exist (larger numbers would overflow the database's integer)."""
    if not 0 < case_id < MAX_ID:
        raise HTTPException(404)
    return case_id


async def _group_names(console: Console, viewer: Viewer) -> dict[str, str]:
    return {g.id: g.name for g in await console.queries.known_groups(viewer.groups)}


def register_pages(app: FastAPI, console: Console) -> None:
    pages = console.pages

    @app.get("/")
    async def overview(request: Request) -> Response:
        viewer = await console.require_viewer(request)
        now = console.clock()
        starts = _day_starts(console, now)
        summary = await console.overview.summary(viewer.groups, starts, now)
        names = await _group_names(console, viewer)
        period = summary.period

        def ranked(counts: dict[str, int], label: Callable[[str], str]) -> list[tuple[str, int]]:
            items = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:12]
            return [(label(key), value) for key, value in items]

        charts = {
            "days": day_chart(
                period.days, [pages.local(s, "%m-%d") for s in starts], "近 30 天每日案件数"
            ),
            "category": bar_chart(ranked(period.by_category, category_name), "按类别（30 天）"),
            "action": bar_chart(
                ranked(period.by_action, lambda k: action_name(k, "zh")), "按处置（30 天）"
            ),
            "group": bar_chart(
                ranked(period.by_group, lambda g: names.get(g) or g), "按群组（30 天）"
            ),
        }
        return pages.render(
            request,
            "overview.html",
            viewer=viewer,
            section="overview",
            s=summary,
            charts=charts,
            today=sum(summary.today.days),
            period=sum(period.days),
            names=names,
        )

    @app.get("/cases")
    async def case_list(request: Request) -> Response:
        viewer = await console.require_viewer(request)
        params = {k: request.query_params.get(k, "").strip()[:64] for k in _FILTERS}
        group = params["group"] or None
        if group is not None and not viewer.may_see(group):
            raise HTTPException(404)
        status = params["status"] or None
        if status is not None and status not in CASE_STATUSES:
            raise HTTPException(400)
        category = None
        if params["category"]:
            category = category_key(params["category"]) or params["category"]
        until = _local_day(console, params["to"], "to")
        flt = CaseFilter(
            scope=viewer.groups,
            group=group,
            members=_member_ids(params["member"]),
            category=category,
            status=status,
            since=_local_day(console, params["from"], "from"),
            until=until + timedelta(days=1) if until else None,
        )
        after = Cursor.decode(params["after"]) if params["after"] else None
        if params["after"] and after is None:
            raise HTTPException(400)
        page = await console.queries.case_page(flt, after, PAGE_SIZE)
        names = await _group_names(console, viewer)
        kept = {k: v for k, v in params.items() if k != "after"}
        more = (
            query_string({**kept, "after": page.next_cursor.encode()}) if page.next_cursor else ""
        )
        template = "case_rows.html" if request.headers.get("hx-request") else "cases.html"
        return pages.render(
            request,
            template,
            viewer=viewer,
            section="cases",
            page=page,
            params=params,
            names=names,
            more=more,
            statuses=CASE_STATUSES,
            first_page=after is None,
        )

    @app.get("/cases/{case_id}")
    async def case_page(request: Request, case_id: int) -> Response:
        viewer = await console.require_viewer(request)
        return await _render_case(request, viewer, _checked(case_id))

    async def _render_case(
        request: Request,
        viewer: Viewer,
        case_id: int,
        status: int = 200,
        problem: str = "",
    ) -> Response:
        detail = await console.queries.case_detail(case_id, viewer.groups)
        if detail is None:
            raise HTTPException(404)
        names = await _group_names(console, viewer)
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
            done=done if done in ("pardoned", "upheld") else "",
            problem=problem,
        )

    @app.post("/cases/{case_id}/decision")
    async def decide(request: Request, case_id: int) -> Response:
        viewer = await console.require_viewer(request)
        detail = await console.queries.case_detail(_checked(case_id), viewer.groups, history=0)
        if detail is None:
            raise HTTPException(404)
        form = await console.checked_form(request, viewer)
        decision = DECISIONS.get(form.get("decision", ""))
        if decision is None:
            raise HTTPException(400)
        command, wanted = decision
        note = " ".join(form.get("note", "").split())[:MAX_NOTE]
        group_id = detail.case.group_id
        level = viewer.level(group_id)
        role = Role.ADMIN if level == Level.MANAGER else Role.MEMBER
        text = f"{command} #{case_id}" + (f" {note}" if note and command == "/维持" else "")
        request_ = CommandRequest(
            platform=split_id(group_id)[0],
            caller=Member(viewer.person_id, role=role),
            text=text,
            time=console.clock(),
            group_id=group_id,
        )
        reply = (await console.commands.handle(request_)) or ""
        after = await console.queries.case_detail(case_id, viewer.groups, history=0)
        ok = after is not None and after.case.status == wanted
        address = client_address(request)
        await console.record(
            viewer.person_id, group_id, text, ("ok: " if ok else "failed: ") + reply, address
        )
        if not ok:
            return await _render_case(request, viewer, case_id, status=409, problem=reply)
        root = request.scope.get("root_path", "")
        return RedirectResponse(f"{root}/cases/{case_id}?done={wanted}", status_code=303)

    @app.get("/tasks")
    async def todo(request: Request) -> Response:
        viewer = await console.require_viewer(request)
        tasks = await console.queries.open_tasks(viewer.groups)
        names = await _group_names(console, viewer)
        return pages.render(
            request, "tasks.html", viewer=viewer, section="tasks", tasks=tasks, names=names
        )

    @app.get("/groups")
    async def group_list(request: Request) -> Response:
        viewer = await console.require_viewer(request)
        rows = await console.queries.known_groups(viewer.groups)
        idle_after = {g.id: console.config.policy_for(g.id).digest.idle_days for g in rows}
        now = console.clock()
        return pages.render(
            request,
            "groups.html",
            viewer=viewer,
            section="groups",
            groups=rows,
            idle={
                g.id: idle_after[g.id] and (now - g.last_activity).days >= idle_after[g.id]
                for g in rows
            },
        )

    @app.get("/audit")
    async def audit(request: Request) -> Response:
        viewer = await console.require_viewer(request)
        before = request.query_params.get("before", "")
        before_id = int(before) if before.isdigit() and len(before) < 19 else None
        rows, next_id = await console.queries.audit_page(viewer.groups, before_id)
        return pages.render(
            request, "audit.html", viewer=viewer, section="audit", rows=rows, next_id=next_id
        )

    @app.get("/words")
    async def words(request: Request) -> Response:
        viewer = await console.require_viewer(request)
        return pages.render(request, "pending.html", viewer=viewer, section="words", title="词库")

    @app.get("/settings")
    async def settings(request: Request) -> Response:
        viewer = await console.require_viewer(request)
        return pages.render(
            request, "pending.html", viewer=viewer, section="settings", title="设置"
        )


_FILTERS = ("group", "member", "category", "status", "from", "to", "after")
