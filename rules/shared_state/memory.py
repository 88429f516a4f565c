"""Shared state for a bot running alone: the SharedState port kept in this process.

Claims are remembered in a bounded map, every lease is this process's, and flood
counting stays in the detectors' own windows. ``RedisState`` keeps one of these
to fall back on while Redis is unreachable.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable
from datetime import timedelta

from rules.core.ports import FloodSample
from rules.shared_state.base import LeaseContext, Ready
from rules.shared_state.relay import MemoryRelay


class MemoryState(LeaseContext):
    """Shared state for one process: claims in a bounded map, every lease granted."""

    shared = False

    def __init__(
        self, max_claims: int = 200_000, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.max_claims = max_claims
        self.clock = clock
        self._claims: OrderedDict[str, float] = OrderedDict()  # key -> expiry
        self._relay = MemoryRelay()

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

    def relay(self) -> MemoryRelay:
        """This process serves every lease: requests are calls (``rules.shared_state.relay``)."""
        return self._relay

    def count_flood(self, sample: FloodSample) -> Ready:
        return Ready(None)  # the detectors' own windows are the state

    async def close(self) -> None:
        self._claims.clear()
