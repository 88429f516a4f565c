"""Look-alike folding: the classes it folds, spans back to the original, what it leaves."""

from __future__ import annotations

import heapq
import string
from collections import Counter
from pathlib import Path

import pytest

from rules.text import lookalike


@pytest.mark.parametrize(
    ("text", "folded", "kind"),
    [
        ("рorn", "porn", "confusable"),  # Cyrillic р
        ("ΡΟRΝ", "poRn", "confusable"),  # Greek capitals (ASCII is left as it is)
        ("Іnvest", "invest", "confusable"),  # Cyrillic capital I is an i, not an l
        ("ӏucky", "lucky", "confusable"),  # Cyrillic palochka is an l
        ("ɑpp", "app", "confusable"),  # Latin alpha
        ("ꓮꓐꓚ", "abc", "confusable"),  # Lisu
        ("ｌｕｃｋｙ８", "lucky8", "compat"),  # full width
        ("𝐟𝐮𝐜𝐤", "fuck", "compat"),  # mathematical bold
        ("𝚨𝚩", "ab", "confusable"),  # mathematical bold Greek: through a look-alike
        ("ⓐⓑ", "ab", "compat"),
        ("⑴⑵⒀", "1213", "compat"),  # parenthesised: the parentheses dropped
        ("🄰🄱", "ab", "compat"),  # squared
        ("🅰🅱", "ab", "emoji"),  # negative squared
        ("🅐🅑", "ab", "emoji"),  # negative circled
        ("🇦🇧", "ab", "emoji"),  # regional indicators
        ("🆗🆓", "okfree", "emoji"),
        ("🔟", "10", "emoji"),
        ("➀➁", "12", "number"),
        ("٣٤", "34", "number"),
        ("㊙密", "秘密", "compat"),
        ("㊚㊛", "男女", "compat"),
        ("⼈⺠", "人民", "compat"),  # Kangxi radical; the supplement's ⺠ is confusable
        ("⺠", "民", "confusable"),
        ("⻅", "见", "confusable"),
        ("\uf900", "\u8c48", "compat"),  # CJK compatibility ideograph -> unified
        ("\U0002f800", "丽", "compat"),  # compatibility ideographs supplement
        ("エ作", "工作", "confusable"),  # katakana
        ("ﾛ", "口", "confusable"),  # half-width katakana
        ("dǔbó", "dubo", "diacritic"),  # tone-marked pinyin
        ("㎏", "kg", "compat"),
    ],
)
def test_fold(text: str, folded: str, kind: str) -> None:
    assert lookalike.fold(text) == folded
    assert lookalike.fold_spans(text).text == folded
    assert kind in lookalike.kinds(text)


def test_fold_char_and_kind() -> None:
    assert lookalike.fold_char("р") == "p"
    assert lookalike.kind("р") == lookalike.CONFUSABLE_KIND
    assert lookalike.fold_char("p") == "p"
    assert lookalike.kind("p") is None
    assert lookalike.kinds("plain 中文") == frozenset()
    assert lookalike.expands("㎏")
    assert not lookalike.expands("р")


@pytest.mark.parametrize(
    ("text", "piece", "span"),
    [
        ("加рorn好", "porn", (1, 5)),  # one to one: same positions
        ("㎏рorn", "porn", (1, 5)),  # after a character that expands
        ("x㍿y", "株式会社", (1, 2)),  # four characters from one
        ("x㍿y", "y", (2, 3)),
        ("⑽号🅰🅱", "ab", (2, 4)),  # ⑽ -> 10
        ("\U0002f800рo", "po", (1, 3)),  # past the translate list
        ("😀a\U0002f800b", "丽b", (2, 4)),  # astral characters count as one
    ],
)
def test_spans_back_to_original(text: str, piece: str, span: tuple[int, int]) -> None:
    folded = lookalike.fold_spans(text)
    start = folded.text.index(piece)
    assert folded.span(start, start + len(piece)) == span
    assert folded.origin(start) == span[0]


def test_every_target_is_ascii_alnum_or_cjk_and_short() -> None:
    for code, target in lookalike.FOLDS.items():
        assert 1 <= len(target) <= 4, hex(code)
        for ch in target:
            ascii_alnum = ch in string.ascii_lowercase + string.digits
            cjk = 0x3400 <= ord(ch) < 0xA000 or 0x20000 <= ord(ch) < 0x32000
            assert ascii_alnum or cjk, (hex(code), target)


def test_ascii_and_cjk_unified_are_never_sources() -> None:
    for code in lookalike.FOLDS:
        assert code >= 0x80
        assert not (0x4E00 <= code < 0xA000 or 0x3400 <= code < 0x4DC0), hex(code)
        assert not (0x20000 <= code < 0x2F800 or 0x30000 <= code < 0x32400), hex(code)


def test_ascii_text_is_unchanged() -> None:
    text = "".join(map(chr, range(0x80)))
    assert lookalike.fold(text) == text


def _common_characters(n: int) -> list[str]:
    """The ``n`` most frequent Chinese characters by jieba's dictionary frequencies."""
    import jieba

    counts: Counter[str] = Counter()
    path = Path(jieba.__file__).resolve().parent / "dict.txt"
    with path.open(encoding="utf-8") as fh:
        for line in fh:
            word, freq = line.split(" ")[:2]
            for ch in word:
                if "\u4e00" <= ch <= "\u9fff":
                    counts[ch] += int(freq)
    return [ch for ch, _ in heapq.nlargest(n, counts.items(), key=lambda kv: kv[1])]


def test_the_3500_most_common_chinese_characters_map_to_themselves() -> None:
    common = _common_characters(3500)
    assert len(common) == 3500
    assert "的" in common and "士" in common and "值" in common  # confusables.txt folds these two
    text = "".join(common)
    assert lookalike.fold(text) == text
    assert lookalike.kinds(text) == frozenset()


def test_chinese_punctuation_and_kana_length_marks_are_left() -> None:
    text = "，。、；：？！“”‘’（）《》【】…—·～ー"
    assert lookalike.fold(text) == text


def test_scripts_in_everyday_use_keep_their_letters() -> None:
    # Arabic alef, Hebrew vav, hiragana く look like l, l, < but are no evasion
    for ch in "اוくဝ":
        assert lookalike.fold_char(ch) == ch
