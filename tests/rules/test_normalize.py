"""Normalisation: folding, spans back to the original, the flood comparison key."""

from __future__ import annotations

import pytest

from rules.text import normalize


@pytest.mark.parametrize(
    ("text", "folded"),
    [
        ("ＡＢＣ", "abc"),
        ("Ⓕⓤc⒦", "fuck"),
        ("網賭", "网赌"),
        ("网@赌 网 赌", "网赌网赌"),
        ("a\u200bb\u2060c\u034fd", "abcd"),
        ("ffffuuuucccckkk", "fuck"),
        ("①③⑧", "138"),
        ("壹贰叁", "123"),
        ("😀好😀", "好"),
        ("𝐟𝐮𝐜𝐤", "fuck"),  # mathematical letters (astral)
        ("🄵🅄🄲🄺", "fuck"),  # enclosed letters
        ("网\U000e0020赌", "网赌"),  # an invisible tag character
        ("⾞", "车"),  # a Kangxi radical, then traditional -> simplified
        ("⻋", "车"),  # a supplementary radical (was dropped as noise)
        ("🅰🅱", "ab"),  # emoji letters (were dropped as noise)
        ("рorn", "porn"),  # a Cyrillic р
        ("ѕех", "sex"),  # all Cyrillic: folded here; the detector judges the script
        ("㊙", "秘"),
        ("大⿇", "大麻"),
    ],
)
def test_fold(text: str, folded: str) -> None:
    assert normalize.fold(text) == folded
    assert normalize.align(text).text == folded


@pytest.mark.parametrize(
    ("text", "piece", "span"),
    [
        ("x 网@@赌赌 y", "网赌", (2, 7)),  # noise and a run
        ("😀网😀赌!", "网赌", (1, 4)),  # astral noise
        ("⑽号网赌", "网赌", (2, 4)),  # a character that folds to two (10)
        ("⑽ 网 赌", "网赌", (2, 5)),  # both
        ("网\U000e0020赌", "网赌", (0, 3)),  # an invisible tag
        ("网\U000f0000赌", "网赌", (0, 3)),  # private use, past the translate table
        ("\U00020000网赌", "网赌", (1, 3)),  # a kept character past the table
        ("𝐟𝐮𝐜𝐤 you", "fuck", (0, 4)),
        ("f.u.c.k", "fuck", (0, 7)),
        ("ＡＢ网网 赌", "网赌", (2, 6)),
        ("看рorn吗", "porn", (1, 5)),
        ("x🅰🅱!", "ab", (1, 3)),
        ("⻋⻋ 网", "车网", (0, 4)),
    ],
)
def test_alignment_maps_back_to_original_spans(
    text: str, piece: str, span: tuple[int, int]
) -> None:
    aligned = normalize.align(text)
    start = aligned.text.index(piece)
    assert aligned.span(start, start + len(piece)) == span


def test_sound_makes_homophones_equal() -> None:
    assert normalize.sound(normalize.fold("堵博")) == normalize.sound(normalize.fold("赌博"))
    assert normalize.pinyin_of(normalize.sound(normalize.fold("赌博"))) == "dubo"


def test_compare_key_ignores_trivial_variation() -> None:
    assert normalize.compare_key("在吗？") == normalize.compare_key("在 吗") == "在吗"
    assert normalize.compare_key("好的👍") == normalize.compare_key("好的🙏")
    assert normalize.compare_key("！！！") == "！！！"
