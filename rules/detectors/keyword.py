"""Keyword detector: banned terms by category, seen through evasion.

Word lists are plain files, one term per line, ``#`` comments; the category is
the file name without extension (``data/keywords/gambling.txt`` -> gambling);
a file named ``allow.txt`` holds allow-listed terms. Terms and messages are
folded the same way (:mod:`rules.text.normalize`) and matched on Aho-Corasick
automata (:mod:`rules.detectors.keyword_index`); every hit is reported with
its span in the *original* text. Checks that need no span run first, so a
message whose matches they reject is never mapped back.

Rules on top of the raw matches:

* A term with a repeated character needs the repeat: 妈妈 folds to 妈 (runs
  collapse), but a lone 妈 is not 妈妈.
* Latin terms match whole words only (``av`` is not in ``have``), judged on
  the original text; short Latin terms may not span a space.
* A homophone or pinyin match (堵博, dubo for 赌博) is dropped when its text is
  an ordinary word (病毒 sounds like 冰毒), and a two-character homophone must
  share a character with the term (any two characters sound like some term);
  ``[keywords] pinyin = false`` turns them off for a group.
* A homophone that survives those checks must stand as a unit of its
  sentence: one that begins or ends inside a word of the text around it
  (打麻|将 for 大麻, 有|男朋友 for 幼男, 福建人 for 贱人) is ordinary text.
  ``CONTEXT`` characters either side are segmented with jieba's dictionary
  (:mod:`rules.text.segment`), only for such hits, so the hot path never pays.
  Tone agreement was measured and is not used: the best-known substitutions
  differ in tone (草 for 操, 吗 for 妈, 几 for 鸡). Left: sound-alikes that are
  words of their own (读博, 刚交, 压力大吗), see the tests.
* Allow-listed terms (``[keywords] allow``, ``allow.txt`` and custom allow
  words, global or per group) suppress every hit they overlap, unless the
  allow term lies strictly inside the hit (allowing 你 does not clear 操你妈).

Per-group custom words live in a second, small index (``overlay``) that
:class:`rules.detectors.custom_words.WordService` rebuilds off the hot path and swaps in with
one assignment; the big shipped lists are never rebuilt for a custom word.
"""

from __future__ import annotations

import glob
from collections.abc import Iterable
from functools import lru_cache
from itertools import groupby
from pathlib import Path
from typing import ClassVar

from rules.config import KeywordSettings
from rules.core.model import ChatEvent, Finding
from rules.core.paths import CACHE_DIR, PROJECT_ROOT
from rules.detectors.base import Detector
from rules.detectors.keyword_index import (
    ALLOW,
    DIRECT,
    MIN_PINYIN_LETTERS,
    SOUND,
    Key,
    Term,
    TermIndex,
    read_word_list,
)
from rules.text import normalize, segment

__all__ = ["KeywordDetector", "Term", "TermIndex", "expand_globs", "read_word_list"]

SHORT_LATIN = 3  # Latin terms up to this length may not span whitespace
MIN_PURE_HOMOPHONE = 3  # shorter homophones must share a character with the term (堵博/赌博)
CONTEXT = 8  # characters either side of a homophone hit that are segmented to judge it

_fold_marked = normalize.fold_marked
_expand = normalize.expand
_shrink = normalize.shrink
_SOUND_LIST = normalize.SOUND_LIST
_HAS_REPEAT = normalize.HAS_REPEAT
_REPEATS = normalize.REPEATS
_NO_RUNS: normalize.Runs = []


def expand_globs(patterns: Iterable[str], root: Path = PROJECT_ROOT) -> list[Path]:
    """Word-list paths for config patterns (relative ones are under the project root)."""
    paths: set[Path] = set()
    for pattern in patterns:
        full = pattern if Path(pattern).is_absolute() else str(root / pattern)
        paths.update(Path(p) for p in glob.glob(full))
    return sorted(paths)


@lru_cache(maxsize=256)
def _allow_index(allow: tuple[str, ...]) -> TermIndex:
    return TermIndex((Term(term, ALLOW) for term in allow), pinyin=False)


_EMPTY = TermIndex(())


def _boundary_ok(text: str, start: int, end: int, key: Key) -> bool:
    """Whole-word rule for keys that begin or end with a letter or digit."""
    if key.left_word and start > 0:
        before = normalize.char_fold(text[start - 1])
        if before and _same_class(before[-1], key.left_word):
            return False
    if key.right_word and end < len(text):
        after = normalize.char_fold(text[end])
        if after and _same_class(after[0], key.right_word):
            return False
    if key.left_word == "a" and key.right_word == "a" and key.length <= SHORT_LATIN:
        return not any(c.isspace() for c in text[start:end])
    return True


def _whole_word_within(
    text: str, pre: str, aligned: normalize.Alignment, first: int, stop: int, key: Key
) -> tuple[int, int] | None:
    """A whole-word span for a hit whose edge letter is a run reaching into the next word.

    Repeats collapse across noise, so in "sha ash" the two a's are one run and
    both words seem to run into each other; without the run's other letters
    at an edge, each is a whole word. ``first``/``stop`` are ``pre`` positions.
    """
    inner_first = first
    while inner_first + 1 < stop and pre[inner_first + 1] == pre[first]:
        inner_first += 1
    inner_stop = stop
    while inner_stop - 1 > inner_first and pre[inner_stop - 2] == pre[stop - 1]:
        inner_stop -= 1
    for lo, hi in ((inner_first, stop), (first, inner_stop), (inner_first, inner_stop)):
        if (lo, hi) != (first, stop):
            start, end = aligned.pre_span(lo, hi)
            if _boundary_ok(text, start, end, key):
                return start, end
    return None


def _same_class(ch: str, word_class: str) -> bool:
    return normalize.is_latin(ch) if word_class == "a" else ch.isdigit()


class KeywordDetector(Detector[KeywordSettings]):
    """Finds listed terms; category from the list, span in the original text."""

    name: ClassVar[str] = "keyword"
    section: ClassVar[str] = "keywords"

    def __init__(self, index: TermIndex, overlay: TermIndex | None = None) -> None:
        self.index = index
        self.overlay = overlay or _EMPTY  # custom words; replaced whole, never mutated

    @classmethod
    def from_settings(
        cls, settings: KeywordSettings, cache_dir: Path | None = CACHE_DIR
    ) -> KeywordDetector:
        return cls(TermIndex.from_files(expand_globs(settings.files), cache_dir=cache_dir))

    def check(self, event: ChatEvent, settings: KeywordSettings) -> list[Finding]:
        text = event.text
        if not text:
            return []
        index, overlay = self.index, self.overlay  # one consistent snapshot
        mark, pre = _fold_marked(text)
        ascii_only = pre.isascii()
        presound = pre  # the sound automaton searches the folded text when nothing sounds
        if settings.pinyin and not ascii_only:
            presound = pre.translate(_SOUND_LIST)
            if presound == pre:
                presound = pre
        repeat = _HAS_REPEAT.search(presound)  # a repeat in pre is a repeat in its sound
        if repeat is None:
            folded, sounded, first = pre, presound, -1
        else:  # collapse from the first repeat on
            first = repeat.start()
            folded = pre[:first] + _REPEATS.sub("", pre[first:])
            if len(folded) == len(pre):  # only homophones repeated
                folded = pre
            sounded = (
                folded if presound is pre else presound[:first] + _REPEATS.sub("", presound[first:])
            )
        latin = settings.pinyin and _may_spell(folded)
        han = _NONE if ascii_only else index.han.matches(folded)
        sound = index.sound.matches(sounded)
        spelled = index.pinyin.matches(folded) if latin else _NONE
        if overlay.size:
            extra = _matches(overlay, folded, sounded, ascii_only, latin)
        elif not han and not sound and not spelled:
            return []
        else:
            extra = _NOTHING
        forms = _Forms(text, mark, pre, folded, presound, sounded, first)
        hits = _hits(forms, settings, index, (han, sound, spelled), overlay.guard)
        if extra is not _NOTHING:
            hits += _hits(forms, settings, overlay, extra, index.guard)
        if not hits:
            return []
        return _findings(forms, settings, event.group_id, hits)


Matches = list[tuple[int, int, int]]
_NONE: Matches = []
_NOTHING = (_NONE, _NONE, _NONE)
_DIGITS = b"0123456789"


def _may_spell(folded: str) -> bool:
    """Whether ``folded`` has enough Latin letters for a pinyin spelling (a cheap test)."""
    return len(folded.encode("ascii", "ignore").translate(None, _DIGITS)) >= MIN_PINYIN_LETTERS


def _matches(
    index: TermIndex, folded: str, sounded: str, ascii_only: bool, latin: bool
) -> tuple[Matches, Matches, Matches]:
    """The raw matches of the han, sound and pinyin automata (see keyword_index)."""
    return (
        _NONE if ascii_only else index.han.matches(folded),
        index.sound.matches(sounded),
        index.pinyin.matches(folded) if latin else _NONE,
    )


class _Forms:
    """A message's text in its matched forms, and the runs that map them to each other.

    ``presound`` is ``pre`` when nothing sounds (the sound automaton then
    searched ``folded``); ``first`` is where the first repeat is (-1: none).
    """

    __slots__ = ("first", "folded", "mark", "pre", "presound", "sounded", "text")

    def __init__(
        self, text: str, mark: str, pre: str, folded: str, presound: str, sounded: str, first: int
    ) -> None:
        self.text, self.mark, self.pre, self.folded = text, mark, pre, folded
        self.presound, self.sounded, self.first = presound, sounded, first

    def runs(self) -> normalize.Runs:
        """The runs of ``pre`` that ``folded`` collapsed."""
        return normalize.runs(self.pre, self.first) if self.folded is not self.pre else _NO_RUNS

    def sound_runs(self, runs: normalize.Runs) -> normalize.Runs:
        """The runs of ``presound`` that the sounded text collapsed (``runs``: of ``pre``)."""
        if self.presound is self.pre:
            return runs
        if len(self.sounded) == len(self.presound):
            return _NO_RUNS
        return normalize.runs(self.presound, self.first)


# A hit that passed the cheap checks: pre positions, key, the terms it stands for.
_Hit = tuple[int, int, Key, tuple[Term, ...]]


def _hits(
    forms: _Forms,
    settings: KeywordSettings,
    index: TermIndex,
    found: tuple[Matches, Matches, Matches],
    other_guard: frozenset[str],
) -> list[_Hit]:
    """Matches that pass the checks needing no original span, in ``pre`` positions.

    The checks: repeats a term needs (妈妈), pinyin switched off, and for a
    homophone its text being the term itself or an ordinary word. ``found``
    are the han, sound and pinyin matches (:func:`_matches`).
    """
    hits: list[_Hit] = []
    han_found, sound_found, pinyin_found = found
    pre, folded = forms.pre, forms.folded
    runs = forms.runs()
    searched = ((index.han, han_found), (index.pinyin, pinyin_found)) if pinyin_found else None
    for automaton, matched in searched or ((index.han, han_found),):
        made = automaton.made
        for first, stop, number in matched:  # folded positions
            key = made.get(number) or automaton.key(number)
            if runs:
                first, stop = _expand(runs, first), _expand(runs, stop - 1, True) + 1
            terms = key.terms
            if key.runs:
                terms = _runs_met(key, pre[first:stop])
                if not terms:
                    continue
            hits.append((first, stop, key, terms))
    if not sound_found:
        return hits
    sound_runs = forms.sound_runs(runs)
    sounds = forms.presound is not pre  # else the sounded text is the folded one
    made = index.sound.made
    guard = index.guard
    for first, stop, number in sound_found:  # sound keys and ASCII keys, in sounded positions
        key = made.get(number) or index.sound.key(number)
        if key.mode == SOUND and not sounds:
            continue
        if sound_runs:
            first, stop = _expand(sound_runs, first), _expand(sound_runs, stop - 1, True) + 1
        terms = key.terms
        if key.mode == SOUND:
            seen = folded[_shrink(runs, first) : _shrink(runs, stop)] if runs else pre[first:stop]
            if seen in key.folded or seen in guard or seen in other_guard:
                continue  # the term itself (a direct hit) or an ordinary word
            if len(seen) < MIN_PURE_HOMOPHONE and not _shares_a_character(seen, key.folded):
                continue  # any two characters sound like some term (seen has two)
        elif key.runs:
            terms = _runs_met(key, pre[first:stop])
            if not terms:
                continue
        hits.append((first, stop, key, terms))
    return hits


def _shares_a_character(pair: str, folded: frozenset[str]) -> bool:
    first, second = pair[0], pair[1]
    for word in folded:  # noqa: SIM110 (on the hot path a generator costs more)
        if first in word or second in word:
            return True
    return False


def _findings(
    forms: _Forms, settings: KeywordSettings, group_id: str, hits: list[_Hit]
) -> list[Finding]:
    """Findings for hits: mapped to the original text, whole words, scopes, allow terms."""
    text = forms.text
    aligned = normalize.Alignment(text, forms.pre, forms.folded, forms.mark)
    scopes = ("", "*", group_id)
    blocks: dict[tuple[int, int, str], str] = {}
    allows: list[tuple[int, int]] = []
    pre = forms.pre
    for first, stop, key, terms in hits:
        start, end = aligned.pre_span(first, stop)
        if (key.left_word or key.right_word) and not _boundary_ok(text, start, end, key):
            span = _whole_word_within(text, pre, aligned, first, stop, key)
            if span is None:
                continue
            start, end = span
        if key.mode == SOUND and segment.cuts_a_word(text, start, end, CONTEXT):
            continue  # part of an ordinary word around it: 打麻|将, 有|男朋友, 福建人
        for term, category, scope in terms:
            if scope not in scopes:
                continue
            if category == ALLOW:
                allows.append((start, end))
            elif key.mode == DIRECT:
                blocks.setdefault((start, end, category), term)
            else:
                blocks.setdefault((start, end, category), f"{term} (sounds alike)")
    if not blocks:
        return []
    if settings.allow:
        runs = forms.runs()
        for key, first, stop in _allow_index(tuple(settings.allow)).find(forms.folded):
            if runs:
                first, stop = _expand(runs, first), _expand(runs, stop - 1, True) + 1
            start, end = aligned.pre_span(first, stop)
            if _boundary_ok(text, start, end, key):
                allows.append((start, end))
    findings = []
    for (start, end, category), note in sorted(blocks.items()):
        if allows and _suppressed(allows, start, end):
            continue
        findings.append(Finding(KeywordDetector.name, category, text[start:end], start, end, note))
    return findings


def _runs_met(key: Key, seen: str) -> tuple[Term, ...]:
    """The terms of ``key`` whose repeated letters ``seen`` repeats as often.

    妈妈 folds to 妈 like every repeated word, so on its own it would match any 妈;
    it matches where the message repeats the character too (妈妈, 妈妈妈, 妈.妈).
    ``seen`` is the message's fold at the hit before runs were collapsed.
    """
    if len(seen) == key.length:  # nothing repeated here
        return key.single
    have = [len(list(run)) for _, run in groupby(seen)]
    kept = []
    for term, need in zip(key.terms, key.runs, strict=True):
        want = [len(list(run)) for _, run in groupby(need)]
        if not need or all(h >= w for h, w in zip(have, want, strict=True)):
            kept.append(term)
    return tuple(kept)


def _suppressed(allows: list[tuple[int, int]], start: int, end: int) -> bool:
    """An allow span clears a hit it overlaps, unless it lies strictly inside the hit."""
    for a_start, a_end in allows:
        if a_end <= start or end <= a_start:
            continue
        inside = start <= a_start and a_end <= end
        if not inside or (a_end - a_start) >= (end - start):
            return True
    return False
