"""Which connected QQ account (OneBot bot) serves which group, and the roles we know.

Several OneBot connections can feed one process, each logged in as a different
QQ account in its own groups. Every event tells us that its bot is in its
group; the bot's own role there is fetched once (and refreshed on
``group_admin`` notices and after a TTL). A group is served by one bot: the
connected one with the highest role (owner > admin > member), ties going to
the first seen, so when two of our accounts share a group each message is
moderated once, by the account that can act.

Members' roles (for "never mute an admin") come from message senders, notices
and member-info calls; the cache is bounded.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field

from rules.core.model import Role

ROLE_RANK = {Role.MEMBER: 0, Role.ADMIN: 1, Role.OWNER: 2}
ROLE_TTL = 600.0  # seconds before the bot's own role is fetched again
ROLE_RETRY = 30.0  # after a failed fetch, assume member and retry this soon
MAX_MEMBERS = 100_000


@dataclass
class BotSeat:
    """One of our bots in one group."""

    role: Role | None = None  # None: not fetched yet
    fetched: float = 0.0
    ttl: float = ROLE_TTL

    def stale(self, now: float) -> bool:
        return self.role is None or now - self.fetched > self.ttl


@dataclass
class MemberInfo:
    role: Role
    card: str = ""
    nickname: str = ""


@dataclass
class Routes:
    """Group -> our bots in it (with roles); member roles; pending join-request flags."""

    clock: Callable[[], float] = time.monotonic
    seats: dict[str, dict[str, BotSeat]] = field(default_factory=dict)  # group -> self_id -> seat
    members: OrderedDict[tuple[str, str], MemberInfo] = field(default_factory=OrderedDict)
    requests: OrderedDict[tuple[str, str], tuple[str, str]] = field(default_factory=OrderedDict)
    _groups_of_user: dict[str, set[str]] = field(default_factory=dict)  # index of ``members``

    # ------------------------------------------------------------------ bots

    def seat(self, group: str, self_id: str) -> BotSeat:
        """The bot's seat in the group, created (role unknown) on first sight."""
        bots = self.seats.setdefault(group, {})
        seat = bots.get(self_id)
        if seat is None:
            seat = bots[self_id] = BotSeat()
        return seat

    def set_bot_role(self, group: str, self_id: str, role: Role, ttl: float = ROLE_TTL) -> None:
        seat = self.seat(group, self_id)
        seat.role, seat.fetched, seat.ttl = role, self.clock(), ttl

    def leave(self, group: str, self_id: str) -> None:
        """Our bot left (or was removed from) the group."""
        bots = self.seats.get(group)
        if bots is not None:
            bots.pop(self_id, None)
            if not bots:
                del self.seats[group]

    def server(self, group: str, connected: set[str] | frozenset[str]) -> str | None:
        """The connected bot that serves ``group``: highest known role, first seen on ties."""
        best: str | None = None
        best_rank = -1
        for self_id, seat in self.seats.get(group, {}).items():
            if self_id not in connected:
                continue
            rank = ROLE_RANK[seat.role] if seat.role is not None else -1
            if best is None or rank > best_rank:
                best, best_rank = self_id, rank
        return best

    def bot_role(self, group: str, self_id: str) -> Role | None:
        seat = self.seats.get(group, {}).get(self_id)
        return seat.role if seat is not None else None

    def groups_of(self, self_id: str) -> list[str]:
        return [g for g, bots in self.seats.items() if self_id in bots]

    # ------------------------------------------------------------------ members

    def note_member(self, group: str, user: str, info: MemberInfo) -> None:
        key = (group, user)
        if key not in self.members:
            self._groups_of_user.setdefault(user, set()).add(group)
        self.members[key] = info
        self.members.move_to_end(key)
        if len(self.members) > MAX_MEMBERS:
            (old_group, old_user), _ = self.members.popitem(last=False)
            self._unindex(old_group, old_user)

    def member(self, group: str, user: str) -> MemberInfo | None:
        return self.members.get((group, user))

    def set_member_role(self, group: str, user: str, role: Role) -> None:
        known = self.members.get((group, user))
        self.note_member(
            group,
            user,
            MemberInfo(role, known.card, known.nickname) if known else MemberInfo(role),
        )

    def forget_member(self, group: str, user: str) -> None:
        if self.members.pop((group, user), None) is not None:
            self._unindex(group, user)

    def groups_with(self, user: str) -> set[str]:
        return set(self._groups_of_user.get(user, ()))

    def _unindex(self, group: str, user: str) -> None:
        groups = self._groups_of_user.get(user)
        if groups is not None:
            groups.discard(group)
            if not groups:
                del self._groups_of_user[user]

    # ------------------------------------------------------------------ join requests

    def note_request(self, group: str, user: str, flag: str, sub_type: str) -> None:
        key = (group, user)
        self.requests[key] = (flag, sub_type)
        self.requests.move_to_end(key)
        if len(self.requests) > 10_000:
            self.requests.popitem(last=False)

    def take_request(self, group: str, user: str) -> tuple[str, str] | None:
        return self.requests.pop((group, user), None)
