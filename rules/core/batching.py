"""Asyncio helpers for the hot path: group commit, and one-at-a-time per key.

:class:`Batcher` coalesces concurrent calls into batches (group commit):
while one batch runs, new items queue; when it finishes, everything queued
runs as the next batch. Alone, an item runs at once; under load the batches
grow, so the fixed cost of a call (a transaction, a round trip) is shared by
more items as the rate rises; with ``linger`` an idle batcher also waits that
long for company before it starts (for calls nobody needs at once). Every
caller gets its own result or error, and nothing is dropped: a caller that
stops waiting still has its item run.

:class:`KeyedLock` runs critical sections one at a time per key (a member),
while different keys proceed concurrently.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Hashable
from typing import Generic, TypeVar

log = logging.getLogger(__name__)

T = TypeVar("T")
R = TypeVar("R")


class Batcher(Generic[T, R]):
    """Runs ``run(items) -> results`` (one result per item, in order) on batches of calls."""

    def __init__(
        self,
        run: Callable[[list[T]], Awaitable[list[R]]],
        max_size: int = 100,
        linger: float = 0.0,
    ) -> None:
        self._run = run
        self.max_size = max_size
        self.linger = linger  # seconds a lone first item waits for company
        self._queue: list[tuple[T, asyncio.Future[R]]] = []
        self._worker: asyncio.Task[None] | None = None

    async def submit(self, item: T) -> R:
        future: asyncio.Future[R] = asyncio.get_running_loop().create_future()
        self._queue.append((item, future))
        if self._worker is None or self._worker.done():
            self._worker = asyncio.create_task(self._drain())
        # a caller that is cancelled cancels its future; the item is queued and still runs
        return await future

    async def flush(self) -> None:
        """Return once everything submitted so far has run (for an orderly close)."""
        while self._worker is not None and not self._worker.done():
            await asyncio.wait([self._worker])

    async def _drain(self) -> None:
        batch: list[tuple[T, asyncio.Future[R]]] = []
        try:
            if self.linger > 0 and len(self._queue) < self.max_size:
                await asyncio.sleep(self.linger)
            while self._queue:
                batch = self._queue[: self.max_size]
                del self._queue[: len(batch)]
                await self._run_batch(batch)
        except BaseException as exc:  # cancelled (shutdown): nobody may wait forever
            for _, future in batch + self._queue:
                if not future.done():
                    future.set_exception(RuntimeError(f"batch worker stopped: {exc!r}"))
            self._queue.clear()
            raise

    async def _run_batch(self, batch: list[tuple[T, asyncio.Future[R]]]) -> None:
        try:
            results = await self._run([item for item, _ in batch])
            if len(results) != len(batch):
                raise RuntimeError(f"batch of {len(batch)} returned {len(results)} results")
        except Exception as exc:
            if len(batch) > 1:  # one bad item must not fail the others: run each alone
                log.warning(
                    "batch of %d failed (%r); running its items one by one", len(batch), exc
                )
                for one in batch:
                    await self._run_batch([one])
                return
            _, future = batch[0]
            if not future.done():
                future.set_exception(exc)
            return
        for (_, future), result in zip(batch, results, strict=True):
            if not future.done():
                future.set_result(result)


class KeyedLock:
    """One holder at a time per key; locks are dropped when nobody holds or waits for them."""

    def __init__(self) -> None:
        self._locks: dict[Hashable, tuple[asyncio.Lock, int]] = {}

    @contextlib.asynccontextmanager
    async def hold(self, key: Hashable) -> AsyncIterator[None]:
        lock, users = self._locks.get(key, (None, 0))
        if lock is None:
            lock = asyncio.Lock()
        self._locks[key] = (lock, users + 1)
        try:
            async with lock:
                yield
        finally:
            lock, users = self._locks[key]
            if users == 1:
                del self._locks[key]
            else:
                self._locks[key] = (lock, users - 1)

    def __len__(self) -> int:
        return len(self._locks)
