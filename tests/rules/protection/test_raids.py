"""Raid detection: joins and new members' posts within a window, and raid mode's actions."""

from __future__ import annotations

from datetime import timedelta

import pytest

from rules.config import RaidSettings
from rules.core.model import ActionKind
from rules.core.protection_records import RaidRecord
from rules.protection.raids import (
    RaidWatch,
    Trigger,
    account_actions,
    lift_actions,
    start_actions,
)
from tests.fakes import T0

S = timedelta(seconds=1)
ALL = ActionKind.MUTE_ALL


def settings(**values: object) -> RaidSettings:
    return RaidSettings.model_validate(values)


@pytest.mark.parametrize(
    ("values", "joins", "spacing", "raid_at"),
    [
        ({"joins": 20, "window": "10s"}, 20, S / 2, 20),  # 20 joins in 10 s: the 20th
        ({"joins": 20, "window": "10s"}, 20, S, None),  # 20 joins in 20 s: no raid
        ({"joins": 5, "window": "1m"}, 10, S, 5),
        ({"joins": 0}, 50, S / 10, None),  # joins do not count
        ({"enabled": False, "joins": 2}, 10, S, None),
    ],
)
def test_joins_within_the_window(
    values: dict[str, object], joins: int, spacing: timedelta, raid_at: int | None
) -> None:
    watch = RaidWatch()
    found = None
    for i in range(joins):
        trigger = watch.join("qq:1", f"qq:{i}", T0 + i * spacing, settings(**values))
        if trigger is not None and found is None:
            found = i + 1
            assert trigger.kind == "joins" and len(trigger.accounts) == trigger.count
    assert found == raid_at


def test_the_same_member_joining_again_counts_once_and_groups_are_apart() -> None:
    watch = RaidWatch()
    s = settings(joins=3, window="1m")
    assert watch.join("qq:1", "qq:9", T0, s) is None
    assert watch.join("qq:1", "qq:9", T0 + S, s) is None
    assert watch.join("qq:2", "qq:8", T0 + S, s) is None
    assert watch.join("qq:1", "qq:8", T0 + S, s) is None
    trigger = watch.join("qq:1", "qq:7", T0 + 2 * S, s)
    assert trigger == Trigger("qq:1", "joins", ("qq:9", "qq:8", "qq:7"), 3, T0 + 2 * S)
    # counted: the next raid needs a new wave
    assert watch.join("qq:1", "qq:6", T0 + 3 * S, s) is None


@pytest.mark.parametrize(
    ("posts", "raid"),
    [
        ([("qq:1", ["link"], ""), ("qq:2", ["image"], ""), ("qq:3", ["link"], "")], True),
        ([("qq:1", ["link"], ""), ("qq:1", ["image"], ""), ("qq:1", ["link"], "")], False),
        ([("qq:1", [], "k"), ("qq:2", [], "k"), ("qq:3", [], "k")], True),  # the same text
        ([("qq:1", [], "a"), ("qq:2", [], "b"), ("qq:3", [], "c")], False),
        ([("qq:1", [], "k"), ("qq:2", ["link"], ""), ("qq:3", [], "k")], False),
    ],
)
def test_new_members_posting(posts: list[tuple[str, list[str], str]], raid: bool) -> None:
    watch = RaidWatch()
    s = settings(new_posts=3, window="1m")
    results = [
        watch.post("qq:G", member, T0 + i * S, kinds, key, s)  # type: ignore[arg-type]
        for i, (member, kinds, key) in enumerate(posts)
    ]
    assert (results[-1] is not None) == raid
    assert all(r is None for r in results[:-1])


def test_posts_outside_the_window_do_not_count() -> None:
    watch = RaidWatch()
    s = settings(new_posts=2, window="10s")
    assert watch.post("qq:G", "qq:1", T0, ["link"], "", s) is None
    assert watch.post("qq:G", "qq:2", T0 + 11 * S, ["link"], "", s) is None


def test_windows_are_bounded() -> None:
    watch = RaidWatch(max_groups=10)
    s = settings(joins=10_000, window="1d")
    for i in range(5000):
        watch.join(f"qq:{i % 50}", f"qq:m{i}", T0, s)
    assert len(watch._groups) == 10
    assert all(len(w.joins) <= 2000 for w in watch._groups.values())


@pytest.mark.parametrize(
    ("values", "caps", "kinds"),
    [
        ({}, {ALL}, [ALL]),
        ({"accounts": "mute"}, {ALL}, [ALL, ActionKind.MUTE, ActionKind.MUTE]),
        ({"accounts": "kick", "mute_group": False}, {ALL}, [ActionKind.KICK] * 2),
        ({}, set(), []),  # WeChat: no whole-group mute
    ],
)
def test_start_actions(
    values: dict[str, object], caps: set[ActionKind], kinds: list[ActionKind]
) -> None:
    trigger = Trigger("qq:1", "joins", ("qq:8", "qq:9"), 2, T0)
    actions = start_actions(trigger, settings(**values), frozenset(caps))
    assert [a.kind for a in actions] == kinds
    if ActionKind.MUTE in kinds:
        assert all(a.duration == timedelta(minutes=30) for a in actions)


def test_account_actions_and_lift() -> None:
    assert account_actions("qq:1", ["qq:9"], settings()) == []
    raid = RaidRecord("qq:1", T0, T0 + timedelta(minutes=30), "joins", ("qq:8", "qq:9"), True,
                      muted=("qq:8", "qq:9"))  # fmt: skip
    assert [(a.kind, a.target_id) for a in lift_actions(raid)] == [
        (ActionKind.UNMUTE_ALL, ""),
        (ActionKind.UNMUTE, "qq:8"),
        (ActionKind.UNMUTE, "qq:9"),
    ]
