"""Keyword detector: banned terms by category, seen through evasion.

Word lists are plain files, one term per line, ``#`` comments; the category is
the file name without extension (``data/keywords/gambling.txt`` -> gambling);
a file named ``allow.txt`` holds allow-listed terms. Terms and messages are
folded the same way (:mod:`rules.normalize`) and matched on one Aho-Corasick
automaton (:mod:`rules.detectors.keyword_index`); every hit is reported with
its span in the *original* text.

Rules on top of the raw matches:

* Latin terms match whole words only (``av`` is not in ``have``), judged on
  the original text; short Latin terms may not span a space.
* A homophone or pinyin match (堵博, dubo for 赌博) is dropped when its text is
  an ordinary word (病毒 sounds like 冰毒), and a two-character homophone must
  share a character with the term (any two characters sound like some term);
  ``[keywords] pinyin = false`` turns them off for a group.
* Allow-listed terms (``[keywords] allow``, ``allow.txt`` and custom allow
  words, global or per group) suppress every hit they overlap, unless the
  allow term lies strictly inside the hit (allowing 你 does not clear 操你妈).

Per-group custom words live in a second, small automaton (``overlay``) that
:class:`rules.words.WordService` rebuilds off the hot path and swaps in with
one assignment; the big shipped lists are never rebuilt for a custom word.
"""

from __future__ import annotations

import glob
from collections.abc import Iterable
from functools import lru_cache
from itertools import groupby
from pathlib import Path
from typing import ClassVar

from rules import normalize
from rules.config import PROJECT_ROOT, KeywordSettings
from rules.detectors.base import Detector
from rules.detectors.keyword_index import (
    ALLOW,
    DIRECT,
    SOUND,
    Key,
    Term,
    TermIndex,
    read_word_list,
)
from rules.model import ChatEvent, Finding

__all__ = ["KeywordDetector", "Term", "TermIndex", "expand_globs", "read_word_list"]

CACHE_DIR = PROJECT_ROOT / "data" / "cache"
SHORT_LATIN = 3  # Latin terms up to this length may not span whitespace
MIN_PURE_HOMOPHONE = 3  # shorter homophones must share a character with the term (堵博/赌博)

_prefold = normalize.prefold
_expand = normalize.expand
_SOUND_LIST = normalize.SOUND_LIST
# Per automaton pair (the shipped lists, the custom words): index, direct and sound matches.
_Matched = tuple["TermIndex", list[tuple[int, int, int]], list[tuple[int, int, int]]]
_HAS_REPEAT = normalize.HAS_REPEAT
_REPEATS = normalize.REPEATS


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
        pre = _prefold(text)
        presound = ""
        if settings.pinyin and not pre.isascii():
            presound = pre.translate(_SOUND_LIST)
            if presound == pre:
                presound = ""  # no Chinese: nothing to sound
        # A repeat in pre is a repeat in its sound, so one search serves both.
        if _HAS_REPEAT.search(presound or pre):
            folded = _REPEATS.sub("", pre)
            sounded = _REPEATS.sub("", presound)
        else:
            folded, sounded = pre, presound
        found = index.matches(folded)
        sound_found = index.sound_matches(sounded) if sounded else _NONE
        if overlay.size:
            extra = overlay.matches(folded), overlay.sound_matches(sounded) if sounded else _NONE
        elif not found and not sound_found:
            return []
        else:
            extra = (_NONE, _NONE)
        return _Message(event, settings, pre, folded).findings(
            ((index, found, sound_found), (overlay, *extra)), presound, sounded
        )


_NONE: list[tuple[int, int, int]] = []


class _Message:
    """One message with raw matches: maps them to findings (spans, word rules, allow terms).

    Cheap checks come first (repeats a term needs, ordinary words that sound
    like a term); only matches that pass them are mapped to the original text.
    """

    __slots__ = ("aligned", "allows", "blocks", "folded", "pre", "scopes", "settings", "text")

    def __init__(self, event: ChatEvent, settings: KeywordSettings, pre: str, folded: str) -> None:
        self.text = event.text
        self.settings = settings
        self.pre = pre
        self.folded = folded
        self.aligned = normalize.Alignment(event.text, pre, folded)
        self.scopes = ("", "*", event.group_id)
        self.blocks: dict[tuple[int, int, str], str] = {}
        self.allows: list[tuple[int, int]] = []

    def findings(self, matched: Iterable[_Matched], presound: str, sounded: str) -> list[Finding]:
        guards = tuple(index.guard for index, _, _ in matched)
        sound_runs: normalize.Runs | None = None
        for index, found, sound_found in matched:
            if found:
                self._direct(index, found)
            if sound_found:
                if sound_runs is None:
                    sound_runs = normalize.runs(presound) if len(sounded) != len(presound) else []
                self._sound(index, sound_found, sound_runs, guards)
        if not self.blocks:
            return []
        text, aligned, allows = self.text, self.aligned, self.allows
        if self.settings.allow:
            for key, first, stop in _allow_index(tuple(self.settings.allow)).find(self.folded):
                start, end = aligned.span(first, stop)
                if _boundary_ok(text, start, end, key):
                    allows.append((start, end))
        return [
            Finding(KeywordDetector.name, category, text[start:end], start, end, detail=note)
            for (start, end, category), note in sorted(self.blocks.items())
            if not allows or not any(_suppresses(a, start, end) for a in allows)
        ]

    def _direct(self, index: TermIndex, found: list[tuple[int, int, int]]) -> None:
        text, pre, aligned, pinyin = self.text, self.pre, self.aligned, self.settings.pinyin
        made = index.made
        for number, first, stop in found:
            key = made.get(number) or index.key(number)
            if key.mode != DIRECT and not pinyin:
                continue
            pre_start, pre_end = aligned.folded_to_pre(first, stop)
            terms = key.terms
            if key.runs:
                terms = _runs_met(key, pre[pre_start:pre_end])
                if not terms:
                    continue
            start, end = aligned.pre_span(pre_start, pre_end)
            if (key.left_word or key.right_word) and not _boundary_ok(text, start, end, key):
                continue
            self._add(terms, key.mode, start, end)

    def _sound(
        self,
        index: TermIndex,
        found: list[tuple[int, int, int]],
        runs: normalize.Runs,
        guards: tuple[frozenset[str], ...],
    ) -> None:
        pre, folded, aligned = self.pre, self.folded, self.aligned
        made = index.made_sound
        for number, first, stop in found:
            key = made.get(number) or index.sound_key(number)
            if runs:  # sound positions -> pre positions
                first = _expand(runs, first)
                stop = _expand(runs, stop - 1, True) + 1
            if folded is pre:
                seen = pre[first:stop]
            else:
                seen_start, seen_end = aligned.pre_to_folded(first, stop)
                seen = folded[seen_start:seen_end]
            if not _ordinary_sound(seen, key, guards):
                start, end = aligned.pre_span(first, stop)
                self._add(key.terms, SOUND, start, end)

    def _add(self, terms: tuple[Term, ...], mode: int, start: int, end: int) -> None:
        """Record a hit at ``start:end`` for each of ``terms`` in scope."""
        scopes = self.scopes
        for term in terms:
            if term.scope not in scopes:
                continue
            if term.allow:
                self.allows.append((start, end))
            else:
                note = term.term if mode == DIRECT else f"{term.term} (sounds alike)"
                self.blocks.setdefault((start, end, term.category), note)


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


def _ordinary_sound(seen: str, key: Key, guards: tuple[frozenset[str], ...]) -> bool:
    """True when a sound match is not a homophone hit.

    That is: its folded text ``seen`` is a direct hit (reported already) or an
    ordinary word, or it has two characters that share none with the term
    (any two characters sound like some term).
    """
    if seen in key.folded or any(seen in guard for guard in guards):
        return True
    return len(seen) < MIN_PURE_HOMOPHONE and not any(set(seen) & set(f) for f in key.folded)


def _suppresses(allow: tuple[int, int], start: int, end: int) -> bool:
    """An allow span clears a hit it overlaps, unless it lies strictly inside the hit."""
    a_start, a_end = allow
    if a_end <= start or end <= a_start:
        return False
    inside = start <= a_start and a_end <= end
    return not inside or (a_end - a_start) >= (end - start)
