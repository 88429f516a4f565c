"""Per-group custom words: persisted in the store, applied without restart."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from rules.config import KeywordSettings
from rules.core.model import ChatEvent, EventKind, Member, Platform
from rules.detectors.custom_words import WordError, WordService
from rules.detectors.keyword import KeywordDetector, Term, TermIndex
from rules.storage import Storage


def event(text: str, group: str) -> ChatEvent:
    return ChatEvent(
        EventKind.MESSAGE, Platform.QQ, group, Member("qq:2"), datetime.now(UTC), text=text
    )


def matches(detector: KeywordDetector, text: str, group: str) -> list[str]:
    return [f.match for f in detector.check(event(text, group), KeywordSettings())]


@pytest.mark.asyncio
async def test_add_remove_list_persist_and_reload() -> None:
    storage = await Storage.open("sqlite+aiosqlite://")
    store = storage.words
    try:
        detector = KeywordDetector(TermIndex([Term("网赌", "gambling")]))
        service = WordService(detector, store)
        await service.load()
        assert await service.add("qq:1", "内卷", category="insult", added_by="qq:42")
        assert not await service.add("qq:1", "内卷", category="insult")
        assert await service.add("qq:1", "网赌", allow=True)
        assert await service.add("*", "摸鱼")

        assert matches(detector, "别内卷了", "qq:1") == ["内卷"]
        assert matches(detector, "别内卷了", "qq:2") == []
        assert matches(detector, "网赌", "qq:1") == []
        assert matches(detector, "网赌", "qq:2") == ["网赌"]
        assert matches(detector, "摸@鱼", "qq:2") == ["摸@鱼"]
        assert {w.word for w in await service.list("qq:1")} == {"内卷", "网赌", "摸鱼"}

        fresh = KeywordDetector(TermIndex([Term("网赌", "gambling")]))
        assert await WordService(fresh, store).load() == 3
        assert matches(fresh, "别内卷了", "qq:1") == ["内卷"]

        assert await service.remove("qq:1", "内卷")
        assert not await service.remove("qq:1", "内卷")
        assert matches(detector, "别内卷了", "qq:1") == []
        with pytest.raises(WordError):
            await service.add("qq:1", "！！")
    finally:
        await storage.close()
