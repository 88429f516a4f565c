"""The console in a real browser: Debian's Chromium, headless, driven by Playwright.

Why Playwright for Python: it is one pip package (its driver ships inside the
wheel), it drives the system's ``/usr/bin/chromium`` through
``executable_path`` (nothing is downloaded), its async API runs in the test's
own event loop next to the uvicorn server, and it waits for navigation and
elements by itself. Selenium would need Debian's ``chromium-driver`` as well.

Skipped, with the reason, when Chromium or Playwright is missing, unless
``CI`` or ``GROUPGUARD_REQUIRE_SERVICES`` (``.ci/run``) is set: then it fails.
Screenshots at phone width (390 px) go to ``build/``.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import os
import shutil
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
import uvicorn
from fastapi import FastAPI

from rules.commands import CommandRequest
from rules.core.model import ActionKind, Finding, Member, OutcomeStatus, Platform
from tests.console.conftest import GROUP_A, GROUP_B, OFFICER_A, ConsoleEnv, make_env

if TYPE_CHECKING:
    from plugins.console.app import Console

ROOT = Path(__file__).resolve().parents[2]
BUILD = ROOT / "build"
CHROMIUM = Path(os.environ.get("GROUPGUARD_CHROMIUM", "/usr/bin/chromium"))
LAUNCH_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]
# (text, category, matched, second action) of the filler cases
SAMPLES = [
    ("兼职刷单日结，加V详聊", "ads", "刷单", ActionKind.WARN),
    ("加我微信网赌包赢", "gambling", "网赌", ActionKind.MUTE),
    ("兼职刷单，佣金当天结", "ads", "刷单", ActionKind.WARN),
    ("你就是个傻X", "insult", "傻X", ActionKind.WARN),
    ("低价代开发票", "ads", "代开发票", ActionKind.WARN),
    ("看片加群", "porn", "看片", ActionKind.KICK),
    ("刷屏刷屏刷屏", "flood", "刷屏", ActionKind.MUTE),
]


def jpeg() -> bytes:
    from PIL import Image, ImageDraw

    image = Image.new("RGB", (240, 320), (245, 245, 245))
    draw = ImageDraw.Draw(image)
    draw.rectangle((40, 60, 200, 220), fill=(30, 30, 30))
    draw.rectangle((70, 90, 170, 190), fill=(245, 245, 245))
    out = io.BytesIO()
    image.save(out, "JPEG", quality=70)
    return out.getvalue()


async def add_picture(env: ConsoleEnv, case_id: int) -> None:
    """A picture kept with the case (as the picture path stores one)."""
    from sqlalchemy import insert

    from rules.storage.tables import case_images

    async with env.runtime.storage.database.engine.begin() as conn:
        await conn.execute(
            insert(case_images).values(
                case_id=case_id, position=0, key="poster.jpg", sha256="0" * 64, width=1080,
                height=1440, text="加V<b>扫码</b>", codes=[], thumbnail=jpeg(), problem="",
            )
        )  # fmt: skip


PHONE: Any = {"width": 390, "height": 844}  # playwright ViewportSize


def _unavailable() -> str | None:
    if not CHROMIUM.exists() and shutil.which("chromium") is None:
        return f"Chromium not installed ({CHROMIUM}; Debian: apt-get install chromium)"
    try:
        import playwright.async_api  # noqa: F401
    except ImportError:
        return "Playwright for Python not installed (pip install -c requirements.lock -e .[dev])"
    return None


@pytest.fixture
def browser_available() -> None:
    reason = _unavailable()
    if reason is None:
        return
    if os.environ.get("CI") or os.environ.get("GROUPGUARD_REQUIRE_SERVICES"):
        pytest.fail(f"{reason}; required under CI", pytrace=False)
    pytest.skip(reason)


@contextlib.asynccontextmanager
async def served(env: ConsoleEnv) -> AsyncIterator[tuple[str, Console]]:
    """The console on a real socket (127.0.0.1, a free port), with links to that address."""
    from plugins.console.app import Console, mount_console
    from rules.config import ConsoleSettings

    app = FastAPI()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", lifespan="off")
    )
    task = asyncio.create_task(server.serve())
    try:
        for _ in range(500):
            if server.started:
                break
            await asyncio.sleep(0.01)
        port = server.servers[0].sockets[0].getsockname()[1]
        base = f"http://127.0.0.1:{port}"
        settings = ConsoleSettings(public_url=base)
        console = Console.from_runtime(env.runtime, settings)
        mount_console(app, console)
        yield base, console
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, 10)


async def test_sign_in_open_a_case_and_pardon_it(browser_available: None) -> None:
    from playwright.async_api import async_playwright, expect

    env = await make_env()
    await env.runtime.storage.digest.note_groups({GROUP_A: "川护教职工群"}, env.clock())
    for n in range(55):  # more than one page of cases, over a month (for the screenshots)
        text, category, match, kind = SAMPLES[n % len(SAMPLES)]
        start = text.find(match)
        await env.case(
            f"{text}（{n}）",
            member=f"qq:{210000 + n % 17}",
            ago=timedelta(hours=n * 11 + 1),
            weight=1,
            findings=[Finding("keyword", category, match, start, start + len(match))],
            outcomes=((ActionKind.DELETE, OutcomeStatus.DONE), (kind, OutcomeStatus.DONE)),
        )
    case_id = await env.case(
        "加我微信网赌包赢 <script>alert(1)</script><img src=x onerror=alert(2)>",
        card='"><svg onload=alert(3)>',
        weight=3,
        outcomes=(
            (ActionKind.DELETE, OutcomeStatus.DONE),
            (ActionKind.MUTE, OutcomeStatus.FAILED),
        ),
    )
    await add_picture(env, case_id)
    review_case, review_task = await env.review_case()
    theirs = await env.case("群B的案件", group=GROUP_B)
    dialogs: list[str] = []
    problems: list[str] = []
    pictures: list[tuple[int, str]] = []
    BUILD.mkdir(exist_ok=True)
    try:
        async with served(env) as (base, console), async_playwright() as pw:
            commands = env.runtime.commands
            assert commands is not None
            commands.console_links = console.issue_link  # as the plugin wires it at start-up
            reply = await commands.handle(
                CommandRequest(Platform.QQ, Member(OFFICER_A), "/后台", env.clock())
            )
            assert reply is not None and "仅可使用一次" in reply
            link = reply.splitlines()[-1]
            browser = await pw.chromium.launch(executable_path=str(CHROMIUM), args=LAUNCH_ARGS)
            try:
                page = await browser.new_page(viewport=PHONE, locale="zh-CN")
                page.on("dialog", lambda d: dialogs.append(d.message))

                def note(message: Any) -> None:
                    if message.type in ("error", "warning"):
                        problems.append(message.text)

                page.on("console", note)
                page.on(
                    "response",
                    lambda r: (
                        pictures.append((r.status, r.headers.get("content-type", "")))
                        if "/images/" in r.url
                        else None
                    ),
                )

                await page.goto(link)
                await page.click("text=进入后台")
                await page.wait_for_url(f"{base}/console/")
                assert await page.inner_text("h1") == "总览"
                await page.screenshot(path=str(BUILD / "console-overview-390.png"), full_page=True)

                await page.click("nav >> text=案件")
                await page.wait_for_url(f"{base}/console/cases")
                assert await page.locator("li.case").count() == 50
                await page.click("text=加载更多")  # htmx appends the next page in place
                # (not wait_for_function: evaluating a string is refused by our CSP)
                await expect(page.locator("li.case")).to_have_count(57)
                assert page.url == f"{base}/console/cases"

                await page.goto(f"{base}/console/cases/{case_id}")
                evidence = await page.inner_text("p.evidence")
                assert "<script>alert(1)</script><img src=x onerror=alert(2)>" in evidence
                assert await page.inner_text("p.evidence mark") == "网赌"
                assert await page.inner_text("#active-weight") == "3"
                assert await page.locator(".outcome.failed").count() == 1
                assert "加V<b>扫码</b>" in await page.inner_text("#images .ocr")
                await expect(page.locator("#images img")).to_be_visible()
                box = await page.locator("#images img").bounding_box()
                assert box is not None and box["width"] > 50  # the picture, not its alt text
                assert pictures == [(200, "image/jpeg")]
                await page.screenshot(path=str(BUILD / "console-case-390.png"), full_page=True)

                await page.click("#pardon")
                await page.wait_for_url(f"{base}/console/cases/{case_id}?done=pardoned")
                assert await page.inner_text("#case-status") == "已赦免"
                assert await page.inner_text("#active-weight") == "0"

                hidden = await page.goto(f"{base}/console/cases/{theirs}")
                assert hidden is not None and hidden.status == 404
                assert "群B" not in await page.content()

                # a review item marked as a false positive, allow-listing the matched text
                await page.goto(f"{base}/console/tasks")
                item = page.locator(f"#task-{review_task}")
                assert "大码" in await item.inner_text()
                await page.screenshot(path=str(BUILD / "console-todo-390.png"), full_page=True)
                await item.locator("text=误判并加白「大码」").click()
                await page.wait_for_url(f"{base}/console/tasks?done=allowed")
                assert await page.locator(f"#task-{review_task}").count() == 0
                await page.goto(f"{base}/console/words")
                assert "大码" in await page.inner_text("#allow")
                await page.fill("textarea[name=text]", "大码女装特价")
                await page.click("#run-test")
                await expect(page.locator("#test-result")).to_contain_text("没有命中")
                await page.screenshot(path=str(BUILD / "console-words-390.png"), full_page=True)
                detail = await env.console.queries.case_detail(review_case, None)
                assert detail is not None and detail.case.status == "pardoned"
            finally:
                await browser.close()
    finally:
        await env.runtime.close()
    assert dialogs == []  # no payload ran
    assert not [p for p in problems if "Content Security Policy" in p], problems
