"""设置 (settings): one group's overrides, changed with exactly ``/设置`` and ``/试运行``.

A change runs ``/设置 set KEY VALUE``, ``/设置 unset KEY`` or ``/试运行 on|off`` as
the signed-in person typing it in the group: the command reads the value (TOML,
else text), validates it like the config file, refuses the keys only officers
may change, saves it and applies it at once, and its reply (the new value, or
what is wrong) is what the page shows. The page lists the group's overrides
(from the file and by command) and every effective setting.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from fastapi import FastAPI, HTTPException, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import BaseModel

from plugins.console.auth import Viewer
from plugins.console.web import group_names
from rules.config import Policy

if TYPE_CHECKING:
    from plugins.console.app import Console

MAX_VALUE = 500


def flatten(table: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """``{"flood": {"repeat": 4}}`` as ``{"flood.repeat": 4}`` (empty tables kept as values)."""
    flat: dict[str, Any] = {}
    for key, value in table.items():
        if isinstance(value, dict) and value:
            flat.update(flatten(value, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = value
    return flat


def policy_keys(model: type[BaseModel] = Policy, prefix: str = "") -> list[str]:
    """Every dotted key a group may override (for the key field's suggestions)."""
    keys = []
    for name, field in model.model_fields.items():
        annotation = field.annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            keys.extend(policy_keys(annotation, f"{prefix}{name}."))
        else:
            keys.append(f"{prefix}{name}")
    return keys


def shown(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, default=str)


def register_settings(app: FastAPI, console: Console) -> None:
    pages = console.pages
    keys = policy_keys()

    async def groups_of(viewer: Viewer) -> list[str]:
        names = await group_names(console, viewer)
        listed = set(names) | {g for g in console.config.groups if viewer.may_see(g)}
        if viewer.groups is not None:
            listed |= set(viewer.groups)
        return sorted(listed)

    async def chosen(viewer: Viewer, group: str) -> str:
        if group:
            if not viewer.may_see(group):
                raise HTTPException(404)
            return group
        listed = await groups_of(viewer)
        if not listed:
            raise HTTPException(404)
        return listed[0]

    async def render(
        request: Request,
        viewer: Viewer,
        group: str,
        *,
        status: int = 200,
        reply: str = "",
        problem: str = "",
        key: str = "",
        value: str = "",
    ) -> Response:
        file_overrides = flatten(console.config.groups.get(group, {}))
        command_overrides = flatten(console.config.runtime_overrides(group))
        overrides = [
            (k, shown(v), k in command_overrides)
            for k, v in sorted({**file_overrides, **command_overrides}.items())
        ]
        policy = console.config.policy_for(group)
        effective = sorted(flatten(policy.model_dump(mode="json")).items())
        return pages.render(
            request,
            "settings.html",
            status=status,
            viewer=viewer,
            section="settings",
            group=group,
            groups=await groups_of(viewer),
            names=await group_names(console, viewer),
            overrides=overrides,
            effective=[(k, shown(v)) for k, v in effective],
            dry_run=policy.moderation.dry_run,
            keys=keys,
            reply=reply,
            problem=problem,
            key=key,
            value=value,
        )

    @app.get("/settings")
    async def settings(request: Request) -> Response:
        viewer = await console.require_viewer(request)
        group = await chosen(viewer, request.query_params.get("group", "").strip()[:128])
        reply = "已保存。" if request.query_params.get("done") == "saved" else ""
        return await render(request, viewer, group, reply=reply)

    @app.post("/settings")
    async def change(request: Request) -> Response:
        viewer = await console.require_viewer(request)
        form = await console.checked_form(request, viewer)
        group = await chosen(viewer, form.get("group", "").strip()[:128])
        verb = form.get("verb", "")
        key = " ".join(form.get("key", "").split())[:128]
        value = " ".join(form.get("value", "").split())[:MAX_VALUE]
        if verb == "set":
            if not key or not value or " " in key:
                return await render(
                    request, viewer, group, status=400, problem="请填写设置项和值。", key=key
                )
            text = f"/设置 set {key} {value}"
        elif verb in ("unset", "show"):
            if not key or " " in key:
                return await render(request, viewer, group, status=400, problem="请填写设置项。")
            text = f"/设置 {verb} {key}"
        elif verb in ("dryrun-on", "dryrun-off"):
            text = f"/试运行 {verb.removeprefix('dryrun-')}"
        else:
            raise HTTPException(400)
        result = await console.run_command(request, viewer, group, text)
        if not result.ok:
            return await render(
                request, viewer, group, status=400, problem=result.reply, key=key, value=value
            )
        if verb == "show":
            return await render(request, viewer, group, reply=result.reply, key=key)
        if verb == "set":
            return await render(request, viewer, group, reply=result.reply)
        root = request.scope.get("root_path", "")
        return RedirectResponse(f"{root}/settings?group={quote(group)}&done=saved", 303)
