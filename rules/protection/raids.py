"""Raids: a wave of new accounts in one group, seen and answered.

A raid (``[protection.raid]``) is ``joins`` joins within ``window`` in one group,
or ``new_posts`` *new* members (joined within the probation period) posting
links, pictures, or the same text, within ``window``. :class:`RaidWatch` counts
both in bounded windows per group (pure, no I/O: the caller gives the times).

Raid mode then lasts ``duration``: :func:`start_actions` are what it does at once
(the whole group muted; the raid's accounts muted or removed, per ``accounts``),
:func:`account_actions` what it does to each account that joins while it lasts,
and :func:`lift_actions` what undoes it. The raid is recorded before the first
action (:class:`RaidStore`) so that a restart still lifts it.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal, Protocol

from rules.config import RaidSettings
from rules.core.model import Action, ActionKind
from rules.core.protection_records import RaidRecord

PostKind = Literal["link", "image", "text"]
# Entries kept per group and window, at most: far more than any threshold, so a
# flood of events costs bounded memory and bounded work per event.
MAX_WINDOW_ENTRIES = 2000


class RaidStore(Protocol):
    """What raid mode needs of storage (``rules.storage.raids``)."""

    async def save_raid(self, raid: RaidRecord) -> RaidRecord:
        """Insert (no id) or update (id) a raid; return it with its id."""
        ...

    async def open_raids(self) -> list[RaidRecord]:
        """Raids not lifted yet (after a restart: to lift them when due)."""
        ...


@dataclass(frozen=True, slots=True)
class Trigger:
    """Why a raid started: ``"joins"`` or ``"posts"``, and the accounts counted."""

    group_id: str
    kind: Literal["joins", "posts"]
    accounts: tuple[str, ...]
    count: int
    at: datetime


class _Windows:
    """One group's recent joins and new members' posts."""

    __slots__ = ("joins", "posts")

    def __init__(self) -> None:
        self.joins: deque[tuple[datetime, str]] = deque(maxlen=MAX_WINDOW_ENTRIES)
        self.posts: deque[tuple[datetime, str, PostKind, str]] = deque(maxlen=MAX_WINDOW_ENTRIES)


class RaidWatch:
    """Counts joins and new members' posts per group; says when they make a raid."""

    def __init__(self, max_groups: int = 10_000) -> None:
        self.max_groups = max_groups
        self._groups: dict[str, _Windows] = {}

    def _windows(self, group_id: str) -> _Windows:
        windows = self._groups.get(group_id)
        if windows is None:
            if len(self._groups) >= self.max_groups:  # forget the group quiet for longest
                del self._groups[next(iter(self._groups))]
            windows = self._groups[group_id] = _Windows()
        return windows

    def join(
        self, group_id: str, member_id: str, at: datetime, settings: RaidSettings
    ) -> Trigger | None:
        """Count a join; a :class:`Trigger` when it completes a raid."""
        if not settings.enabled or settings.joins == 0:
            return None
        joins = self._windows(group_id).joins
        joins.append((at, member_id))
        _prune(joins, at - settings.window)
        accounts = tuple(dict.fromkeys(m for _, m in joins))
        if len(accounts) < settings.joins:
            return None
        joins.clear()  # counted: the next raid needs a new wave
        return Trigger(group_id, "joins", accounts, len(accounts), at)

    def post(
        self,
        group_id: str,
        member_id: str,
        at: datetime,
        kinds: Iterable[PostKind],
        text_key: str,
        settings: RaidSettings,
    ) -> Trigger | None:
        """Count a new member's message with links or pictures (``kinds``) or text.

        ``text_key`` says what counts as the same text (e.g. a digest of its folded
        form; "" for none). Members posting links or pictures count together;
        members posting the same text count per text.
        """
        if not settings.enabled or settings.new_posts == 0:
            return None
        posts = self._windows(group_id).posts
        for kind in kinds:
            posts.append((at, member_id, kind, ""))
        if text_key:
            posts.append((at, member_id, "text", text_key))
        _prune(posts, at - settings.window)
        media = dict.fromkeys(m for _, m, k, _ in posts if k != "text")
        if len(media) >= settings.new_posts:
            posts.clear()
            return Trigger(group_id, "posts", tuple(media), len(media), at)
        if text_key:
            same = dict.fromkeys(m for _, m, k, key in posts if k == "text" and key == text_key)
            if len(same) >= settings.new_posts:
                posts.clear()
                return Trigger(group_id, "posts", tuple(same), len(same), at)
        return None

    def forget(self, group_id: str) -> None:
        self._groups.pop(group_id, None)


def _prune(window: deque[Any], oldest: datetime) -> None:
    """Drop the entries (each a tuple starting with its time) older than ``oldest``."""
    while window and window[0][0] < oldest:
        window.popleft()


def account_actions(group_id: str, accounts: Iterable[str], settings: RaidSettings) -> list[Action]:
    """What raid mode does to the raid's new accounts (``[protection.raid] accounts``)."""
    if settings.accounts == "mute":
        return [
            Action(ActionKind.MUTE, group_id, a, duration=settings.duration, text="raid")
            for a in accounts
        ]
    if settings.accounts == "kick":
        return [Action(ActionKind.KICK, group_id, a, text="raid") for a in accounts]
    return []


def start_actions(
    trigger: Trigger, settings: RaidSettings, capabilities: frozenset[ActionKind]
) -> list[Action]:
    """What raid mode does at once: the whole group muted (where the platform can),
    then the raid's accounts."""
    actions: list[Action] = []
    if settings.mute_group and ActionKind.MUTE_ALL in capabilities:
        actions.append(
            Action(ActionKind.MUTE_ALL, trigger.group_id, "", duration=settings.duration)
        )
    actions.extend(account_actions(trigger.group_id, trigger.accounts, settings))
    return actions


def lift_actions(raid: RaidRecord) -> list[Action]:
    """What undoes a raid's measures: the group's mute and the accounts' mutes."""
    actions = [Action(ActionKind.UNMUTE, raid.group_id, a) for a in raid.muted]
    if raid.muted_group:
        actions.insert(0, Action(ActionKind.UNMUTE_ALL, raid.group_id, ""))
    return actions
