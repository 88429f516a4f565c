"""A supervised python-wechaty connection that lives inside the host's event loop.

``Wechaty.start()`` cannot be used in a host application (PLATFORMS.md): it
never returns while connected, stops the host loop when the endpoint is
unreachable, sleeps 60 s on a broken stream, has no RPC deadlines and no
liveness check. :class:`WechatySupervisor` drives the library's pieces itself:

1. an async TCP probe of the endpoint (the library's probe is a blocking
   3 s telnet on the loop);
2. ``init_puppet`` + ``init_puppet_event_bridge`` (the library's translation
   of puppet events into Message / Room / Contact objects);
3. its own gRPC channel (no probe, no discovery service), ``Stop`` and
   ``Start`` under ``asyncio.wait_for``;
4. the puppet's event loop (``_listen_for_event``) as a task, its stream
   wrapped so a heartbeat without ``data`` (a KeyError in the library) or a
   malformed payload cannot end it, and every event counted as a sign of life;
5. beside it a watchdog that sends ``Ding`` every ``ding_interval`` and
   expects the RPC and some event (the ``dong``) within ``ding_timeout``.

Whatever ends a session (refused connection, timeout, dropped stream, silent
server, logout, any exception) is logged, the session is cleaned up (listeners
removed, tasks cancelled, channel closed) and the next attempt waits with
exponential backoff. The plugin manager's ``start`` (a web server and an
APScheduler job store) is disabled. Nothing here blocks or stops the loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import random
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from grpclib.client import Channel
from wechaty_grpc.wechaty import PuppetStub
from wechaty_grpc.wechaty.puppet import EventResponse, EventType

from plugins.wechaty_guard.compat import PuppetOptions, clear_payload_pools, wechaty
from rules.config import WechatSettings

log = logging.getLogger("groupguard.wechaty")


@dataclass(frozen=True, slots=True)
class Timings:
    """Deadlines and retry pacing of the connection, in seconds."""

    connect_timeout: float = 5.0
    rpc_timeout: float = 10.0
    ding_interval: float = 30.0
    ding_timeout: float = 10.0
    backoff_initial: float = 1.0
    backoff_max: float = 300.0

    @classmethod
    def from_settings(cls, settings: WechatSettings) -> Timings:
        return cls(
            connect_timeout=settings.connect_timeout.total_seconds(),
            rpc_timeout=settings.rpc_timeout.total_seconds(),
            ding_interval=settings.ding_interval.total_seconds(),
            ding_timeout=settings.ding_timeout.total_seconds(),
            backoff_initial=settings.backoff_initial.total_seconds(),
            backoff_max=settings.backoff_max.total_seconds(),
        )

    def backoff(self, failures: int) -> float:
        """Delay before the next attempt after ``failures`` consecutive failures (jittered)."""
        delay = min(self.backoff_initial * (2 ** max(failures - 1, 0)), self.backoff_max)
        return delay * random.uniform(0.8, 1.0)


class SessionEnded(Exception):
    """A connection session ended; the message says why (for the log)."""


def split_endpoint(endpoint: str) -> tuple[str, int]:
    """``host:port`` -> (host, port); raise ValueError naming the endpoint otherwise."""
    host, sep, port = endpoint.strip().rpartition(":")
    if not sep or not host or not port.isdigit():
        raise ValueError(f"wechat.endpoint {endpoint!r} must be host:port")
    return host.strip("[]"), int(port)


class WechatySupervisor:
    """Owns one ``Wechaty`` instance and keeps it connected; run :meth:`run` as a task."""

    def __init__(self, endpoint: str, token: str, timings: Timings | None = None) -> None:
        self.host, self.port = split_endpoint(endpoint)
        self.endpoint = endpoint
        self.token = token
        self.timings = timings or Timings()
        options = wechaty.WechatyOptions(
            puppet_options=PuppetOptions(end_point=endpoint, token=token or None),
            scheduler=AsyncIOScheduler(),  # never started; avoids the SQLite job store
        )
        self.bot: Any = wechaty.Wechaty(options)
        self.bot._plugin_manager.start = _no_plugins  # binds a port, starts APScheduler
        self.bot.on("login", self._on_login)
        self.bot.on("logout", self._on_logout)
        self.bot.on("error", self._on_error)
        self.self_id: str | None = None
        self.connected = asyncio.Event()  # set while a session is logged in
        self.sessions = 0  # sessions that reached login
        self.failures = 0  # consecutive failed attempts
        self.last_error = ""
        self._alive = asyncio.Event()
        self._logout = asyncio.Event()
        self._channel: Channel | None = None
        self._session_tasks: list[asyncio.Task[Any]] = []
        self.on_state: list[Callable[[bool], None]] = []

    # ------------------------------------------------------------ public

    @property
    def puppet(self) -> Any:
        return self.bot._puppet

    async def run(self) -> None:
        """Connect, watch, reconnect with backoff, until cancelled."""
        log.info("WeChat: connecting to puppet service at %s", self.endpoint)
        while True:
            try:
                await self._session()
                reason = "session ended"
            except asyncio.CancelledError:
                await self._cleanup()
                raise
            except Exception as exc:  # any failure: clean up, back off, retry
                reason = _describe(exc)
            was_up = self.connected.is_set()
            self.last_error = reason
            await self._cleanup()
            self.failures = 1 if was_up else self.failures + 1
            delay = self.timings.backoff(self.failures)
            log.warning(
                "WeChat: %s (%s); %s in %.2fs",
                "disconnected" if was_up else "cannot connect",
                reason,
                "reconnecting" if was_up else f"attempt {self.failures + 1}",
                delay,
            )
            await asyncio.sleep(delay)

    async def wait_connected(self, within: float) -> bool:
        """True once logged in (within ``within`` seconds)."""
        try:
            await asyncio.wait_for(self.connected.wait(), within)
        except TimeoutError:
            return False
        return True

    async def call(self, awaitable: Any, what: str) -> Any:
        """Await an RPC under the RPC deadline; raise ConnectionError when not connected."""
        if not self.connected.is_set():
            if asyncio.iscoroutine(awaitable):
                awaitable.close()  # never started: no "never awaited" warning
            raise ConnectionError(f"WeChat not connected ({self.last_error or 'starting'})")
        try:
            return await asyncio.wait_for(awaitable, self.timings.rpc_timeout)
        except TimeoutError:
            raise TimeoutError(f"{what}: no answer in {self.timings.rpc_timeout:g}s") from None

    # ------------------------------------------------------------ one session

    async def _session(self) -> None:
        t = self.timings
        await self._probe()
        clear_payload_pools()  # cached objects are bound to the previous puppet
        self._logout.clear()
        await self.bot.init_puppet()
        puppet = self.bot.puppet
        await self.bot.init_puppet_event_bridge(puppet)
        self._open_channel(puppet)
        stub = puppet.puppet_stub
        try:
            await asyncio.wait_for(stub.stop(), t.rpc_timeout)
        except TimeoutError:
            raise SessionEnded(f"Stop: no answer in {t.rpc_timeout:g}s") from None
        except Exception as exc:  # a puppet that was not running may refuse Stop
            log.info("WeChat: Stop refused (%s); starting anyway", _describe(exc))
        try:
            await asyncio.wait_for(stub.start(), t.rpc_timeout)
        except TimeoutError:
            raise SessionEnded(f"Start: no answer in {t.rpc_timeout:g}s") from None
        listen = asyncio.create_task(puppet._listen_for_event(), name="wechaty-events")
        watchdog = asyncio.create_task(self._watchdog(puppet), name="wechaty-watchdog")
        logout = asyncio.create_task(self._logout.wait(), name="wechaty-logout")
        self._session_tasks = [listen, watchdog, logout]
        done, _ = await asyncio.wait(self._session_tasks, return_when=asyncio.FIRST_COMPLETED)
        if listen in done:
            broke = listen.exception()
            raise SessionEnded(
                f"event stream broke: {_describe(broke)}"
                if broke
                else "event stream closed by server"
            )
        if logout in done:
            raise SessionEnded("the account logged out")
        stalled = watchdog.exception()
        raise SessionEnded(_describe(stalled) if stalled else "watchdog stopped")

    async def _probe(self) -> None:
        """Async TCP reachability check (the library's own one blocks the loop)."""
        try:
            _, writer = await asyncio.wait_for(
                asyncio.open_connection(self.host, self.port), self.timings.connect_timeout
            )
        except TimeoutError:
            raise SessionEnded(
                f"{self.endpoint} did not accept a connection in {self.timings.connect_timeout:g}s"
            ) from None
        except OSError as exc:
            raise SessionEnded(f"{self.endpoint} unreachable: {exc.strerror or exc}") from None
        writer.close()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(writer.wait_closed(), 1.0)

    def _open_channel(self, puppet: Any) -> None:
        """Plain gRPC channel as the library builds it, minus the blocking probe."""
        channel = Channel(host=self.host, port=self.port)
        if self.token:  # the service token travels as the HTTP/2 :authority
            channel._authority = self.token
        stub = PuppetStub(channel)
        original = stub.event
        alive = self._alive

        async def guarded_events() -> AsyncIterator[EventResponse]:
            async for response in original():
                alive.set()
                fixed = _repair_event(response)
                if fixed is not None:
                    yield fixed

        stub.event = guarded_events
        self._channel = channel
        puppet.channel = channel
        puppet._puppet_stub = stub

    async def _watchdog(self, puppet: Any) -> None:
        t = self.timings
        while True:
            await asyncio.sleep(t.ding_interval)
            self._alive.clear()
            try:
                await asyncio.wait_for(puppet.ding("groupguard"), t.ding_timeout)
            except TimeoutError:
                raise SessionEnded(
                    f"Ding: no answer in {t.ding_timeout:g}s (server hung)"
                ) from None
            try:
                await asyncio.wait_for(self._alive.wait(), t.ding_timeout)
            except TimeoutError:
                raise SessionEnded(
                    f"no event (dong) within {t.ding_timeout:g}s of a ding (stream hung)"
                ) from None

    async def _cleanup(self) -> None:
        """Undo a session, whatever state it reached; bounded and exception-free."""
        was_up = self.connected.is_set()
        self.connected.clear()
        tasks, self._session_tasks = self._session_tasks, []
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.wait(tasks, timeout=2.0)
        puppet = self.bot._puppet
        if puppet is not None:
            with contextlib.suppress(Exception):
                puppet._event_stream.remove_all_listeners()
            puppet._puppet_stub = None
            puppet.channel = None
        if self._channel is not None:
            with contextlib.suppress(Exception):
                self._channel.close()
            self._channel = None
        if was_up:
            self._notify(False)

    # ------------------------------------------------------------ bot events

    async def _on_login(self, contact: Any) -> None:
        self.self_id = str(contact.contact_id)
        self.sessions += 1
        self.failures = 0
        self.last_error = ""
        self.connected.set()
        log.info("WeChat: logged in as %s (session %d)", self.self_id, self.sessions)
        self._notify(True)

    async def _on_logout(self, contact: Any) -> None:
        log.warning("WeChat: the account %s logged out", getattr(contact, "contact_id", "?"))
        self._logout.set()

    def _on_error(self, error: Any) -> None:
        log.warning("WeChat: error in an event handler: %r", error)

    def _notify(self, up: bool) -> None:
        for callback in list(self.on_state):
            try:
                callback(up)
            except Exception:
                log.exception("WeChat: state callback failed")


# Events whose payload class requires a non-null "data" (ValueError / KeyError otherwise).
_DATA_EVENTS = frozenset(
    {
        EventType.EVENT_TYPE_HEARTBEAT,
        EventType.EVENT_TYPE_DONG,
        EventType.EVENT_TYPE_ERROR,
        EventType.EVENT_TYPE_READY,
        EventType.EVENT_TYPE_RESET,
    }
)


async def _no_plugins() -> None:
    """Replaces ``WechatyPluginManager.start``: GroupGuard uses no wechaty plugins."""


def _repair_event(response: EventResponse) -> EventResponse | None:
    """Make an event safe for the library's listener, or drop it (None).

    The library indexes ``payload["data"]`` of heartbeats (KeyError without it)
    and ``json.loads`` every payload; either error would end the event loop.
    """
    try:
        payload = json.loads(response.payload) if response.payload else {}
    except ValueError:
        log.warning("WeChat: dropped an event with a malformed payload (type %s)", response.type)
        return None
    if not isinstance(payload, dict):
        log.warning("WeChat: dropped an event whose payload is not an object")
        return None
    if response.type in _DATA_EVENTS and payload.get("data") is None:
        payload["data"] = ""
    return EventResponse(type=response.type, payload=json.dumps(payload))


def _describe(exc: BaseException | None) -> str:
    if exc is None:
        return "-"
    text = str(exc)
    return text if isinstance(exc, SessionEnded) else f"{type(exc).__name__}: {text or '-'}"
