"""The WeChat side assembled: supervisor + gateway + bridge, started and stopped as one.

Used by the nonebot plugin (``__init__``) and by tests, which build it against
their own Runtime and a fake puppet service.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import Callable

from plugins.wechaty_guard.bridge import WechatyBridge
from plugins.wechaty_guard.commands import WechatCommands
from plugins.wechaty_guard.gateway import WechatyGateway
from plugins.wechaty_guard.supervisor import Timings, WechatySupervisor
from plugins.wechaty_guard.throttle import SendThrottle
from rules.config import Config
from rules.core.model import ActionKind, ChatEvent, Decision, EventKind, OutcomeStatus, Platform
from rules.runtime import Runtime

log = logging.getLogger("groupguard.wechaty")


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
        self.supervisor = WechatySupervisor(settings.endpoint, settings.token, self.timings)
        self.throttle = SendThrottle(
            per_room=settings.send_interval_room.total_seconds(),
            overall=settings.send_interval.total_seconds(),
        )
        self.gateway = WechatyGateway(self.supervisor, self.throttle)
        trusted = officers_and_exempt(runtime.config)
        self.bridge = WechatyBridge(
            self.supervisor, self.gateway, self.handle, trusted.__contains__
        )
        # The last few events and decisions, for diagnostics and tests.
        self.events: deque[ChatEvent] = deque(maxlen=50)
        self.decisions: deque[Decision] = deque(maxlen=50)
        self._task: asyncio.Task[None] | None = None
        self.commands: WechatCommands | None = None
        if runtime.commands is not None:
            self.commands = WechatCommands(runtime.commands, self.gateway)
            self.bridge.private_handlers.append(self.commands.from_private)
        # Called with the group id when a decision queued an officer report.
        self.on_report: Callable[[str], None] | None = None

    async def handle(self, event: ChatEvent) -> Decision:
        self.events.append(event)
        decision = await self.runtime.engine.handle(event, self.gateway)
        self.decisions.append(decision)
        if self.commands is not None and event.kind is EventKind.MESSAGE and not _removed(decision):
            self.commands.from_room(event)
        if self.on_report is not None and any(
            o.action.kind is ActionKind.ESCALATE and o.status is OutcomeStatus.DONE
            for o in decision.outcomes
        ):
            self.on_report(event.group_id)
        return decision

    def start(self) -> None:
        """Register the gateway and start the supervisor task (returns at once)."""
        self.runtime.gateways[Platform.WECHAT] = self.gateway
        self._task = asyncio.create_task(self.supervisor.run(), name="groupguard-wechaty")

    async def stop(self) -> None:
        """Cancel the supervisor (it closes its session) and unregister the gateway."""
        if self.runtime.gateways.get(Platform.WECHAT) is self.gateway:
            del self.runtime.gateways[Platform.WECHAT]
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, TimeoutError):
                await asyncio.wait_for(task, 5.0)
        await self.bridge.close()
        if self.commands is not None:
            await self.commands.close()
        log.info("WeChat: stopped")


def _removed(decision: Decision) -> bool:
    """Whether moderation just removed the message's sender from the room."""
    return any(
        o.action.kind is ActionKind.KICK and o.status is OutcomeStatus.DONE
        for o in decision.outcomes
    )
