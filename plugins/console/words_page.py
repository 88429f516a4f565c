"""词库 (words): one group's own banned words and allow-list, and a test box.

Adding and removing run ``/敏感词`` and ``/白名单`` as the signed-in person
typing them in the group, so the checks, wording and audit are the commands'
and the word service applies a change at once (the keyword detector's overlay
is rebuilt and swapped in). The test box runs the text-only detectors
(keywords, links, personal data) on a pasted message with the group's policy,
exactly as a message would be checked, and shows each finding: what matched
where, how (match kind), how strong, and whether it would feed the ladder or
wait for review. It changes nothing and remembers nothing.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from fastapi import FastAPI, HTTPException, Request
from fastapi.responses import RedirectResponse, Response

from plugins.console.auth import Viewer
from plugins.console.evidence import Piece, highlight
from plugins.console.web import group_names
from rules.commands.member_requests import STATELESS_DETECTORS
from rules.core.messages import category_name
from rules.core.model import ChatEvent, EventKind, Finding, Member, masked_text, split_id
from rules.detectors.custom_words import DEFAULT_CATEGORY, GLOBAL
from rules.detectors.keyword import expand_globs
from rules.detectors.keyword_index import ALLOW
from rules.moderation.review import route

if TYPE_CHECKING:
    from plugins.console.app import Console

MAX_WORDS = 20  # per form
MAX_TEST = 2000  # characters of a test message
DONE = {"added": "已添加。", "removed": "已删除。"}
LISTS = {"block": "/敏感词", "allow": "/白名单"}


@dataclass(frozen=True, slots=True)
class Tested:
    """A finding of the test box, as the page shows it."""

    row: dict[str, Any]
    route: str  # "ladder" | "review"


def categories(console: Console, group_id: str) -> list[str]:
    """Categories a word may be filed under (the ``/敏感词`` command's own list)."""
    files = [Path(f).stem for f in expand_globs(console.config.keywords.files)]
    known = [stem for stem in files if stem != ALLOW]
    severity = console.config.policy_for(group_id).ladder.severity
    return [*dict.fromkeys([*known, *severity, DEFAULT_CATEGORY])]


def test_message(console: Console, group_id: str, text: str) -> tuple[list[Tested], list[Piece]]:
    """What the text-only detectors find in ``text`` under the group's policy, and the
    text in pieces with the matches marked (personal data masked, as evidence is)."""
    policy = console.config.policy_for(group_id)
    event = ChatEvent(
        kind=EventKind.MESSAGE,
        platform=split_id(group_id)[0],
        group_id=group_id,
        member=Member(f"{split_id(group_id)[0].value}:console-test"),
        time=console.clock(),
        text=text,
    )
    findings: list[Finding] = []
    for detector in console.detectors:
        if detector.name in STATELESS_DETECTORS:
            settings = getattr(policy, detector.section)
            if settings.enabled:
                findings.extend(detector.check(event, settings))
    ladder, _held = route(findings, policy.review)
    result = []
    for finding in findings:
        row = asdict(finding)
        row["how"] = finding.how.value
        row["strength"] = int(finding.strength)
        result.append(Tested(row, "ladder" if finding in ladder else "review"))
    return result, highlight(masked_text(text, findings), [t.row for t in result])


async def _groups(console: Console, viewer: Viewer) -> list[str]:
    names = await group_names(console, viewer)
    listed = set(names) | {g for g in console.config.groups if viewer.may_see(g)}
    if viewer.groups is not None:
        listed |= set(viewer.groups)
    return sorted(listed)


def register_words(app: FastAPI, console: Console) -> None:
    pages = console.pages

    async def render(
        request: Request,
        viewer: Viewer,
        group: str,
        *,
        status: int = 200,
        problem: str = "",
        reply: str = "",
        tested: str | None = None,
    ) -> Response:
        groups = await _groups(console, viewer)
        listed = await console.words.list(group) if console.words is not None else []
        found, pieces = test_message(console, group, tested) if tested else ([], [])
        return pages.render(
            request,
            "words.html",
            status=status,
            viewer=viewer,
            section="words",
            group=group,
            groups=groups,
            names=await group_names(console, viewer),
            block=[w for w in listed if w.list == "block"],
            allow=[w for w in listed if w.list == "allow"],
            GLOBAL=GLOBAL,
            categories=[(c, category_name(c)) for c in categories(console, group)],
            done=DONE.get(request.query_params.get("done", ""), ""),
            problem=problem,
            reply=reply,
            tested=tested,
            found=found,
            pieces=pieces,
            ready=console.words is not None,
        )

    async def chosen(viewer: Viewer, group: str) -> str:
        if group:
            if not viewer.may_see(group):
                raise HTTPException(404)
            return group
        groups = await _groups(console, viewer)
        if not groups:
            raise HTTPException(404)
        return groups[0]

    @app.get("/words")
    async def words(request: Request) -> Response:
        viewer = await console.require_viewer(request)
        group = await chosen(viewer, request.query_params.get("group", "").strip()[:128])
        return await render(request, viewer, group)

    @app.post("/words/test")
    async def test(request: Request) -> Response:
        # A POST (with the CSRF token), so pasted messages stay out of URLs and logs.
        viewer = await console.require_viewer(request)
        form = await console.checked_form(request, viewer)
        group = await chosen(viewer, form.get("group", "").strip()[:128])
        text = form.get("text", "")[:MAX_TEST]
        return await render(request, viewer, group, tested=text)

    @app.post("/words/change")
    async def change(request: Request) -> Response:
        viewer = await console.require_viewer(request)
        form = await console.checked_form(request, viewer)
        group = await chosen(viewer, form.get("group", "").strip()[:128])
        which, verb = form.get("list", ""), form.get("verb", "")
        if which not in LISTS or verb not in ("add", "del"):
            raise HTTPException(400)
        words = [w.strip() for w in form.get("words", "").splitlines() if w.strip()]
        if not words:
            return await render(request, viewer, group, status=400, problem="请填写词语。")
        if len(words) > MAX_WORDS:
            return await render(
                request, viewer, group, status=400, problem=f"一次最多 {MAX_WORDS} 个词。"
            )
        if any(len(w.split()) > 1 for w in words):
            return await render(
                request, viewer, group, status=400, problem="词语中不能有空格，每行一个词。"
            )
        category = ""
        if which == "block" and verb == "add":
            category = form.get("category", "").strip()
            if category not in categories(console, group):
                raise HTTPException(400)
        text = " ".join(filter(None, [LISTS[which], verb, category, *words]))
        result = await console.run_command(request, viewer, group, text)
        if not result.ok:
            return await render(request, viewer, group, status=409, problem=result.reply)
        if "无变化" in result.reply or "Unchanged" in result.reply:
            return await render(request, viewer, group, reply=result.reply)
        root = request.scope.get("root_path", "")
        done = "added" if verb == "add" else "removed"
        url = f"{root}/words?group={quote(group)}&done={done}"
        return RedirectResponse(url, status_code=303)
