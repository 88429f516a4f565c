"""Watching members' group cards: each change recorded, an impersonation reported.

:class:`CardWatch` sees the card of every message, join and card-change event
(a platform's notice, or the periodic audit: a card-change event without an
event key), notes it in the bounded :class:`~rules.protection.cards.CardBook`
and, when it changed, records the change and runs the impersonation check
against the group's known cards and its roster (the officers are told).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable

from rules.config import Policy
from rules.core.model import ChatEvent, Member
from rules.core.protection_records import CardChange, CardSource
from rules.detectors.nickname import NicknameDetector
from rules.detectors.nickname.roster import Roster
from rules.protection import reports
from rules.protection.bans import exemption
from rules.protection.cards import CardBook, CardHistoryStore, impersonation
from rules.protection.joining import Tell


class CardWatch:
    """Card history and the impersonation check (see the module docstring)."""

    def __init__(
        self,
        store: CardHistoryStore,
        tell: Tell,
        spawn: Callable[[Awaitable[None]], None],
        roster_for: Callable[[Policy], Roster | None],
        nickname: NicknameDetector | None = None,
    ) -> None:
        self.store = store
        self.tell = tell
        self.spawn = spawn
        self.roster_for = roster_for
        self.nickname = nickname
        self.book = CardBook()
        self._loaded: set[str] = set()  # groups whose recorded cards are in the book

    def seen(self, event: ChatEvent, policy: Policy, source: CardSource) -> None:
        """Note the member's card (synchronous); a change is handled in the background."""
        settings = policy.protection
        if not (settings.card_history or settings.impersonation):
            return
        member = event.member
        if member.id == event.bot_id:
            return
        change = self.book.seen(event.group_id, member.id, member.card, event.time, source)
        if change is not None:
            self.spawn(self.changed(change, member, policy))

    async def changed(self, change: CardChange, member: Member, policy: Policy) -> None:
        settings = policy.protection
        if settings.card_history:
            await self.store.add_card_changes([change])
        if not settings.impersonation or not change.new or exemption(member, policy) is not None:
            return
        group = change.group_id
        if group not in self._loaded:
            self._loaded.add(group)
            self.book.load(group, await self.store.last_cards(group))
        found = impersonation(
            member.id,
            change.new,
            self.book.cards(group),
            self.roster_for(policy),
            self._names_in(policy),
        )
        if found is not None:
            text = reports.impersonation_text(group, member.id, change.old, found, policy)
            await self.tell(policy.escalation.officers, text, None, False)

    def _names_in(self, policy: Policy) -> Callable[[str], Iterable[str]] | None:
        """The person names a card states in the group's card format."""
        nickname = self.nickname
        if nickname is None or not policy.nickname.enabled:
            return None
        rules = nickname.rules_for(policy.nickname)

        def names(card: str) -> list[str]:
            return [r.get("name") or r.get("child") or "" for r in rules.valid_readings(card)]

        return names
