"""The core's host inside nonebot: builds the Runtime at startup and runs background work.

Platform plugins ``require("guard")`` and call :func:`get_runtime` to reach the
engine, and register their Gateway in ``runtime.gateways`` so the officer
outbox can deliver through them.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
from datetime import timedelta
from pathlib import Path

from nonebot import get_driver, get_plugin_config, logger
from nonebot.plugin import PluginMetadata
from pydantic import BaseModel

from rules.config import Config, load_config
from rules.core.model import Platform
from rules.runtime import Runtime, freeze_startup_heap, rule_count
from rules.shared_state.base import describe

__plugin_meta__ = PluginMetadata(
    name="guard",
    description="GroupGuard core: config, store, engine and officer outbox",
    usage="loaded by bot.py",
)

OUTBOX_INTERVAL_S = 10.0
# With several processes (Redis) only the holder of this lease sends the outbox;
# it polls more often, since the process that queued a report cannot wake it.
OUTBOX_LEASE = "outbox"
SHARED_OUTBOX_INTERVAL_S = 2.0


class PluginConfig(BaseModel):
    groupguard_config: str | None = None


driver = get_driver()
_state: dict[str, object] = {}
_reconnected: set[Platform] = set()  # platforms back since the last flush


def get_runtime() -> Runtime:
    """The running core; raises if the bot has not started yet."""
    runtime = _state.get("runtime")
    if not isinstance(runtime, Runtime):
        raise RuntimeError("GroupGuard runtime is not started")
    return runtime


def banner(config: Config, source: Path, runtime: Runtime) -> str:
    """What an operator needs to see at start: where to connect, what runs."""
    host = config.server.host
    shown_host = "127.0.0.1" if host in ("0.0.0.0", "::") else host
    token = (
        "set; give NapCat/Lagrange the same value as its access token"
        if config.onebot.access_token
        else "none (loopback only); set [onebot] access_token before exposing the port"
    )
    wechat = f"on, puppet service at {config.wechat.endpoint}" if config.wechat.enabled else "off"
    dry_run = "ON: decisions are recorded, nothing is done" if config.moderation.dry_run else "off"
    lines = [
        "GroupGuard (群卫士) starting",
        f"  config:    {source}",
        f"  OneBot v11 reverse WebSocket: ws://{shown_host}:{config.server.port}/onebot/v11/ws",
        f"  token:     {token}",
        f"  database:  {runtime.storage.database.url}",
        f"  shared:    {describe(runtime.shared)}",
        f"  rules:     {rule_count(runtime.engine.detectors)} loaded "
        f"({len(runtime.engine.detectors)} detectors)",
        f"  WeChat:    {wechat}",
        f"  dry run:   {dry_run}",
    ]
    return "\n".join(lines)


def request_outbox_flush(reconnected: Platform | None = None) -> None:
    """Ask the outbox loop to deliver now (e.g. right after an escalation), not at its next tick.

    ``reconnected``: a platform that just came back, whose officers' reports waiting out a
    retry backoff go now. The one loop does all sending, so a report is never sent twice by
    overlapping flushes.
    """
    if reconnected is not None:
        _reconnected.add(reconnected)
    wake = _state.get("outbox_wake")
    if isinstance(wake, asyncio.Event):
        wake.set()


async def _outbox_loop(runtime: Runtime) -> None:
    sender = runtime.outbox()
    wake = asyncio.Event()
    _state["outbox_wake"] = wake
    interval = SHARED_OUTBOX_INTERVAL_S if runtime.shared.shared else OUTBOX_INTERVAL_S
    lease_ttl = timedelta(seconds=3 * OUTBOX_INTERVAL_S)  # the holder renews it every tick
    while True:
        wake.clear()  # reports queued during this flush wake the next one
        try:
            back = frozenset(_reconnected)
            _reconnected.clear()
            if await runtime.shared.try_lease(OUTBOX_LEASE, lease_ttl):
                await (sender.flush(reconnected=back) if back else sender.flush())
        except Exception:  # a store hiccup must not end the loop
            logger.exception("officer outbox flush failed; will retry")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(wake.wait(), interval)


async def _stats_loop(runtime: Runtime) -> None:
    """One log line of counts every ``[server] stats_interval`` (the operator's pulse)."""
    every = runtime.config.server.stats_interval.total_seconds()
    if every <= 0:
        return
    stats = runtime.engine.stats
    while True:
        before = dataclasses.replace(stats)
        await asyncio.sleep(every)
        logger.info(f"stats: {stats.line(before)}")


@driver.on_startup
async def _start() -> None:
    path = get_plugin_config(PluginConfig).groupguard_config
    config, source = load_config(Path(path) if path else None)
    runtime = await Runtime.start(config, share=True)
    if runtime.commands is not None:
        runtime.commands.notify = request_outbox_flush  # reports from /report, /appeal
    _state["runtime"] = runtime
    frozen = freeze_startup_heap()  # last: what start-up built is never walked again
    logger.info(f"start-up heap frozen ({frozen:,} objects): full GC no longer walks it")
    _state["outbox_task"] = asyncio.create_task(_outbox_loop(runtime), name="groupguard-outbox")
    _state["stats_task"] = asyncio.create_task(_stats_loop(runtime), name="groupguard-stats")
    logger.opt(colors=False).info("\n" + banner(config, source, runtime))


@driver.on_shutdown
async def _stop() -> None:
    for name in ("outbox_task", "stats_task"):
        task = _state.pop(name, None)
        if isinstance(task, asyncio.Task):
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
    runtime = _state.pop("runtime", None)
    if isinstance(runtime, Runtime):
        logger.info(f"stats at shutdown: {runtime.engine.stats.line()}")
        await runtime.close()
