"""Escalations ask the outbox to flush once their report is due; a burst shares one timer
a second (plugins.guard.request_outbox_flush_after)."""

from __future__ import annotations

import asyncio

import pytest


async def test_a_burst_of_requests_due_in_one_second_wakes_the_outbox_once(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import plugins.guard as guard

    wakes: list[float] = []
    loop = asyncio.get_running_loop()
    monkeypatch.setattr(guard, "request_outbox_flush", lambda: wakes.append(loop.time()))
    asked = loop.time()
    for _ in range(500):  # a raid's escalations in one moment
        guard.request_outbox_flush_after(0.05)
    await asyncio.sleep(1.3)
    assert len(wakes) == 1
    assert asked + 0.05 <= wakes[0] <= asked + 1.1  # not before the report is due
    guard.request_outbox_flush_after(0.0)  # a later request gets a timer of its own
    await asyncio.sleep(1.1)
    assert len(wakes) == 2
