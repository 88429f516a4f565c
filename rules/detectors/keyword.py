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

_fold_table = normalize.DIRECT
_sound_table = normalize.SOUND
_collapse = normalize.collapse


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
        folded = _collapse(text.translate(_fold_table))
        index, overlay = self.index, self.overlay  # one consistent snapshot
        raw = index.iter(folded)
        if overlay.size:
            raw += overlay.iter(folded)
        sounded = ""
        if settings.pinyin:
            sounded = _collapse(folded.translate(_sound_table))
            if sounded != folded:
                raw += [hit for hit in index.iter(sounded) if hit[1].mode == SOUND]
                if overlay.size:
                    raw += [hit for hit in overlay.iter(sounded) if hit[1].mode == SOUND]
        if not raw:
            return []
        same_length = len(sounded) == len(folded)
        return self._resolve(event, settings, raw, (index, overlay), same_length)

    def _resolve(
        self,
        event: ChatEvent,
        settings: KeywordSettings,
        raw: list[tuple[int, Key]],
        indexes: tuple[TermIndex, TermIndex],
        sound_is_folded: bool,
    ) -> list[Finding]:
        """Findings for the raw hits: spans mapped back, homophones and allow terms applied.

        ``sound_is_folded`` says the sounded text lines up one to one with the
        folded text (no extra repeats collapsed), so sound hits need no alignment
        of their own.
        """
        text = event.text
        aligned = normalize.align(text)
        sound_aligned = aligned if sound_is_folded and aligned.simple else None
        scopes = ("", "*", event.group_id)
        blocks: dict[tuple[int, int, str], str] = {}
        allows: list[tuple[int, int]] = []
        for end, key in raw:
            if key.mode == SOUND:
                first = end - key.length + 1
                if sound_aligned is aligned:
                    seen = aligned.text[first : end + 1]  # the fold of the original span
                    if _ordinary_sound(seen, key, indexes):
                        continue
                    start, stop = aligned.span(first, end + 1)
                else:
                    if sound_aligned is None:
                        sound_aligned = normalize.align_sound(aligned)
                    start, stop = sound_aligned.span(first, end + 1)
                    if _ordinary_sound(normalize.fold(text[start:stop]), key, indexes):
                        continue
            else:
                if key.mode != DIRECT and not settings.pinyin:
                    continue
                start, stop = aligned.span(end - key.length + 1, end + 1)
                if not _boundary_ok(text, start, stop, key):
                    continue
            for term in key.terms:
                if term.scope not in scopes:
                    continue
                if term.allow:
                    allows.append((start, stop))
                else:
                    note = term.term if key.mode == DIRECT else f"{term.term} (sounds alike)"
                    blocks.setdefault((start, stop, term.category), note)
        if not blocks:
            return []
        if settings.allow:
            for end, key in _allow_index(tuple(settings.allow)).iter(aligned.text):
                start, stop = aligned.span(end - key.length + 1, end + 1)
                if _boundary_ok(text, start, stop, key):
                    allows.append((start, stop))
        return [
            Finding(self.name, category, text[start:stop], start, stop, detail=note)
            for (start, stop, category), note in sorted(blocks.items())
            if not any(_suppresses(a, (start, stop)) for a in allows)
        ]


def _ordinary_sound(seen: str, key: Key, indexes: tuple[TermIndex, TermIndex]) -> bool:
    """True when a sound match is not a homophone hit.

    That is: its folded text ``seen`` is a direct hit (reported already) or an
    ordinary word, or it has two characters that share none with the term
    (any two characters sound like some term).
    """
    if seen in key.folded or any(seen in index.guard for index in indexes):
        return True
    return len(seen) < MIN_PURE_HOMOPHONE and not any(set(seen) & set(f) for f in key.folded)


def _suppresses(allow: tuple[int, int], hit: tuple[int, int]) -> bool:
    """An allow span clears a hit it overlaps, unless it lies strictly inside the hit."""
    a_start, a_end = allow
    start, end = hit
    if a_end <= start or end <= a_start:
        return False
    inside = start <= a_start and a_end <= end
    return not inside or (a_end - a_start) >= (end - start)
