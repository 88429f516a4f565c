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

A first offender needs no read either. In a raid most violations are a member's
first, and reading their (empty) strikes cost a violation more than anything else
the store does (in-process, 30% violations: a quarter of the CPU per event). So the
tally also keeps a **roll**: every (group, member) with a strike since
``horizon`` (about the default ladder window back), read from the store in one
query (:meth:`StrikeTally.begin_roll` / :meth:`StrikeTally.install_roll`) and again
before it is ``ttl`` old, and grown by every strike this process begins to write. A
member not on a fresh roll has no strike since its horizon: weight 0, no read. The
roll only ever over-states (voided strikes stay on it; a write that failed stays on
it), which costs a read, never a wrong answer; a window reaching further back than
its horizon is read as before.

Bounded: the least recently used members are dropped beyond ``max_members``; a
store with more than ``max_roll`` members struck since the horizon keeps no roll.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

Key = tuple[str, str]  # (group, member)

MAX_MEMBERS = 50_000
TTL = 30.0  # seconds a member's strikes read from the store are trusted
ROLL_SPAN = timedelta(days=31)  # the roll reaches this far back (the default window is 30 days)
MAX_ROLL = 200_000  # members on the roll at most
ROLL_RETRY = 1.0  # seconds before a failed read of the roll is tried again
ROLL_TOO_LONG = 3600.0  # seconds before a roll found too long is tried again


@dataclass(slots=True)
class _Known:
    horizon: datetime  # every unvoided strike at or after this is in ``strikes``
    read_at: float  # clock() when read from the store
    strikes: list[tuple[datetime, int]] = field(default_factory=list)  # (at, weight)


@dataclass(slots=True)
class _Roll:
    horizon: datetime  # every member with a strike at or after this is in ``struck``
    read_at: float  # clock() when its read began
    struck: set[Key]


class StrikeTally:
    """Unvoided strikes per (group, member), read once and kept current (see module doc)."""

    def __init__(
        self,
        max_members: int = MAX_MEMBERS,
        ttl: float = TTL,
        clock: Callable[[], float] = time.monotonic,
        max_roll: int = MAX_ROLL,
    ) -> None:
        self.max_members = max_members
        self.ttl = ttl
        self.clock = clock
        self.max_roll = max_roll
        self._known: OrderedDict[Key, _Known] = OrderedDict()
        self._loading: dict[Key, bool] = {}  # key -> still valid (nothing changed meanwhile)
        self._writing: dict[Key, int] = {}  # key -> strike writes under way
        self._roll: _Roll | None = None
        self._roll_next: _Roll | None = None  # being read: the writes begun meanwhile
        self._roll_due_at = 0.0  # clock() from which the roll is read (again)
        self.hits = 0
        self.misses = 0

    def weight(self, group_id: str, member_id: str, since: datetime) -> int | None:
        """The member's weight since ``since``; None when not known that far back."""
        key = (group_id, member_id)
        known = self._known.get(key)
        now = self.clock()
        if known is None or since < known.horizon or now - known.read_at > self.ttl:
            roll = self._roll
            if (
                roll is None
                or key in roll.struck
                or since < roll.horizon
                or now - roll.read_at > self.ttl
            ):
                self.misses += 1
                return None
            # not struck since the roll's horizon (writes begun since are on it)
            self._keep(key, _Known(roll.horizon, roll.read_at))
            self.hits += 1
            return 0
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
        self._keep(key, _Known(since, self.clock(), sorted(strikes)))

    def _keep(self, key: Key, known: _Known) -> None:
        self._known[key] = known
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
        for roll in (self._roll, self._roll_next):
            if roll is not None:
                roll.struck.add(key)

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
        """Forget everyone (strikes voided by case; writes queued during an outage). The
        roll stays: it only over-states."""
        for key in self._loading:
            self._loading[key] = False
        self._known.clear()

    # -- the roll of members struck since its horizon -------------------------------

    def roll_due(self) -> bool:
        """Whether the roll should be read now: none yet, or half its ``ttl`` old (so the
        next is in before it expires), and no read of it under way."""
        return self._roll_next is None and self.clock() >= self._roll_due_at

    def begin_roll(self, now: datetime | None = None) -> datetime:
        """A read of the roll starts (at ``now``, by default the time of day); the
        horizon to read it from."""
        started = self.clock()
        horizon = (now or datetime.now(UTC)) - ROLL_SPAN
        self._roll_next = _Roll(horizon, started, set(self._writing))
        self._roll_due_at = started + self.ttl / 2
        return horizon

    def install_roll(self, struck: set[Key]) -> None:
        """What the read found (at most ``max_roll + 1`` members: more keeps no roll)."""
        roll, self._roll_next = self._roll_next, None
        if roll is None:
            return
        if len(struck) > self.max_roll:
            self._roll = None
            self._roll_due_at = self.clock() + ROLL_TOO_LONG
            return
        roll.struck |= struck
        self._roll = roll

    def abandon_roll(self) -> None:
        """The read failed: the roll there was stays until its ``ttl``; tried again soon."""
        self._roll_next = None
        self._roll_due_at = self.clock() + ROLL_RETRY
