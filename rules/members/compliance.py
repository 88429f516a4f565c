"""What happens to members whose group card is wrong, and to join requests.

The engine hands this component the events and findings that do not feed the
strike ladder:

- **Card compliance** (``nickname`` findings): a timeline per member, kept in
  the store. The first finding starts it and sends a reminder; further
  reminders are sent at most once per ``[nickname] remind_every``; once
  ``[nickname] grace`` has passed since the first finding, the configured
  ``action`` is taken (default: remove, and report to the officers). A member
  whose card is seen compliant again is forgotten; a member who re-joins
  starts again. With a roster and ``set_card``, the bot also sets the card the
  roster gives (QQ; elsewhere the executor's ``[fallbacks] set_card`` applies).
- **Chatter** (``chatter`` findings): reported to the officers.
- **Join requests**: screened by :mod:`rules.members.joins`.

Exemptions (owners, admins, officers, the bot, ``exempt_ids``) are applied by
the engine before anything reaches this component.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Protocol

from rules.config import Policy
from rules.core.messages import Language, render
from rules.core.model import Action, ActionKind, ChatEvent, Decision, EventKind, Finding
from rules.core.ports import Gateway, Store
from rules.core.records import ComplianceRecord
from rules.detectors.nickname import NicknameDetector
from rules.members import joins

CARD_EVENTS = frozenset({EventKind.MESSAGE, EventKind.JOIN, EventKind.CARD_CHANGE})


class ComplianceStore(Protocol):
    """The store methods the timeline needs (``rules.storage.compliance``)."""

    async def get_compliance(self, group_id: str, member_id: str) -> ComplianceRecord | None: ...

    async def flag_member(
        self, group_id: str, member_id: str, problem: str, at: datetime
    ) -> ComplianceRecord: ...

    async def mark_reminded(
        self, group_id: str, member_id: str, problem: str, at: datetime
    ) -> None: ...

    async def mark_acted(self, group_id: str, member_id: str, at: datetime) -> None: ...

    async def clear_compliance(self, group_id: str, member_id: str) -> None: ...

    async def flagged_members(self) -> list[tuple[str, str]]: ...


class Members:
    """Card-compliance timeline and chatter reports (join screening: :mod:`rules.members.joins`)."""

    def __init__(self, store: ComplianceStore, nickname: NicknameDetector | None = None) -> None:
        self.store = store
        self.nickname = nickname
        self._flagged: set[tuple[str, str]] | None = None
        self._loading = asyncio.Lock()

    async def screen_join(
        self, event: ChatEvent, gateway: Gateway, policy: Policy, store: Store, dry_run: bool
    ) -> Decision:
        """Screen a QQ join request (see :mod:`rules.members.joins`)."""
        if self.nickname is None:
            return Decision(notes=("join screening needs the nickname detector",))
        return await joins.handle(event, gateway, policy, store, self.nickname, event.time, dry_run)

    async def _open(self) -> set[tuple[str, str]]:
        """The flagged members, loaded once: concurrent first callers wait for one query
        (each event used to start its own until the first returned, a pile-up at start)."""
        if self._flagged is None:
            async with self._loading:
                if self._flagged is None:
                    self._flagged = set(await self.store.flagged_members())
        return self._flagged

    async def observe(self, event: ChatEvent, findings: Sequence[Finding], policy: Policy) -> None:
        """Forget a flagged member whose card now passes (cheap: an in-memory check)."""
        if event.kind not in CARD_EVENTS:
            return
        if policy.nickname.enabled and any(f.detector == "nickname" for f in findings):
            return
        key = (event.group_id, event.member.id)
        flagged = await self._open()
        if key in flagged:
            flagged.discard(key)
            await self.store.clear_compliance(*key)

    async def plan(
        self, event: ChatEvent, findings: Sequence[Finding], policy: Policy, now: datetime
    ) -> tuple[Action, ...]:
        """The actions for non-ladder findings; empty when nothing is due (throttled)."""
        actions: list[Action] = []
        if any(f.detector == "chatter" for f in findings):
            actions.append(Action(ActionKind.ESCALATE, event.group_id, event.member.id))
        card = [f for f in findings if f.detector == "nickname"]
        if card and event.kind in CARD_EVENTS:
            actions.extend(await self._card(event, card, policy, now))
        return tuple(actions)

    async def _card(
        self, event: ChatEvent, findings: list[Finding], policy: Policy, now: datetime
    ) -> list[Action]:
        settings = policy.nickname
        lang = policy.moderation.language
        group, member = event.group_id, event.member.id
        problem = "；".join(f.detail for f in findings)
        record = await self.store.get_compliance(group, member)
        if record is None or event.kind is EventKind.JOIN:
            record = await self.store.flag_member(group, member, problem, now)
            (await self._open()).add((group, member))
        if record.acted_at is not None:
            return []
        deadline = record.first_flagged_at + settings.grace
        if now >= deadline and settings.action != "none":
            await self.store.mark_acted(group, member, now)
            (await self._open()).discard((group, member))
            actions = []
            if settings.action == "kick":
                actions.append(Action(ActionKind.KICK, group, member))
            if settings.report or settings.action == "escalate":
                actions.append(Action(ActionKind.ESCALATE, group, member))
            return actions
        last = record.last_reminded_at
        if last is not None and now - last < settings.remind_every:
            return []
        await self.store.mark_reminded(group, member, problem, now)
        detail = self._detail(event, findings, policy, lang)
        expected = self.nickname.expected_card(event.member, settings) if self.nickname else None
        if settings.action == "none":
            text = render("card_remind", lang, detail=detail)
        else:
            left = _human_left(deadline - now, lang)
            verb = render(f"card_then_{settings.action}", lang)
            text = render("card_remind_deadline", lang, detail=detail, left=left, then=verb)
        if expected and settings.set_card:
            text = render("card_should_be", lang, card=expected) + text
        actions = [Action(ActionKind.REMIND, group, member, text=text)]
        if expected and settings.set_card and expected != event.member.card:
            actions.append(Action(ActionKind.SET_CARD, group, member, text=expected))
        return actions

    def _detail(
        self, event: ChatEvent, findings: list[Finding], policy: Policy, lang: Language
    ) -> str:
        if lang != "zh" and self.nickname is not None:
            found = self.nickname.problems(event.member, policy.nickname)
            if found:
                return "; ".join(p.text(lang) for p in found)
        return "；".join(f.detail for f in findings)


def _human_left(delta: timedelta, lang: Language) -> str:
    """Time left, rounded up to whole days (or hours under a day)."""
    hours = max(1, math.ceil(delta.total_seconds() / 3600))
    if hours >= 24:
        days = math.ceil(hours / 24)
        return f"{days}天" if lang == "zh" else f"{days} day(s)"
    return f"{hours}小时" if lang == "zh" else f"{hours} hour(s)"
