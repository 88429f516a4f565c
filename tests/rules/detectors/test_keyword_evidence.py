"""Keyword detector, round two: every evasion class with its original span, how and strength;
word boundaries, prohibitive context and ordinary sentences that must stay clean."""

from __future__ import annotations

import pytest

from rules.config import KeywordSettings
from rules.core.model import MatchKind, Strength
from rules.detectors.keyword import KeywordDetector, Term, TermIndex
from tests.rules.detectors.test_keyword import event

TERMS = {
    "gambling": ["赌博", "赌场", "网赌", "博彩", "时时彩"],
    "drugs": ["大麻", "冰毒", "K粉", "摇头丸"],
    "porn": ["色情", "porn", "黄片", "sex", "av"],
    "insult": ["你他妈", "fuck", "傻逼", "人渣"],
    "politics": ["六四"],
    "allow": ["三黄片"],
}
DETECTOR = KeywordDetector(TermIndex([Term(t, c) for c, terms in TERMS.items() for t in terms]))
D, F, L = MatchKind.DIRECT, MatchKind.FOLDED, MatchKind.LOOKALIKE
M, P, H = MatchKind.MIXED, MatchKind.PINYIN, MatchKind.HOMOPHONE
STRONG, MEDIUM, WEAK = Strength.STRONG, Strength.MEDIUM, Strength.WEAK


def found(text: str, settings: KeywordSettings | None = None) -> list[tuple[object, ...]]:
    findings = DETECTOR.check(event(text), settings or KeywordSettings())
    for f in findings:
        assert text[f.start : f.end] == f.match
    return [(f.match, f.category, f.how, f.strength) for f in findings]


@pytest.mark.parametrize(
    ("evasion", "text", "expected"),
    [
        ("plain", "周末去赌博吗", [("赌博", "gambling", D, STRONG)]),
        ("case", "FUCK off", [("FUCK", "insult", D, STRONG)]),
        ("full width", "ｆｕｃｋ off", [("ｆｕｃｋ", "insult", D, STRONG)]),
        ("symbol inserted", "去网@赌吗", [("网@赌", "gambling", F, STRONG)]),
        ("space inserted", "去网 赌吗", [("网 赌", "gambling", F, STRONG)]),
        ("zero width", "网\u200b赌", [("网\u200b赌", "gambling", F, STRONG)]),
        ("traditional", "來網賭", [("網賭", "gambling", F, STRONG)]),
        ("repeated", "网网赌赌", [("网网赌赌", "gambling", F, STRONG)]),
        ("Cyrillic letter", "看рorn吗", [("рorn", "porn", L, STRONG)]),
        ("all Cyrillic, glued to Chinese", "卖К粉", [("К粉", "drugs", L, STRONG)]),
        ("Greek and Cyrillic letters", "sеx 视频", [("sеx", "porn", L, STRONG)]),
        ("enclosed letters", "Ⓕⓤc⒦ it", [("Ⓕⓤc⒦", "insult", L, STRONG)]),
        ("emoji letters", "🅰🆅 片", [("🅰🆅", "porn", L, STRONG)]),
        ("mathematical letters", "𝐟𝐮𝐜𝐤 it", [("𝐟𝐮𝐜𝐤", "insult", L, STRONG)]),
        ("Kangxi radical", "卖大⿇", [("大⿇", "drugs", L, STRONG)]),
        ("mixed: pinyin second", "新开赌chang，速来", [("赌chang", "gambling", M, MEDIUM)]),
        ("mixed: pinyin first", "看se情片", [("se情", "porn", M, MEDIUM)]),
        ("mixed: three characters", "卖yao头丸", [("yao头丸", "drugs", M, MEDIUM)]),
        ("mixed: glued to text", "新开du场联系我", [("du场", "gambling", M, MEDIUM)]),
        ("mixed: spaced pinyin", "色 qing 网站", [("色 qing", "porn", M, MEDIUM)]),
        ("mixed: homophones and pinyin", "遥tou玩", [("遥tou玩", "drugs", H, WEAK)]),
        ("pinyin", "一起 dubo 吧", [("dubo", "gambling", P, MEDIUM)]),
        ("pinyin glued to Chinese", "wangdu平台", [("wangdu", "gambling", P, MEDIUM)]),
        ("pinyin, ambiguous", "duchang开业", [("duchang", "gambling", P, WEAK)]),
        ("mixed, ambiguous", "买点大ma", [("大ma", "drugs", M, WEAK)]),
        ("mixed, ambiguous (病毒)", "出售bing毒", [("bing毒", "drugs", M, WEAK)]),
        ("homophone", "一起堵博吧", [("堵博", "gambling", H, WEAK)]),
    ],
)
def test_every_evasion_class(evasion: str, text: str, expected: list[tuple[object, ...]]) -> None:
    assert found(text) == expected, evasion


@pytest.mark.parametrize(
    "text",
    [
        "这事有点大麻烦",  # 大麻 inside 大麻烦
        "晚上PK粉丝数",  # K粉 inside PK粉丝: a Latin edge inside a word
        "have a nice day",  # av inside have
        "他是独chang演员",  # an ordinary word (独唱) half in pinyin
        "сорт кофе",  # a Russian word is not a look-alike
        "电脑中了病毒",  # sounds like 冰毒, but a word
        "晚上三缺一，来打麻将吗",  # 打麻|将
        "三黄片是一种中药",  # allow-listed
        "主场73:64战胜对手",  # a number from a score, no date around it
        "装了Windows 7 64位驱动",
        "利润六四分成",
    ],
)
def test_ordinary_text_is_not_a_hit(text: str) -> None:
    assert found(text) == [], text


@pytest.mark.parametrize(
    ("text", "span"),
    [
        ("有人在吸大麻", "大麻"),  # the term stays a unit: 吸|大麻
        ("这是大麻。", "大麻"),
        ("卖K粉的人", "K粉"),
        ("开赌场的", "赌场"),
    ],
)
def test_a_term_that_is_its_own_word_is_a_hit(text: str, span: str) -> None:
    assert [f[0] for f in found(text)] == [span]


@pytest.mark.parametrize(
    ("text", "span", "word"),
    [
        ("禁毒知识讲座：大麻的危害", "大麻", "禁毒"),
        ("谨防网赌诈骗", "网赌", "谨防"),
        ("严禁在群里发色情内容", "色情", "严禁"),
        ("远离赌博，珍爱家庭", "赌博", "远离"),
    ],
)
def test_prohibitive_context_makes_a_hit_weak(text: str, span: str, word: str) -> None:
    (finding,) = DETECTOR.check(event(text), KeywordSettings())
    assert (finding.match, finding.strength) == (span, WEAK)
    assert f"context: {word}" in finding.detail


def test_context_words_are_configurable_and_bounded() -> None:
    settings = KeywordSettings(context_words=[])
    assert found("禁毒知识讲座：大麻的危害", settings)[0][3] == STRONG
    far = "禁毒" + "今天天气很好" * 5 + "卖大麻"  # noise would not count as distance
    assert found(far, KeywordSettings(context_reach=5))[0][3] == STRONG


@pytest.mark.parametrize("text", ["八九年的六四", "六四天安门", "1989年6月的64", "纪念64"])
def test_a_number_term_needs_a_date_like_context(text: str) -> None:
    assert [f[1] for f in found(text)] == ["politics"]


def test_pinyin_off_keeps_direct_folded_and_lookalike_hits() -> None:
    settings = KeywordSettings(pinyin=False)
    assert found("赌chang dubo 堵博", settings) == []
    assert found("看рorn吗", settings) == [("рorn", "porn", L, STRONG)]


def test_details_say_how_it_matched() -> None:
    details = [f.detail for f in DETECTOR.check(event("赌chang duchang"), KeywordSettings())]
    assert details[0] == "赌场 (mixed pinyin)"
    assert details[1].startswith("赌场 (pinyin); ambiguous: also ")
    assert "独唱" in details[1]
