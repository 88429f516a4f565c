"""What shared flood windows (Redis) cost per message, next to the in-memory ones.

    python -m bench.shared_state [--redis URL] [--messages 20000] [--repeat 5]

Prints, for the flood detector alone (no engine, no platform):

- local:      ``check`` with in-memory windows (one process, no Redis);
- shared, one at a time: ``check`` + ``settle`` awaited per message, so each
  message waits for its own Redis round trip (a quiet group);
- shared, in flight: all messages checked at once and settled together, as under
  load, where the queued messages go to Redis in pipelined batches.

Each figure is the best of ``--repeat`` runs, with the spread. Needs a Redis
(default: ``GROUPGUARD_TEST_REDIS_URL``, see scripts/test-services.sh); its
keys go under a fresh prefix that is deleted afterwards. Not a test.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta

from redis.asyncio import Redis

from rules.config import FloodSettings
from rules.core.model import ChatEvent, EventKind, Member, Platform
from rules.detectors.flood import FloodDetector
from rules.shared_state.redis import RedisState

T0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)


def events(count: int, run: int) -> list[ChatEvent]:
    """A mixed stream: 200 members in 20 groups, some repeating themselves."""
    out = []
    for n in range(count):
        member = n % 200
        text = "在吗" if n % 7 == 0 else f"第{n}条消息 关于会议安排"
        out.append(
            ChatEvent(
                EventKind.MESSAGE,
                Platform.QQ,
                f"qq:{1000 + member % 20}",
                Member(f"qq:{5000 + member}"),
                T0 + timedelta(milliseconds=10 * n),
                text,
                message_id=f"{run}-{n}",
            )
        )
    return out


async def best_of(repeat: int, one: Callable[[int], Awaitable[float]]) -> tuple[float, float]:
    times = [await one(run) for run in range(repeat)]
    return min(times), max(times)


async def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--redis", default=os.environ.get("GROUPGUARD_TEST_REDIS_URL", ""))
    parser.add_argument("--messages", type=int, default=20_000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    if not args.redis:
        print("no Redis: pass --redis or run scripts/test-services.sh", file=sys.stderr)
        return 2
    settings = FloodSettings()
    prefix = f"gg-bench-{uuid.uuid4().hex[:8]}:"
    state = await RedisState.connect(args.redis, prefix, timedelta(seconds=2))
    n = args.messages

    async def local(run: int) -> float:
        detector = FloodDetector()
        stream = events(n, run)
        start = time.perf_counter()
        for event in stream:
            detector.check(event, settings)
        return time.perf_counter() - start

    async def one_at_a_time(run: int) -> float:
        detector = FloodDetector(shared=state)
        stream = events(n // 10, run + 100)  # one round trip each: fewer messages
        start = time.perf_counter()
        for event in stream:
            await detector.settle(event, settings, detector.check(event, settings))
        return (time.perf_counter() - start) * 10

    async def in_flight(run: int) -> float:
        detector = FloodDetector(shared=state)
        stream = events(n, run + 200)
        start = time.perf_counter()
        found = [detector.check(event, settings) for event in stream]
        await asyncio.gather(
            *(detector.settle(e, settings, f) for e, f in zip(stream, found, strict=True))
        )
        return time.perf_counter() - start

    try:
        print(f"flood detector, {n} messages, best of {args.repeat} (spread):")
        for label, run in (
            ("local (memory)", local),
            ("shared, one at a time", one_at_a_time),
            ("shared, all in flight", in_flight),
        ):
            best, worst = await best_of(args.repeat, run)
            print(
                f"  {label:24s} {best / n * 1e6:8.1f} us/message  {n / best:10,.0f} msg/s"
                f"   (worst {worst / n * 1e6:.1f} us)"
            )
    finally:
        await state.close()
        client = Redis.from_url(args.redis)
        keys = [key async for key in client.scan_iter(match=prefix + "*")]
        for start in range(0, len(keys), 1000):
            await client.delete(*keys[start : start + 1000])
        await client.aclose()
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
