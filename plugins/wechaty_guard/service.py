"""The WeChat side assembled: supervisor + gateway + bridge, started and stopped as one.

With several processes (shared state in Redis) each builds one of these, but
only the holder of the connection lease (``ownership``) connects; the others
stand by and hand their WeChat work to it through the relay (``relay``): the
gateway registered for the rest of the bot is a :class:`WechatEdge`. Every
process serves relay requests addressed to it and watches the announcement
"WeChat reconnected" (``on_connected``), so whichever process sends the officer
outbox retries the WeChat reports at once.

Used by the nonebot plugin (``__init__``) and by tests, which build it against
their own Runtime and a fake puppet service.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
from collections import deque
from collections.abc import Callable
from typing import Any

from plugins.wechaty_guard.bridge import WechatyBridge
from plugins.wechaty_guard.commands import WechatCommands
from plugins.wechaty_guard.gateway import WechatyGateway
from plugins.wechaty_guard.ownership import STANDBY_POLL, ConnectionLease
from plugins.wechaty_guard.pictures import WechatPictures
from plugins.wechaty_guard.relay import RelayDesk, RelayedGateway, WechatEdge
from plugins.wechaty_guard.supervisor import Timings, WechatySupervisor
from plugins.wechaty_guard.throttle import SendThrottle
from rules.config import Config
from rules.core.model import ActionKind, ChatEvent, Decision, EventKind, OutcomeStatus, Platform
from rules.runtime import Runtime
from rules.shared_state.relay import RelayError, relay_of

log = logging.getLogger("groupguard.wechaty")

MIN_RELAY_TIMEOUT = 30.0  # seconds a relayed call may take (paced sends wait their turn)


def officers_and_exempt(config: Config) -> frozenset[str]:
    """Every officer and exempt id named globally or in any group override."""
    ids = set(config.escalation.officers) | set(config.moderation.exempt_ids)
    for group_id in config.groups:
        policy = config.policy_for(group_id)
        ids |= set(policy.escalation.officers) | set(policy.moderation.exempt_ids)
    return frozenset(ids)


class WechatService:
    """One WeChat connection serving the core."""

    def __init__(self, runtime: Runtime, timings: Timings | None = None) -> None:
        settings = runtime.config.wechat
        self.runtime = runtime
        self.timings = timings or Timings.from_settings(settings)
        shared = runtime.shared.shared
        if shared:  # a standing-by process asks for the lease often: takeover is quick
            self.timings = dataclasses.replace(self.timings, standby_interval=STANDBY_POLL)
        self.supervisor = WechatySupervisor(settings.endpoint, settings.token, self.timings)
        self.lease = ConnectionLease(runtime.shared, settings.endpoint)
        self.supervisor.should_connect = self.lease.should_connect
        self.lease.on_lost = self.supervisor.drop
        self.throttle = SendThrottle(
            per_room=settings.send_interval_room.total_seconds(),
            overall=settings.send_interval.total_seconds(),
        )
        self.gateway = WechatyGateway(self.supervisor, self.throttle)
        self.relay = relay_of(runtime.shared)
        self.desk = RelayDesk(self.gateway)
        relay_timeout = max(MIN_RELAY_TIMEOUT, 3 * self.timings.rpc_timeout)
        self.remote = RelayedGateway(self.relay, self.lease.name, relay_timeout)
        # What the rest of the bot (outbox, jobs, commands) uses for WeChat.
        self.edge = WechatEdge(self.gateway, self.remote, lambda: self.lease.held)
        self.news_topic = f"{self.lease.name}:connected"
        trusted = officers_and_exempt(runtime.config)
        self.pictures = WechatPictures(self.supervisor, lambda: runtime.config.policy().images)
        self.bridge = WechatyBridge(
            self.supervisor, self.gateway, self.handle, trusted.__contains__, pictures=self.pictures
        )
        # The last few events and decisions, for diagnostics and tests.
        self.events: deque[ChatEvent] = deque(maxlen=50)
        self.decisions: deque[Decision] = deque(maxlen=50)
        self._tasks: list[asyncio.Task[Any]] = []
        self.commands: WechatCommands | None = None
        if runtime.commands is not None:
            self.commands = WechatCommands(runtime.commands, self.gateway, self.edge)
            self.bridge.private_handlers.append(self.commands.from_private)
        # Called with the group id when a decision queued an officer report.
        self.on_report: Callable[[str], None] | None = None
        # Called when WeChat (re)connected, in this process or, announced, in another:
        # the place to deliver reports that wait for WeChat.
        self.on_connected: Callable[[], None] | None = None
        self.supervisor.on_state.append(self._on_state)
        self._background: set[asyncio.Task[None]] = set()

    async def handle(self, event: ChatEvent) -> Decision:
        self.events.append(event)
        decision = await self.runtime.engine.handle(event, self.gateway)
        self.decisions.append(decision)
        if event.images:
            self._look_at_pictures(event, decision)
        if self.commands is not None and event.kind is EventKind.MESSAGE and not _removed(decision):
            self.commands.from_room(event)
        if self.on_report is not None and any(
            o.action.kind is ActionKind.ESCALATE and o.status is OutcomeStatus.DONE
            for o in decision.outcomes
        ):
            self.on_report(event.group_id)
        return decision

    def _look_at_pictures(self, event: ChatEvent, decision: Decision) -> None:
        """Hand a judged message's picture to the picture path (returns at once)."""
        pictures = self.runtime.pictures
        if pictures is None or not pictures.wants(event, decision):
            return
        try:
            pictures.submit(_Verdicts(self), event, self.gateway, self.pictures.fetch)
        except Exception:  # the message was moderated; a picture path fault must not undo that
            log.exception("WeChat: pictures of message %s not submitted", event.message_id)

    def start(self) -> None:
        """Register the gateway; start the supervisor, lease and relay tasks (returns at once)."""
        self.runtime.gateways[Platform.WECHAT] = self.edge
        self._tasks = [
            asyncio.create_task(self.supervisor.run(), name="groupguard-wechaty"),
            asyncio.create_task(self.lease.keep(), name="groupguard-wechat-lease"),
            asyncio.create_task(
                self.relay.serve(self.lease.name, self.desk), name="groupguard-wechat-relay"
            ),
        ]
        if self.runtime.shared.shared:
            self._tasks.append(asyncio.create_task(self._watch_news(), name="groupguard-news"))

    async def stop(self) -> None:
        """Close the session, give the lease up, stop serving; unregister the gateway."""
        if self.runtime.gateways.get(Platform.WECHAT) is self.edge:
            del self.runtime.gateways[Platform.WECHAT]
        tasks, self._tasks = self._tasks, []
        for task in tasks:  # the supervisor first: its session closes before the lease goes
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, TimeoutError):
                await asyncio.wait_for(task, 5.0)
        await self.lease.release()
        await self.bridge.close()
        if self.commands is not None:
            await self.commands.close()
        log.info("WeChat: stopped")

    def _on_state(self, up: bool) -> None:
        if not up:
            return
        self._connected()
        if self.runtime.shared.shared:  # the outbox may be sent by another process
            task = asyncio.get_running_loop().create_task(self._announce())
            self._background.add(task)
            task.add_done_callback(self._background.discard)

    def _connected(self) -> None:
        if self.on_connected is not None:
            try:
                self.on_connected()
            except Exception:
                log.exception("WeChat: on_connected failed")

    async def _announce(self) -> None:
        try:
            await self.relay.announce(self.news_topic)
        except RelayError as exc:
            log.warning("WeChat: could not tell the other processes it reconnected (%s)", exc)

    async def _watch_news(self) -> None:
        """Another process's connection came up: wake this process's outbox (if it sends it)."""
        last: int | None = None
        while True:
            heard: int | None
            try:
                heard = await self.relay.heard(self.news_topic)
            except RelayError:
                heard = last
            if last is not None and heard is not None and heard != last:
                self._connected()
            last = heard
            await asyncio.sleep(STANDBY_POLL)


class _Verdicts:
    """The engine as the picture path sees it: a picture's verdict is handled like a
    message's (recorded, and an officer report wakes the outbox)."""

    def __init__(self, service: WechatService) -> None:
        self.service = service

    async def handle(self, event: ChatEvent, gateway: object) -> Decision:
        return await self.service.handle(event)


def _removed(decision: Decision) -> bool:
    """Whether moderation just removed the message's sender from the room."""
    return any(
        o.action.kind is ActionKind.KICK and o.status is OutcomeStatus.DONE
        for o in decision.outcomes
    )
