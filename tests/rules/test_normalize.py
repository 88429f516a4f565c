"""Normalisation: folding, spans back to the original, the flood comparison key."""

from __future__ import annotations

import pytest

from rules import normalize


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
    ],
)
def test_fold(text: str, folded: str) -> None:
    assert normalize.fold(text) == folded
    assert normalize.align(text).text == folded


def test_alignment_maps_back_to_original_spans() -> None:
    text = "x 网@@赌赌 y"
    aligned = normalize.align(text)
    start = aligned.text.index("网赌")
    assert aligned.span(start, start + 2) == (2, 7)


def test_sound_makes_homophones_equal() -> None:
    assert normalize.sound(normalize.fold("堵博")) == normalize.sound(normalize.fold("赌博"))
    assert normalize.pinyin_of(normalize.sound(normalize.fold("赌博"))) == "dubo"


def test_compare_key_ignores_trivial_variation() -> None:
    assert normalize.compare_key("在吗？") == normalize.compare_key("在 吗") == "在吗"
    assert normalize.compare_key("好的👍") == normalize.compare_key("好的🙏")
    assert normalize.compare_key("！！！") == "！！！"
