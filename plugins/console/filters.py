"""What a list page shows, read from its query string: the case list's and the audit log's
filters, checked against the viewer's scope (a group outside it is not found)."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import TYPE_CHECKING

from fastapi import HTTPException, Request

from plugins.console.auth import Viewer
from rules.core.messages import category_key
from rules.core.model import Platform
from rules.storage.console_queries import CASE_STATUSES, CaseFilter

if TYPE_CHECKING:
    from plugins.console.app import Console

CASE_FILTERS = ("group", "member", "category", "status", "from", "to", "after")
AUDIT_FILTERS = ("group", "member")


def filter_params(request: Request, names: tuple[str, ...] = CASE_FILTERS) -> dict[str, str]:
    return {k: request.query_params.get(k, "").strip()[:64] for k in names}


def local_day(console: Console, text: str, field: str) -> datetime | None:
    """Midnight of a typed day (``2026-11-02``) in the console's time zone."""
    if not text:
        return None
    try:
        day = date.fromisoformat(text)
    except ValueError:
        raise HTTPException(400, f"bad {field}") from None
    return datetime.combine(day, time(), console.pages.zone)


def member_ids(text: str) -> tuple[str, ...]:
    """A typed member: ``qq:123`` as is, a bare id on every platform."""
    text = text.strip()[:128]
    if not text:
        return ()
    if ":" in text:
        return (text,)
    return tuple(f"{p.value}:{text}" for p in Platform)


def seen_group(viewer: Viewer, group: str) -> str | None:
    """The typed group, if the viewer may see it (404 otherwise); None for every group."""
    if not group:
        return None
    if not viewer.may_see(group):
        raise HTTPException(404)
    return group


def case_filter(console: Console, viewer: Viewer, params: dict[str, str]) -> CaseFilter:
    """The case list's filter from its parameters (400 for a bad value)."""
    status = params["status"] or None
    if status is not None and status not in CASE_STATUSES:
        raise HTTPException(400)
    category = None
    if params["category"]:
        category = category_key(params["category"]) or params["category"]
    until = local_day(console, params["to"], "to")
    return CaseFilter(
        scope=viewer.groups,
        group=seen_group(viewer, params["group"]),
        members=member_ids(params["member"]),
        category=category,
        status=status,
        since=local_day(console, params["from"], "from"),
        until=until + timedelta(days=1) if until else None,
    )


def audit_filter(
    request: Request, viewer: Viewer
) -> tuple[dict[str, str], str | None, tuple[str, ...]]:
    """The audit log's parameters, its group (in scope) and the people it names."""
    params = filter_params(request, AUDIT_FILTERS)
    return params, seen_group(viewer, params["group"]), member_ids(params["member"])
