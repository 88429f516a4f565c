"""The recent message ids of each member in each group, in bounded memory.

When the bot removes a member for a violation, their messages of the last few
minutes are recalled with them (a spammer posts several adverts before the one
that gets him removed). Only ids and times are kept, never text.

Bounded three ways: a ring buffer per member (``per_member`` ids), a time horizon
(older entries are dropped as new ones arrive), and a global cap (``total`` ids
over all members; the members quiet for longest are forgotten first). Noting a
message is O(1) and touches no lock: this runs for every message.
"""

from __future__ import annotations

from collections import OrderedDict, deque
from datetime import datetime, timedelta

Key = tuple[str, str]  # (group id, member id)


class RecentMessages:
    """Ring buffers of ``(time, message id)`` per (group, member)."""

    def __init__(
        self,
        per_member: int = 20,
        total: int = 200_000,
        horizon: timedelta = timedelta(hours=1),
    ) -> None:
        if per_member < 1 or total < 1:
            raise ValueError("per_member and total must be at least 1")
        self.per_member = per_member
        self.total = total
        self.horizon = horizon
        self._buffers: OrderedDict[Key, deque[tuple[datetime, str]]] = OrderedDict()
        self._count = 0

    def __len__(self) -> int:
        """Message ids held in all."""
        return self._count

    @property
    def members(self) -> int:
        return len(self._buffers)

    def note(self, group_id: str, member_id: str, message_id: str, at: datetime) -> None:
        """Remember one message (the newest of its member)."""
        key = (group_id, member_id)
        buffer = self._buffers.get(key)
        if buffer is None:
            buffer = self._buffers[key] = deque(maxlen=self.per_member)
        else:
            self._buffers.move_to_end(key)
            oldest = at - self.horizon
            while buffer and buffer[0][0] < oldest:
                buffer.popleft()
                self._count -= 1
            if len(buffer) == self.per_member:
                self._count -= 1  # the append below pushes the oldest out
        buffer.append((at, message_id))
        self._count += 1
        while self._count > self.total:
            _, dropped = self._buffers.popitem(last=False)
            self._count -= len(dropped)

    def recent(self, group_id: str, member_id: str, since: datetime) -> list[str]:
        """The member's message ids from ``since`` on, oldest first."""
        buffer = self._buffers.get((group_id, member_id))
        if not buffer:
            return []
        return [message_id for at, message_id in buffer if at >= since]

    def discard(self, group_id: str, member_id: str, message_id: str) -> None:
        """Drop one id (the bot deleted that message: a recall need not delete it again)."""
        buffer = self._buffers.get((group_id, member_id))
        if not buffer:
            return
        for entry in buffer:
            if entry[1] == message_id:
                buffer.remove(entry)
                self._count -= 1
                return

    def forget(self, group_id: str, member_id: str) -> None:
        """Drop a member's ids (after a recall: they are gone)."""
        buffer = self._buffers.pop((group_id, member_id), None)
        if buffer is not None:
            self._count -= len(buffer)
