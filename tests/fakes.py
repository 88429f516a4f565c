"""Test doubles for the core's ports, plus small builders for events."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from itertools import count
from typing import ClassVar

from rules.config import KeywordSettings
from rules.core.model import (
    Action,
    ActionKind,
    ChatEvent,
    EventKind,
    Finding,
    Member,
    Outcome,
    OutcomeStatus,
    Platform,
    Role,
)
from rules.core.ports import NOMINAL_CAPABILITIES, GroupInfo
from rules.detectors.base import Detector

T0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
_message_ids = count(1)


def message(
    text: str,
    *,
    user: str = "qq:2001",
    group: str = "qq:1001",
    role: Role = Role.MEMBER,
    card: str = "张三+办公室",
    at: datetime = T0,
    message_id: str | None = None,
    platform: Platform | None = None,
) -> ChatEvent:
    """A group message event with sensible defaults (a fresh message id each call)."""
    return ChatEvent(
        kind=EventKind.MESSAGE,
        platform=platform or Platform(group.split(":", 1)[0]),
        group_id=group,
        member=Member(user, card=card, role=role),
        time=at,
        text=text,
        message_id=message_id or f"m{next(_message_ids)}",
    )


class WordListDetector(Detector[KeywordSettings]):
    """A plain substring 'keyword' detector over a fixed {word: category} map.

    Keeps engine and plugin tests independent of the real filter's data and internals.
    """

    name: ClassVar[str] = "keyword"
    section: ClassVar[str] = "keywords"

    def __init__(self, words: Mapping[str, str]) -> None:
        self.words = dict(words)

    def check(self, event: ChatEvent, settings: KeywordSettings) -> list[Finding]:
        found = []
        for word, category in self.words.items():
            start = event.text.find(word)
            if start >= 0:
                found.append(Finding(self.name, category, word, start, start + len(word)))
        return found


@dataclass
class FakeGateway:
    """Records every action; capabilities and failures are set by the test."""

    platform: Platform = Platform.QQ
    caps: frozenset[ActionKind] | None = None
    fail: set[ActionKind] = field(default_factory=set)
    raise_on: set[ActionKind] = field(default_factory=set)
    private_fails: bool = False
    performed: list[Action] = field(default_factory=list)
    private: list[tuple[str, str]] = field(default_factory=list)

    def capabilities(self, group_id: str) -> frozenset[ActionKind]:
        return self.caps if self.caps is not None else NOMINAL_CAPABILITIES[self.platform]

    async def perform(self, action: Action) -> Outcome:
        if action.kind in self.raise_on:
            raise ConnectionError("platform unreachable")
        self.performed.append(action)
        if action.kind in self.fail:
            return Outcome(action, OutcomeStatus.FAILED, "platform said no")
        return Outcome(action, OutcomeStatus.DONE)

    async def send_private(self, user_id: str, text: str) -> None:
        if self.private_fails:
            raise ConnectionError("officer unreachable")
        self.private.append((user_id, text))

    def kinds(self) -> list[ActionKind]:
        return [a.kind for a in self.performed]


@dataclass
class FakeMediaGateway(FakeGateway):
    """A FakeGateway whose platform can also send images and files (ports.MediaSender)."""

    media_fails: bool = False
    images: list[tuple[str, bytes]] = field(default_factory=list)
    files: list[tuple[str, str, bytes]] = field(default_factory=list)

    async def send_private_image(self, user_id: str, png: bytes) -> None:
        if self.media_fails:
            raise ConnectionError("image refused")
        self.images.append((user_id, png))

    async def send_private_file(self, user_id: str, name: str, data: bytes) -> None:
        if self.media_fails:
            raise ConnectionError("file refused")
        self.files.append((user_id, name, data))


@dataclass
class FakeDirectoryGateway(FakeMediaGateway):
    """A FakeMediaGateway that also lists its groups and members (rules.core.ports.Directory)."""

    groups: dict[str, GroupInfo] = field(default_factory=dict)
    members: dict[str, list[Member]] = field(default_factory=dict)

    async def list_groups(self) -> list[str]:
        return sorted(self.groups)

    async def group_info(self, group_id: str) -> GroupInfo:
        return self.groups[group_id]

    async def list_members(self, group_id: str) -> list[Member]:
        return self.members.get(group_id, [])


class Clock:
    """A controllable clock for the engine and the outbox."""

    def __init__(self, start: datetime = T0) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, delta: timedelta) -> None:
        self.now += delta


@dataclass
class FakeDirectory:
    members: dict[str, list[Member]]
    infos: dict[str, GroupInfo] = field(default_factory=dict)

    async def list_members(self, group_id: str) -> list[Member]:
        return self.members[group_id]

    async def group_info(self, group_id: str) -> GroupInfo:
        return self.infos[group_id]

    async def list_groups(self) -> list[str]:
        return list(self.members)
