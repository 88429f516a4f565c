"""Shared plumbing of the console's routes: templates, forms, addresses, times.

Templates are Jinja2 with autoescaping on for every template and every
expression (messages, cards and image text are written by spammers);
``StrictUndefined`` turns a misspelt variable into an error, not an empty
string.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlencode
from zoneinfo import ZoneInfo

from fastapi import HTTPException, Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, FileSystemLoader, StrictUndefined

from rules.core.messages import action_name, category_name, human_duration

if TYPE_CHECKING:
    from plugins.console.app import Console
    from plugins.console.auth import Viewer

HERE = Path(__file__).resolve().parent
TEMPLATES = HERE / "templates"
STATIC = HERE / "static"
STYLESHEET = "console-2.css"
HTMX = "htmx-2.0.11.min.js"
MAX_FORM_BYTES = 16_384
COOKIE = "gg_console"

STATUS_NAMES = {"open": "待定", "upheld": "已维持", "pardoned": "已赦免"}
OUTCOME_NAMES = {
    "done": "已完成",
    "failed": "失败",
    "dry_run": "试运行",
    "skipped": "已跳过",
    "substituted": "已替代",
    "planned": "待执行",
    "interrupted": "已中断",
    "unknown": "无法确认",
}
HOW_NAMES = {
    "direct": "原文",
    "folded": "变形写法",
    "lookalike": "形近字符",
    "mixed": "拼音混写",
    "pinyin": "拼音",
    "homophone": "谐音",
    "image": "图片",
}
TASK_NAMES = {"appeal": "申诉", "report": "举报", "review": "待核实"}


def make_environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["category"] = lambda key: category_name(key, "zh")
    env.filters["action"] = lambda kind: action_name(kind, "zh")
    env.filters["status"] = lambda s: STATUS_NAMES.get(s, s)
    env.filters["outcome"] = lambda s: OUTCOME_NAMES.get(s, s)
    env.filters["task"] = lambda s: TASK_NAMES.get(s, s)
    env.filters["how"] = lambda s: HOW_NAMES.get(s, s)
    env.filters["duration"] = lambda d: human_duration(d, "zh")
    env.filters["bare"] = lambda qualified: str(qualified).partition(":")[2] or qualified
    env.globals["STYLESHEET"] = STYLESHEET
    env.globals["HTMX"] = HTMX
    return env


class Pages:
    """Renders templates with what every page needs (root path, viewer, time zone)."""

    def __init__(self, timezone: str) -> None:
        self.env = make_environment()
        self.zone = ZoneInfo(timezone)
        self.env.filters["local"] = self.local

    def local(self, at: datetime | None, fmt: str = "%Y-%m-%d %H:%M") -> str:
        return "" if at is None else at.astimezone(self.zone).strftime(fmt)

    def render(
        self, request: Request, name: str, status: int = 200, **context: Any
    ) -> HTMLResponse:
        root = request.scope.get("root_path", "")
        context.setdefault("viewer", None)
        context.setdefault("section", "")
        html = self.env.get_template(name).render(root=root, **context)
        return HTMLResponse(html, status_code=status)


def client_address(request: Request) -> str:
    """The client's address as the server sees it (uvicorn applies trusted proxy headers)."""
    return request.client.host if request.client else "?"


async def read_form(request: Request) -> dict[str, str]:
    """A small urlencoded form (first value of each field); anything else is refused."""
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind != "application/x-www-form-urlencoded":
        raise HTTPException(415, "form expected")
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_FORM_BYTES:
            raise HTTPException(413, "form too large")
    try:
        fields = parse_qs(body.decode("utf-8"), keep_blank_values=True, max_num_fields=20)
    except (UnicodeDecodeError, ValueError):
        raise HTTPException(400, "bad form") from None
    return {key: values[0] for key, values in fields.items()}


def same_origin(request: Request, public_url: str) -> bool:
    """False for a write sent from another site (Origin / Sec-Fetch-Site say so)."""
    if request.headers.get("sec-fetch-site", "same-origin") not in ("same-origin", "none"):
        return False
    origin = request.headers.get("origin")
    if origin is None:  # not a browser's cross-site request; the CSRF token still decides
        return True
    expected = public_url or f"{request.url.scheme}://{request.headers.get('host', '')}"
    return origin.rstrip("/") == expected.rstrip("/")


def query_string(params: Mapping[str, str | None]) -> str:
    return urlencode({k: v for k, v in params.items() if v})


async def group_names(console: Console, viewer: Viewer) -> dict[str, str]:
    """Names of the groups the viewer may see, by id (empty for groups never named)."""
    return {g.id: g.name for g in await console.queries.known_groups(viewer.groups)}
