"""Officer console: a web page served by the bot under ``/console`` (issue 20).

Loaded as a nonebot plugin, it hooks into the bot's start-up (after the guard
plugin built the Runtime): when ``[console] enabled`` the console is mounted on
nonebot's FastAPI app, background tasks purge expired links and sessions and
count the overview's finished days, and the command service gets
``console.issue_link`` so that ``/后台`` answers with a one-time link.
``plugins.console.app`` builds the console, ``plugins.console.startup`` starts it.

Imported without a running nonebot (``bot.py console-link``, ``bench.console``)
the package hooks into nothing, so its modules work on their own.
"""

from __future__ import annotations

import asyncio
import contextlib

import nonebot
from nonebot.plugin import PluginMetadata

__plugin_meta__ = PluginMetadata(
    name="console",
    description="Officer web console under /console: cases, decisions, overview",
    usage="send /后台 (/console) to the bot by private message",
)

_tasks: dict[str, asyncio.Task[None]] = {}


def _nonebot_running() -> bool:
    try:
        nonebot.get_driver()
    except ValueError:  # "NoneBot has not been initialized"
        return False
    return True


def _hook_into_the_bot() -> None:
    nonebot.require("guard")
    from plugins.console.startup import keep_counts, purge_expired, start_console
    from plugins.guard import get_runtime

    driver = nonebot.get_driver()

    @driver.on_startup
    async def _start() -> None:
        runtime = get_runtime()
        console = start_console(nonebot.get_app(), runtime, runtime.config.console)
        if console is None:
            return
        _tasks["purge"] = asyncio.create_task(
            purge_expired(console), name="groupguard-console-purge"
        )
        _tasks["counts"] = asyncio.create_task(
            keep_counts(console), name="groupguard-console-counts"
        )
        if runtime.commands is not None:
            runtime.commands.console_links = console.issue_link
        base = console.settings.base_url(runtime.config.server.port)
        nonebot.logger.info(f"officer console: {base}/console/ (sign in: /后台 by private message)")

    @driver.on_shutdown
    async def _stop() -> None:
        for name in ("purge", "counts"):
            task = _tasks.pop(name, None)
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task


if _nonebot_running():
    _hook_into_the_bot()
