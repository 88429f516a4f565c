"""Word boundaries of a short text: jieba's dictionary segmentation, held compactly.

The keyword detector asks, for a rare homophone hit, whether the hit cuts an
ordinary word of the sentence around it (打麻|将, 有|男朋友, 福建人). This is
jieba's own segmentation without its HMM (``jieba.cut(text, HMM=False)``):
the most probable path through the dictionary words found in the text, each
word weighted by its frequency, unknown characters as words of their own.
The HMM is left out on purpose: it glues runs of unknown single characters
into "new words", and a substitution (堵博) is exactly such a run.

Only the data is jieba's. Its tokenizer keeps the dictionary as a Python dict
of every word and prefix (about 62 MB resident, 1.5 s to load); here the words
sit in one daachorse automaton and their log frequencies in an array (about
19 MB, cached under ``data/cache``, loaded in milliseconds on the first hit),
and the walk over a window of a few dozen characters takes microseconds.
``tests/rules/test_segment.py`` checks the boundaries against jieba's own.
"""

from __future__ import annotations

import math
import re
from array import array
from functools import lru_cache
from importlib.metadata import version
from pathlib import Path

from daachorse import CharwiseDoubleArrayAhoCorasick

from rules.core.pickle_cache import read_cache, write_cache
from rules.text import normalize

SEGMENT_VERSION = 2
# jieba's split of a text into blocks it segments (re_han_default) and the
# single letters or digits it joins back into one word (re_eng).
_BLOCK = re.compile("[\u4e00-\u9fd5a-zA-Z0-9+#&._%\\-]+")
_ENG = re.compile("[a-zA-Z0-9]")


class Lexicon:
    """jieba's dictionary: an automaton over its words and their log probabilities."""

    __slots__ = ("_automaton", "logp", "unknown")

    def __init__(self, automaton: CharwiseDoubleArrayAhoCorasick, logp: array, unknown: float):
        self._automaton = automaton
        self.logp = logp  # per word number
        self.unknown = unknown  # a character that is no word (jieba: frequency 1)

    def boundaries(self, text: str) -> set[int]:
        """Positions of ``text`` where jieba's segmentation (without HMM) starts a word."""
        return self._boundaries(text, self._automaton.find_overlapping(text))

    def cuts_a_word(self, text: str, start: int, end: int) -> bool:
        """Whether ``text[start:end]`` begins or ends inside a word of ``text``."""
        found = self._automaton.find_overlapping(text)
        for first, stop, _ in found:  # no dictionary word across an edge: nothing to cut
            if first < start < stop or first < end < stop:
                break
        else:
            return False
        cuts = self._boundaries(text, found)
        return start not in cuts or end not in cuts

    def _boundaries(self, text: str, found: list[tuple[int, int, int]]) -> set[int]:
        """:meth:`boundaries` from the dictionary words ``found`` in ``text``.

        jieba's ``calc``: from the right, the most probable segmentation of every
        suffix, a character that starts no word being a word of frequency 1, ties
        to the longer word. No word holds a character outside jieba's blocks
        (see :func:`_build`), so blocks split by themselves. Lone letters and
        digits are joined, as jieba joins them.
        """
        n = len(text)
        best = [0.0] * (n + 1)
        step = [0] * (n + 1)  # where the best word starting here ends
        unknown, logp = self.unknown, self.logp
        found.sort()  # by start: taken from the end, position by position
        i = len(found) - 1
        for at in range(n - 1, -1, -1):
            score, stop = best[at + 1] + unknown, at + 1
            while i >= 0 and found[i][0] == at:
                end, number = found[i][1], found[i][2]
                i -= 1
                candidate = logp[number] + best[end]
                if candidate > score or (candidate == score and end > stop):
                    score, stop = candidate, end
            best[at], step[at] = score, stop
        cuts = {n}
        at, joined = 0, False  # joined: the word before is a lone letter or digit
        while at < n:
            stop = step[at]
            single = stop == at + 1 and _ENG.match(text[at]) is not None
            if not (single and joined):
                cuts.add(at)
            at, joined = stop, single
        return cuts

    def __getstate__(self) -> tuple[bytes, bytes, float]:
        return self._automaton.serialize(), self.logp.tobytes(), self.unknown

    def __setstate__(self, state: tuple[bytes, bytes, float]) -> None:
        blob, logp, self.unknown = state
        self._automaton = CharwiseDoubleArrayAhoCorasick.deserialize(blob)
        self.logp = array("d")
        self.logp.frombytes(logp)


def _dictionary() -> Path:
    import jieba

    return Path(jieba.__file__).resolve().parent / "dict.txt"


def _build() -> Lexicon:
    frequencies: dict[str, int] = {}
    total = 0
    with _dictionary().open(encoding="utf-8") as fh:
        for line in fh:
            word, freq = line.split(" ")[:2]
            frequencies[word] = int(freq)  # the last entry wins, every one counts (as jieba)
            total += int(freq)
    # jieba never sees a word with a character outside its blocks (c++ is one, 21·世纪 not)
    words = [word for word, freq in frequencies.items() if freq > 0 and _BLOCK.fullmatch(word)]
    log_total = math.log(total)
    logp = array("d", (math.log(frequencies[word]) - log_total for word in words))
    return Lexicon(CharwiseDoubleArrayAhoCorasick(words), logp, -log_total)


@lru_cache(maxsize=1)
def lexicon() -> Lexicon:
    """The lexicon, from the cache under ``data/cache`` or built (a few seconds) and cached."""
    versions = f"{SEGMENT_VERSION}-{version('jieba')}-{version('daachorse')}"
    path = normalize.CACHE_DIR / f"segment-{versions}.pickle"
    cached = read_cache(path, Lexicon)
    if cached is not None:
        return cached
    built = _build()
    write_cache(path, built)
    return built


def cuts_a_word(text: str, start: int, end: int, reach: int) -> bool:
    """Whether ``text[start:end]`` begins or ends inside a word of the text around it.

    Only ``reach`` characters either side are segmented (a word is short), and
    only when a dictionary word crosses an edge of the span at all.
    """
    low = max(0, start - reach)
    return lexicon().cuts_a_word(text[low : end + reach], start - low, end - low)
