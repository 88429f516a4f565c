"""Per-group custom words and allow-list, editable at runtime (the commands call this).

A custom word is blocked (with a category) or allowed, for one group or for
all groups (``group_id="*"``). Words are persisted through the store
(``group_words`` table) and applied to the running keyword detector at once:
the small custom-word automaton is rebuilt in a worker thread and swapped in
with one assignment, so messages being checked never see a half-built index.

Usage (from a command handler)::

    service = WordService(detector, store)
    await service.load()                      # at start-up
    await service.add("qq:123", "内卷", category="insult", added_by="qq:42")
    await service.add("qq:123", "三黄片", allow=True)
    await service.remove("qq:123", "内卷")
    words = await service.list("qq:123")
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import datetime
from typing import Protocol

from rules.core.model import utcnow
from rules.core.records import GroupWord, WordList
from rules.detectors.keyword import KeywordDetector
from rules.detectors.keyword_index import ALLOW, Term, TermIndex
from rules.text import normalize

GLOBAL = "*"
DEFAULT_CATEGORY = "custom"
MAX_WORD_LENGTH = 64


class WordStore(Protocol):
    """What :class:`WordService` needs from the store (``rules.storage.words`` implements it)."""

    async def add_group_word(self, word: GroupWord) -> bool: ...

    async def remove_group_word(self, group_id: str, list_: WordList, word: str) -> int: ...

    async def group_words(self, group_id: str | None = None) -> list[GroupWord]: ...


class WordError(ValueError):
    """A word that cannot be added (empty after normalisation, too long)."""


def build_overlay(words: list[GroupWord]) -> TermIndex:
    """The custom-word automaton for these words (runs in a worker thread)."""
    return TermIndex(
        Term(w.word, ALLOW if w.list == "allow" else w.category, w.group_id) for w in words
    )


class WordService:
    """Add, remove and list custom words; keeps the detector's overlay in step."""

    def __init__(
        self,
        detector: KeywordDetector,
        store: WordStore,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.detector = detector
        self.store = store
        self.clock = clock
        self._words: list[GroupWord] = []
        self._lock = asyncio.Lock()

    async def load(self) -> int:
        """Read every custom word from the store and apply them; return how many."""
        async with self._lock:
            self._words = await self.store.group_words()
            await self._rebuild()
            return len(self._words)

    async def add(
        self,
        group_id: str,
        word: str,
        *,
        category: str = DEFAULT_CATEGORY,
        allow: bool = False,
        added_by: str = "",
    ) -> bool:
        """Block (or allow) ``word`` in a group; False if it was already listed."""
        word = word.strip()
        if not normalize.fold(word):
            raise WordError(f"word {word!r} has no letters or digits")
        if len(word) > MAX_WORD_LENGTH:
            raise WordError(f"word is longer than {MAX_WORD_LENGTH} characters")
        entry = GroupWord(
            group_id,
            "allow" if allow else "block",
            "" if allow else (category.strip().lower() or DEFAULT_CATEGORY),
            word,
            added_by,
            self.clock(),
        )
        async with self._lock:
            if not await self.store.add_group_word(entry):
                return False
            self._words.append(entry)
            await self._rebuild()
            return True

    async def remove(self, group_id: str, word: str, *, allow: bool = False) -> bool:
        """Take ``word`` off a group's block (or allow) list; False if it was not there."""
        list_: WordList = "allow" if allow else "block"
        word = word.strip()
        async with self._lock:
            removed = await self.store.remove_group_word(group_id, list_, word)
            if not removed:
                return False
            self._words = [
                w
                for w in self._words
                if not (w.group_id == group_id and w.list == list_ and w.word == word)
            ]
            await self._rebuild()
            return True

    async def list(self, group_id: str, *, include_global: bool = True) -> list[GroupWord]:
        """The custom words that apply to a group (its own, and global ones if asked)."""
        scopes = {group_id, GLOBAL} if include_global else {group_id}
        return [w for w in self._words if w.group_id in scopes]

    async def _rebuild(self) -> None:
        overlay = await asyncio.to_thread(build_overlay, list(self._words))
        self.detector.overlay = overlay  # one assignment: readers see old or new
