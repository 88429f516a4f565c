"""A supervised python-wechaty connection that lives inside the host's event loop.

``Wechaty.start()`` cannot be used in a host application (PLATFORMS.md): it
never returns while connected, stops the host loop when the endpoint is
unreachable, sleeps 60 s on a broken stream, has no RPC deadlines and no
liveness check. :class:`WechatySupervisor` drives the library's pieces itself:

1. an async TCP probe of the endpoint (the library's probe is a blocking
   3 s telnet on the loop);
2. ``init_puppet`` + ``init_puppet_event_bridge`` (the library's translation
   of puppet events into Message / Room / Contact objects);
3. its own gRPC channel (no probe, no discovery service) carrying the token
   both as ``authorization: Wechaty <token>`` metadata (what the gateway
   checks) and as the HTTP/2 ``:authority`` (what older gateways read), then
   ``Start`` under ``asyncio.wait_for``. Never ``Stop``: on the real puppet
   service ``Stop`` stops the puppet, which logs the WeChat account out, so a
   Stop/Start per connection logs the account out on every bot start and lets
   two processes knock each other off. ``Start`` alone is a no-op on a running
   puppet, starts a stopped one, and the event stream then replays ``login``
   when the account is logged in (verified against wechaty-puppet-service
   1.19.9, tests/plugins/wechaty/test_real_gateway.py);
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

Hooks for the host:

- ``should_connect``: an async predicate asked before every connection
  attempt (e.g. "does this process hold the WeChat lease?"); while it says no
  (or fails) the supervisor stands by and asks again every
  ``Timings.standby_interval``. :meth:`drop` ends a live session (lease lost).
- ``on_state``: callbacks called with ``True`` at once when a session logs in
  (connected, or reconnected after an outage: the place to wake anything that
  waits for WeChat, e.g. due officer reports) and ``False`` when it ends.

The gateway serves one event stream at a time: a second client gets
``ALREADY_EXISTS`` and retries with backoff (logged as such), without
disturbing the first. A gateway left in TLS mode only ever answers "Connection
lost"; the supervisor then tries a TLS handshake and, when it succeeds, says
what to change.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import random
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from grpclib.client import Channel
from grpclib.const import Status
from grpclib.exceptions import GRPCError, StreamTerminatedError
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
    standby_interval: float = 5.0  # how often ``should_connect`` is asked again

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


TLS_HINT = (
    "the gateway at %s speaks TLS, and python-wechaty has no TLS: start the gateway "
    "with WECHATY_PUPPET_SERVICE_NO_TLS_INSECURE_SERVER=true (see README, WeChat)"
)
MAYBE_TLS_HINT = (
    "the gateway at %s accepts connections but drops every call (%s); if it runs "
    "with TLS on, start it with WECHATY_PUPPET_SERVICE_NO_TLS_INSECURE_SERVER=true "
    "(python-wechaty has no TLS)"
)


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
        self._dropped = asyncio.Event()
        self._drop_reason = ""
        self._channel: Channel | None = None
        self._session_tasks: list[asyncio.Task[Any]] = []
        self._events_seen = 0  # events received in the current session
        self._tls_hinted = False
        self._standing_by = False
        # Called with True when a session logs in, False when a logged-in session ends.
        self.on_state: list[Callable[[bool], None]] = []
        # Asked before every connection attempt; None = always connect.
        self.should_connect: Callable[[], Awaitable[bool]] | None = None

    # ------------------------------------------------------------ public

    @property
    def puppet(self) -> Any:
        return self.bot._puppet

    async def run(self) -> None:
        """Connect, watch, reconnect with backoff, until cancelled."""
        log.info("WeChat: connecting to puppet service at %s", self.endpoint)
        while True:
            self._dropped.clear()  # a drop before this point is covered by asking again
            if not await self._may_connect():
                await asyncio.sleep(self.timings.standby_interval)
                continue
            try:
                await self._session()
                reason = "session ended"
            except asyncio.CancelledError:
                await self._cleanup()
                raise
            except Exception as exc:  # any failure: clean up, back off, retry
                reason = _describe(exc)
                await self._diagnose(exc)
            was_up = self.connected.is_set()
            self.last_error = reason
            await self._cleanup()
            if self._dropped.is_set():  # the host asked: no backoff, ask should_connect again
                log.info("WeChat: disconnected (%s)", reason)
                continue
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

    def drop(self, reason: str = "asked to disconnect") -> None:
        """End the current session (if any) without logging the account out.

        The next attempt asks ``should_connect`` first, so a process that lost
        its lease stands by instead of reconnecting.
        """
        self._drop_reason = reason
        self._dropped.set()

    async def _may_connect(self) -> bool:
        if self.should_connect is None:
            return True
        try:
            allowed = bool(await self.should_connect())
        except Exception as exc:  # an unanswerable lease means: do not connect
            log.warning("WeChat: should_connect failed (%s); not connecting", _describe(exc))
            allowed = False
        if allowed == self._standing_by:
            self._standing_by = not allowed
            if allowed:
                log.info("WeChat: connecting to %s (should_connect allows it)", self.endpoint)
            else:
                log.info("WeChat: standing by (should_connect says another process connects)")
        return allowed

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
        self._events_seen = 0
        await self.bot.init_puppet()
        puppet = self.bot.puppet
        await self.bot.init_puppet_event_bridge(puppet)
        self._open_channel(puppet)
        stub = puppet.puppet_stub
        # Start only, never Stop (Stop logs the account out; see the module docstring).
        try:
            await asyncio.wait_for(stub.start(), t.rpc_timeout)
        except TimeoutError:
            raise SessionEnded(f"Start: no answer in {t.rpc_timeout:g}s") from None
        listen = asyncio.create_task(puppet._listen_for_event(), name="wechaty-events")
        watchdog = asyncio.create_task(self._watchdog(puppet), name="wechaty-watchdog")
        logout = asyncio.create_task(self._logout.wait(), name="wechaty-logout")
        dropped = asyncio.create_task(self._dropped.wait(), name="wechaty-drop")
        self._session_tasks = [listen, watchdog, logout, dropped]
        done, _ = await asyncio.wait(self._session_tasks, return_when=asyncio.FIRST_COMPLETED)
        if listen in done:
            broke = listen.exception()
            if isinstance(broke, GRPCError) and broke.status is Status.ALREADY_EXISTS:
                raise SessionEnded(
                    "another client holds the gateway's event stream (ALREADY_EXISTS)"
                )
            raise SessionEnded(
                f"event stream broke: {_describe(broke)}"
                if broke
                else "event stream closed by server"
            )
        if logout in done:
            raise SessionEnded("the account logged out")
        if dropped in done:
            raise SessionEnded(self._drop_reason)
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

    async def _diagnose(self, exc: BaseException) -> None:
        """Log once what a failure that TLS explains probably means."""
        if self._tls_hinted or self._events_seen or not _tls_shaped(exc):
            return
        self._tls_hinted = True
        tls = await _speaks_tls(self.host, self.port, self.timings.connect_timeout)
        if tls is True:
            log.warning("WeChat: " + TLS_HINT, self.endpoint)
        elif tls is None:
            log.warning("WeChat: " + MAYBE_TLS_HINT, self.endpoint, _describe(exc))

    def _open_channel(self, puppet: Any) -> None:
        """Plain gRPC channel as the library builds it, minus the blocking probe.

        The token goes as ``authorization: Wechaty <token>`` metadata on every
        call (the gateway's check) and as the HTTP/2 ``:authority`` (what
        python-wechaty sends; gateways accept it through a compatibility patch).
        """
        channel = Channel(host=self.host, port=self.port)
        metadata = None
        if self.token:
            channel._authority = self.token
            metadata = {"authorization": f"Wechaty {self.token}"}
        stub = PuppetStub(channel, metadata=metadata)
        original = stub.event
        alive = self._alive

        async def guarded_events() -> AsyncIterator[EventResponse]:
            async for response in original():
                alive.set()
                self._events_seen += 1
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
        self._tls_hinted = False
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


def _tls_shaped(exc: BaseException) -> bool:
    """A failure a TLS-only gateway produces: the connection drops on the first call."""
    if isinstance(exc, StreamTerminatedError):
        return "connection lost" in str(exc).lower()
    name = type(exc).__name__
    return name == "ProtocolError" or isinstance(exc, ConnectionResetError)


async def _speaks_tls(host: str, port: int, within: float) -> bool | None:
    """True when ``host:port`` completes a TLS handshake, False when it does not, None if unsure."""
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    context.set_alpn_protocols(["h2"])
    try:
        _, writer = await asyncio.wait_for(
            asyncio.open_connection(host, port, ssl=context, server_hostname=host), within
        )
    except ssl.SSLError:
        return False  # it answered, but not with TLS
    except (OSError, TimeoutError):
        return None
    writer.close()
    with contextlib.suppress(Exception):
        await asyncio.wait_for(writer.wait_closed(), 1.0)
    return True


def _describe(exc: BaseException | None) -> str:
    if exc is None:
        return "-"
    text = str(exc)
    return text if isinstance(exc, SessionEnded) else f"{type(exc).__name__}: {text or '-'}"
