"""Card history: every change of a member's group card, and the impersonation check.

An officer asks "who renamed themselves to look like the head teacher?": the
store keeps each change (old card, new card, when, seen how: a platform notice,
a message carrying a new card, a join, the periodic audit), and ``/名片记录``
shows it.

:class:`CardBook` holds the last card seen of each member per group in bounded
memory, so noticing a change on a message costs a dict lookup, never a query.
:func:`impersonation` flags a new card that equals (as judged: NFKC, invisible
characters removed, simplified) another member's card in the same group, or
names a roster person who is someone else.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Literal, Protocol

from rules.core.protection_records import CardChange, CardSource
from rules.detectors.nickname.cards import clean
from rules.detectors.nickname.roster import Roster


class CardHistoryStore(Protocol):
    """What the card history needs of storage (``rules.storage.cards``)."""

    async def add_card_changes(self, changes: Sequence[CardChange]) -> None: ...

    async def card_history(
        self, group_id: str, member_id: str, limit: int = 20
    ) -> list[CardChange]:
        """The member's changes in the group, newest first."""
        ...

    async def last_cards(self, group_id: str) -> dict[str, str]:
        """The newest recorded card of each member of the group with a history."""
        ...


class CardBook:
    """The last card seen of each member, per group (bounded: ``capacity`` members)."""

    def __init__(self, capacity: int = 500_000) -> None:
        self.capacity = capacity
        self._groups: dict[str, dict[str, str]] = {}
        self._order: OrderedDict[tuple[str, str], None] = OrderedDict()

    def __len__(self) -> int:
        return len(self._order)

    def card(self, group_id: str, member_id: str) -> str | None:
        return self._groups.get(group_id, {}).get(member_id)

    def cards(self, group_id: str) -> Mapping[str, str]:
        """Every known card in the group, by member."""
        return self._groups.get(group_id, {})

    def seen(
        self,
        group_id: str,
        member_id: str,
        card: str,
        at: datetime,
        source: CardSource,
        old: str | None = None,
    ) -> CardChange | None:
        """Note the member's card; the change when it differs from the one known.

        ``old``: the previous card when the platform says it (a card notice). A
        member seen for the first time is no change (``source`` "join" or
        "notice" with an ``old`` card aside): there is nothing to compare with.
        """
        group = self._groups.setdefault(group_id, {})
        key = (group_id, member_id)
        known = group.get(member_id)
        group[member_id] = card
        if key in self._order:
            self._order.move_to_end(key)
        else:
            self._order[key] = None
            while len(self._order) > self.capacity:
                (g, m), _ = self._order.popitem(last=False)
                self._groups.get(g, {}).pop(m, None)
        before = known if known is not None else old
        if before is None and source != "join":
            return None
        if before is None:
            before = ""
        if before == card:
            return None
        return CardChange(group_id, member_id, before, card, at, source)

    def load(self, group_id: str, cards: Mapping[str, str]) -> None:
        """Fill in the recorded cards of a group (members not seen since start)."""
        group = self._groups.setdefault(group_id, {})
        for member_id, card in cards.items():
            if member_id not in group:
                group[member_id] = card
                self._order[(group_id, member_id)] = None
        while len(self._order) > self.capacity:
            (g, m), _ = self._order.popitem(last=False)
            self._groups.get(g, {}).pop(m, None)

    def forget(self, group_id: str, member_id: str) -> None:
        self._groups.get(group_id, {}).pop(member_id, None)
        self._order.pop((group_id, member_id), None)


@dataclass(frozen=True, slots=True)
class Impersonation:
    """A card that copies someone: another member (``whom`` is their id) or a roster
    person (``whom`` is their name)."""

    kind: Literal["member", "roster"]
    card: str
    whom: str


def impersonation(
    member_id: str,
    card: str,
    cards: Mapping[str, str],
    roster: Roster | None = None,
    names_in: Callable[[str], Iterable[str]] | None = None,
) -> Impersonation | None:
    """Whether ``card`` (the member's new card) copies another member or a roster person.

    ``cards``: the known cards of the group's members; ``names_in``: the person
    names a card states in the group's card format (e.g. 张三 for 张三+办公室),
    besides the whole card. A roster person is impersonated when the card names
    them and the roster lists their accounts on this platform, none of them this
    member's.
    """
    judged = clean(card)
    if not judged:
        return None
    for other, other_card in cards.items():
        if other != member_id and clean(other_card) == judged:
            return Impersonation("member", card, other)
    if roster is None:
        return None
    platform = member_id.partition(":")[0]
    own = roster.person_for(member_id)
    names = dict.fromkeys([judged, *(clean(n) for n in (names_in(card) if names_in else ()))])
    for name in names:
        for person in roster.named(name):
            if person is own or member_id in person.ids or not person.has_platform(platform):
                continue
            return Impersonation("roster", card, person.name)
    return None
