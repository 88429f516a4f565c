"""The core's host inside nonebot: builds the Runtime at startup and runs background work.

Platform plugins ``require("guard")`` and call :func:`get_runtime` to reach the
engine, and register their Gateway in ``runtime.gateways`` so the officer
outbox can deliver through them.

Start and stop, for crash safety (``rules.moderation.recovery``):

- at start, this run takes its liveness lease (``alive:<run>``) and, as the
  holder of the lease ``recovery``, settles the cases an earlier run left
  unsettled *before* the outbox sends anything (their reports are held while
  their actions are checked); the recovery then runs every
  :data:`RECOVERY_EVERY_S` seconds (a dead peer's cases);
- SIGTERM or Ctrl-C (the first one) stops taking events, lets those in flight
  finish for up to ``[server] stop_grace`` (pictures being looked at too), marks
  what is left as interrupted, and only then lets the server shut down
  (connections closed, then :func:`_stop`: the loops, the lease, and the store,
  whose queued writes land first). A second signal stops at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import math
import signal
import threading
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from types import FrameType
from typing import Any

from nonebot import get_driver, get_plugin_config, logger
from nonebot.plugin import PluginMetadata
from pydantic import BaseModel

from rules.config import Config, load_config
from rules.core.model import Platform
from rules.moderation.recovery import ALIVE_TTL, LEASE, Recovery, alive_lease
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
RECOVERY_EVERY_S = 30.0  # a pass over the unsettled list (cases of runs that are gone)
RECOVERY_RETRY_S = 2.0  # while recovered cases wait for a platform to answer their checks
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


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


_flush_seconds: set[int] = set()  # event-loop seconds a flush is already set for


def request_outbox_flush_after(delay: float) -> None:
    """Ask for a flush once ``delay`` seconds have passed (a report becomes due then).

    Requests falling due within the same second share one timer, at the end of that
    second: a raid's hundreds of escalations a second wake the outbox once a second,
    not once each, and no report waits more than a second longer for it.
    """
    loop = asyncio.get_running_loop()
    second = math.ceil(loop.time() + delay)
    if second in _flush_seconds:
        return
    _flush_seconds.add(second)

    def fire() -> None:
        _flush_seconds.discard(second)
        request_outbox_flush()

    loop.call_at(second, fire)


def request_outbox_flush_when_due(group_id: str) -> None:
    """Wake the officer outbox once a report just queued for ``group_id`` is due (after
    the group's ``[escalation] batch_window``)."""
    window = get_runtime().config.policy_for(group_id).escalation.batch_window
    request_outbox_flush_after(window.total_seconds() + 0.05)


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


async def _recover(runtime: Runtime, recovery: Recovery) -> bool:
    """One recovery pass if this process holds the lease; whether cases wait for a platform."""
    try:
        if not await runtime.shared.try_lease(LEASE, timedelta(seconds=3 * RECOVERY_EVERY_S)):
            return False
        result = await recovery.run()
    except Exception:  # a store hiccup must not end the loop
        logger.exception("recovery of interrupted cases failed; will retry")
        return True
    if result.settled:
        logger.warning(f"recovery: {result.settled} interrupted case(s) settled")
        request_outbox_flush()
    return bool(result.waiting)


async def _recovery_loop(runtime: Runtime, recovery: Recovery, waiting: bool) -> None:
    while True:
        await asyncio.sleep(RECOVERY_RETRY_S if waiting else RECOVERY_EVERY_S)
        waiting = await _recover(runtime, recovery)


def _install_stop_handlers(runtime: Runtime) -> None:
    """SIGTERM and Ctrl-C stop gracefully first (see module doc); the server's own handlers
    (uvicorn's, which close the connections) run once the handling in flight is done."""
    if threading.current_thread() is not threading.main_thread():
        return
    loop = asyncio.get_running_loop()
    previous: dict[int, Any] = {}
    for sig in STOP_SIGNALS:
        before = signal.getsignal(sig)
        if not callable(before):
            continue  # nothing to hand over to (not run by the server)
        previous[sig] = before

        def on_signal(
            signum: int, frame: FrameType | None, then: Callable[..., Any] = before
        ) -> None:
            if _state.get("stopping"):  # a second signal: stop now
                then(signum, frame)
                return
            _state["stopping"] = True
            loop.call_soon_threadsafe(
                lambda: _state.__setitem__(
                    "stop_task",
                    asyncio.ensure_future(_graceful_stop(runtime, lambda: then(signum, frame))),
                )
            )

        signal.signal(sig, on_signal)
    _state["signal_handlers"] = previous


async def _graceful_stop(runtime: Runtime, then: Callable[[], None]) -> None:
    """Stop taking events, let those in flight finish (``[server] stop_grace``), mark what
    is left as interrupted, then let the server stop."""
    engine = runtime.engine
    grace = runtime.config.server.stop_grace.total_seconds()
    loop = asyncio.get_running_loop()
    deadline = loop.time() + grace
    try:
        engine.stop_taking()
        logger.info(f"stopping: no new events; up to {grace:g}s for {engine.busy} in flight")
        pictures = getattr(runtime, "pictures", None)  # pictures being looked at, if any
        if pictures is not None:
            await pictures.stage.drain(grace)  # their verdicts are still handled
        left = await engine.drain(max(0.0, deadline - loop.time()))
        await _interrupt(runtime, left)
        logger.info(
            f"stopped taking events: in flight finished, {len(left)} case(s) interrupted, "
            f"{engine.refused} event(s) arrived meanwhile and were not handled"
        )
    except Exception:
        logger.exception("graceful stop failed; stopping anyway")
    finally:
        then()


async def _interrupt(runtime: Runtime, case_ids: list[int]) -> None:
    """Record the cases still in flight as interrupted (settled at the next start)."""
    if not case_ids:
        return
    logger.warning(
        f"{len(case_ids)} case(s) still in flight at the stop, recorded as interrupted "
        "(settled at the next start): " + ", ".join(f"#{c}" for c in case_ids[:20])
    )
    await runtime.storage.journal.interrupt(case_ids)


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
    if runtime.protection is not None:
        runtime.protection.notify = request_outbox_flush  # bans, raid alerts, clean-up
    _state["runtime"] = runtime
    leases = contextlib.AsyncExitStack()
    _state["leases"] = leases
    await leases.enter_async_context(
        runtime.shared.lease(alive_lease(runtime.engine.handler), ALIVE_TTL)
    )
    recovery = runtime.recovery()
    waiting = await _recover(runtime, recovery)  # before the outbox sends anything
    frozen = freeze_startup_heap()  # last: what start-up built is never walked again
    logger.info(f"start-up heap frozen ({frozen:,} objects): full GC no longer walks it")
    _state["outbox_task"] = asyncio.create_task(_outbox_loop(runtime), name="groupguard-outbox")
    _state["stats_task"] = asyncio.create_task(_stats_loop(runtime), name="groupguard-stats")
    _state["recovery_task"] = asyncio.create_task(
        _recovery_loop(runtime, recovery, waiting), name="groupguard-recovery"
    )
    _install_stop_handlers(runtime)
    logger.opt(colors=False).info("\n" + banner(config, source, runtime))


@driver.on_shutdown
async def _stop() -> None:
    stopping = _state.pop("stop_task", None)
    if isinstance(stopping, asyncio.Future):  # the graceful stop has run (it started this)
        await stopping
    handlers = _state.pop("signal_handlers", None)
    if isinstance(handlers, dict):
        for sig, handler in handlers.items():
            signal.signal(sig, handler)
    for name in ("outbox_task", "stats_task", "recovery_task"):
        task = _state.pop(name, None)
        if isinstance(task, asyncio.Task):
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
    runtime = _state.pop("runtime", None)
    if isinstance(runtime, Runtime):
        runtime.engine.stop_taking()
        if stopping is None:  # stopped without the signal: nothing waited for the work in flight
            with contextlib.suppress(Exception):
                await _interrupt(runtime, sorted(runtime.engine.in_flight_cases))
        leases = _state.pop("leases", None)
        if isinstance(leases, contextlib.AsyncExitStack):
            await leases.aclose()  # another process may settle what is left at once
        with contextlib.suppress(Exception):
            await runtime.shared.release(LEASE)
        logger.info(f"stats at shutdown: {runtime.engine.stats.line()}")
        await runtime.close()
    _state.pop("stopping", None)
