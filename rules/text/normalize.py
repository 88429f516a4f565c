"""Text normalisation that sees through filter evasion, with spans back to the original.

Two per-character tables are computed once (and cached under ``data/cache``):

* ``DIRECT`` folds every character to what it "means" for matching: look-alike
  characters first (:mod:`rules.text.lookalike`: Cyrillic р, Greek ο, Kangxi
  and supplementary radicals ⾞ ⻋, enclosed and emoji letters 🅰 🇦, ㊙,
  compatibility ideographs; generated from Unicode's confusables data), then
  Unicode compatibility forms (NFKC: full-width, circled, mathematical and
  stylised letters and digits), lower case, traditional -> simplified Chinese
  (OpenCC ``t2s``, character by character, so ⾞ -> 車 -> 车) and number forms
  (①, ⑸, ⓿, 壹, 三 -> digits). Any character that is not a letter or a digit (spaces,
  punctuation, symbols, emoji, zero-width and other invisible characters) is
  dropped, which skips noise inserted between the letters of a word (网@赌,
  网 赌, 网。。赌).
* ``SOUND`` maps each Chinese character to one *mark* per toneless pinyin
  syllable, so homophones (堵博, 赌博) become the same string. Marks are
  two-byte UTF-8 characters (U+0100 on), which keeps the sound automaton
  small and its walk short; a folded character that happens to be one of them
  (ā) sounds as ``SEPARATOR``, every other character as itself.

:func:`fold` applies ``DIRECT`` and collapses runs of a repeated character
(ffffuuuucccckkk -> fuck); :func:`sound` applies ``SOUND`` to a folded text.
Words and messages go through the same functions, so a match in the folded
text is a match in meaning. :func:`align` recomputes, only for messages that
matched, which original characters every folded character came from.

Speed: ``str.translate`` is given *lists* indexed by code point, not the
dicts: a dict miss raises a KeyError inside ``translate`` for every character
that stays as it is, which made folding three times slower. Code points past
the lists (CJK extension planes, tags, private use) are rare and take a
slower path that uses the dicts.

A message's forms (:func:`prepare`: marked, noise dropped, runs collapsed,
sounded) are made in one pass in C when the optional extension
``rules/text/_prepare.c`` is built (``setup.py``, by the normal install); it
receives the tables from this module, and :func:`_prepare` is its reference
and the fallback when it is not built.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from rules.core.paths import CACHE_DIR
from rules.core.pickle_cache import read_cache, write_cache

TABLE_VERSION = 7

# Chinese numerals (simplified after t2s) and their digits.
_NUMERALS = {
    "零": "0", "〇": "0", "一": "1", "二": "2", "三": "3", "四": "4", "五": "5",
    "六": "6", "七": "7", "八": "8", "九": "9", "壹": "1", "贰": "2", "叁": "3",
    "肆": "4", "伍": "5", "陆": "6", "柒": "7", "捌": "8", "玖": "9",
}  # fmt: skip

# Ranges scanned when building the tables: the BMP and the supplementary
# multilingual plane (mathematical letters, emoji, symbols), the CJK
# compatibility ideographs supplement, tags and variation selectors.
_RANGES = (
    (0x0000, 0xD800),
    (0xE000, 0x20000),
    (0x2F800, 0x2FA20),
    (0xE0000, 0xE01F0),
)
_CJK = ((0x3400, 0x4DC0), (0x4E00, 0xA000))
# Marks for pinyin syllables (about 410 of them) start here; in a sounded text
# the characters they stand for are remapped to SEPARATOR.
SOUND_BASE = 0x0100
SEPARATOR = "\x01"
NOISE = "\0"  # what a dropped character becomes in a marked text (a control: dropped itself)
# Code points below this are folded through a list; higher ones by the slow path.
LIST_LIMIT = 0x20000
_FIRST_HIGH = chr(LIST_LIMIT)
_HIGH = re.compile(f"[{_FIRST_HIGH}-\U0010ffff]")
_PRIVATE_PLANES = 0xF0000  # planes 15 and 16: private use, dropped

# A character followed by itself: deleting every such one collapses each run to
# its last character (a lookahead is cheaper for ``re`` than a lookbehind).
REPEATS = re.compile(r"(.)(?=\1)", re.S)
HAS_REPEAT = re.compile(r"(.)\1", re.S)
_RUN = re.compile(r"(.)\1+", re.S)


@dataclass(frozen=True, slots=True)
class Tables:
    """The two translate tables and the syllable names behind ``SOUND`` characters."""

    direct: dict[int, str | None]
    sound: dict[int, str]
    syllables: dict[str, str]


def _fold_char(ch: str, t2s: dict[str, str]) -> str:
    """What one character means for matching: '' to drop it, else one or more chars."""
    if ch in t2s:
        ch = t2s[ch]
    if ch in _NUMERALS:
        return _NUMERALS[ch]
    kept = "".join(_digit(c) for c in unicodedata.normalize("NFKC", ch) if c.isalnum())
    return "".join(_NUMERALS.get(c, c) for c in kept.lower())


def _digit(ch: str) -> str:
    """Number forms (⓿, ➃, ₈) as ASCII digits; other characters unchanged."""
    if "0" <= ch <= "9" or unicodedata.category(ch)[0] != "N":
        return ch
    value = unicodedata.numeric(ch, -1.0)
    return str(int(value)) if value >= 0 and value == int(value) else ch


def _build_tables() -> Tables:
    import opencc  # imported here: only needed when the cache is cold
    from pypinyin import Style, lazy_pinyin

    from rules.text.lookalike import FOLDS

    cjk = [chr(c) for lo, hi in _CJK for c in range(lo, hi)]
    converted = opencc.OpenCC("t2s").convert("\n".join(cjk)).split("\n")
    t2s = {a: b for a, b in zip(cjk, converted, strict=True) if a != b and len(b) == 1}

    direct: dict[int, str | None] = {}
    for lo, hi in _RANGES:
        for code in range(lo, hi):
            ch = chr(code)
            # A look-alike first (⾞ -> 車), then the character's own fold (車 -> 车).
            folded = "".join(_fold_char(c, t2s) for c in FOLDS.get(code, ch))
            if folded != ch:
                direct[code] = folded or None

    targets = sorted({_fold_char(ch, t2s) or ch for ch in cjk})
    readings = lazy_pinyin(targets, style=Style.NORMAL, errors="default")
    syllable_ids: dict[str, str] = {}
    sound: dict[int, str] = {}
    for ch, reading in zip(targets, readings, strict=True):
        if len(ch) != 1 or not reading.isascii() or not reading.isalpha():
            continue
        mark = syllable_ids.setdefault(reading, chr(SOUND_BASE + len(syllable_ids)))
        sound[ord(ch)] = mark
    return Tables(direct, sound, {mark: name for name, mark in syllable_ids.items()})


def _load_tables() -> Tables:
    path = CACHE_DIR / f"normalize-v{TABLE_VERSION}.pickle"
    tables = read_cache(path, Tables)
    if tables is None:
        tables = _build_tables()
        write_cache(path, tables)  # a read-only checkout still works, just starts slower
    return tables


TABLES = _load_tables()
DIRECT = TABLES.direct
SOUND = TABLES.sound


def _list_tables() -> tuple[tuple[str | int | None, ...], tuple[str | int | None, ...]]:
    """``DIRECT`` (noise as ``NOISE``) and ``SOUND`` as translate tables by code point.

    Tuples, not lists: they hold only strings, ints and None, so the cyclic GC
    stops tracking them and a full collection does not walk 2 x 131k slots.
    A character that becomes one character is its code point, not a string:
    ``str.translate`` writes an int straight into its output, a string through
    a general copy (the sound of a Chinese text is a fifth cheaper so).
    """
    # Unchanged characters map to their own code point; noise to NOISE.
    same: list[str | int | None] = list(range(LIST_LIMIT))
    fold_list: list[str | int | None] = list(same)
    for code, folded in DIRECT.items():
        if code < LIST_LIMIT:
            fold_list[code] = _one(folded or NOISE)
    sound_list = same
    for code in range(SOUND_BASE, SOUND_BASE + len(TABLES.syllables)):
        sound_list[code] = ord(SEPARATOR)
    for code, mark in SOUND.items():
        if code < LIST_LIMIT:
            sound_list[code] = ord(mark)
    return tuple(fold_list), tuple(sound_list)


def _one(text: str) -> str | int:
    """A translate-table entry: the code point of one character, else the string."""
    return ord(text) if len(text) == 1 else text


MARK_LIST, SOUND_LIST = _list_tables()


def _fold_high(ch: str) -> str:
    """One character folded by the slow path (``NOISE`` for noise)."""
    code = ord(ch)
    if code in DIRECT:
        return DIRECT[code] or NOISE
    return NOISE if code >= _PRIVATE_PLANES else ch


def marked(text: str) -> str:
    """Every character folded, noise as ``NOISE``: one per character unless one expands."""
    out = text.translate(MARK_LIST)
    if not out.isascii() and _HIGH.search(out):
        out = "".join(c if c < _FIRST_HIGH else _fold_high(c) for c in out)
    return out


Runs = list[tuple[int, int]]
# A message in the forms it is matched in: the original, marked (noise as NOISE),
# pre (noise dropped), folded (pre with its runs collapsed), sounded (folded through
# SOUND_LIST, position for position) and the runs of pre that folded collapsed.
Forms = tuple[str, str, str, str, str, Runs]


def _prepare(text: str) -> Forms:
    """:data:`Forms` of ``text``: the reference for the C extension ``_prepare.c``,
    and the fallback when it is not built (``prepare`` calls one or the other)."""
    mark = marked(text)
    pre = mark.replace(NOISE, "") if NOISE in mark else mark
    repeat = HAS_REPEAT.search(pre)
    if repeat is None:
        folded, found = pre, []
    else:  # the runs from the first repeat on, each collapsed to one character
        found = runs(pre, repeat.start())
        folded = collapsed(pre, found)
    return text, mark, pre, folded, sounded(folded), found


def sounded(folded: str) -> str:
    """A folded text's sound, position for position (no runs collapsed)."""
    return folded if folded.isascii() else folded.translate(SOUND_LIST)


def _native() -> Callable[[str], Forms] | None:
    """The C extension's ``prepare`` given this module's tables; None when it is not built."""
    try:
        from rules.text import _prepare as native
    except ImportError:
        return None
    native.load(MARK_LIST, SOUND_LIST, NOISE, LIST_LIMIT, _fold_high)
    return native.prepare


native_prepare = _native()
_prepare_forms = native_prepare or _prepare
_last: Forms = _prepare("")  # the last text prepared, with its forms


def prepare(text: str) -> Forms:
    """:data:`Forms` of ``text``, in C when the extension is built.

    The last result is kept: the keyword and flood detectors fold the same
    message one after the other, and the second gets it for free.
    """
    global _last  # one tuple, replaced whole: safe across threads
    last = _last
    if last[0] is text:
        return last
    forms = _last = _prepare_forms(text)
    return forms


def prefold(text: str) -> str:
    """Every character folded and noise dropped; repeats not yet collapsed."""
    return prepare(text)[2]


def _unmarked(text: str) -> str:
    """:func:`prefold` without touching the kept result (for single characters)."""
    return marked(text).replace(NOISE, "")


def collapse(text: str) -> str:
    """Runs of one repeated character reduced to one (cheap when there are none)."""
    return REPEATS.sub("", text) if HAS_REPEAT.search(text) else text


def fold(text: str) -> str:
    """The text as matched: folded characters, noise dropped, repeats collapsed."""
    return prepare(text)[3]


def sound(folded: str) -> str:
    """A folded text's Chinese characters as syllable marks, others as SEPARATOR, collapsed."""
    return collapse(folded.translate(SOUND_LIST))


def compare_key(text: str) -> str:
    """A key under which trivially different texts compare equal (for flood counting).

    Case, width, traditional/simplified, spaces, punctuation, emoji and invisible
    characters are ignored; repeated characters are *not* collapsed. A text with
    nothing but symbols keys as itself (stripped).
    """
    return prefold(text) or text.strip()


def char_fold(ch: str) -> str:
    """One character folded ('' if it is noise)."""
    return _unmarked(ch)


def is_latin(ch: str) -> bool:
    """True for a folded ASCII letter (the characters whole-word matching cares about)."""
    return "a" <= ch <= "z"


def pinyin_of(sound_key: str) -> str:
    """Latin spelling (no tones) of a string of syllable marks; '' if any mark is unknown."""
    names = [TABLES.syllables.get(mark, "") for mark in sound_key]
    return "".join(names) if all(names) else ""


def runs(text: str, start: int = 0) -> Runs:
    """The ``(start, end)`` of every run of a repeated character in ``text[start:]``, in order."""
    return [m.span() for m in _RUN.finditer(text, start)]


def collapsed(text: str, runs: Runs) -> str:
    """:func:`collapse` of ``text`` given its runs (:func:`runs`): one pass fewer."""
    pieces = []
    at = 0
    for start, end in runs:
        pieces.append(text[at : start + 1])
        at = end
    pieces.append(text[at:])
    return "".join(pieces)


def expand(runs: Runs, pos: int, last: bool = False) -> int:
    """Where character ``pos`` of ``collapse(text)`` starts (or, with ``last``, ends) in ``text``.

    ``runs`` are the runs of ``text`` (:func:`runs`); the end is inclusive.
    """
    for start, end in runs:
        if start > pos:
            break
        if start == pos:
            return end - 1 if last else pos
        pos += end - start - 1
    return pos


def shrink(runs: Runs, pos: int) -> int:
    """The position in ``collapse(text)`` of ``text`` position ``pos`` (a run boundary)."""
    shrunk = pos
    for start, end in runs:
        if end > pos:
            break
        shrunk -= end - start - 1
    return shrunk


def _skip(dropped: Runs, pos: int) -> int:
    """Where the ``pos``-th character left after deleting ``dropped`` stood before."""
    for start, end in dropped:
        if start > pos:
            break
        pos += end - start
    return pos


_COUNT_STEPS = 8  # then the noise runs are mapped once (a text with noise everywhere)


def dropped_span(mark: str, start: int, end: int) -> tuple[int, int] | None:
    """Original ``(start, end)`` of ``pre[start:end]`` for a text whose characters were
    only dropped, not expanded (``mark`` is :func:`marked` of it, the same length);
    None when a text with noise everywhere would take too many steps.

    The ``p``-th character of ``pre`` stands at the least ``i`` with
    ``i == p + mark.count(NOISE, 0, i + 1)``; climbing to it from below takes one
    ``count`` (in C) per stretch of noise met on the way, and the end climbs from
    the start: for a short message, cheaper than mapping its noise.
    """
    count = mark.count
    i = start
    steps = _COUNT_STEPS
    while steps:
        j = start + count(NOISE, 0, i + 1)
        if j == i:
            break
        i = j
        steps -= 1
    else:
        return None
    first, last = i, end - 1
    i += last - start
    steps = _COUNT_STEPS
    while steps:
        j = last + count(NOISE, 0, i + 1)
        if j == i:
            return first, i + 1
        i = j
        steps -= 1
    return None


_NOISE_RUN = re.compile(NOISE + "+")


class Alignment:
    """Maps positions in a message's :func:`prefold` back to the original text.

    ``text`` is the folded message (``collapse(pre)``); :meth:`span` maps folded
    positions and :meth:`pre_span` positions in ``pre``. Nothing is computed
    beyond what the first call needs, so a message pays only for its hits.
    """

    __slots__ = (
        "_mapped",
        "_marked",
        "_noise",
        "_original",
        "_pre",
        "_repeats",
        "_starts",
        "text",
    )

    def __init__(
        self, original: str, pre: str, folded: str | None = None, mark: str | None = None
    ) -> None:
        self.text = collapse(pre) if folded is None else folded
        self._original = original
        self._pre = pre
        self._marked = mark  # marked(original), when the caller has it
        self._mapped = False
        self._noise: Runs = []  # the dropped runs of the original
        self._starts: list[int] | None = None  # per pre character, when one expanded
        self._repeats: Runs | None = None

    def _map(self) -> None:
        """Find the dropped characters (or, when one expanded, map every character).

        When characters were only dropped, ``_marked`` is kept for :func:`dropped_span`
        and the dropped runs are mapped only if that takes too many steps.
        """
        self._mapped = True
        original, pre = self._original, self._pre
        if len(pre) == len(original) and original.isascii():
            self._marked = None
            return  # ASCII never expands: nothing dropped means one to one
        mark = self._marked if self._marked is not None else marked(original)
        if len(mark) != len(original):  # a character expanded (⑽ -> 10)
            self._starts = [i for i, ch in enumerate(original) for _ in _unmarked(ch)]
        self._marked = mark if len(pre) != len(mark) else None

    def pre_span(self, start: int, end: int) -> tuple[int, int]:
        """Original ``(start, end)`` of ``pre[start:end]``."""
        if not self._mapped:
            self._map()
        if self._starts is not None:
            return self._starts[start], self._starts[end - 1] + 1
        mark = self._marked
        if mark is None:
            return start, end
        if not self._noise:
            span = dropped_span(mark, start, end)
            if span is not None:
                return span
            self._noise = [m.span() for m in _NOISE_RUN.finditer(mark)]
        noise = self._noise
        return _skip(noise, start), _skip(noise, end - 1) + 1

    def folded_to_pre(self, start: int, end: int) -> tuple[int, int]:
        """``pre`` positions of folded characters ``start..end`` (whole runs)."""
        if len(self.text) == len(self._pre):
            return start, end
        if self._repeats is None:
            self._repeats = runs(self._pre)
        return expand(self._repeats, start), expand(self._repeats, end - 1, last=True) + 1

    def span(self, start: int, end: int) -> tuple[int, int]:
        """Original ``(start, end)`` of folded characters ``start..end`` (end exclusive)."""
        return self.pre_span(*self.folded_to_pre(start, end))


def align(text: str) -> Alignment:
    """:func:`fold` with spans; ``align(t).text == fold(t)``."""
    return Alignment(text, prefold(text))


@lru_cache(maxsize=1)
def ordinary_words() -> frozenset[str]:
    """Folded words of jieba's dictionary (2-6 characters): the homophone guard's source."""
    import jieba

    path = Path(jieba.__file__).resolve().parent / "dict.txt"
    words = set()
    with path.open(encoding="utf-8") as fh:
        for line in fh:
            word = line.split(" ", 1)[0]
            if 2 <= len(word) <= 6:
                words.add(fold(word))
    return frozenset(words)
