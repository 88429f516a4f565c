"""The relay between bot processes (rules/shared_state/relay.py, redis_relay.py).

In memory a process serves itself. On Redis, two ``RedisState`` objects stand
for two processes (each its own owner token): one holds a lease and serves it,
the other sends requests. Every failure comes back as a RelayError within the
request's time, never a hang.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest

from rules.shared_state.memory import MemoryState
from rules.shared_state.redis import RedisState
from rules.shared_state.relay import (
    MemoryRelay,
    Message,
    RelayError,
    RelayTimeout,
    relay_of,
)
from tests.faults.proxy import CuttableProxy

SECOND = timedelta(seconds=1)
LEASE = "wechat:127.0.0.1:8788"


async def echo(request: Message) -> Message:
    if request.get("fail"):
        raise ConnectionError("WeChat not connected")
    if request.get("slow"):
        await asyncio.sleep(float(request["slow"]))
    return {"echo": request, "answered_by": "holder"}


@contextlib.asynccontextmanager
async def serving(relay: object, lease: str = LEASE) -> AsyncIterator[None]:
    task = asyncio.create_task(relay.serve(lease, echo))  # type: ignore[attr-defined]
    await asyncio.sleep(0.05)  # registered (and, on Redis, popping)
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


# ---------------------------------------------------------------- memory


async def test_memory_relay_calls_its_own_handler_through_json() -> None:
    state = MemoryState()
    relay = relay_of(state)
    assert relay is state.relay()
    with pytest.raises(RelayError, match="nothing serves"):
        await relay.request(LEASE, {"op": "x"}, within=1)
    async with serving(relay):
        reply = await relay.request(LEASE, {"op": "x", "n": (1, 2)}, within=1)
        assert reply == {"echo": {"op": "x", "n": [1, 2]}, "answered_by": "holder"}  # JSON
        with pytest.raises(RelayError, match="ConnectionError: WeChat not connected"):
            await relay.request(LEASE, {"fail": True}, within=1)
        with pytest.raises(RelayTimeout):
            await relay.request(LEASE, {"slow": 1}, within=0.1)
    with pytest.raises(RelayError):  # no longer served
        await relay.request(LEASE, {}, within=1)


async def test_memory_relay_announcements() -> None:
    relay = MemoryRelay()
    assert await relay.heard("up") == 0
    await relay.announce("up")
    await relay.announce("up")
    assert await relay.heard("up") == 2


def test_a_state_without_a_relay_gets_a_private_one() -> None:
    assert isinstance(relay_of(object()), MemoryRelay)


# ---------------------------------------------------------------- Redis


@pytest.fixture
async def two(redis_url: str, redis_prefix: str) -> AsyncIterator[tuple[RedisState, RedisState]]:
    """Two processes' views of one Redis: ``holder`` takes the lease, ``other`` does not."""
    holder = await RedisState.connect(redis_url, redis_prefix, SECOND)
    other = await RedisState.connect(redis_url, redis_prefix, SECOND)
    yield holder, other
    await holder.close()
    await other.close()


async def test_a_request_reaches_the_holder_and_comes_back(
    two: tuple[RedisState, RedisState],
) -> None:
    holder, other = two
    assert await holder.try_lease(LEASE, 10 * SECOND)
    assert not await other.try_lease(LEASE, 10 * SECOND)
    async with serving(holder.relay()):
        started = time.perf_counter()
        reply = await other.relay().request(LEASE, {"op": "send", "text": "报告"}, within=5)
        print(f"relayed round trip {1000 * (time.perf_counter() - started):.1f} ms")
        assert reply == {"echo": {"op": "send", "text": "报告"}, "answered_by": "holder"}
        # concurrent requests are answered concurrently
        started = time.perf_counter()
        replies = await asyncio.gather(
            *(other.relay().request(LEASE, {"n": n, "slow": 0.3}, within=5) for n in range(10))
        )
        assert [r["echo"]["n"] for r in replies] == list(range(10))
        assert time.perf_counter() - started < 2.0
        # the holder's own request is a call
        reply = await holder.relay().request(LEASE, {"op": "self"}, within=5)
        assert reply["echo"] == {"op": "self"}
        # a handler's failure comes back as a RelayError naming the holder
        with pytest.raises(RelayError, match=f"{holder.owner}: ConnectionError"):
            await other.relay().request(LEASE, {"fail": True}, within=5)


async def test_nobody_holding_the_lease_fails_at_once(two: tuple[RedisState, RedisState]) -> None:
    _, other = two
    started = time.perf_counter()
    with pytest.raises(RelayError, match="no process holds"):
        await other.relay().request(LEASE, {}, within=5)
    assert time.perf_counter() - started < 0.5


async def test_a_silent_holder_times_out_and_its_late_requests_are_dropped(
    two: tuple[RedisState, RedisState],
) -> None:
    """A holder that does not answer (hung, or dead before its lease expired)."""
    holder, other = two
    assert await holder.try_lease(LEASE, 10 * SECOND)
    started = time.perf_counter()
    with pytest.raises(RelayTimeout, match=r"did not answer within 0\.5s"):
        await other.relay().request(LEASE, {"op": "late"}, within=0.5)
    waited = time.perf_counter() - started
    assert 0.45 < waited < 1.5, waited
    calls: list[Message] = []

    async def record(request: Message) -> Message:
        calls.append(request)
        return {}

    task = asyncio.create_task(holder.relay().serve(LEASE, record))
    try:
        await asyncio.sleep(0.3)  # the late request is popped and dropped
        assert calls == []
        await other.relay().request(LEASE, {"op": "fresh"}, within=5)
        assert calls == [{"op": "fresh"}]
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def test_a_request_goes_to_the_holder_of_the_moment_only(
    two: tuple[RedisState, RedisState], redis_prefix: str
) -> None:
    """The queue is per holder: a request for a holder that died is never run by the next."""
    holder, other = two
    assert await holder.try_lease(LEASE, 10 * SECOND)
    with pytest.raises(RelayTimeout):
        await other.relay().request(LEASE, {"op": "for the old holder"}, within=0.2)
    queue = f"{redis_prefix}relay:{LEASE}:{holder.owner}"
    assert await holder.redis.llen(queue) == 1
    assert await holder.redis.pttl(queue) > 0  # expires with nobody popping it
    await holder.release(LEASE)  # the holder is gone; the other takes over and serves
    assert await other.try_lease(LEASE, 10 * SECOND)
    async with serving(other.relay()):
        reply = await holder.relay().request(LEASE, {"op": "new"}, within=5)
        assert reply["echo"] == {"op": "new"}
    assert await holder.redis.llen(queue) == 1  # never taken by the new holder


async def test_announcements_reach_every_process(two: tuple[RedisState, RedisState]) -> None:
    holder, other = two
    before = await other.relay().heard("wechat:up")
    await holder.relay().announce("wechat:up")
    assert await other.relay().heard("wechat:up") == before + 1


async def test_redis_unreachable_is_a_prompt_relay_error(redis_url: str, redis_prefix: str) -> None:
    host, port = redis_url.split("//", 1)[1].split("/", 1)[0].split(":")
    async with CuttableProxy(host, int(port)) as proxy:
        url = f"redis://127.0.0.1:{proxy.port}/0"
        holder = await RedisState.connect(url, redis_prefix, SECOND * 0.5)
        other = await RedisState.connect(url, redis_prefix, SECOND * 0.5)
        try:
            assert await holder.try_lease(LEASE, 10 * SECOND)
            async with serving(holder.relay()):
                assert (await other.relay().request(LEASE, {"a": 1}, within=3))["echo"]
                proxy.cut()
                started = time.perf_counter()
                with pytest.raises(RelayError):
                    await other.relay().request(LEASE, {"a": 2}, within=3)
                with pytest.raises(RelayError):
                    await other.relay().announce("x")
                assert time.perf_counter() - started < 3.5
                proxy.restore()
                await asyncio.sleep(2.5)  # the server's retry after the outage
                deadline = time.monotonic() + 5
                while True:
                    try:
                        reply = await other.relay().request(LEASE, {"a": 3}, within=2)
                        break
                    except RelayError:
                        assert time.monotonic() < deadline
                assert reply["echo"] == {"a": 3}
        finally:
            await holder.close()
            await other.close()


async def test_a_malformed_request_is_dropped(
    two: tuple[RedisState, RedisState], redis_prefix: str
) -> None:
    holder, other = two
    assert await holder.try_lease(LEASE, 10 * SECOND)
    queue = f"{redis_prefix}relay:{LEASE}:{holder.owner}"
    await holder.redis.rpush(queue, b"not json", json.dumps({"no": "fields"}))
    async with serving(holder.relay()):
        reply = await other.relay().request(LEASE, {"ok": 1}, within=5)
        assert reply["echo"] == {"ok": 1}
