"""Keyword detector: each evasion class with its original span, allow-list, whole words."""

from __future__ import annotations

from dataclasses import FrozenInstanceError
from datetime import UTC, datetime

import pytest

from rules.config import KeywordSettings
from rules.core import model
from rules.core.model import ChatEvent, EventKind, Member, Platform
from rules.detectors.base import new_finding
from rules.detectors.keyword import KeywordDetector, Term, TermIndex

INDEX = TermIndex(
    [
        Term("网赌", "gambling"),
        Term("赌博", "gambling"),
        Term("fuck", "insult"),
        Term("av", "porn"),
        Term("sb", "insult"),
        Term("黄片", "porn"),
        Term("三黄片", "allow"),
        Term("冰毒", "drugs"),
        Term("下3滥", "insult"),
        Term("毛主席", "politics"),
    ]
)
DETECTOR = KeywordDetector(INDEX)


def event(text: str, group: str = "qq:1") -> ChatEvent:
    return ChatEvent(
        EventKind.MESSAGE, Platform.QQ, group, Member("qq:2"), datetime.now(UTC), text=text
    )


def spans(text: str, settings: KeywordSettings | None = None) -> list[tuple[str, str | None]]:
    found = DETECTOR.check(event(text), settings or KeywordSettings())
    for f in found:
        assert text[f.start : f.end] == f.match
    return [(f.match, f.category) for f in found]


@pytest.mark.parametrize(
    ("evasion", "text", "expected"),
    [
        ("plain", "去网赌吗", [("网赌", "gambling")]),
        ("symbol inserted", "去网@赌吗", [("网@赌", "gambling")]),
        ("space inserted", "去网 赌吗", [("网 赌", "gambling")]),
        ("punctuation run", "网。。赌", [("网。。赌", "gambling")]),
        ("zero-width", "网\u200b赌", [("网\u200b赌", "gambling")]),
        ("soft hyphen and BOM", "网\u00ad\ufeff赌", [("网\u00ad\ufeff赌", "gambling")]),
        ("traditional", "網賭", [("網賭", "gambling")]),
        ("full-width", "ｆｕｃｋ you", [("ｆｕｃｋ", "insult")]),
        ("case", "fuCK the bad words", [("fuCK", "insult")]),
        ("circled letters", "Ⓕⓤc⒦ the bad words", [("Ⓕⓤc⒦", "insult")]),
        ("repeated letters", "ffffuuuucccckkk!", [("ffffuuuucccckkk", "insult")]),
        ("repeated characters", "网网网赌赌", [("网网网赌赌", "gambling")]),
        ("number form", "下③滥招式", [("下③滥", "insult")]),
        ("Chinese numeral", "下三滥招式", [("下三滥", "insult")]),
        ("pinyin", "来玩 wangdu 吗", [("wangdu", "gambling")]),
        ("pinyin with capitals and noise", "W.A.N.G.D.U!", [("W.A.N.G.D.U", "gambling")]),
        ("homophone", "一起堵博吧", [("堵博", "gambling")]),
        ("noise in a long word", "你好毛---主---席", [("毛---主---席", "politics")]),
    ],
)
def test_evasion_is_seen_through_with_original_span(
    evasion: str, text: str, expected: list[tuple[str, str]]
) -> None:
    assert spans(text) == expected, evasion


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("have a nice day", []),
        ("Java and avocado", []),
        ("看av吗", [("av", "porn")]),
        ("1av2", [("av", "porn")]),
        ("你是SB吧", [("SB", "insult")]),
        ("a v", []),  # a short Latin term may not span a space
        ("Middlesex is a place", []),
    ],
)
def test_short_latin_terms_match_whole_words(text: str, expected: list[tuple[str, str]]) -> None:
    assert spans(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("妈", []),  # 妈妈 folds to 妈, but a single 妈 is not 妈妈
        ("你妈还好吗", []),
        ("妈妈", ["妈妈"]),
        ("妈妈妈", ["妈妈妈"]),
        ("妈.妈", ["妈.妈"]),
    ],
)
def test_a_term_with_a_repeated_letter_needs_the_repeat(text: str, expected: list[str]) -> None:
    detector = KeywordDetector(TermIndex([Term("妈妈", "insult")]))
    assert [f.match for f in detector.check(event(text), KeywordSettings())] == expected


def test_terms_sharing_a_fold_report_the_one_that_matched() -> None:
    detector = KeywordDetector(TermIndex([Term("妈妈的", "insult"), Term("妈的", "insult")]))
    found = detector.check(event("真是妈的烦"), KeywordSettings())
    assert [(f.match, f.detail) for f in found] == [("妈的", "妈的")]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("his is sha ash", ["sha", "ash"]),  # the a's collapse across the space
        ("sex xyz", ["sex"]),
        ("sexxx", ["sexxx"]),
        ("shash", []),
    ],
)
def test_whole_words_next_to_a_repeated_letter(text: str, expected: list[str]) -> None:
    detector = KeywordDetector(TermIndex([Term(w, "x") for w in ("sha", "ash", "sex")]))
    assert [f.match for f in detector.check(event(text), KeywordSettings())] == expected


def test_homophone_guard_spares_ordinary_words() -> None:
    assert spans("电脑中了病毒") == []  # 病毒 sounds like 冰毒 but is a word
    assert spans("冰毒") == [("冰毒", "drugs")]


def test_pinyin_can_be_switched_off() -> None:
    assert spans("一起堵博吧", KeywordSettings(pinyin=False)) == []
    assert spans("wangdu", KeywordSettings(pinyin=False)) == []


@pytest.mark.parametrize(
    ("text", "allow", "expected"),
    [
        ("三黄片黄片", [], [("黄片", "porn")]),  # allow.txt-style term in the index
        ("看黄片", ["看黄片"], []),  # config allow-list covering the hit
        ("看黄片", ["黄"], [("黄片", "porn")]),  # a shorter allow term inside does not clear
    ],
)
def test_allow_list_suppresses_overlapping_hits(
    text: str, allow: list[str], expected: list[tuple[str, str]]
) -> None:
    assert spans(text, KeywordSettings(allow=allow)) == expected


def test_overlay_words_apply_per_group() -> None:
    detector = KeywordDetector(
        INDEX,
        TermIndex([Term("内卷", "custom", "qq:9"), Term("网赌", "allow", "qq:8")]),
    )
    settings = KeywordSettings()
    assert [f.match for f in detector.check(event("别内卷", "qq:9"), settings)] == ["内卷"]
    assert detector.check(event("别内卷", "qq:1"), settings) == []
    assert detector.check(event("网赌", "qq:8"), settings) == []
    assert [f.match for f in detector.check(event("网赌", "qq:1"), settings)] == ["网赌"]


def test_index_is_cached_on_disk(tmp_path: object) -> None:
    from pathlib import Path

    base = Path(str(tmp_path))
    words = base / "gambling.txt"
    words.write_text("网赌\n# comment\n赌球\n", encoding="utf-8")
    first = TermIndex.from_files([words], cache_dir=base / "cache")
    assert list((base / "cache").glob("keywords-*.pickle"))
    second = TermIndex.from_files([words], cache_dir=base / "cache")
    assert second.size == first.size == 2
    found = KeywordDetector(second).check(event("赌@球"), KeywordSettings())
    assert [(f.match, f.category) for f in found] == [("赌@球", "gambling")]


def test_a_damaged_cache_is_rebuilt(tmp_path: object) -> None:
    from pathlib import Path

    base = Path(str(tmp_path))
    words = base / "gambling.txt"
    words.write_text("网赌\n", encoding="utf-8")
    TermIndex.from_files([words], cache_dir=base / "cache")
    (cache,) = (base / "cache").glob("keywords-*.pickle")
    cache.write_bytes(cache.read_bytes()[: cache.stat().st_size // 2])
    index = TermIndex.from_files([words], cache_dir=base / "cache")
    found = KeywordDetector(index).check(event("去网赌吗"), KeywordSettings())
    assert [f.match for f in found] == ["网赌"]


def test_new_finding_is_the_dataclass_made_faster() -> None:
    how, strength = model.MatchKind.FOLDED, model.Strength.WEAK
    made = new_finding("keyword", "porn", "abc", 1, 4, "x", how, strength)
    usual = model.Finding("keyword", "porn", "abc", 1, 4, "x", how, strength)
    assert made == usual and repr(made) == repr(usual) and hash(made) == hash(usual)
    with pytest.raises(FrozenInstanceError):
        made.start = 2  # type: ignore[misc]


def test_a_message_without_repeats_is_searched_for_lone_characters_only() -> None:
    index = TermIndex([Term("妈妈", "insult"), Term("屌", "insult")])
    assert index.lone_search is not None and index.single_search is not None
    assert index.lone_search("妈") is None and index.single_search("妈") is not None
    detector = KeywordDetector(index)
    found = [f.match for f in detector.check(event("他妈 屌 妈妈"), KeywordSettings())]
    assert found == ["屌", "妈妈"]
    assert [f.match for f in detector.check(event("他妈屌"), KeywordSettings())] == ["屌"]
