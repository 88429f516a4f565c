"""The officer console as an ASGI app mounted under ``/console`` on the bot's FastAPI app.

:class:`Console` holds what the pages need (config, queries, sign-in, the
command service, the audit log); :func:`create_app` builds the sub-app with
its security headers, error pages, sign-in routes and the pages of
:mod:`plugins.console.pages`; :func:`mount_console` mounts it on nonebot's app.

Sign-in: ``GET /console/login?t=...`` only shows a button (chat apps fetch
links for previews, and a GET must not use the link up); the button POSTs the
token, which is redeemed once, rate limited per address, and becomes the
session cookie (HttpOnly, SameSite=Strict, Secure behind HTTPS).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

from fastapi import FastAPI, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import RedirectResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.staticfiles import StaticFiles

from plugins.console.auth import ConsoleAuth, Viewer, scope_of
from plugins.console.groups_page import GroupInfos
from plugins.console.security import RateLimiter, SecurityHeaders, csrf_ok, looks_like_token
from plugins.console.summary import OverviewCounts
from plugins.console.web import COOKIE, STATIC, Pages, client_address, read_form, same_origin
from rules.commands import CommandRequest, Edge
from rules.commands.service import last_outcome
from rules.commands.spec import Level
from rules.config import Config, ConsoleSettings
from rules.core.messages import truncate
from rules.core.model import Member, Platform, Role, split_id, utcnow
from rules.core.ports import AuditEntry
from rules.core.records import GroupWord, RegistryEntry
from rules.detectors.base import Detector
from rules.storage.console_queries import ConsoleQueries, SqlConsoleAuth

if TYPE_CHECKING:
    from rules.runtime import Runtime

MAX_AUDITED = 300
ERROR_TEXT = {
    400: "请求无效。",
    401: "请先登录：在 QQ 或微信中私聊机器人发送 /后台，打开收到的一次性链接。",
    403: "请求被拒绝（来源不符或表单已过期），请刷新页面后重试。",
    404: "未找到，或您无权查看。",
    405: "不支持此操作。",
    413: "提交的内容过大。",
    415: "请求格式不正确。",
    429: "尝试次数过多，请稍后再试。",
}


class CommandHandler(Protocol):
    """The command service (``rules.commands.CommandService``): decisions run through it."""

    async def handle(self, request: CommandRequest) -> str | None: ...


class AuditSink(Protocol):
    async def record_audit(self, entry: AuditEntry) -> None: ...


class WordLister(Protocol):
    """The word service (``rules.detectors.custom_words.WordService``): a group's lists."""

    async def list(self, group_id: str, *, include_global: bool = True) -> list[GroupWord]: ...


class RegistryReader(Protocol):
    """The group registry (``rules.groups.registry.RegistryService``), read side."""

    async def get(self, group_id: str) -> RegistryEntry | None: ...

    async def entries(self) -> list[RegistryEntry]: ...

    def from_config(self, entry: RegistryEntry | None) -> bool: ...


@dataclass(frozen=True, slots=True)
class CommandResult:
    """What a command run for the console answered, and whether it did what it was asked."""

    reply: str
    ok: bool


@dataclass
class Console:
    config: Config
    settings: ConsoleSettings
    queries: ConsoleQueries
    auth: ConsoleAuth
    commands: CommandHandler
    audit: AuditSink
    clock: Callable[[], datetime] = utcnow
    words: WordLister | None = None
    registry: RegistryReader | None = None
    edges: Mapping[Platform, Edge] = field(default_factory=dict)  # platforms' directories
    detectors: Sequence[Detector[Any]] = ()
    limiter: RateLimiter = field(init=False)
    pages: Pages = field(init=False)
    overview: OverviewCounts = field(init=False)
    group_infos: GroupInfos = field(init=False)

    def __post_init__(self) -> None:
        self.limiter = RateLimiter(self.settings.redeem_limit, 60.0)
        self.pages = Pages(self.config.digest.timezone)
        self.overview = OverviewCounts(self.queries, self.clock)
        self.group_infos = GroupInfos(self.edges)

    @classmethod
    def from_runtime(cls, runtime: Runtime, settings: ConsoleSettings) -> Console:
        """The console of a running bot: its database, command service and clock."""
        assert runtime.commands is not None
        database = runtime.storage.database
        clock = runtime.engine.clock
        base = settings.base_url(runtime.config.server.port)
        return cls(
            config=runtime.config,
            settings=settings,
            queries=ConsoleQueries(database),
            auth=ConsoleAuth(SqlConsoleAuth(database), settings, base, clock),
            commands=runtime.commands,
            audit=runtime.storage.journal,
            clock=clock,
            words=runtime.commands.words,
            registry=runtime.commands.registry,
            edges=runtime.commands.edges,  # the service's own dict: platforms join later
            detectors=tuple(runtime.engine.detectors),
        )

    async def issue_link(self, person_id: str, issued_by: str) -> tuple[str, datetime] | None:
        """A one-time sign-in link for ``person_id`` (None: they oversee no group).

        ``issued_by``: ``command`` (``/后台``) or ``cli`` (``bot.py console-link``).
        """
        scope = await scope_of(self.config, self.queries, person_id)
        if scope.empty:
            await self.record(person_id, None, f"console link ({issued_by})", "refused: no groups")
            return None
        url, expires = await self.auth.issue_link(person_id, issued_by)
        await self.record(person_id, None, f"console link ({issued_by})", "ok: issued")
        return url, expires

    async def viewer(self, request: Request) -> Viewer | None:
        token = request.cookies.get(COOKIE, "")
        if not looks_like_token(token):
            return None
        session = await self.auth.session(token)
        if session is None:
            return None
        scope = await scope_of(self.config, self.queries, session.person_id)
        if scope.empty:
            return None
        return Viewer(session.person_id, token, scope.groups, scope.levels, session.expires_at)

    async def require_viewer(self, request: Request) -> Viewer:
        viewer = await self.viewer(request)
        if viewer is None:
            raise HTTPException(401)
        return viewer

    async def checked_form(self, request: Request, viewer: Viewer) -> dict[str, str]:
        """The form of a write, after the origin and CSRF checks (403 otherwise)."""
        if not same_origin(request, self.settings.public_url):
            raise HTTPException(403)
        form = await read_form(request)
        if not csrf_ok(viewer.token, form.get("csrf", "")):
            raise HTTPException(403)
        return form

    async def run_command(
        self,
        request: Request,
        viewer: Viewer,
        group_id: str,
        text: str,
        mentions: tuple[str, ...] = (),
    ) -> CommandResult:
        """Run a chat command as ``viewer`` typing ``text`` in ``group_id`` (``mentions``: @-ed).

        The command layer checks, does and audits it exactly as in the chat; the
        console's own audit line adds the address it came from.
        """
        level = viewer.level(group_id)
        command = CommandRequest(
            platform=split_id(group_id)[0],
            caller=Member(
                viewer.person_id, role=Role.ADMIN if level == Level.MANAGER else Role.MEMBER
            ),
            text=text,
            time=self.clock(),
            group_id=group_id,
            mentions=mentions,
        )
        token = last_outcome.set("")
        try:
            reply = (await self.commands.handle(command)) or ""
            ok = last_outcome.get().startswith("ok")
        finally:
            last_outcome.reset(token)
        shown = text + (f" @{' @'.join(mentions)}" if mentions else "")
        outcome = ("ok: " if ok else "failed: ") + " ".join(reply.split())
        await self.record(viewer.person_id, group_id, shown, outcome, client_address(request))
        return CommandResult(reply, ok)

    async def record(
        self, actor: str, group_id: str | None, what: str, outcome: str, address: str = ""
    ) -> None:
        """One line in the audit log (who, what, from which address)."""
        where = f" from {address}" if address else ""
        await self.audit.record_audit(
            AuditEntry(
                actor_id=actor,
                group_id=group_id,
                command=truncate(f"[console{where}] {what}", MAX_AUDITED),
                outcome=truncate(outcome, MAX_AUDITED),
                at=self.clock(),
            )
        )


def _error_page(console: Console) -> Callable[[Request, Exception], object]:
    async def handle(request: Request, exc: Exception) -> Response:
        status = exc.status_code if isinstance(exc, StarletteHTTPException) else 404
        status = status if status in ERROR_TEXT else 400
        return console.pages.render(
            request, "error.html", status=status, message=ERROR_TEXT[status], code=status
        )

    return handle


def create_app(console: Console) -> FastAPI:
    """The console as a FastAPI app, to be mounted at ``/console``."""
    from plugins.console.pages import register_pages

    app = FastAPI(docs_url=None, redoc_url=None, openapi_url=None)
    app.add_middleware(SecurityHeaders)
    app.add_exception_handler(StarletteHTTPException, _error_page(console))  # type: ignore[arg-type]
    app.add_exception_handler(RequestValidationError, _error_page(console))  # type: ignore[arg-type]
    app.mount("/static", StaticFiles(directory=STATIC), name="static")

    @app.get("/login")
    async def login_page(request: Request, t: str = "") -> Response:
        # Never redeems: link previews and scanners only GET.
        return console.pages.render(request, "login.html", token=t if looks_like_token(t) else "")

    @app.post("/login")
    async def login(request: Request) -> Response:
        address = client_address(request)
        if not same_origin(request, console.settings.public_url):
            raise HTTPException(403)
        if not console.limiter.allow(address):
            await console.record("-", None, "sign-in", "refused: rate limit", address)
            raise HTTPException(429)
        form = await read_form(request)
        token = form.get("t", "")
        redeemed = await console.auth.redeem(token, address) if looks_like_token(token) else None
        if redeemed is None:
            await console.record(
                "-", None, "sign-in", "refused: link unknown, used or expired", address
            )
            return console.pages.render(request, "login.html", status=400, token="", failed=True)
        person, session, expires = redeemed
        await console.record(
            person, None, "sign-in", f"ok: session until {expires:%Y-%m-%d %H:%M}Z", address
        )
        root = request.scope.get("root_path", "")
        response = RedirectResponse(f"{root}/", status_code=303)
        response.set_cookie(
            COOKIE,
            session,
            max_age=int(console.settings.session_lifetime.total_seconds()),
            path=root or "/",
            httponly=True,
            secure=console.settings.https,
            samesite="strict",
        )
        return response

    @app.post("/logout")
    async def logout(request: Request) -> Response:
        viewer = await console.require_viewer(request)
        await console.checked_form(request, viewer)
        await console.auth.end(viewer.token)
        await console.record(viewer.person_id, None, "sign-out", "ok", client_address(request))
        root = request.scope.get("root_path", "")
        response = RedirectResponse(f"{root}/login", status_code=303)
        response.delete_cookie(
            COOKIE,
            path=root or "/",
            secure=console.settings.https,
            httponly=True,
            samesite="strict",
        )
        return response

    register_pages(app, console)
    return app


def mount_console(app: FastAPI, console: Console) -> None:
    """Serve the console under ``/console`` on the bot's web server (nonebot's FastAPI app)."""
    app.mount("/console", create_app(console), name="console")
