"""Keyword detector: banned terms by category, on one Aho-Corasick automaton.

Word lists are plain files, one term per line, ``#`` comments; the category is
the file name without extension (``data/keywords/gambling.txt`` -> gambling).
Allow-listed terms (``[keywords] allow``, global and per group) suppress any
hit they overlap (三黄片 is a medicine, not 黄片).
"""

from __future__ import annotations

import glob
from collections.abc import Iterable
from functools import lru_cache
from pathlib import Path
from typing import ClassVar

import ahocorasick

from rules.config import PROJECT_ROOT, KeywordSettings
from rules.detectors.base import Detector
from rules.model import ChatEvent, Finding


def read_word_list(path: Path) -> list[str]:
    """Terms of one word-list file: stripped, non-empty, ``#`` comments dropped."""
    terms = []
    for line in path.read_text(encoding="utf-8").splitlines():
        term = line.split("#", 1)[0].strip()
        if term:
            terms.append(term)
    return terms


def expand_globs(patterns: Iterable[str], root: Path = PROJECT_ROOT) -> list[Path]:
    """Word-list paths for config patterns (relative ones are under the project root)."""
    paths: set[Path] = set()
    for pattern in patterns:
        full = pattern if Path(pattern).is_absolute() else str(root / pattern)
        paths.update(Path(p) for p in glob.glob(full))
    return sorted(paths)


def _fold(text: str) -> str:
    """Case-fold without changing length, so spans stay valid."""
    lowered = text.lower()
    if len(lowered) == len(text):
        return lowered
    return "".join(c if len(c.lower()) != 1 else c.lower() for c in text)


class TermIndex:
    """One automaton over (term, category) pairs; ``find`` yields (start, end, term, category)."""

    def __init__(self, terms: Iterable[tuple[str, str]]) -> None:
        self._automaton = ahocorasick.Automaton()
        count = 0
        for term, category in terms:
            key = _fold(term)
            if key and key not in self._automaton:
                self._automaton.add_word(key, (len(key), term, category))
                count += 1
        self.size = count
        if count:
            self._automaton.make_automaton()

    @classmethod
    def from_files(cls, paths: Iterable[Path]) -> TermIndex:
        return cls((term, p.stem) for p in paths for term in read_word_list(p))

    def find(self, folded: str) -> Iterable[tuple[int, int, str, str]]:
        if not self.size:
            return
        for end, (length, term, category) in self._automaton.iter(folded):
            yield end - length + 1, end + 1, term, category


@lru_cache(maxsize=256)
def _allow_index(allow: tuple[str, ...]) -> TermIndex:
    return TermIndex((term, "allow") for term in allow)


class KeywordDetector(Detector[KeywordSettings]):
    name: ClassVar[str] = "keyword"
    section: ClassVar[str] = "keywords"

    def __init__(self, index: TermIndex) -> None:
        self.index = index

    @classmethod
    def from_settings(cls, settings: KeywordSettings) -> KeywordDetector:
        return cls(TermIndex.from_files(expand_globs(settings.files)))

    def check(self, event: ChatEvent, settings: KeywordSettings) -> list[Finding]:
        folded = _fold(event.text)
        hits = list(self.index.find(folded))
        if not hits:
            return []
        allowed = [(s, e) for s, e, _, _ in _allow_index(tuple(settings.allow)).find(folded)]
        return [
            Finding(self.name, category, event.text[start:end], start, end)
            for start, end, _term, category in hits
            if not any(a_start < end and start < a_end for a_start, a_end in allowed)
        ]
