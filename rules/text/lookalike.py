"""Look-alike folding: characters that look like or stand for ASCII or CJK, with spans.

A spammer writes рorn with a Cyrillic р, ｌｕｃｋｙ in full width, 🅰 or 🇦 for a,
⑴ for 1, ㊙ for 秘, a Kangxi radical ⼈ for 人. :data:`FOLDS` maps each such
code point to its canonical form: one to four lower-case ASCII letters or
digits, or CJK unified ideographs. The table is generated from Unicode's
``confusables.txt`` and character properties (``lookalike_table``, made by
``scripts/gen_lookalike_table.py``: the data source, version and licence are
in its header). ASCII and CJK unified ideographs are never folded, so ordinary
Chinese and English text is left as it is; punctuation, spaces and symbols are
left too (skipping them is the normaliser's business).

Two ways to use it:

* :func:`fold` / :func:`fold_spans` for a text on its own: one ``str.translate``
  with a table indexed by code point, and an index map back to the original
  computed only when a character expanded (㎏ -> kg).
* Merged into a per-character table built once, such as the normaliser's
  ``DIRECT``: compose per code point, ``folded = own_fold(FOLDS.get(code, ch))``.
  A message then pays nothing extra; spans come out of the normaliser's own
  alignment, which already handles a character that folds to several.

:func:`kinds` says how a piece of text was folded (``confusable``, ``emoji``...),
for a finding's evidence strength: call it on the original span of a hit.
"""

from __future__ import annotations

import re
from typing import Final

from rules.text import lookalike_table

__all__ = [
    "COMPAT_KIND",
    "CONFUSABLE_KIND",
    "DIACRITIC_KIND",
    "EMOJI_KIND",
    "FOLDS",
    "KINDS",
    "NUMBER_KIND",
    "Folded",
    "expands",
    "fold",
    "fold_char",
    "fold_spans",
    "kind",
    "kinds",
]

# How a character was folded, weakest evidence last (see the table generator).
COMPAT_KIND: Final = "compat"  # full width, mathematical, enclosed, Kangxi, compatibility
NUMBER_KIND: Final = "number"  # number forms (➀, ٣)
DIACRITIC_KIND: Final = "diacritic"  # é -> e, ǔ -> u
CONFUSABLE_KIND: Final = "confusable"  # another script's look-alike (Cyrillic р)
EMOJI_KIND: Final = "emoji"  # 🅰, 🇦, 🆗

_ORDER: Final = (COMPAT_KIND, NUMBER_KIND, DIACRITIC_KIND, CONFUSABLE_KIND, EMOJI_KIND)


def _parse(data: str) -> dict[int, str]:
    """One kind's lines (``"0440 p  CYRILLIC SMALL LETTER ER"``) as code point -> target."""
    table = {}
    for line in data.splitlines():
        code, target = line.split(" ", 2)[:2]
        table[int(code, 16)] = target
    return table


_TABLES: Final = {name: _parse(getattr(lookalike_table, name.upper())) for name in _ORDER}
# Code point -> canonical form, and -> how it folds (one of the ``*_KIND`` names).
FOLDS: Final[dict[int, str]] = {code: t for name in _ORDER for code, t in _TABLES[name].items()}
KINDS: Final[dict[int, str]] = {code: name for name in _ORDER for code in _TABLES[name]}

# Code points below this fold through a tuple (``str.translate`` with a dict pays a
# KeyError per unchanged character); higher ones (the compatibility ideographs
# supplement) through the dict, found by a regex only when present.
LIST_LIMIT: Final = 0x20000
_HIGH = re.compile("[\U00020000-\U0010ffff]")


def _translate_list() -> tuple[str | int, ...]:
    table: list[str | int] = list(range(LIST_LIMIT))
    for code, target in FOLDS.items():
        if code < LIST_LIMIT:
            table[code] = target
    return tuple(table)  # strings and ints only: the cyclic GC does not track it


_LIST: Final = _translate_list()
_EXPANDS: Final = frozenset(code for code, target in FOLDS.items() if len(target) > 1)


def fold_char(ch: str) -> str:
    """One character's canonical form (itself when it is no look-alike)."""
    return FOLDS.get(ord(ch), ch)


def fold(text: str) -> str:
    """``text`` with every look-alike folded; all other characters unchanged."""
    out = text.translate(_LIST)
    if not out.isascii() and _HIGH.search(out):
        out = "".join(FOLDS.get(ord(c), c) if c >= "\U00020000" else c for c in out)
    return out


class Folded:
    """A folded text and the map from its positions back to the original.

    ``starts`` is None when every character folded to exactly one (then a
    position is the same in both); else ``starts[i]`` is the original position
    of the character that folded character ``i`` came from.
    """

    __slots__ = ("original", "starts", "text")

    def __init__(self, original: str, text: str, starts: list[int] | None) -> None:
        self.original = original
        self.text = text
        self.starts = starts

    def origin(self, pos: int) -> int:
        """Original position of folded character ``pos``."""
        return pos if self.starts is None else self.starts[pos]

    def span(self, start: int, end: int) -> tuple[int, int]:
        """Original ``(start, end)`` of folded ``text[start:end]`` (end exclusive, non-empty)."""
        starts = self.starts
        if starts is None:
            return start, end
        return starts[start], starts[end - 1] + 1


def fold_spans(text: str) -> Folded:
    """:func:`fold` with the map back to the original (built only when lengths differ)."""
    out = fold(text)
    if len(out) == len(text):
        return Folded(text, out, None)
    starts = [i for i, ch in enumerate(text) for _ in range(len(FOLDS.get(ord(ch), ch)))]
    return Folded(text, out, starts)


def kind(ch: str) -> str | None:
    """How ``ch`` folds (``COMPAT_KIND``...), None when it does not."""
    return KINDS.get(ord(ch))


def kinds(text: str) -> frozenset[str]:
    """The kinds of fold found in ``text`` (an original span), empty for none."""
    if text.isascii():
        return frozenset()
    return frozenset(KINDS[code] for code in map(ord, text) if code in KINDS)


def expands(ch: str) -> bool:
    """Whether ``ch`` folds to more than one character (㎏ -> kg)."""
    return ord(ch) in _EXPANDS
