"""Records of the protection across groups (``rules.protection``) that storage keeps.

Bans, card changes and raids are read and written by repositories in
``rules.storage`` and used by ``rules.protection`` and the commands; they live
here, at the bottom, so neither side imports the other for them (like
``rules.core.records``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal

CardSource = Literal["notice", "message", "audit", "join"]


@dataclass(frozen=True, slots=True)
class Ban:
    """One entry of the organisation's ban list.

    ``accounts``: every platform-qualified id the ban covers (the banned
    account first, then the roster's other accounts of the same person);
    ``origin_group``: where the violation happened (None for a ban by command
    given by private message); ``banned_by``: ``"bot"`` for a removal by the
    ladder, else the officer's id. A lifted ban keeps its record.
    """

    member_id: str
    accounts: tuple[str, ...]
    reason: str
    banned_by: str
    banned_at: datetime
    name: str = ""
    origin_group: str | None = None
    case_id: int | None = None
    id: int | None = None
    lifted_by: str | None = None
    lifted_at: datetime | None = None

    @property
    def active(self) -> bool:
        return self.lifted_at is None

    def covers(self, account: str) -> bool:
        return account in self.accounts


@dataclass(frozen=True, slots=True)
class CardChange:
    """A member's group card changed from ``old`` to ``new`` (``old`` is "" when unknown)."""

    group_id: str
    member_id: str
    old: str
    new: str
    at: datetime
    source: CardSource = "notice"


@dataclass(frozen=True, slots=True)
class RaidRecord:
    """A raid in one group: what was done, so that a restart still lifts it.

    ``muted_group``: the whole group was muted (lift: unmute it); ``muted``: the
    raid's accounts that were muted (lift: unmute them); ``accounts``: every new
    account counted in the raid; ``trigger``: ``"joins"`` or ``"posts"``.
    """

    group_id: str
    started_at: datetime
    until: datetime
    trigger: str
    accounts: tuple[str, ...] = ()
    muted_group: bool = False
    muted: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()
    case_id: int | None = None
    id: int | None = None
    lifted_at: datetime | None = None
