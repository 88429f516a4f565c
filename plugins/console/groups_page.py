"""群组 (groups): each group's registration, size, name check, the bot's role, activity,
and the members whose cards are not compliant, with their grace timeline.

Size, name and the bot's role are what the platform says now
(``Directory.group_info``), asked for every listed group at once, each with a
deadline, and kept for a few minutes (a page must not wait on a slow platform,
nor ask it on every load). The registration (备案) is edited with ``/备案 set``
run as the signed-in person, so the command's checks and audit apply.
"""

from __future__ import annotations

import asyncio
import shlex
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from fastapi import FastAPI, HTTPException, Request
from fastapi.responses import RedirectResponse, Response

from plugins.console.auth import Viewer
from plugins.console.web import group_names
from rules.commands import Edge
from rules.core.model import Platform, split_id
from rules.core.ports import GroupInfo
from rules.members.audit import check_group
from rules.storage.console_queries import ComplianceRow

if TYPE_CHECKING:
    from plugins.console.app import Console

INFO_TIMEOUT = 3.0  # seconds a platform may take to describe one group
INFO_TTL = 300.0  # seconds a description is kept
REGISTRY_FORM = (
    ("name", "名称", "群名称"),
    ("owner", "群主", "群主"),
    ("admins", "管理员", "管理员（用逗号分隔）"),
    ("responsible", "负责人", "负责人"),
    ("purpose", "用途", "用途"),
    ("registered_on", "备案日期", "备案日期（YYYY-MM-DD）"),
)
ROLE_NAMES = {"owner": "群主", "admin": "管理员", "member": "普通成员"}


@dataclass(frozen=True, slots=True)
class Timeline:
    """Where a member's card timeline stands: flagged, reminded, due, acted on."""

    row: ComplianceRow
    deadline: datetime
    overdue: bool


class GroupInfos:
    """Platform descriptions of groups, asked concurrently with a deadline and kept a while.

    The overview reads only what is kept (:meth:`kept`): it never waits on a platform;
    the groups page and the console's hourly job ask.
    """

    def __init__(self, edges: Mapping[Platform, Edge], ttl: float = INFO_TTL) -> None:
        self.edges = edges
        self.ttl = ttl
        self._kept: dict[str, tuple[float, GroupInfo | None]] = {}

    def kept(self, group_id: str) -> GroupInfo | None:
        entry = self._kept.get(group_id)
        return entry[1] if entry is not None else None

    async def one(self, group_id: str) -> GroupInfo | None:
        kept = self._kept.get(group_id)
        if kept is not None and time.monotonic() - kept[0] < self.ttl:
            return kept[1]
        info: GroupInfo | None = None
        try:
            edge = self.edges.get(split_id(group_id)[0])
            if edge is not None:
                info = await asyncio.wait_for(edge.directory.group_info(group_id), INFO_TIMEOUT)
        except Exception:  # unreachable platform, unknown group: shown as unknown
            info = None
        self._kept[group_id] = (time.monotonic(), info)
        return info

    async def many(self, group_ids: list[str]) -> dict[str, GroupInfo | None]:
        found = await asyncio.gather(*(self.one(g) for g in group_ids))
        return dict(zip(group_ids, found, strict=True))

    def forget(self, group_id: str) -> None:
        self._kept.pop(group_id, None)


def timelines(console: Console, group_id: str, rows: list[ComplianceRow]) -> list[Timeline]:
    grace: timedelta = console.config.policy_for(group_id).nickname.grace
    now = console.clock()
    shown = []
    for row in rows:
        deadline = row.first_flagged_at + grace
        shown.append(Timeline(row, deadline, row.acted_at is None and deadline <= now))
    return shown


def register_groups(app: FastAPI, console: Console) -> None:
    pages = console.pages
    infos = console.group_infos

    async def visible(viewer: Viewer) -> list[str]:
        names = await group_names(console, viewer)
        listed = set(names) | {g for g in console.config.groups if viewer.may_see(g)}
        if viewer.groups is not None:
            listed |= set(viewer.groups)
        return sorted(listed)

    @app.get("/groups")
    async def group_list(request: Request) -> Response:
        viewer = await console.require_viewer(request)
        ids = await visible(viewer)
        known = {g.id: g for g in await console.queries.known_groups(viewer.groups)}
        registered = (
            {e.group_id for e in await console.registry.entries()}
            if console.registry is not None
            else set()
        )
        found = await infos.many(ids)
        flagged = await console.queries.noncompliant_counts(viewer.groups)
        now = console.clock()
        rows = []
        for gid in ids:
            policy = console.config.policy_for(gid)
            info = found[gid]
            seen = known.get(gid)
            idle_days = policy.digest.idle_days
            rows.append(
                {
                    "id": gid,
                    "name": (info.name if info else "") or (seen.name if seen else ""),
                    "info": info,
                    "problems": check_group(info, policy.groupcheck) if info else [],
                    "over": bool(info and info.member_count > policy.groupcheck.max_members),
                    "cap": policy.groupcheck.max_members,
                    "registered": gid in registered,
                    "last": seen.last_activity if seen else None,
                    "idle": bool(
                        seen and idle_days and (now - seen.last_activity).days >= idle_days
                    ),
                    "flagged": flagged.get(gid, 0),
                }
            )
        return pages.render(
            request, "groups.html", viewer=viewer, section="groups", rows=rows, roles=ROLE_NAMES
        )

    async def render_group(
        request: Request, viewer: Viewer, group_id: str, status: int = 200, problem: str = ""
    ) -> Response:
        entry = await console.registry.get(group_id) if console.registry is not None else None
        info = await infos.one(group_id)
        policy = console.config.policy_for(group_id)
        seen = {g.id: g for g in await console.queries.known_groups([group_id])}.get(group_id)
        rows = await console.queries.noncompliant(group_id)
        values = {
            "name": (entry.name if entry else "") or (info.name if info else ""),
            "owner": entry.owner if entry else "",
            "admins": "，".join(entry.admins) if entry else "",
            "responsible": entry.responsible if entry else "",
            "purpose": entry.purpose if entry else "",
            "registered_on": entry.registered_on.isoformat()
            if entry and entry.registered_on
            else "",
        }
        return pages.render(
            request,
            "group.html",
            status=status,
            viewer=viewer,
            section="groups",
            group_id=group_id,
            info=info,
            problems=check_group(info, policy.groupcheck) if info else [],
            cap=policy.groupcheck.max_members,
            entry=entry,
            from_config=console.registry.from_config(entry) if console.registry else False,
            fields=REGISTRY_FORM,
            values=values,
            seen=seen,
            timelines=timelines(console, group_id, rows),
            grace=policy.nickname.grace,
            roles=ROLE_NAMES,
            done=request.query_params.get("done") == "saved",
            problem=problem,
        )

    @app.get("/groups/{group_id}")
    async def group_page(request: Request, group_id: str) -> Response:
        viewer = await console.require_viewer(request)
        if not viewer.may_see(group_id):
            raise HTTPException(404)
        if group_id not in await visible(viewer):
            raise HTTPException(404)
        return await render_group(request, viewer, group_id)

    @app.post("/groups/{group_id}/registry")
    async def register(request: Request, group_id: str) -> Response:
        viewer = await console.require_viewer(request)
        if not viewer.may_see(group_id) or group_id not in await visible(viewer):
            raise HTTPException(404)
        form = await console.checked_form(request, viewer)
        parts = []
        for key, alias, _label in REGISTRY_FORM:
            value = " ".join(form.get(key, "").split())[:200]
            if key == "registered_on" and not value:
                continue  # the command dates a new entry today
            parts.append(f"{alias}={shlex.quote(value)}")
        text = "/备案 set " + " ".join(parts)
        result = await console.run_command(request, viewer, group_id, text)
        if not result.ok:
            return await render_group(request, viewer, group_id, 400, result.reply)
        infos.forget(group_id)
        root = request.scope.get("root_path", "")
        return RedirectResponse(f"{root}/groups/{group_id}?done=saved", status_code=303)
