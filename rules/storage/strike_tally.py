"""Members' recent strikes kept in memory, so a repeat offender's ladder step needs no read.

Every violation asks for the member's strike weight within the ladder's window
before it is decided. In a raid the same few members offend again and again,
and the read was the largest single cost of a violation in the store's threads
(``make bench-qq-raid``: a ``sqlite3`` query on a connection whose page cache
every other connection's commit has just made stale). When this process is the
only one deciding (no shared state between processes), the strikes it writes
are all the strikes there are, so a member's unvoided strikes, once read, are
kept up to date here as the journal writes new ones:

- :meth:`StrikeTally.weight` answers from memory when the member's strikes are
  known back to the window asked for, and were read less than ``ttl`` ago (a
  bound on how long a strike written by anything else, an operator's offline
  ``scan --db`` on the live file say, can go unseen);
- :meth:`StrikeTally.begin_load` / :meth:`StrikeTally.install`: a read from the
  store is kept only if no strike of that member was written or voided while it ran;
- :meth:`StrikeTally.begin_write` / :meth:`StrikeTally.end_write` around every strike
  written (counted once committed); :meth:`StrikeTally.forget`
  (one member) and :meth:`StrikeTally.clear` when strikes are voided or when
  writes are queued during an outage (the store is the truth again after).

Bounded: the least recently used members are dropped beyond ``max_members``.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime

Key = tuple[str, str]  # (group, member)

MAX_MEMBERS = 50_000
TTL = 30.0  # seconds a member's strikes read from the store are trusted


@dataclass(slots=True)
class _Known:
    horizon: datetime  # every unvoided strike at or after this is in ``strikes``
    read_at: float  # clock() when read from the store
    strikes: list[tuple[datetime, int]] = field(default_factory=list)  # (at, weight)


class StrikeTally:
    """Unvoided strikes per (group, member), read once and kept current (see module doc)."""

    def __init__(
        self,
        max_members: int = MAX_MEMBERS,
        ttl: float = TTL,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.max_members = max_members
        self.ttl = ttl
        self.clock = clock
        self._known: OrderedDict[Key, _Known] = OrderedDict()
        self._loading: dict[Key, bool] = {}  # key -> still valid (nothing changed meanwhile)
        self._writing: dict[Key, int] = {}  # key -> strike writes under way
        self.hits = 0
        self.misses = 0

    def weight(self, group_id: str, member_id: str, since: datetime) -> int | None:
        """The member's weight since ``since``; None when not known that far back."""
        key = (group_id, member_id)
        known = self._known.get(key)
        if known is None or since < known.horizon or self.clock() - known.read_at > self.ttl:
            self.misses += 1
            return None
        self.hits += 1
        self._known.move_to_end(key)
        if known.strikes and known.strikes[0][0] < since:  # older than any window asked now
            known.strikes = [s for s in known.strikes if s[0] >= since]
            known.horizon = since
        return sum(w for _, w in known.strikes)

    def begin_load(self, group_id: str, member_id: str) -> None:
        """A read of the member's strikes from the store starts (kept only if no write of
        theirs is under way now or starts before it ends)."""
        key = (group_id, member_id)
        self._loading[key] = not self._writing.get(key)

    def install(
        self,
        group_id: str,
        member_id: str,
        since: datetime,
        strikes: Iterable[tuple[datetime, int]],
    ) -> None:
        """Keep what the read found, unless the member's strikes changed while it ran."""
        key = (group_id, member_id)
        if not self._loading.pop(key, False):
            return
        self._known[key] = _Known(since, self.clock(), sorted(strikes))
        self._known.move_to_end(key)
        while len(self._known) > self.max_members:
            self._known.popitem(last=False)

    def abandon(self, group_id: str, member_id: str) -> None:
        """A read that failed: nothing to keep."""
        self._loading.pop((group_id, member_id), None)

    def begin_write(self, group_id: str, member_id: str) -> None:
        """A strike of the member is about to be written (reads meanwhile are not kept)."""
        key = (group_id, member_id)
        self._writing[key] = self._writing.get(key, 0) + 1
        if key in self._loading:
            self._loading[key] = False

    def end_write(
        self, group_id: str, member_id: str, at: datetime, weight: int, committed: bool | None
    ) -> None:
        """The write ended: ``committed`` True (counted from now on), False (it was not
        written), None (not known: the member is read again next time)."""
        key = (group_id, member_id)
        left = self._writing.get(key, 1) - 1
        if left > 0:
            self._writing[key] = left
        else:
            self._writing.pop(key, None)
        if key in self._loading:
            self._loading[key] = False
        if committed is None:
            self._known.pop(key, None)
            return
        known = self._known.get(key)
        if committed and known is not None and at >= known.horizon:
            known.strikes.append((at, weight))
            if len(known.strikes) > 1 and known.strikes[-2][0] > at:
                known.strikes.sort()

    def forget(self, group_id: str, member_id: str) -> None:
        """The member's strikes changed in a way only the store knows (voided)."""
        key = (group_id, member_id)
        if key in self._loading:
            self._loading[key] = False
        self._known.pop(key, None)

    def clear(self) -> None:
        """Forget everyone (strikes voided by case; writes queued during an outage)."""
        for key in self._loading:
            self._loading[key] = False
        self._known.clear()
