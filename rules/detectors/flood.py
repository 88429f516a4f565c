"""Flooding (刷屏): repeated text, posting too fast, and chatter in working hours.

- ``FloodDetector`` (per member, feeds the ladder): the same text ``repeat``
  times in a row (policy 004: 相同的文字连续出现3次及以上视为刷屏), compared by
  :func:`rules.text.normalize.compare_key`, so inserted spaces, punctuation, emoji,
  width or traditional characters do not reset the count; and ``rate_limit``
  messages within ``rate_window``.
- ``ChatterDetector`` (per group, does not feed the ladder): ``chatter_limit``
  messages in the group within ``chatter_window`` during working hours
  (policy 000 §5: 上班时间不得在群内扎堆聊天) is reported to the officers, at
  most once per window; no member is punished for it.

Owners and admins are not counted by default (``exempt_admins``). State is in
memory and bounded: per-member and per-group windows live in LRU maps of fixed
size (least recently active evicted first), and each window holds at most
``rate_limit`` / ``chatter_limit`` timestamps, so memory does not grow with time.

With shared state (Redis, several processes guarding the same groups) the
member windows are also counted there, each message once however many
processes receive it: ``check`` still answers from the local windows and queues
the message for the shared count, and ``settle`` replaces the answer with the
shared one (or keeps the local one when Redis is unreachable). The group-wide
chatter windows stay per process.
"""

from __future__ import annotations

from collections import OrderedDict, deque
from collections.abc import Awaitable
from dataclasses import dataclass, field
from datetime import datetime, time
from functools import lru_cache
from typing import ClassVar
from zoneinfo import ZoneInfo

from rules.config import FloodSettings
from rules.core.model import ChatEvent, Finding, Role
from rules.core.ports import FloodCount, FloodSample, SharedState
from rules.detectors.base import Detector
from rules.text.normalize import compare_key, prepare

_prepare = prepare

_PRIVILEGED = frozenset({Role.OWNER, Role.ADMIN})


def flood_key(text: str) -> str:
    """What counts as 'the same text' (kept for callers of the old name)."""
    return compare_key(text)


@dataclass(slots=True)
class _MemberWindow:
    last_key: str = ""
    count: int = 0
    times: deque[datetime] = field(default_factory=deque)


@dataclass(slots=True)
class _GroupWindow:
    times: deque[datetime] = field(default_factory=deque)
    last_alert: datetime | None = None


def _bounded(times: deque[datetime], size: int) -> deque[datetime]:
    """``times`` with room for exactly ``size`` entries (settings may change per group)."""
    return times if times.maxlen == size else deque(times, maxlen=size)


class FloodDetector(Detector[FloodSettings]):
    name: ClassVar[str] = "flood"
    section: ClassVar[str] = "flood"

    def __init__(self, max_members: int = 50_000, shared: SharedState | None = None) -> None:
        self.max_members = max_members
        self._windows: OrderedDict[tuple[str, str], _MemberWindow] = OrderedDict()
        self.shared = shared if shared is not None and shared.shared else None
        self.settles = self.shared is not None
        self._pending: dict[int, Awaitable[FloodCount | None]] = {}  # id(event) -> shared count

    def check(self, event: ChatEvent, settings: FloodSettings) -> list[Finding]:
        if settings.exempt_admins and event.member.role in _PRIVILEGED:
            return []
        window = self._window((event.group_id, event.member.id))
        key = _prepare(event.text)[2] or event.text.strip()  # compare_key, inlined
        if key:
            window.count = window.count + 1 if key == window.last_key else 1
            window.last_key = key
        burst = False
        limit = settings.rate_limit
        if limit:
            times = window.times
            if times.maxlen != limit:
                times = window.times = _bounded(times, limit)
            times.append(event.time)
            if len(times) == limit and times[-1] - times[0] <= settings.rate_window:
                times.clear()  # the next finding needs another full burst
                burst = True
        if self.shared is not None:
            self._share(event, key, settings)
        return self._findings(event, settings, window.count if key else 0, burst)

    async def settle(
        self, event: ChatEvent, settings: FloodSettings, found: list[Finding]
    ) -> list[Finding]:
        pending = self._pending.pop(id(event), None)
        count = await pending if pending is not None else None
        if count is None:  # not counted, or Redis unreachable: the local windows decide
            return found
        return self._findings(event, settings, count.repeats, count.burst)

    def _share(self, event: ChatEvent, key: str, settings: FloodSettings) -> None:
        assert self.shared is not None
        sample = FloodSample(
            event.group_id,
            event.member.id,
            event.message_id or f"local-{id(event)}-{event.time.timestamp()}",
            key,
            event.time,
            settings.rate_limit,
            settings.rate_window,
        )
        if len(self._pending) >= self.max_members:  # check() called without settle()
            self._pending.pop(next(iter(self._pending)))
        self._pending[id(event)] = self.shared.count_flood(sample)

    def _findings(
        self, event: ChatEvent, settings: FloodSettings, repeats: int, burst: bool
    ) -> list[Finding]:
        if repeats >= settings.repeat:
            return [self._finding(event, "flood", f"x{repeats}")]
        if burst:
            detail = f"{settings.rate_limit}/{int(settings.rate_window.total_seconds())}s"
            return [self._finding(event, "flood", detail)]
        return []

    def _window(self, who: tuple[str, str]) -> _MemberWindow:
        windows = self._windows
        window = windows.get(who)
        if window is not None:
            windows.move_to_end(who)
            return window
        window = windows[who] = _MemberWindow()
        if len(windows) > self.max_members:
            windows.popitem(last=False)
        return window

    def _finding(self, event: ChatEvent, category: str, detail: str) -> Finding:
        return Finding(self.name, category, event.text, 0, len(event.text), detail=detail)

    def __len__(self) -> int:
        return len(self._windows)


class ChatterDetector(Detector[FloodSettings]):
    """Group-wide chatter in working hours: an alert for the officers, not a strike."""

    name: ClassVar[str] = "chatter"
    section: ClassVar[str] = "flood"
    feeds_ladder: ClassVar[bool] = False

    def __init__(self, max_groups: int = 10_000) -> None:
        self.max_groups = max_groups
        self._windows: OrderedDict[str, _GroupWindow] = OrderedDict()

    def check(self, event: ChatEvent, settings: FloodSettings) -> list[Finding]:
        limit = settings.chatter_limit
        if not limit:
            return []
        if settings.exempt_admins and event.member.role in _PRIVILEGED:
            return []
        if not in_work_hours(event.time, settings):
            return []
        windows = self._windows
        window = windows.get(event.group_id)
        if window is not None:
            windows.move_to_end(event.group_id)
        else:
            window = windows[event.group_id] = _GroupWindow()
            if len(windows) > self.max_groups:
                windows.popitem(last=False)
        times = window.times
        if times.maxlen != limit:
            times = window.times = _bounded(times, limit)
        times.append(event.time)
        if len(times) < limit:
            return []
        span = settings.chatter_window
        if times[-1] - times[0] > span:
            return []
        if window.last_alert and event.time - window.last_alert < span:
            return []
        window.last_alert = event.time
        times.clear()
        detail = f"{limit}/{int(span.total_seconds() // 60)}min"
        return [Finding(self.name, "chatter", event.text, 0, len(event.text), detail=detail)]

    def __len__(self) -> int:
        return len(self._windows)


@lru_cache(maxsize=64)
def _hours(ranges: tuple[str, ...]) -> tuple[tuple[time, time], ...]:
    out = []
    for text in ranges:
        start, end = text.split("-")
        h1, m1 = (int(x) for x in start.split(":"))
        h2, m2 = (int(x) for x in end.split(":"))
        out.append((time(h1, m1), time.max if h2 == 24 else time(h2, m2)))
    return tuple(out)


@lru_cache(maxsize=16)
def _zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


_WorkHours = tuple[FloodSettings, ZoneInfo, frozenset[int], tuple[tuple[time, time], ...]]
_work_hours_cache: dict[int, _WorkHours] = {}


def _work_hours(settings: FloodSettings) -> _WorkHours:
    """Zone, days and hours of these settings, parsed once (this runs on every message)."""
    entry = _work_hours_cache.get(id(settings))
    if entry is None or entry[0] is not settings:
        if len(_work_hours_cache) > 1024:
            _work_hours_cache.clear()
        hours = _hours(tuple(settings.work_hours))
        entry = (settings, _zone(settings.timezone), frozenset(settings.work_days), hours)
        _work_hours_cache[id(settings)] = entry
    return entry


def in_work_hours(when: datetime, settings: FloodSettings) -> bool:
    """Whether ``when`` falls in the configured working days and hours (local time)."""
    _, zone, days, hours = _work_hours(settings)
    local = when.astimezone(zone)
    if local.isoweekday() not in days:
        return False
    now = local.time()
    for start, end in hours:  # noqa: SIM110 (per message: a generator costs more)
        if start <= now < end:
            return True
    return False
