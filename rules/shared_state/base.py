"""What every implementation of the SharedState port shares: lease contexts, ready values.

The port itself is :class:`rules.core.ports.SharedState`. Its implementations
are siblings of this module: ``memory.MemoryState`` for a bot running alone,
``redis.RedisState`` for several processes (it falls back to a ``MemoryState``
while Redis is unreachable). Which one a bot uses is decided by the composition
root (``rules.runtime.open_shared_state``).

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
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Generator
from datetime import timedelta
from typing import Any

from rules.core.ports import SharedState


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


def describe(state: SharedState) -> str:
    """One line for the start-up banner."""
    label = getattr(state, "label", None)
    return str(label) if label else "in memory (this process alone)"
