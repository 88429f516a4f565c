"""Mutes and removals verified by the implementation's own report of them, where it
makes one.

Some implementations answer "ok" to a call QQ refused, so every mute and removal is
verified (:mod:`.actions`): a mute by reading the member (``get_group_member_info``
without the cache: a request to QQ's servers per mute), a removal by reading the
group's member list. NapCat reports every mute in a group, the bot's own included,
as a ``group_ban`` notice made from QQ's grey tip ("X 被 Y 禁言"), and every removal
as a ``group_decrease`` notice: QQ's word that it took effect, which is what the
reads ask. In a raid these notices arrive anyway, about one per action.

So an action waits for its notice instead of reading, on an account that reports
that kind of action: one whose last awaited notice of the kind came. On any other
account (it never has, or the last one did not come within ``wait`` seconds) it
reads at once, as before, while the notice is still listened for: one that comes
teaches that the account reports them. A notice that does not come in time, or
says otherwise, sends the action to the read: nothing is trusted that QQ did not say.

The intake hands every such notice to :meth:`OwnNotices.heard` as its frame is
read, whichever lane the notice then takes.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator
from typing import Any

NOTICE_WAIT = 2.0  # seconds an action waits for its notice before reading
MUTED = "group_ban"  # the notice of a mute or unmute
REMOVED = "group_decrease"  # the notice of a member gone (removed, or left)
KINDS = frozenset({MUTED, REMOVED})

Key = tuple[str, str, str, str]  # (kind, account, group, member)


class OwnNotices:
    """The notices actions wait for, and which accounts send them."""

    def __init__(self, wait: float = NOTICE_WAIT) -> None:
        self.wait = wait
        self._waiting: dict[Key, list[asyncio.Future[dict[str, Any]]]] = {}
        self._reporting: set[tuple[str, str]] = set()  # (kind, account): last one came

    def expect(
        self, kind: str, account: str, group: str, member: str
    ) -> asyncio.Future[dict[str, Any]]:
        """A future for the next ``kind`` notice about ``member`` in ``group`` on
        ``account`` (the notice's frame). Registered before the action is asked for, so
        a notice faster than the call's answer is not missed."""
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._waiting.setdefault((kind, account, group, member), []).append(future)
        return future

    @contextlib.contextmanager
    def expecting(
        self, kind: str, account: str, group: str, member: str
    ) -> Iterator[asyncio.Future[dict[str, Any]]]:
        """:meth:`expect` for the block (around the action and its verification), and
        :meth:`forget` after it, however it ends."""
        future = self.expect(kind, account, group, member)
        try:
            yield future
        finally:
            self.forget(kind, account, group, member, future)

    def forget(
        self, kind: str, account: str, group: str, member: str, future: asyncio.Future[Any]
    ) -> None:
        """Stop waiting with ``future`` (heard, given up on, or its action failed)."""
        key = (kind, account, group, member)
        waiting = self._waiting.get(key)
        if waiting is not None:
            if future in waiting:
                waiting.remove(future)
            if not waiting:
                del self._waiting[key]
        if not future.done():
            future.cancel()

    def heard(self, frame: dict[str, Any]) -> None:
        """A notice as read off an account's connection (any kind: others are ignored)."""
        kind = frame.get("notice_type")
        if kind not in KINDS:
            return
        account = str(frame.get("self_id"))
        key = (kind, account, str(frame.get("group_id")), str(frame.get("user_id")))
        waiting = self._waiting.pop(key, None)
        if not waiting:
            return
        for future in waiting:
            if not future.done():
                future.set_result(frame)
        self._reporting.add((kind, account))

    async def reported(
        self, kind: str, account: str, future: asyncio.Future[dict[str, Any]]
    ) -> dict[str, Any] | None:
        """The notice ``future`` waits for, if ``account`` reports ``kind`` and it comes
        within :attr:`wait`; else None at once (the account is not known to report it)
        or after the wait (and the account is read at once from then on)."""
        if (kind, account) not in self._reporting:
            return None
        try:
            return await asyncio.wait_for(future, self.wait)
        except TimeoutError:
            self._reporting.discard((kind, account))
            return None

    def reports(self, kind: str, account: str) -> bool:
        """Whether ``account`` reports ``kind`` (its last awaited notice of it came)."""
        return (kind, account) in self._reporting

    def __len__(self) -> int:
        return len(self._waiting)


def muted_seconds(notice: dict[str, Any]) -> int:
    """How long a ``group_ban`` notice says the member is muted (0: lifted)."""
    duration = notice.get("duration")
    if notice.get("sub_type") == "ban" and type(duration) is int and duration > 0:
        return duration
    return 0
