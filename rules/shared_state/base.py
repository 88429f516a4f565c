"""State several bot processes share: in memory for one process, Redis for several.

:class:`MemoryState` implements :class:`rules.core.ports.SharedState` for a bot
running alone: claims are remembered in this process, leases are always this
process's, and flood counting stays in the detectors' own windows.
``rules.shared_state.redis.RedisState`` shares the same things between
processes and falls back to a ``MemoryState`` while Redis is unreachable.

For scheduled work that only one process may run (the member audit, a daily
digest), use a lease::

    if await runtime.shared.try_lease("daily-digest", timedelta(hours=20)):
        ...  # at most one process runs this, at most once per 20 hours

    async with runtime.shared.lease("roster-import", timedelta(minutes=5)) as held:
        if held:
            ...  # renewed while inside, released when done

Leases choose a process, not a task: two coroutines of the holder both get it.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from abc import ABC, abstractmethod
from collections import OrderedDict
from collections.abc import AsyncIterator, Callable, Generator
from datetime import timedelta
from typing import Any

from rules.config import RedisSettings
from rules.core.ports import FloodSample, SharedState


class Ready:
    """An awaitable whose value is already known (no event loop needed)."""

    __slots__ = ("value",)

    def __init__(self, value: Any) -> None:
        self.value = value

    def __await__(self) -> Generator[Any, None, Any]:
        return self.value
        yield  # pragma: no cover (makes this a generator)


class LeaseContext(ABC):
    """``lease()`` for any implementation of ``try_lease`` and ``release``."""

    @abstractmethod
    async def try_lease(self, name: str, ttl: timedelta) -> bool: ...

    @abstractmethod
    async def release(self, name: str) -> None: ...

    @contextlib.asynccontextmanager
    async def lease(self, name: str, ttl: timedelta) -> AsyncIterator[bool]:
        if not await self.try_lease(name, ttl):
            yield False
            return
        renewer = asyncio.create_task(self._renew(name, ttl), name=f"lease-{name}")
        try:
            yield True
        finally:
            renewer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await renewer
            await self.release(name)

    async def _renew(self, name: str, ttl: timedelta) -> None:
        while True:
            await asyncio.sleep(ttl.total_seconds() / 3)
            await self.try_lease(name, ttl)


class MemoryState(LeaseContext):
    """Shared state for one process: claims in a bounded map, every lease granted."""

    shared = False

    def __init__(
        self, max_claims: int = 200_000, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.max_claims = max_claims
        self.clock = clock
        self._claims: OrderedDict[str, float] = OrderedDict()  # key -> expiry

    async def claim(self, key: str, ttl: timedelta) -> bool:
        return self.claim_now(key, ttl)

    def claim_now(self, key: str, ttl: timedelta) -> bool:
        """:meth:`claim` without awaiting (callers that must not yield)."""
        now = self.clock()
        self._forget_expired(now)
        expiry = self._claims.get(key)
        if expiry is not None and expiry > now:
            return False
        self._claims[key] = now + ttl.total_seconds()
        self._claims.move_to_end(key)
        if len(self._claims) > self.max_claims:
            self._claims.popitem(last=False)
        return True

    def _forget_expired(self, now: float, at_most: int = 32) -> None:
        for _ in range(at_most):
            if not self._claims:
                return
            key, expiry = next(iter(self._claims.items()))
            if expiry > now:
                return
            del self._claims[key]

    async def try_lease(self, name: str, ttl: timedelta) -> bool:
        return True  # one process: it is always the holder

    async def release(self, name: str) -> None:
        return None

    def count_flood(self, sample: FloodSample) -> Ready:
        return Ready(None)  # the detectors' own windows are the state

    async def close(self) -> None:
        self._claims.clear()


async def open_shared_state(settings: RedisSettings) -> SharedState:
    """Redis when ``[redis] url`` is set (reachable or not), else memory."""
    if not settings.url:
        return MemoryState()
    from rules.shared_state.redis import RedisState

    return await RedisState.connect(settings.url, settings.key_prefix, settings.timeout)


def describe(state: SharedState) -> str:
    """One line for the start-up banner."""
    label = getattr(state, "label", None)
    return str(label) if label else "in memory (this process alone)"
