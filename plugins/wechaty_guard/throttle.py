"""Outgoing pacing for WeChat: a minimum gap per room and a minimum gap overall.

WeChat restricts accounts that send bursts, more readily than QQ does. Every
outgoing call (room message, removal, private message) reserves the next free
slot for its room and for the account, then sleeps until that slot; slots are
handed out in call order, so a burst is spread out, never dropped.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable


class SendThrottle:
    """``await throttle.wait(key)`` before each send; ``key`` is a room id or "private"."""

    def __init__(
        self,
        per_room: float,
        overall: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.per_room = per_room
        self.overall = overall
        self.clock = clock
        self._next_global = 0.0
        self._next_by_key: dict[str, float] = {}

    def reserve(self, key: str) -> float:
        """Book the next slot for ``key``; return the seconds to wait for it."""
        now = self.clock()
        slot = max(now, self._next_global, self._next_by_key.get(key, 0.0))
        self._next_global = slot + self.overall
        self._next_by_key[key] = slot + self.per_room
        if len(self._next_by_key) > 4096:  # forget rooms that are long idle
            self._next_by_key = {k: t for k, t in self._next_by_key.items() if t > now}
        return slot - now

    async def wait(self, key: str) -> None:
        delay = self.reserve(key)
        if delay > 0:
            await asyncio.sleep(delay)
