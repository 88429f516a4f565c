"""Outgoing pacing: slots per room and overall, handed out in call order."""

from __future__ import annotations


def test_throttle_spreads_a_burst() -> None:
    from plugins.wechaty_guard.throttle import SendThrottle

    now = [100.0]
    throttle = SendThrottle(per_room=2.0, overall=0.5, clock=lambda: now[0])
    waits = [throttle.reserve(key) for key in ("roomA", "roomA", "roomB", "private", "roomA")]
    assert waits == [0.0, 2.0, 2.5, 3.0, 4.0]
    now[0] = 200.0  # long idle: no wait
    assert throttle.reserve("roomA") == 0.0
