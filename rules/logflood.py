"""Repeated log lines held back, with a count: a raid must not flood the operator's log.

During a raid one cause can fail hundreds of actions a second ("QQ kick in ...
failed: member not found", "report not delivered: rate limit"), each a warning.
Printed one by one they bury everything else, and formatting them cost the
event loop about a tenth of its time in ``make bench-qq-raid``. :class:`RepeatLimiter`
is a :class:`logging.Filter`: per logger, level and message template (the
format string before its arguments are filled in), the first ``burst`` lines of
each ``window`` pass; the rest are counted, and once the window is over one line
says how many were held back and what the last one said.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

BURST = 5  # lines of one kind let through per window
WINDOW = 60.0  # seconds
MAX_KINDS = 10_000  # kinds of line tracked at once (the oldest windows go first)
_SUMMARY = "_groupguard_summary"  # set on the summary records this filter makes


@dataclass(slots=True)
class _Kind:
    started: float
    passed: int = 0
    held: int = 0
    last: str = ""  # the last held line, as it would have read


class RepeatLimiter(logging.Filter):
    """Let ``burst`` lines of a kind through per ``window`` seconds; summarise the rest."""

    def __init__(
        self,
        burst: int = BURST,
        window: float = WINDOW,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__()
        self.burst = burst
        self.window = window
        self.clock = clock
        self._kinds: dict[tuple[str, int, str], _Kind] = {}
        self._lock = threading.Lock()  # records come from the store's threads too
        self._next_sweep = 0.0

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, _SUMMARY, False):
            return True
        key = (record.name, record.levelno, str(record.msg))
        now = self.clock()
        with self._lock:
            kind = self._kinds.get(key)
            if kind is None or now - kind.started >= self.window:
                ended = kind
                kind = self._kinds[key] = _Kind(now)
                if len(self._kinds) > MAX_KINDS:
                    del self._kinds[next(iter(self._kinds))]
            else:
                ended = None
            if kind.passed < self.burst:
                kind.passed += 1
                allowed = True
            else:
                kind.held += 1
                kind.last = record.getMessage()
                allowed = False
            due = self._due(now) if now >= self._next_sweep else []
        if ended is not None and ended.held:
            due.append((record.name, record.levelno, ended))
        for name, level, done in due:
            self._summarise(name, level, done)
        return allowed

    def _due(self, now: float) -> list[tuple[str, int, _Kind]]:
        """Kinds whose window is over with lines held back (looked for once a second, so
        a storm that stopped is summarised by the next line of any kind)."""
        self._next_sweep = now + 1.0
        due = []
        for key, kind in list(self._kinds.items()):
            if now - kind.started >= self.window:
                del self._kinds[key]
                if kind.held:
                    due.append((key[0], key[1], kind))
        return due

    def flush(self) -> None:
        """Summarise every kind with lines held back (at shutdown)."""
        with self._lock:
            kinds, self._kinds = self._kinds, {}
        for (name, level, _), kind in kinds.items():
            if kind.held:
                self._summarise(name, level, kind)

    def _summarise(self, name: str, level: int, kind: _Kind) -> None:
        """Log, at the level of the lines held back, how many there were and the last one."""
        logging.getLogger(name).log(
            level,
            "%d more like this held back (beyond %d in %.0f s); the last: %s",
            kind.held,
            self.burst,
            self.window,
            kind.last,
            extra={_SUMMARY: True},
        )
