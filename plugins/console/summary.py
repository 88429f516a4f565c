"""The overview's numbers: the last 30 days, with the finished days kept for a few minutes.

Counting a month of cases by day, group, category and action reads every case
and action of the month (16,000 cases and 40,000 actions at 200,000 a year):
a few hundred milliseconds. The days before today no longer change (apart
from a write delayed by a database outage), so their counts are kept per
viewer scope for ``ttl`` seconds and only today is counted on each request.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from rules.storage.console_queries import Attention, ConsoleQueries, Counts

TODAY_SLACK = timedelta(seconds=1)  # a case stamped this very second is counted


@dataclass(frozen=True, slots=True)
class Summary:
    today: Counts
    period: Counts  # the whole window, today included
    attention: Attention


class OverviewCounts:
    def __init__(
        self,
        queries: ConsoleQueries,
        ttl: float = 300.0,
        size: int = 256,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.queries = queries
        self.ttl = ttl
        self.size = size
        self.clock = clock
        self._history: OrderedDict[tuple[object, ...], tuple[float, Counts]] = OrderedDict()

    def forget(self) -> None:
        """Drop every kept count (the next overview recounts its whole window)."""
        self._history.clear()

    async def summary(
        self, scope: frozenset[str] | None, day_starts: Sequence[datetime], now: datetime
    ) -> Summary:
        """Counts per day from ``day_starts[0]`` to ``now``; the last start is today's."""
        today = await self.queries.counts(scope, day_starts[-1:], now + TODAY_SLACK)
        history = await self._finished_days(scope, day_starts)
        attention = await self.queries.attention(scope, day_starts[0])
        return Summary(today, history.plus(today), attention)

    async def _finished_days(
        self, scope: frozenset[str] | None, day_starts: Sequence[datetime]
    ) -> Counts:
        key = (scope, *day_starts)
        kept = self._history.get(key)
        if kept is not None and self.clock() - kept[0] < self.ttl:
            self._history.move_to_end(key)
            return kept[1]
        counts = await self.queries.counts(scope, day_starts[:-1], day_starts[-1])
        self._history[key] = (self.clock(), counts)
        while len(self._history) > self.size:
            self._history.popitem(last=False)
        return counts
