"""Which member writes are due: the engine writes a member beside each event's handling
only when it is new, its card or role changed, or its group's activity is stale.

``groups.last_activity`` (the digest's idle groups) thus follows a group that
talks, at most ``ACTIVITY_EVERY`` behind, without a write per message.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from datetime import datetime, timedelta

from rules.core.model import ChatEvent, Role
from rules.core.ports import Store

ACTIVITY_EVERY = timedelta(minutes=10)  # groups.last_activity is at most this stale
MAX_MEMBERS = 100_000  # members remembered as written (the least recent go: written again)


class MemberNotes:
    """The members and group activity this process has written (or is writing)."""

    def __init__(self, max_members: int = MAX_MEMBERS) -> None:
        self.max_members = max_members
        self._seen_members: OrderedDict[tuple[str, str], tuple[str, Role]] = OrderedDict()
        self._group_noted: dict[str, datetime] = {}  # group -> activity last written

    def note(self, event: ChatEvent, store: Store) -> asyncio.Task[None] | None:
        """Write the member to ``store`` when new or changed, as a task beside the handling.

        Not per message: otherwise only when the group's activity was last recorded
        ``ACTIVITY_EVERY`` ago or more. Marked at once, so the member's next
        messages do not queue the same write; forgotten again if the write fails, so a
        later message retries it.
        """
        key = (event.group_id, event.member.id)
        seen = (event.member.card, event.member.role)
        noted = self._group_noted.get(event.group_id)
        stale = noted is None or event.time - noted >= ACTIVITY_EVERY
        if self._seen_members.get(key) == seen and not stale:
            self._seen_members.move_to_end(key)
            return None
        self._seen_members[key] = seen
        self._seen_members.move_to_end(key)
        if len(self._seen_members) > self.max_members:  # a raid's accounts, say
            self._seen_members.popitem(last=False)
        self._group_noted[event.group_id] = event.time

        async def write() -> None:
            try:
                await store.note_member(event)
            except BaseException:
                if self._seen_members.get(key) == seen:
                    del self._seen_members[key]
                if self._group_noted.get(event.group_id) == event.time:
                    del self._group_noted[event.group_id]
                raise

        return asyncio.create_task(write())
