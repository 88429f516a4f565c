"""The C extension ``rules/text/_prepare.c`` gives exactly what ``normalize._prepare`` gives.

``normalize.prepare`` calls the extension when it is built and the Python
reference otherwise; these tests compare the two on edge cases, on every code
point the tables hold, and on generated text (run only when it is built).
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rules.text import normalize

native = normalize.native_prepare
pytestmark = pytest.mark.skipif(native is None, reason="the C extension is not built")


def assert_same(text: str) -> None:
    assert native is not None
    expected = normalize._prepare(text)
    got = native(text)
    assert got == expected
    assert [type(x) for x in got] == [type(x) for x in expected]
    assert got[0] is text


def test_dispatch() -> None:
    assert normalize._prepare_forms is native
    text = "網網@賭 博"
    assert normalize.prepare(text) == normalize._prepare(text)
    assert normalize.prepare(text) is normalize.prepare(text)  # the last one is kept


@pytest.mark.parametrize(
    "text",
    [
        "",
        "a",
        "abc",
        "ABC DEF",
        "ＡＢＣ",  # full width
        "ffffuuuucccckkk",  # runs
        "aabbaa",
        "网网@赌赌",  # runs across noise
        "a@@@a",
        "@@@",
        "\0",  # NOISE itself
        "\0a\0\0b\0",
        "\x01\x01",  # SEPARATOR
        "ā啊阿",  # a sound mark as a letter, and characters that sound alike
        "\u0100\u0101\u01ff",
        "網賭 賭博",  # traditional
        "壹贰叁三",  # numerals
        "①③⑧⑽⒇",  # number forms, some expanding (⑽ -> 10)
        "ﬁﬂ㎏",  # ligatures and squared units (expand)
        "⾞⻋",  # radicals
        "рorn ѕех",  # Cyrillic look-alikes
        "οκ",  # Greek
        "🅰🅱 🇦🇧",  # emoji and regional indicator letters
        "Ⓕⓤc⒦",
        "a\u0301e\u0300",  # combining marks
        "a\u034fb\u200bc\u2060d\ufeff",  # invisible characters
        "😀好😀",
        "𝐟𝐮𝐜𝐤𝟘𝟙",  # mathematical letters and digits (astral, folded by the list)
        "\U00020000\U0002a6d6",  # CJK extension B (past the list: the slow path)
        "\U0002f800\U0002fa1d",  # CJK compatibility supplement
        "网\U000e0020赌\U000e01ef",  # tags, variation selectors
        "\U000f0000\U0010ffff\U000fffff",  # private use planes (dropped)
        "\U0010ffffa\U0010ffff",
        "\ud800",  # lone surrogates
        "a\udfffb\ud83d",
        "\ud800\ud800\ud800",
        "é" * 3 + "ß",  # Latin-1, German sharp s
        "x" * 100_000,  # very long, one run
        "网@赌⑽𝐟\U00020000\ud800" * 20_000,  # very long, every path
        "".join(chr(c) for c in range(0x20000, 0x20400)),
    ],
)
def test_edge_cases(text: str) -> None:
    assert_same(text)


@pytest.mark.parametrize("start", range(0, normalize.LIST_LIMIT, 0x1000))
def test_every_listed_code_point(start: int) -> None:
    """Every code point the tables list, alone, doubled and next to its neighbours."""
    chars = [chr(c) for c in range(start, start + 0x1000)]
    assert_same("".join(chars))
    assert_same("".join(c + c for c in chars))
    for ch in chars:
        assert_same(ch)


def test_every_folded_code_point_past_the_list() -> None:
    high = [chr(c) for c in normalize.DIRECT if c >= normalize.LIST_LIMIT]
    assert_same("".join(high))
    for ch in high:
        assert_same(ch + ch)


_FOLDED = sorted(chr(c) for c in normalize.DIRECT)
_SOUNDED = sorted(chr(c) for c in normalize.SOUND)
_char = st.one_of(
    st.integers(0, 0x10FFFF).map(chr),  # lone surrogates included
    st.integers(0, 0x7F).map(chr),
    st.sampled_from(_FOLDED),
    st.sampled_from(_SOUNDED),
    st.sampled_from([normalize.NOISE, normalize.SEPARATOR, " ", "@", "\u0301"]),
)
_texts = st.lists(st.tuples(_char, st.integers(1, 4)), max_size=60).map(
    lambda pieces: "".join(ch * times for ch, times in pieces)
)


@settings(max_examples=2000, deadline=None)
@given(_texts)
def test_same_as_python(text: str) -> None:
    assert_same(text)
