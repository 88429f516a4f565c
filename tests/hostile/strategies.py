"""Hypothesis strategies for hostile input, and the settings every hostile test uses.

The settings are reproducible (``derandomize``: the same examples on every run,
no example database), have no per-example deadline (a loaded 2-core machine
must not flake) and a bounded example count. ``HOSTILE_EXAMPLES`` in the
environment scales every count, for a deeper run by hand::

    HOSTILE_EXAMPLES=10 .venv/bin/python -m pytest tests/hostile
"""

from __future__ import annotations

import os
from typing import Any

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

SCALE = max(1, int(os.environ.get("HOSTILE_EXAMPLES", "1")))


def hostile(examples: int) -> settings:
    """Settings for a hostile-input property: ``examples`` (times HOSTILE_EXAMPLES) examples."""
    return settings(
        max_examples=examples * SCALE,
        deadline=None,
        derandomize=True,
        database=None,
        print_blob=True,
        suppress_health_check=[
            HealthCheck.too_slow,
            HealthCheck.data_too_large,
            HealthCheck.large_base_example,
            HealthCheck.function_scoped_fixture,
        ],
    )


ONE_MB = 1_000_000
# Fixed 1 MB messages of the shapes that cost detectors most (tests and bench/hostile.py).
MEGABYTE_TEXTS = {
    "letters": "a" * ONE_MB,
    "dotted": "a." * (ONE_MB // 2),
    "banned words": "赌博" * (ONE_MB // 2),
    "mixed": "赌博 http://x.com 13800138000 a@b.com " * (ONE_MB // 38),
    "combining": "a" + "\u0301" * ONE_MB,
    "rtl and zero-width": "\u202e\u200b" * (ONE_MB // 2),
    "surrogates": "\ud800赌" * (ONE_MB // 2),
}

# Characters that break naive text handling.
RTL = ["\u202e", "\u202b", "\u200f", "\u061c", "\u2067"]  # overrides, RTL marks, isolates
ZERO_WIDTH = ["\u200b", "\u200c", "\u200d", "\u2060", "\ufeff", "\u00ad", "\u180e"]
COMBINING = ["\u0301", "\u0336", "\u20dd", "\u0e49", "\u302a"]
SURROGATES = ["\ud800", "\udbff", "\udc00", "\udfff"]  # lone halves: not encodable as UTF-8
EMOJI = ["👨‍👩‍👧‍👦", "🏳️‍🌈", "👍🏽", "🇨🇳", "1️⃣", "🧑‍💻"]
CONTROL = ["\x00", "\x1b[31m", "\r\n", "\t", "\x7f", "\u2028", "\u2029", "\ufffd"]

# Markup a platform could read as something other than text.
INJECTION = [
    "[CQ:at,qq=all]",
    "[CQ:at,qq=10000]",
    "&#91;CQ:at,qq=all&#93;",
    "[CQ:image,file=http://evil.example/x.png]",
    "[CQ:reply,id=1]",
    "[CQ:face,id=1",
    "&amp;#91;",
    "<script>alert(1)</script>",
    "<msg><title>x</title></msg>",
    '{"type":"at","data":{"qq":"all"}}',
    "@全体成员",
    "@all",
    "/禁言 @张三 10分钟",
    "%s%n{0}{text}",
]

# Content the detectors react to (so actions, and their texts, are exercised).
TRIGGERS = [
    "fuck",
    "赌博",
    "网赌",
    "http://evil.example.com/a?b=c",
    "www.example.cn",
    "13800138000",
    "110101199003074477",  # a checksum-valid ID number
    "6222021234567890123",
    "someone@example.com",
    "1.2.3.4",
    "砍一刀",
]

NASTY = RTL + ZERO_WIDTH + COMBINING + SURROGATES + EMOJI + CONTROL + INJECTION + TRIGGERS

any_char = st.characters(exclude_categories=())  # every code point, lone surrogates too
pieces = st.one_of(
    st.sampled_from(NASTY),
    st.sampled_from(SURROGATES + CONTROL + INJECTION),  # the nastiest, more often
    st.text(any_char, max_size=8),
)


@st.composite
def hostile_text(draw: st.DrawFn, max_pieces: int = 12) -> str:
    """Short text made of nasty pieces, sometimes repeated up to about 1 MB."""
    text = "".join(draw(st.lists(pieces, max_size=max_pieces)))
    if text and draw(st.integers(0, 4)) == 0:  # one in five: blow it up
        size = draw(st.sampled_from([5_000, 100_000, ONE_MB]))
        text = text * (size // len(text) + 1)
    return text


# JSON-ish values of wrong types, for fields that expect something else.
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(any_char, max_size=12),
    st.sampled_from(INJECTION),
)
json_values: st.SearchStrategy[Any] = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=6), inner, max_size=4)
    ),
    max_leaves=12,
)


def nested_list(depth: int, leaf: Any = 0) -> Any:
    """``[[[...leaf...]]]`` ``depth`` deep, built without recursion."""
    value = leaf
    for _ in range(depth):
        value = [value]
    return value


def nested_json_text(depth: int) -> str:
    """The JSON text of an object nested ``depth`` deep (never parsed here)."""
    return '{"a":' * depth + '"x"' + "}" * depth
