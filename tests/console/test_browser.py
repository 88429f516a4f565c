"""The console in a real browser: Debian's Chromium, headless, driven by Playwright.

Why Playwright for Python: it is one pip package (its driver ships inside the
wheel), it drives the system's ``/usr/bin/chromium`` through
``executable_path`` (nothing is downloaded), its async API runs in the test's
own event loop next to the uvicorn server, and it waits for navigation and
elements by itself. Selenium would need Debian's ``chromium-driver`` as well.

Skipped, with the reason, when Chromium or Playwright is missing, unless
``CI`` is set (then it fails). Screenshots at phone width (390 px) go to
``build/``.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
import uvicorn
from fastapi import FastAPI

from rules.core.model import ActionKind, Finding, OutcomeStatus
from tests.console.conftest import GROUP_A, OFFICER_A, ConsoleEnv, make_env

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
    if os.environ.get("CI"):
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
    dialogs: list[str] = []
    problems: list[str] = []
    BUILD.mkdir(exist_ok=True)
    try:
        async with served(env) as (base, console), async_playwright() as pw:
            issued = await console.issue_link(OFFICER_A, "test")
            assert issued is not None
            browser = await pw.chromium.launch(executable_path=str(CHROMIUM), args=LAUNCH_ARGS)
            try:
                page = await browser.new_page(viewport=PHONE, locale="zh-CN")
                page.on("dialog", lambda d: dialogs.append(d.message))

                def note(message: Any) -> None:
                    if message.type in ("error", "warning"):
                        problems.append(message.text)

                page.on("console", note)

                await page.goto(issued[0])
                await page.click("text=进入后台")
                await page.wait_for_url(f"{base}/console/")
                assert await page.inner_text("h1") == "总览"
                await page.screenshot(path=str(BUILD / "console-overview-390.png"), full_page=True)

                await page.click("nav >> text=案件")
                await page.wait_for_url(f"{base}/console/cases")
                assert await page.locator("li.case").count() == 50
                await page.click("text=加载更多")  # htmx appends the next page in place
                # (not wait_for_function: evaluating a string is refused by our CSP)
                await expect(page.locator("li.case")).to_have_count(56)
                assert page.url == f"{base}/console/cases"

                await page.goto(f"{base}/console/cases/{case_id}")
                evidence = await page.inner_text("p.evidence")
                assert "<script>alert(1)</script><img src=x onerror=alert(2)>" in evidence
                assert await page.inner_text("p.evidence mark") == "网赌"
                assert await page.inner_text("#active-weight") == "3"
                assert await page.locator(".outcome.failed").count() == 1
                await page.screenshot(path=str(BUILD / "console-case-390.png"), full_page=True)

                await page.click("#pardon")
                await page.wait_for_url(f"{base}/console/cases/{case_id}?done=pardoned")
                assert await page.inner_text("#case-status") == "已赦免"
                assert await page.inner_text("#active-weight") == "0"
            finally:
                await browser.close()
    finally:
        await env.runtime.close()
    assert dialogs == []  # no payload ran
    assert not [p for p in problems if "Content Security Policy" in p], problems
