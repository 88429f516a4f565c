"""Recent message ids per member: ring buffers, a time horizon and a global cap."""

from __future__ import annotations

from datetime import timedelta

import pytest

from rules.protection.recent import RecentMessages
from tests.fakes import T0

S = timedelta(seconds=1)


@pytest.mark.parametrize(
    ("per_member", "sent", "since", "expected"),
    [
        (20, 3, T0, ["m0", "m1", "m2"]),  # all three, oldest first
        (2, 3, T0, ["m1", "m2"]),  # the ring buffer keeps the newest two
        (20, 5, T0 + 3 * S, ["m3", "m4"]),  # the window: from `since` on
        (20, 0, T0, []),
    ],
)
def test_recent_ids_per_member(
    per_member: int, sent: int, since: object, expected: list[str]
) -> None:
    recent = RecentMessages(per_member=per_member)
    for i in range(sent):
        recent.note("qq:1", "qq:9", f"m{i}", T0 + i * S)
        recent.note("qq:1", "qq:8", f"other{i}", T0 + i * S)  # another member: apart
        recent.note("qq:2", "qq:9", f"elsewhere{i}", T0 + i * S)  # another group: apart
    assert recent.recent("qq:1", "qq:9", since) == expected  # type: ignore[arg-type]


def test_global_cap_forgets_the_quietest_members_first() -> None:
    recent = RecentMessages(per_member=5, total=10)
    for member in range(4):
        for i in range(3):
            recent.note("qq:1", f"qq:{member}", f"{member}-{i}", T0 + i * S)
    assert len(recent) <= 10
    assert recent.recent("qq:1", "qq:0", T0) == []  # the first member was dropped
    assert recent.recent("qq:1", "qq:3", T0) == ["3-0", "3-1", "3-2"]


def test_horizon_drops_old_entries_as_new_ones_arrive() -> None:
    recent = RecentMessages(per_member=10, horizon=timedelta(minutes=10))
    recent.note("qq:1", "qq:9", "old", T0)
    recent.note("qq:1", "qq:9", "new", T0 + timedelta(minutes=11))
    assert len(recent) == 1
    assert recent.recent("qq:1", "qq:9", T0) == ["new"]


def test_count_stays_exact_through_ring_overflow_and_forget() -> None:
    recent = RecentMessages(per_member=3, total=1000)
    for i in range(10):
        recent.note("qq:1", "qq:9", f"m{i}", T0 + i * S)
    recent.note("qq:1", "qq:8", "x", T0)
    assert len(recent) == 4
    recent.forget("qq:1", "qq:9")
    assert len(recent) == 1 and recent.members == 1


def test_memory_is_bounded_under_many_members() -> None:
    recent = RecentMessages(per_member=20, total=1000)
    for i in range(50_000):
        recent.note(f"qq:{i % 7}", f"qq:{i}", str(i), T0)
    assert len(recent) == 1000 and recent.members == 1000
