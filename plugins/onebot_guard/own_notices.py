"""Mutes verified by the implementation's own report of them, where it makes one.

Some implementations answer "ok" to a mute QQ refused, so every mute is verified
(:meth:`.actions.Actions._mute`). The check was a read of the member
(``get_group_member_info`` without the cache: a request to QQ's servers per mute).
NapCat reports every mute in a group, the bot's own included, as a ``group_ban``
notice made from QQ's grey tip ("X 被 Y 禁言"): QQ's word that the mute took
effect, which is what the read asks. In a raid these notices arrive anyway, about
one per mute.

So a mute waits for its notice instead of reading, on an account that reports
mutes: one whose last awaited notice came. On any other account (it never has,
or the last one did not come within ``wait`` seconds) the member is read at once,
as before, while the notice is still listened for: one that comes teaches that
the account reports them. A notice that does not come in time, or says otherwise,
sends the mute to the read: nothing is trusted that QQ did not say.

The intake hands every ``group_ban`` notice to :meth:`MuteNotices.heard` as its
frame is read, whichever lane the notice then takes.
"""

from __future__ import annotations

import asyncio
from typing import Any

NOTICE_WAIT = 2.0  # seconds a mute waits for its notice before reading the member

Key = tuple[str, str, str]  # (account, group, member)


class MuteNotices:
    """The ``group_ban`` notices mutes wait for, and which accounts send them."""

    def __init__(self, wait: float = NOTICE_WAIT) -> None:
        self.wait = wait
        self._waiting: dict[Key, list[asyncio.Future[int]]] = {}
        self._reporting: set[str] = set()  # accounts whose last awaited notice came

    def expect(self, account: str, group: str, member: str) -> asyncio.Future[int]:
        """A future for the next ``group_ban`` notice about ``member`` in ``group`` on
        ``account``: the muted seconds it reports (0: lifted). Registered before the
        mute is asked for, so a notice faster than the call's answer is not missed."""
        future: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        self._waiting.setdefault((account, group, member), []).append(future)
        return future

    def forget(self, account: str, group: str, member: str, future: asyncio.Future[int]) -> None:
        """Stop waiting with ``future`` (heard, given up on, or its mute failed)."""
        key = (account, group, member)
        waiting = self._waiting.get(key)
        if waiting is None:
            return
        if future in waiting:
            waiting.remove(future)
        if not waiting:
            del self._waiting[key]
        if not future.done():
            future.cancel()

    def heard(self, frame: dict[str, Any]) -> None:
        """A ``group_ban`` notice as read off the account's connection."""
        key = (str(frame.get("self_id")), str(frame.get("group_id")), str(frame.get("user_id")))
        waiting = self._waiting.pop(key, None)
        if not waiting:
            return
        duration = frame.get("duration")
        seconds = 0
        if frame.get("sub_type") == "ban" and type(duration) is int and duration > 0:
            seconds = duration
        for future in waiting:
            if not future.done():
                future.set_result(seconds)
        self._reporting.add(key[0])

    def reports(self, account: str) -> bool:
        """Whether ``account`` reports mutes (its last awaited notice came)."""
        return account in self._reporting

    def missed(self, account: str) -> None:
        """A notice ``account`` was waited on for did not come: read from now on."""
        self._reporting.discard(account)

    def __len__(self) -> int:
        return len(self._waiting)
