"""Looking at a message's pictures without ever slowing its text down.

A message with pictures is moderated as text at once, like any other. Its pictures
are then fetched and inspected here, off the event loop in a small bounded pool,
and what they held comes back to the engine as a second event of kind
``IMAGES`` for the same message (the engine claims it under its own key, so a
picture verdict is acted on once, and deletes the message even if its text was
clean).

- **Bounded.** At most ``max_pending`` pictures wait or run at once; a picture
  arriving when the stage is full is not looked at: its report says so
  (``checked=False``) and :attr:`ImageStageStats.not_checked` counts it, for the
  stats line and the digest. Text events never wait for this stage.
- **Cached.** Reports are remembered by the picture's key (QQ names a file by the
  MD5 of its bytes) and by the SHA-256 of its bytes, so a spam picture posted a
  hundred times is inspected once. A :class:`ReportCache` shared between
  processes (Redis) can stand behind the local one.
- **Platform-free.** An edge passes a :data:`Fetcher` that turns an
  :class:`~rules.core.model.ImageRef` into bytes; the inspection itself is a
  plain function of bytes (:data:`Inspector`), run in a thread or process pool.
"""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from concurrent.futures import Executor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, replace
from typing import Protocol

from rules.core.model import ChatEvent, EventKind, ImageRef, ImageReport

log = logging.getLogger(__name__)

Fetcher = Callable[[ImageRef], Awaitable[bytes]]
"""Bytes of a picture; raises (e.g. :class:`~rules.images.fetch.ImageFetchError`) when it cannot."""

Inspector = Callable[[bytes, int, str], ImageReport]
"""``inspect(data, index, key)``: what one picture holds; must never raise."""


class ReportCache(Protocol):
    """Reports remembered across processes (e.g. in Redis), by picture key or content hash."""

    async def get(self, key: str) -> ImageReport | None: ...

    async def put(self, keys: tuple[str, ...], report: ImageReport) -> None: ...


@dataclass(slots=True)
class ImageStageStats:
    """Counts since start, for the operator's stats line and the digest."""

    inspected: int = 0
    cache_hits: int = 0
    not_checked: int = 0  # the stage was full: the picture was not looked at
    failed: int = 0  # fetch or decode failed (hostile, gone, too large)

    def line(self) -> str:
        return (
            f"images inspected {self.inspected:,}, cached {self.cache_hits:,}, "
            f"not checked {self.not_checked:,}, failed {self.failed:,}"
        )


async def _skipped(index: int, ref: ImageRef) -> ImageReport:
    return ImageReport(index, ref.key, checked=False, problem="not looked at (settings)")


class LocalReports:
    """A bounded LRU of reports, keyed by picture key and by content hash."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._items: OrderedDict[str, ImageReport] = OrderedDict()

    def get(self, key: str) -> ImageReport | None:
        report = self._items.get(key)
        if report is not None:
            self._items.move_to_end(key)
        return report

    def put(self, keys: tuple[str, ...], report: ImageReport) -> None:
        for key in keys:
            if key:
                self._items[key] = report
                self._items.move_to_end(key)
        while len(self._items) > self.size:
            self._items.popitem(last=False)


class ImageStage:
    """Fetches and inspects a message's pictures in a bounded pool; caches what it saw."""

    def __init__(
        self,
        inspect: Inspector,
        executor: Callable[[], Executor] | None = None,
        *,
        max_pending: int = 8,
        cache_size: int = 4096,
        shared: ReportCache | None = None,
    ) -> None:
        if max_pending < 1:
            raise ValueError("max_pending must be at least 1")
        self._inspect = inspect
        self._new_executor = executor  # None: the loop's default thread pool
        self._executor = executor() if executor is not None else None
        self.max_pending = max_pending
        self._pending = 0
        self._local = LocalReports(cache_size)
        self._shared = shared
        self._tasks: set[asyncio.Task[object]] = set()
        self.stats = ImageStageStats()

    async def reports(
        self,
        event: ChatEvent,
        fetch: Fetcher,
        skip: Callable[[ImageRef], bool] | None = None,
    ) -> tuple[ImageReport, ...]:
        """A report for each of the event's pictures, in order (cached, inspected or not);
        pictures ``skip`` names are reported as not looked at."""
        found = await asyncio.gather(
            *(
                self._report(index, ref, fetch)
                if skip is None or not skip(ref)
                else _skipped(index, ref)
                for index, ref in enumerate(event.images)
            )
        )
        return tuple(found)

    def images_event(self, event: ChatEvent, reports: tuple[ImageReport, ...]) -> ChatEvent:
        """The follow-up event the engine decides on: same message, its pictures' reports."""
        return replace(
            event,
            kind=EventKind.IMAGES,
            image_reports=reports,
            event_key=f"images:{event.message_id or event.event_key or ''}",
        )

    def submit(self, work: Awaitable[object]) -> None:
        """Run ``work`` (usually reports -> engine) in the background, tracked for stop()."""
        task = asyncio.ensure_future(work)
        self._tasks.add(task)
        task.add_done_callback(self._finished)

    def _finished(self, task: asyncio.Task[object]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("image check failed", exc_info=task.exception())

    async def drain(self, grace: float) -> int:
        """Wait up to ``grace`` s for work in flight; returns how many did not finish."""
        if not self._tasks:
            return 0
        _, pending = await asyncio.wait(set(self._tasks), timeout=grace)
        return len(pending)

    async def _report(self, index: int, ref: ImageRef, fetch: Fetcher) -> ImageReport:
        cached = await self._cached(ref.key)
        if cached is not None:
            self.stats.cache_hits += 1
            return replace(cached, index=index)
        if self._pending >= self.max_pending:
            self.stats.not_checked += 1
            return ImageReport(index, ref.key, checked=False, problem="busy: not checked")
        self._pending += 1
        try:
            return await self._fetch_and_inspect(index, ref, fetch)
        finally:
            self._pending -= 1

    async def _fetch_and_inspect(self, index: int, ref: ImageRef, fetch: Fetcher) -> ImageReport:
        try:
            data = await fetch(ref)
        except Exception as error:  # hostile or vanished pictures are a verdict, not a crash
            self.stats.failed += 1
            reason = str(error) or type(error).__name__
            log.info("picture %s not fetched: %s", ref.key[:64], reason)
            return ImageReport(index, ref.key, checked=False, problem=f"fetch: {reason}")
        report = await self._run(data, index, ref.key)
        if not report.checked:
            self.stats.failed += 1
            return report
        self.stats.inspected += 1
        stored = replace(report, index=0)
        keys = (ref.key, report.sha256)
        self._local.put(keys, stored)
        if self._shared is not None:
            try:
                await self._shared.put(keys, stored)
            except Exception as error:  # a shared cache is an optimisation only
                log.warning("shared picture cache unavailable: %s", error)
        return report

    async def _run(self, data: bytes, index: int, key: str) -> ImageReport:
        """Inspect in the pool; a worker that died (a decoder crashed on hostile bytes) is
        replaced, and the picture is reported as not checked."""
        executor = self._executor
        try:
            loop = asyncio.get_running_loop()
            return await loop.run_in_executor(executor, self._inspect, data, index, key)
        except BrokenProcessPool:
            log.error("picture inspection worker died on %s; starting a new one", key[:64])
            if self._new_executor is not None and executor is self._executor:
                self._executor = self._new_executor()
                if executor is not None:
                    executor.shutdown(wait=False, cancel_futures=True)
            return ImageReport(index, key, checked=False, problem="inspection crashed")
        except Exception as error:  # never let one picture take the stage down
            log.exception("picture inspection failed on %s", key[:64])
            return ImageReport(index, key, checked=False, problem=f"inspection failed: {error}")

    def close(self) -> None:
        """Stop the pool's workers (after :meth:`drain`)."""
        if self._executor is not None:
            self._executor.shutdown(wait=False, cancel_futures=True)

    async def _cached(self, key: str) -> ImageReport | None:
        report = self._local.get(key)
        if report is not None or self._shared is None:
            return report
        try:
            report = await self._shared.get(key)
        except Exception as error:
            log.warning("shared picture cache unavailable: %s", error)
            return None
        if report is not None:
            self._local.put((key, report.sha256), report)
        return report
