"""Shared state: in memory for one process, and in a real Redis for several.

Two ``RedisState`` objects on one Redis stand for two bot processes (each has
its own owner token). The fallback tests put a cuttable proxy between the
client and Redis.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
from redis.asyncio import Redis

from rules.config import FloodSettings
from rules.core.model import Finding
from rules.core.ports import FloodCount, FloodSample
from rules.detectors.flood import FloodDetector
from rules.shared_state.memory import MemoryState
from rules.shared_state.redis import RedisState
from tests.fakes import T0, message
from tests.faults.proxy import CuttableProxy

SECOND = timedelta(seconds=1)


class Tick:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


# ---------------------------------------------------------------- memory


async def test_memory_claims_once_within_their_ttl() -> None:
    tick = Tick()
    state = MemoryState(clock=tick)
    assert await state.claim("m1", 10 * SECOND) is True
    assert await state.claim("m1", 10 * SECOND) is False
    assert await state.claim("m2", 10 * SECOND) is True
    tick.now += 11
    assert await state.claim("m1", 10 * SECOND) is True


async def test_memory_claims_stay_bounded() -> None:
    state = MemoryState(max_claims=3)
    for n in range(10):
        assert await state.claim(f"m{n}", timedelta(days=1))
    assert len(state._claims) == 3
    assert await state.claim("m9", timedelta(days=1)) is False  # the newest are kept


async def test_memory_leases_belong_to_the_one_process() -> None:
    state = MemoryState()
    assert await state.try_lease("outbox", 30 * SECOND)
    assert await state.try_lease("outbox", 30 * SECOND)
    async with state.lease("audit", 30 * SECOND) as held:
        assert held
    assert await state.count_flood(_sample("m1", "hi")) is None  # detectors keep the count


# ---------------------------------------------------------------- Redis


@pytest.fixture
async def two(redis_url: str, redis_prefix: str) -> AsyncIterator[tuple[RedisState, RedisState]]:
    """Two processes' views of one Redis."""
    a = await RedisState.connect(redis_url, redis_prefix, SECOND)
    b = await RedisState.connect(redis_url, redis_prefix, SECOND)
    yield a, b
    await a.close()
    await b.close()


def _sample(message_id: str, key: str, at_s: float = 0, limit: int = 0) -> FloodSample:
    return FloodSample(
        "qq:1001", "qq:2001", message_id, key, T0 + timedelta(seconds=at_s), limit, 10 * SECOND
    )


async def test_a_claim_is_won_by_one_process(two: tuple[RedisState, RedisState]) -> None:
    a, b = two
    results = await asyncio.gather(*(s.claim("message:g:m1", SECOND * 60) for s in (a, b, a, b)))
    assert sorted(results) == [False, False, False, True]
    assert await b.claim("message:g:m2", SECOND * 60) is True


async def test_a_lease_has_one_holder_until_released_or_expired(
    two: tuple[RedisState, RedisState],
) -> None:
    a, b = two
    assert await a.try_lease("outbox", 30 * SECOND) is True
    assert await b.try_lease("outbox", 30 * SECOND) is False
    assert await a.try_lease("outbox", 30 * SECOND) is True  # the holder renews
    assert await a.holder("outbox") == a.owner
    await b.release("outbox")  # not the holder: nothing happens
    assert await b.try_lease("outbox", 30 * SECOND) is False
    await a.release("outbox")
    assert await b.try_lease("outbox", 30 * SECOND) is True

    assert await a.try_lease("digest", timedelta(milliseconds=100)) is True
    assert await b.try_lease("digest", timedelta(milliseconds=100)) is False
    await asyncio.sleep(0.25)  # not renewed: it expires and the other process may run
    assert await b.try_lease("digest", timedelta(milliseconds=100)) is True


async def test_lease_context_renews_while_inside_and_releases_after(
    two: tuple[RedisState, RedisState],
) -> None:
    a, b = two
    ttl = timedelta(milliseconds=300)
    async with a.lease("import", ttl) as held:
        assert held
        await asyncio.sleep(0.7)  # over twice the ttl: only renewal keeps it
        assert await b.try_lease("import", ttl) is False
        async with b.lease("import", ttl) as other:
            assert other is False
    assert await b.try_lease("import", ttl) is True


async def test_flood_is_counted_once_per_message_across_processes(
    two: tuple[RedisState, RedisState],
) -> None:
    a, b = two
    # the same text three times, delivered to different processes
    assert await a.count_flood(_sample("m1", "在吗")) == FloodCount(1, False)
    assert await b.count_flood(_sample("m2", "在吗")) == FloodCount(2, False)
    third_a, third_b = await asyncio.gather(
        a.count_flood(_sample("m3", "在吗")), b.count_flood(_sample("m3", "在吗"))
    )
    assert third_a == third_b == FloodCount(3, False)  # both deliveries, one count
    assert await b.count_flood(_sample("m4", "别的")) == FloodCount(1, False)
    assert await a.count_flood(_sample("m5", "")) == FloodCount(0, False)  # no text: no run


async def test_flood_rate_window_is_shared(two: tuple[RedisState, RedisState]) -> None:
    a, b = two
    got = [
        await (a if n % 2 else b).count_flood(_sample(f"r{n}", f"t{n}", at_s=n, limit=3))
        for n in range(7)
    ]
    assert [c.burst for c in got if c] == [False, False, True, False, False, True, False]
    slow = [
        await a.count_flood(_sample(f"s{n}", f"u{n}", at_s=100 + 6 * n, limit=3)) for n in range(3)
    ]
    assert not any(c.burst for c in slow if c)  # three messages over 12 s: no burst


async def test_samples_are_counted_in_the_order_they_were_queued(
    two: tuple[RedisState, RedisState],
) -> None:
    a, _ = two
    futures = [a.count_flood(_sample(f"o{n}", "同一句话")) for n in range(300)]  # two batches
    counts = await asyncio.gather(*futures)
    assert [c.repeats for c in counts if c] == list(range(1, 301))


async def test_flood_detectors_in_two_processes_count_together(
    two: tuple[RedisState, RedisState],
) -> None:
    a, b = two
    settings = FloodSettings()
    one, other = FloodDetector(shared=a), FloodDetector(shared=b)
    assert one.settles and not FloodDetector(shared=MemoryState()).settles

    async def deliver(detector: FloodDetector, text: str, message_id: str) -> list[Finding]:
        event = message(text, message_id=message_id)
        return await detector.settle(event, settings, detector.check(event, settings))

    assert await deliver(one, "在吗", "d1") == []
    assert await deliver(other, "在吗？", "d2") == []
    third = await deliver(one, "在 吗", "d3")  # locally only the second time
    assert [(f.detector, f.detail) for f in third] == [("flood", "x3")]
    assert [f.detail for f in await deliver(other, "在 吗", "d3")] == ["x3"]


async def test_unreachable_redis_falls_back_to_local_state_and_says_so_once(
    redis_url: str, redis_prefix: str, caplog: pytest.LogCaptureFixture
) -> None:
    host, port = redis_url.split("//", 1)[1].split("/", 1)[0].split(":")
    async with CuttableProxy(host, int(port)) as proxy:
        via = f"redis://127.0.0.1:{proxy.port}/0"
        state = await RedisState.connect(via, redis_prefix, timedelta(seconds=1))
        other = await RedisState.connect(redis_url, redis_prefix, SECOND)
        state.retry_every = 0.2
        assert await state.try_lease("outbox", 30 * SECOND)
        assert await other.try_lease("audit", 30 * SECOND)
        assert await state.claim("message:g:before", SECOND * 60)
        caplog.set_level(logging.WARNING, logger="rules.shared_state.redis")

        proxy.cut()
        assert await state.claim("message:g:x", SECOND * 60) is True  # local memory
        assert await state.claim("message:g:x", SECOND * 60) is False
        assert await state.try_lease("outbox", 30 * SECOND) is True  # it held it: keeps it
        assert await state.try_lease("audit", 30 * SECOND) is False  # never takes a new one
        assert await state.count_flood(_sample("f1", "在吗")) is None  # the detector decides
        for n in range(20):
            await state.claim(f"message:g:{n}", SECOND * 60)
        down = [r for r in caplog.records if "Redis unreachable" in r.getMessage()]
        assert len(down) == 1

        proxy.restore()
        await asyncio.sleep(0.3)  # past retry_every: the next call tries Redis again
        assert await state.claim("message:g:before", SECOND * 60) is False  # Redis remembers
        assert await state.count_flood(_sample("f2", "在吗")) == FloodCount(1, False)
        back = [r for r in caplog.records if "Redis reachable again" in r.getMessage()]
        assert len(back) == 1
        assert len([r for r in caplog.records if "Redis unreachable" in r.getMessage()]) == 1
        await state.close()
        await other.close()


async def test_redis_down_at_start_is_not_fatal(redis_prefix: str) -> None:
    async with CuttableProxy("127.0.0.1", 9) as proxy:  # nothing listens behind it
        state = await RedisState.connect(
            f"redis://127.0.0.1:{proxy.port}/0", redis_prefix, timedelta(seconds=1)
        )
        assert not state.reachable
        assert await state.claim("k", SECOND) is True
        assert await state.try_lease("outbox", SECOND) is False  # nobody held it: wait for Redis
        await state.close()


async def test_the_redis_keys_expire(redis_url: str, redis_prefix: str) -> None:
    state = await RedisState.connect(redis_url, redis_prefix, SECOND)
    await state.claim("message:g:m", SECOND * 60)
    await state.count_flood(_sample("e1", "在吗", limit=5))
    client = Redis.from_url(redis_url)
    keys = [key async for key in client.scan_iter(match=redis_prefix + "*")]
    ttls = [await client.pttl(key) for key in keys]
    await client.aclose()
    await state.close()
    assert len(keys) == 2  # the claim, the member's windows
    assert all(0 < ttl <= 86_400_000 for ttl in ttls)
