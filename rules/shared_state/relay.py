"""Messages between bot processes: requests to a lease's holder, and announcements.

Some work can only be done by one process: the one holding a lease, e.g. the
one connection to a platform that allows a single client. Another process that
decides such work asks the holder to do it::

    reply = await relay.request("wechat:host:8788", {"op": "send", ...}, within=30)

and the holder answers what it serves under that lease name::

    await relay.serve("wechat:host:8788", handler)  # a task, until cancelled

Requests and replies are JSON objects. :meth:`Relay.request` never hangs: it
returns the holder's reply, or raises :class:`RelayError` (nobody holds the
lease, the shared state is unreachable, the holder failed) or
:class:`RelayTimeout` (no answer ``within`` the given seconds: the holder may
have done the work or not, so a caller records a failure, and one that retries,
like the officer outbox, may repeat it). A request that reaches the holder
after its deadline is dropped unanswered.

Announcements are counters anyone can bump and everyone can read, for news that
must reach whichever process cares (e.g. "the platform reconnected", so the
process that sends the officer outbox retries at once): :meth:`Relay.announce`
and :meth:`Relay.heard`.

Implementations: :class:`MemoryRelay` for a process alone (it is always the
holder: a request goes straight to its own handler) and
``rules.shared_state.redis_relay.RedisRelay`` for several processes. Get the one
that goes with a shared state from :func:`relay_of`.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from typing import Any, Protocol, runtime_checkable

Message = dict[str, Any]
Handler = Callable[[Message], Awaitable[Message]]


class RelayError(Exception):
    """A request could not be answered; the text says why (for logs and outcomes)."""


class RelayTimeout(RelayError, TimeoutError):
    """No answer within the request's timeout (the holder may have done the work)."""


class Relay(Protocol):
    """Requests to a lease holder, and announcements, between bot processes."""

    async def request(self, lease: str, body: Message, within: float) -> Message:
        """The reply of whichever process holds ``lease`` (serving it) to ``body``."""
        ...

    async def serve(self, lease: str, handler: Handler) -> None:
        """Answer requests sent to this process under ``lease``, until cancelled.

        Handlers run concurrently; an exception becomes an error reply.
        """
        ...

    async def announce(self, topic: str) -> None:
        """Bump the counter of ``topic`` (every process sees the new count); RelayError when
        the shared state is unreachable."""
        ...

    async def heard(self, topic: str) -> int:
        """The counter of ``topic`` (0 when never announced; RelayError when unreachable)."""
        ...


@runtime_checkable
class Relaying(Protocol):
    """A shared state that carries a relay (``MemoryState``, ``RedisState``)."""

    def relay(self) -> Relay: ...


def relay_of(state: object) -> Relay:
    """The relay that goes with ``state``; a private in-process one if it has none."""
    return state.relay() if isinstance(state, Relaying) else MemoryRelay()


def roundtrip(message: Message) -> Message:
    """``message`` as the other side of a process boundary would see it (JSON)."""
    decoded: Message = json.loads(json.dumps(message, ensure_ascii=False))
    return decoded


def describe_error(exc: BaseException) -> str:
    text = str(exc)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


class MemoryRelay:
    """The relay of a process alone: it serves every lease itself, requests are calls.

    Messages still make the JSON round trip, so what works here works across
    processes.
    """

    def __init__(self) -> None:
        self._handlers: dict[str, Handler] = {}
        self._news: dict[str, int] = {}

    async def request(self, lease: str, body: Message, within: float) -> Message:
        handler = self._handlers.get(lease)
        if handler is None:
            raise RelayError(f"nothing serves {lease!r} in this process")
        return await call_handler(handler, body, within)

    async def serve(self, lease: str, handler: Handler) -> None:
        self._handlers[lease] = handler
        try:
            await asyncio.Event().wait()  # until cancelled
        finally:
            if self._handlers.get(lease) is handler:
                del self._handlers[lease]

    def local_handler(self, lease: str) -> Handler | None:
        return self._handlers.get(lease)

    async def announce(self, topic: str) -> None:
        self._news[topic] = self._news.get(topic, 0) + 1

    async def heard(self, topic: str) -> int:
        return self._news.get(topic, 0)

    async def close(self) -> None:
        self._handlers.clear()


async def call_handler(handler: Handler, body: Message, within: float) -> Message:
    """Run a handler as a remote one runs: JSON in and out, bounded, errors wrapped."""
    try:
        reply = await asyncio.wait_for(handler(roundtrip(body)), within)
    except TimeoutError:
        raise RelayTimeout(f"no answer in {within:g}s") from None
    except RelayError:
        raise
    except Exception as exc:
        raise RelayError(describe_error(exc)) from exc
    return roundtrip(reply)
