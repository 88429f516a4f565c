"""Which member writes the engine makes beside the handling (rules.moderation.activity):
new or changed members, a group's stale activity, and a bounded memory of who was written."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from rules.moderation.activity import ACTIVITY_EVERY, MemberNotes
from tests.fakes import T0, message


class Store:
    def __init__(self) -> None:
        self.written: list[str] = []

    async def note_member(self, event: Any) -> None:
        self.written.append(event.member.id)


async def noted(notes: MemberNotes, store: Store, user: str, minutes: float = 0) -> bool:
    task = notes.note(message("好", user=user, at=T0 + timedelta(minutes=minutes)), store)  # type: ignore[arg-type]
    if task is not None:
        await task
    return task is not None


async def test_a_member_is_written_when_new_or_when_the_groups_activity_is_stale() -> None:
    notes, store = MemberNotes(), Store()
    assert await noted(notes, store, "qq:a")
    assert not await noted(notes, store, "qq:a", 1)
    assert await noted(notes, store, "qq:a", ACTIVITY_EVERY.total_seconds() / 60 + 1)
    assert store.written == ["qq:a", "qq:a"]


async def test_beyond_its_bound_the_least_recent_member_is_forgotten_and_written_again() -> None:
    notes, store = MemberNotes(max_members=2), Store()
    for user in ("qq:a", "qq:b"):
        assert await noted(notes, store, user)
    assert not await noted(notes, store, "qq:a")  # seen again: now the most recent
    assert await noted(notes, store, "qq:c")  # a third member: b goes
    assert not await noted(notes, store, "qq:a")
    assert await noted(notes, store, "qq:b")
    assert store.written == ["qq:a", "qq:b", "qq:c", "qq:b"]
