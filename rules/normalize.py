"""Text normalisation that sees through filter evasion, with spans back to the original.

Two per-character tables are computed once (and cached under ``data/cache``):

* ``DIRECT`` folds every character to what it "means" for matching: Unicode
  compatibility forms (NFKC: full-width, circled and stylised letters and
  digits), lower case, traditional -> simplified Chinese (OpenCC ``t2s``,
  character by character) and number forms (①, ⑸, ⓿, 壹, 三 -> digits). Any
  character that is not a letter or a digit (spaces, punctuation, symbols,
  emoji, zero-width and other invisible characters) is dropped, which skips
  noise inserted between the letters of a word (网@赌, 网 赌, 网。。赌).
* ``SOUND`` maps each Chinese character to one private-use character per
  toneless pinyin syllable, so homophones (堵博, 赌博) become the same string.

:func:`fold` applies ``DIRECT`` and collapses runs of a repeated character
(ffffuuuucccckkk -> fuck); :func:`sound` applies ``SOUND`` to a folded text.
Words and messages go through the same functions, so a match in the folded
text is a match in meaning. :func:`align` recomputes, only for messages that
matched, which original characters every folded character came from.
"""

from __future__ import annotations

import pickle
import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from itertools import compress
from pathlib import Path

TABLE_VERSION = 4
CACHE_DIR = Path(__file__).resolve().parent.parent / "data" / "cache"

# Chinese numerals (simplified after t2s) and their digits.
_NUMERALS = {
    "零": "0", "〇": "0", "一": "1", "二": "2", "三": "3", "四": "4", "五": "5",
    "六": "6", "七": "7", "八": "8", "九": "9", "壹": "1", "贰": "2", "叁": "3",
    "肆": "4", "伍": "5", "陆": "6", "柒": "7", "捌": "8", "玖": "9",
}  # fmt: skip

# Ranges scanned when building the tables: the BMP plus emoji / symbol planes and tags.
_RANGES = ((0x0000, 0xD800), (0xE000, 0x10000), (0x1F000, 0x1FC00), (0xE0000, 0xE0080))
_CJK = ((0x3400, 0x4DC0), (0x4E00, 0xA000))
# Private-use block whose characters stand for pinyin syllables.
SOUND_BASE = 0xF0000

_REPEAT = re.compile(r"(.)\1+", re.S)
_HAS_REPEAT = re.compile(r"(.)\1", re.S)


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

    cjk = [chr(c) for lo, hi in _CJK for c in range(lo, hi)]
    converted = opencc.OpenCC("t2s").convert("\n".join(cjk)).split("\n")
    t2s = {a: b for a, b in zip(cjk, converted, strict=True) if a != b and len(b) == 1}

    direct: dict[int, str | None] = {}
    for lo, hi in _RANGES:
        for code in range(lo, hi):
            ch = chr(code)
            folded = _fold_char(ch, t2s)
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
    try:
        with path.open("rb") as fh:
            tables = pickle.load(fh)
        if isinstance(tables, Tables):
            return tables
    except (OSError, pickle.UnpicklingError, EOFError, AttributeError):
        pass
    tables = _build_tables()
    try:
        CACHE_DIR.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        with tmp.open("wb") as fh:
            pickle.dump(tables, fh, protocol=pickle.HIGHEST_PROTOCOL)
        tmp.replace(path)
    except OSError:
        pass  # a read-only checkout still works, just starts slower
    return tables


TABLES = _load_tables()
DIRECT = TABLES.direct
SOUND = TABLES.sound


def collapse(text: str) -> str:
    """Runs of one repeated character reduced to one (cheap when there are none)."""
    return _REPEAT.sub(r"\1", text) if _HAS_REPEAT.search(text) else text


def fold(text: str) -> str:
    """The text as matched: folded characters, noise dropped, repeats collapsed."""
    return collapse(text.translate(DIRECT))


def sound(folded: str) -> str:
    """A folded text with Chinese characters replaced by syllable marks, repeats collapsed."""
    return collapse(folded.translate(SOUND))


def compare_key(text: str) -> str:
    """A key under which trivially different texts compare equal (for flood counting).

    Case, width, traditional/simplified, spaces, punctuation, emoji and invisible
    characters are ignored; repeated characters are *not* collapsed. A text with
    nothing but symbols keys as itself (stripped).
    """
    key = text.translate(DIRECT)
    return key or text.strip()


def char_fold(ch: str) -> str:
    """One character folded ('' if it is noise)."""
    return ch.translate(DIRECT)


def is_latin(ch: str) -> bool:
    """True for a folded ASCII letter (the characters whole-word matching cares about)."""
    return "a" <= ch <= "z"


def pinyin_of(sound_key: str) -> str:
    """Latin spelling (no tones) of a string of syllable marks; '' if any mark is unknown."""
    names = [TABLES.syllables.get(mark, "") for mark in sound_key]
    return "".join(names) if all(names) else ""


@dataclass(frozen=True, slots=True)
class Alignment:
    """A folded text and, for each of its characters, the original span it came from.

    ``simple`` is true when no original character folded to several characters;
    then the fold of an original span is exactly the folded text it maps from.
    """

    text: str
    starts: list[int]
    ends: list[int]
    simple: bool = False

    def span(self, start: int, end: int) -> tuple[int, int]:
        """Original ``(start, end)`` of folded characters ``start..end`` (end exclusive)."""
        return self.starts[start], self.ends[end - 1]


@lru_cache(maxsize=1)
def _noise_mask() -> dict[int, str]:
    """Translate table that turns every dropped (noise) character into "\\0"."""
    return {code: "\0" for code, folded in DIRECT.items() if not folded}


def align(text: str) -> Alignment:
    """:func:`fold` with spans; ``align(t).text == fold(t)``.

    The common case (no character folds to several) runs without a Python loop
    per character: the kept positions come from a noise mask, and runs of a
    repeated character are merged with one step per run.
    """
    pre = text.translate(DIRECT)
    mask = text.translate(_noise_mask())
    kept = list(compress(range(len(text)), map(ord, mask)))
    if len(kept) != len(pre):
        return _align_per_char(text)
    ends = [k + 1 for k in kept]
    if not _HAS_REPEAT.search(pre):
        return Alignment(pre, kept, ends, simple=True)
    starts: list[int] = []
    merged: list[int] = []
    pos = 0
    for run in _REPEAT.finditer(pre):
        first, stop = run.span()
        starts += kept[pos : first + 1]
        merged += ends[pos:first]
        merged.append(ends[stop - 1])
        pos = stop
    starts += kept[pos:]
    merged += ends[pos:]
    return Alignment(_REPEAT.sub(r"\1", pre), starts, merged, simple=True)


def _align_per_char(text: str) -> Alignment:
    """:func:`align` one character at a time (needed when a character expands)."""
    out: list[str] = []
    starts: list[int] = []
    ends: list[int] = []
    direct = DIRECT
    last = ""
    for i, ch in enumerate(text):
        mapped = direct.get(ord(ch), ch)
        if not mapped:
            continue
        for c in mapped:
            if c == last:
                ends[-1] = i + 1
            else:
                out.append(c)
                starts.append(i)
                ends.append(i + 1)
                last = c
    return Alignment("".join(out), starts, ends)


def align_sound(folded: Alignment) -> Alignment:
    """:func:`sound` of an aligned folded text, with spans into the original text."""
    sounded = folded.text.translate(SOUND)
    if not _HAS_REPEAT.search(sounded):
        return Alignment(sounded, folded.starts, folded.ends, folded.simple)
    out: list[str] = []
    starts: list[int] = []
    ends: list[int] = []
    for mapped, start, end in zip(sounded, folded.starts, folded.ends, strict=True):
        if out and out[-1] == mapped:
            ends[-1] = end
        else:
            out.append(mapped)
            starts.append(start)
            ends.append(end)
    return Alignment("".join(out), starts, ends)


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
