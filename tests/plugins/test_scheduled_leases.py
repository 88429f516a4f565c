"""Only the lease holder sends the officer outbox and runs the member audit (real Redis).

Two ``RedisState`` objects stand for this bot process and another one; the
plugins' loops run in this process against the in-process bot's runtime.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest

from rules.shared_state.memory import MemoryState
from rules.shared_state.redis import RedisState

MINUTE = timedelta(minutes=1)


@pytest.fixture
async def states(redis_url: str, redis_prefix: str) -> AsyncIterator[tuple[RedisState, RedisState]]:
    mine = await RedisState.connect(redis_url, redis_prefix, timedelta(seconds=1))
    other = await RedisState.connect(redis_url, redis_prefix, timedelta(seconds=1))
    yield mine, other
    await mine.close()
    await other.close()


class CountingSender:
    def __init__(self) -> None:
        self.flushes = 0

    async def flush(self) -> int:
        self.flushes += 1
        return 0


async def outbox_flushes(monkeypatch: pytest.MonkeyPatch, shared: object) -> int:
    """How often one run of the outbox loop flushed (its first pass is immediate)."""
    import plugins.guard as guard

    runtime = guard.get_runtime()
    sender = CountingSender()
    monkeypatch.setattr(runtime, "shared", shared)
    monkeypatch.setattr(runtime, "outbox", lambda: sender)
    monkeypatch.setitem(guard._state, "outbox_wake", guard._state.get("outbox_wake"))
    loop = asyncio.create_task(guard._outbox_loop(runtime))
    await asyncio.sleep(0.3)
    loop.cancel()
    with pytest.raises(asyncio.CancelledError):
        await loop
    return sender.flushes


async def test_only_the_outbox_lease_holder_sends(
    monkeypatch: pytest.MonkeyPatch, states: tuple[RedisState, RedisState]
) -> None:
    mine, other = states
    assert await other.try_lease("outbox", MINUTE)
    assert await outbox_flushes(monkeypatch, mine) == 0
    await other.release("outbox")
    assert await outbox_flushes(monkeypatch, mine) == 1
    assert await other.try_lease("outbox", MINUTE) is False  # now this process holds it
    assert await outbox_flushes(monkeypatch, MemoryState()) == 1  # alone: always


async def test_the_member_audit_runs_in_one_process(
    monkeypatch: pytest.MonkeyPatch, states: tuple[RedisState, RedisState]
) -> None:
    import plugins.member_audit as member_audit
    from plugins.guard import get_runtime

    mine, other = states
    runs: list[int] = []

    async def audit() -> int:
        runs.append(1)
        return 0

    monkeypatch.setattr(member_audit, "run_audit", audit)
    monkeypatch.setattr(get_runtime(), "shared", mine)
    assert await other.try_lease(member_audit.JOB_ID, MINUTE)
    await member_audit._job()
    assert runs == []  # the other process runs it this time
    await other.release(member_audit.JOB_ID)
    await member_audit._job()
    await member_audit._job()  # its next scheduled run: this process still holds it
    assert runs == [1, 1]
    assert await other.try_lease(member_audit.JOB_ID, MINUTE) is False
