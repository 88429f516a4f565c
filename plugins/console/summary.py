"""The overview's numbers: the last 30 days, each finished day counted once and kept.

Counting a month of cases by day, group, category and action reads every case
of the month and its actions (16,000 cases and 40,000 actions at 200,000 cases
a year): a few hundred milliseconds. A finished day no longer changes, so its
counts per group are kept in the database (``console_daily``, migration 0009):
counted once for every group, then summed for any viewer's scope from a few
hundred small rows. They survive restarts and are shared by every bot process;
a job keeps them ready (:meth:`OverviewCounts.prepare`, hourly and at start), so
no request has to count a month.

A day counted less than ``SETTLE`` after it ended is counted again later: a
write delayed by a database outage (the spool) may still land then. Only today
is counted on every request. The sums for a scope are also kept in memory for
``ttl`` seconds.
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from datetime import time as clock_time
from zoneinfo import ZoneInfo

from rules.storage.console_queries import Attention, ConsoleQueries, Counts

TODAY_SLACK = timedelta(seconds=1)  # a case stamped this very second is counted
SETTLE = timedelta(hours=1)  # a day counted sooner after its end is counted again
PERIOD_DAYS = 30


def day_starts(zone: ZoneInfo, now: datetime, days: int = PERIOD_DAYS) -> list[datetime]:
    """The local midnights of the last ``days`` days, today's last."""
    today = now.astimezone(zone).date()
    return [
        datetime.combine(today - timedelta(days=days - 1 - i), clock_time(), zone)
        for i in range(days)
    ]


@dataclass(frozen=True, slots=True)
class Summary:
    today: Counts
    period: Counts  # the whole window, today included; ``days`` oldest first
    attention: Attention


class OverviewCounts:
    def __init__(
        self,
        queries: ConsoleQueries,
        clock: Callable[[], datetime],
        ttl: float = 600.0,
        size: int = 200,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.queries = queries
        self.clock = clock
        self.ttl = ttl
        self.size = size  # scopes kept in memory
        self.monotonic = monotonic
        self._sums: OrderedDict[tuple[frozenset[str] | None, datetime], tuple[float, Counts]]
        self._sums = OrderedDict()
        self._counting = asyncio.Lock()
        self.counted_days = 0  # days counted from the cases by this process (for tests, bench)

    def forget(self) -> None:
        """Drop the sums kept in memory (the database keeps the days)."""
        self._sums.clear()

    async def summary(
        self, scope: frozenset[str] | None, starts: Sequence[datetime], now: datetime
    ) -> Summary:
        """Counts per day from ``starts[0]`` to ``now``; the last start is today's."""
        finished = await self._finished(scope, list(starts[:-1]), starts[-1])
        (today,) = await self.queries.daily_counts(scope, starts[-1:], now + TODAY_SLACK)
        attention = await self.queries.attention(scope, starts[0])
        return Summary(today, finished.plus(today), attention)

    async def prepare(self, starts: Sequence[datetime]) -> int:
        """Count the finished days of this window not yet kept (the job); how many."""
        return await self._count_days(list(starts[:-1]), starts[-1])

    async def _finished(
        self, scope: frozenset[str] | None, starts: list[datetime], end: datetime
    ) -> Counts:
        key = (scope, starts[0])
        kept = self._sums.get(key)
        if kept is not None and self.monotonic() - kept[0] < self.ttl:
            return kept[1]
        await self._count_days(starts, end)
        counts = await self.queries.rollup_counts(scope, starts)
        self._sums[key] = (self.monotonic(), counts)
        self._sums.move_to_end(key)
        while len(self._sums) > self.size:
            self._sums.popitem(last=False)
        return counts

    async def _count_days(self, starts: list[datetime], end: datetime) -> int:
        """Count and keep the days of ``starts`` (each ending at the next, the last at
        ``end``) that are not kept, or were counted before they settled."""
        async with self._counting:  # one count at a time in this process
            ends = [*starts[1:], end]
            counted = await self.queries.rolled_up(starts[0], starts[-1])
            stale = [
                i
                for i, start in enumerate(starts)
                if start not in counted or counted[start] < ends[i] + SETTLE
            ]
            if not stale:
                return 0
            window = starts[stale[0] :]  # from the first stale day on, in one range scan
            now = self.clock()
            rows = await self.queries.day_rollup(window, end)
            await self.queries.store_rollup(window, rows, now)
            self.counted_days += len(window)
            self._sums.clear()
            return len(window)
