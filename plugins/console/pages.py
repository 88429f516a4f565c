"""The console's pages: overview, cases, one case and its decision, to-do, groups, audit.

Every page starts from the signed-in :class:`~plugins.console.auth.Viewer`
and passes its groups to the queries, so what is outside them is not found
(404), whatever id is typed. Decisions run through the command service, as
if the viewer had typed ``/赦免 #12`` or ``/维持 #12`` in the case's group:
the same checks, records, appeal answers and audit line as the commands.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from fastapi import FastAPI, HTTPException, Request
from fastapi.responses import Response

from plugins.console.case_page import register_case_page
from plugins.console.charts import bar_chart, day_chart
from plugins.console.exports import register_exports
from plugins.console.filters import audit_filter, case_filter, filter_params
from plugins.console.groups_page import register_groups
from plugins.console.settings_page import register_settings
from plugins.console.summary import day_starts
from plugins.console.todo import register_todo
from plugins.console.web import group_names, query_string
from plugins.console.words_page import register_words
from rules.core.messages import action_name, category_name
from rules.storage.console_queries import CASE_STATUSES, Cursor

if TYPE_CHECKING:
    from plugins.console.app import Console

PERIOD_DAYS = 30
PAGE_SIZE = 50
AUDIT_PAGE = 50


def register_pages(app: FastAPI, console: Console) -> None:
    pages = console.pages
    register_exports(app, console)  # first: /cases/export is not /cases/{case_id}
    register_case_page(app, console)
    register_todo(app, console)
    register_words(app, console)
    register_settings(app, console)
    register_groups(app, console)

    @app.get("/")
    async def overview(request: Request) -> Response:
        viewer = await console.require_viewer(request)
        now = console.clock()
        starts = day_starts(console.pages.zone, now)
        summary = await console.overview.summary(viewer.groups, starts, now)
        known = await console.queries.known_groups(viewer.groups)
        names = {g.id: g.name for g in known}
        registered = (
            {e.group_id for e in await console.registry.entries()}
            if console.registry is not None
            else set()
        )
        watch = {"unregistered": 0, "idle": 0, "over": 0}
        for g in known:
            policy = console.config.policy_for(g.id)
            info = console.group_infos.kept(g.id)  # never waits on a platform here
            watch["unregistered"] += g.id not in registered
            idle_days = policy.digest.idle_days
            watch["idle"] += bool(idle_days and (now - g.last_activity).days >= idle_days)
            watch["over"] += bool(info and info.member_count > policy.groupcheck.max_members)
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
            watch=watch,
        )

    @app.get("/cases")
    async def case_list(request: Request) -> Response:
        viewer = await console.require_viewer(request)
        params = filter_params(request)
        flt = case_filter(console, viewer, params)
        after = Cursor.decode(params["after"]) if params["after"] else None
        if params["after"] and after is None:
            raise HTTPException(400)
        page = await console.queries.case_page(flt, after, PAGE_SIZE)
        names = await group_names(console, viewer)
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
            export=query_string(kept),
        )

    @app.get("/audit")
    async def audit(request: Request) -> Response:
        viewer = await console.require_viewer(request)
        before = request.query_params.get("before", "")
        before_id = int(before) if before.isdigit() and len(before) < 19 else None
        params, group, actors = audit_filter(request, viewer)
        rows, next_id = await console.queries.audit_page(
            viewer.groups, before_id, AUDIT_PAGE, group, actors, viewer.person_id
        )
        more = query_string({**params, "before": str(next_id)}) if next_id else ""
        return pages.render(
            request,
            "audit.html",
            viewer=viewer,
            section="audit",
            rows=rows,
            more=more,
            params=params,
            names=await group_names(console, viewer),
            export=query_string(params),
        )
