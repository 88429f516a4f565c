"""Outgoing-message pacing for QQ: token buckets per group and globally, and notice coalescing.

OneBot implementations sit on a real QQ account, and QQ's risk control punishes
bursts (messages silently dropped, the account frozen). So every group message
the bot sends waits for a token from its group's bucket and from the global
bucket; a message that would wait longer than ``max_wait`` is dropped and
reported as failed rather than queued forever.

@-notices to the same member are coalesced: at most one per member every
``member_gap`` seconds; notices that arrive meanwhile replace the waiting one
(the newest wording wins, e.g. "muted 1 day" over "warned"), and the callers
whose notice was folded in are told so.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field


class Throttled(Exception):
    """The message would have waited longer than allowed; it was not sent."""


@dataclass
class TokenBucket:
    """``rate`` tokens per second, at most ``burst`` saved up.

    Tokens may be reserved ahead: taking one below zero books the next free slot.
    """

    rate: float
    burst: float
    tokens: float = -1.0
    stamp: float = 0.0

    def __post_init__(self) -> None:
        if self.tokens < 0:
            self.tokens = self.burst

    def _refill(self, now: float) -> None:
        if self.stamp:
            self.tokens = min(self.burst, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now

    def wait_for_token(self, now: float) -> float:
        """Seconds until a token would be available, without taking it."""
        self._refill(now)
        return 0.0 if self.tokens >= 1 else (1 - self.tokens) / self.rate

    def take(self) -> None:
        self.tokens -= 1


@dataclass
class _Pending:
    text: str
    folded: int = 0


@dataclass
class Pacer:
    """Paces group messages (per group and globally) and coalesces notices per member."""

    group_rate: float = 0.5
    group_burst: float = 5
    global_rate: float = 5.0
    global_burst: float = 10
    max_wait: float = 30.0
    member_gap: float = 5.0
    clock: Callable[[], float] = time.monotonic
    _groups: dict[str, TokenBucket] = field(default_factory=dict)
    _global: TokenBucket | None = None
    _pending: dict[tuple[str, ...], _Pending] = field(default_factory=dict)
    _last_notice: dict[tuple[str, ...], float] = field(default_factory=dict)

    def _global_bucket(self) -> TokenBucket:
        if self._global is None:
            self._global = TokenBucket(self.global_rate, self.global_burst)
        return self._global

    async def slot(self, group: str | None) -> None:
        """Wait for the right to send one message (to ``group``, or a private one if None).

        The token is reserved at once and the caller sleeps until it is due, so waiters
        queue in order and each wakes exactly once (thousands may wait during a raid).
        Raises :class:`Throttled`, without reserving, when the wait would exceed ``max_wait``.
        """
        buckets = [self._global_bucket()]
        if group is not None:
            bucket = self._groups.get(group)
            if bucket is None:
                bucket = self._groups[group] = TokenBucket(self.group_rate, self.group_burst)
            buckets.append(bucket)
        now = self.clock()
        wait = max(b.wait_for_token(now) for b in buckets)
        if wait > self.max_wait:
            raise Throttled(f"rate limit: would wait {wait:.1f}s (max {self.max_wait:.0f}s)")
        for b in buckets:
            b.take()
        if wait > 0:
            await asyncio.sleep(wait)

    async def notice(
        self,
        key: tuple[str, ...],
        group: str,
        text: str,
        send: Callable[[str], Awaitable[None]],
    ) -> str:
        """Send an @-notice for ``key`` (group, member, kind), coalescing with a waiting one.

        Returns a short description for the outcome; raises what ``send`` raises,
        or :class:`Throttled`.
        """
        waiting = self._pending.get(key)
        if waiting is not None:
            waiting.text = text
            waiting.folded += 1
            return "coalesced into the next notice to this member"
        pending = self._pending[key] = _Pending(text)
        try:
            gap = self._last_notice.get(key, -1e9) + self.member_gap - self.clock()
            if gap > 0:
                if gap > self.max_wait:
                    raise Throttled("member notice gap exceeds the maximum wait")
                await asyncio.sleep(gap)
            await self.slot(group)
        finally:
            del self._pending[key]
        self._last_notice[key] = self.clock()
        if len(self._last_notice) > 50_000:  # bounded: forget the oldest
            for old in list(self._last_notice)[:10_000]:
                del self._last_notice[old]
        await send(pending.text)
        return f"sent (with {pending.folded} coalesced)" if pending.folded else "sent"
