"""Word boundaries of a short text: jieba's dictionary segmentation, held compactly.

The keyword detector asks, for a homophone hit, whether the hit cuts an
ordinary word of the sentence around it (打麻|将, 有|男朋友, 福建人), and for
a direct hit whether the term, taken as a word of the dictionary itself, still
begins or ends inside a longer ordinary word (大麻 in 大麻烦). This is
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
from itertools import pairwise
from pathlib import Path

from daachorse import CharwiseDoubleArrayAhoCorasick

from rules.core.pickle_cache import read_cache, write_cache
from rules.text import normalize

SEGMENT_VERSION = 4
# jieba's split of a text into blocks it segments (re_han_default) and the
# single letters or digits it joins back into one word (re_eng).
_BLOCK = re.compile("[\u4e00-\u9fd5a-zA-Z0-9+#&._%\\-]+")
_ENG = re.compile("[a-zA-Z0-9]")


MEMO = 65536  # stretches judged and term scores kept (then all forgotten at once)
PAIR_BITS = 23  # the inner-pair filter: 2**23 bits (1 MB)
_PAIR_MASK = (1 << PAIR_BITS) - 1


def _pair_hash(a: str, b: str) -> int:
    return (ord(a) * 0x9E3779B1 + ord(b)) & _PAIR_MASK


class Lexicon:
    """jieba's dictionary: an automaton over its words and their log probabilities.

    The automaton holds the words of two or more characters only; one-character
    words are a dict (``single``). Only a longer word can cross a position, so
    the walk that finds the stretch to segment meets only those, and it reports
    one per end (daachorse's ``find_overlapping_no_suffix``: a shorter word
    ending where a longer one ends lies inside it, so it crosses nothing the
    longer one does not).

    ``pairs`` is a bit set (hashed) of every two characters that stand next to
    each other inside some word: a word can only cross a position of a text
    whose two characters either side are such a pair, which most are not.
    """

    __slots__ = ("_automaton", "_judged", "_term_logp", "logp", "pairs", "single", "unknown")

    def __init__(
        self,
        automaton: CharwiseDoubleArrayAhoCorasick,
        logp: array,
        unknown: float,
        pairs: bytes,
        single: dict[str, float],
    ):
        self._automaton = automaton
        self.logp = logp  # per word number (of the words in the automaton)
        self.single = single  # one-character words: their log probability
        self.unknown = unknown  # a character that is no word (jieba: frequency 1)
        self.pairs = pairs
        self._term_logp: dict[str, float] = {}  # terms seen: their word score
        self._judged: dict[tuple[str, int, int, bool], bool] = {}  # stretches judged

    def may_cross(self, text: str, pos: int) -> bool:
        """Whether some dictionary word could hold ``text[pos - 1]`` and ``text[pos]`` (a
        cheap, one-sided test: False means no word crosses ``pos``)."""
        if pos <= 0 or pos >= len(text):
            return False
        bit = _pair_hash(text[pos - 1], text[pos])
        return bool(self.pairs[bit >> 3] >> (bit & 7) & 1)

    def may_cut(self, text: str, start: int, end: int) -> bool:
        """``may_cross(text, start) or may_cross(text, end)`` in one call (hot path)."""
        pairs, n = self.pairs, len(text)
        if 0 < start < n:
            bit = (ord(text[start - 1]) * 0x9E3779B1 + ord(text[start])) & _PAIR_MASK
            if pairs[bit >> 3] >> (bit & 7) & 1:
                return True
        if 0 < end < n:
            bit = (ord(text[end - 1]) * 0x9E3779B1 + ord(text[end])) & _PAIR_MASK
            return bool(pairs[bit >> 3] >> (bit & 7) & 1)
        return False

    def cuts_term(self, text: str, start: int, end: int) -> bool:
        """Whether ``text[start:end]`` begins or ends inside a word of ``text`` when it is a
        word of the dictionary itself (as jieba's ``add_word`` without a frequency adds
        it: just likelier than its own best split, or its own frequency if higher)."""
        return self._cuts_span(text, start, end, True)

    def cuts_a_word(self, text: str, start: int, end: int) -> bool:
        """Whether ``text[start:end]`` begins or ends inside a word of ``text``."""
        return self._cuts_span(text, start, end, False)

    def _cuts_span(self, text: str, start: int, end: int, as_word: bool) -> bool:
        """Segment only the stretch whose edges no dictionary word crosses.

        Where no word crosses a position, every segmentation starts a word
        there, so the best one of the whole text is the best one of each such
        stretch: the stretch around the span is all that needs the search, and
        when no word crosses either edge of the span, nothing cuts it.
        """
        crossing = self._automaton.find_overlapping_no_suffix(text)
        lo, hi = start, end
        grown = True
        while grown:
            grown = False
            for first, stop, _ in crossing:
                if first < lo < stop:
                    lo, grown = first, True
                if first < hi < stop:
                    hi, grown = stop, True
        if lo == start and hi == end:
            return False  # no dictionary word across an edge: nothing to cut
        region = text[lo:hi]
        memo = (region, start - lo, end - lo, as_word)
        cut = self._judged.get(memo)  # the same stretch recurs (打电话 around 电话)
        if cut is not None:
            return cut
        words = self._words(region)
        if as_word:
            term = text[start:end]
            score = self._term_logp.get(term)
            if score is None:
                score = self._term_score(term, words, start - lo, end - lo)
            words.append((start - lo, end - lo, score))
        step = self._best(region, words)[1]
        cut = not (_starts_word(region, step, start - lo) and _starts_word(region, step, end - lo))
        if len(self._judged) >= MEMO:
            self._judged.clear()
        self._judged[memo] = cut
        return cut

    def _term_score(
        self, term: str, words: list[tuple[int, int, float]], start: int, end: int
    ) -> float:
        """A term's log probability as a word of its own (jieba's ``suggest_freq``)."""
        inside = [(f - start, s - start, p) for f, s, p in words if start <= f and s <= end]
        split = self._best(term, inside)[0][0]
        # jieba: freq = max(int(P(split) * total) + 1, own freq); log P = log freq - log total
        total = math.exp(-self.unknown)
        score = math.log(int(math.exp(split) * total) + 1) + self.unknown
        own = [p for f, s, p in words if f == start and s == end]
        if len(term) == 1 and term in self.single:
            own.append(self.single[term])
        score = max([score, *own])
        if len(self._term_logp) >= MEMO:
            self._term_logp.clear()
        self._term_logp[term] = score
        return score

    def boundaries(self, text: str) -> set[int]:
        """Positions of ``text`` where jieba's segmentation (without HMM) starts a word.

        jieba's ``calc``: from the right, the most probable segmentation of every
        suffix, a character that starts no word being a word of frequency 1, ties
        to the longer word. No word holds a character outside jieba's blocks
        (see :func:`_build`), so blocks split by themselves. Lone letters and
        digits are joined, as jieba joins them.
        """
        return self._cuts(text, self._best(text, self._words(text))[1])

    def _words(self, text: str) -> list[tuple[int, int, float]]:
        """Every dictionary word of two or more characters in ``text``: (start, end, log
        probability)."""
        logp = self.logp
        return [(f, s, logp[n]) for f, s, n in self._automaton.find_overlapping(text)]

    def _best(
        self, text: str, words: list[tuple[int, int, float]]
    ) -> tuple[list[float], list[int]]:
        """jieba's ``calc`` over ``text`` and the longer ``words`` found in it (start,
        end, log probability): the best score of every suffix and where the best word
        starting at each position ends.

        Each character is a word of one character, scored as a one-character word
        of the dictionary or else as unknown (a listed one never scores below
        unknown, frequency 1): taken first, it loses a tie to a longer word, as
        jieba's longer-word tie rule has it.
        """
        n = len(text)
        best = [0.0] * (n + 1)
        step = [0] * (n + 1)  # where the best word starting here ends
        unknown = self.unknown
        single = self.single.get
        words.sort()  # by start: taken from the end, position by position
        i = len(words) - 1
        for at in range(n - 1, -1, -1):
            score, stop = best[at + 1] + single(text[at], unknown), at + 1
            while i >= 0 and words[i][0] == at:
                _, end, p = words[i]
                i -= 1
                candidate = p + best[end]
                if candidate > score or (candidate == score and end > stop):
                    score, stop = candidate, end
            best[at], step[at] = score, stop
        return best, step

    @staticmethod
    def _cuts(text: str, step: list[int]) -> set[int]:
        """Where words start, from :meth:`_best`'s steps (lone letters and digits joined)."""
        n = len(text)
        cuts = {n}
        at, joined = 0, False  # joined: the word before is a lone letter or digit
        while at < n:
            stop = step[at]
            single = stop == at + 1 and _ENG.match(text[at]) is not None
            if not (single and joined):
                cuts.add(at)
            at, joined = stop, single
        return cuts

    def __getstate__(self) -> tuple[bytes, bytes, float, bytes, dict[str, float]]:
        blob = self._automaton.serialize()
        return blob, self.logp.tobytes(), self.unknown, self.pairs, self.single

    def __setstate__(self, state: tuple[bytes, bytes, float, bytes, dict[str, float]]) -> None:
        blob, logp, self.unknown, self.pairs, self.single = state
        self._term_logp = {}
        self._judged = {}
        self._automaton = CharwiseDoubleArrayAhoCorasick.deserialize(blob)
        self.logp = array("d")
        self.logp.frombytes(logp)


def _starts_word(text: str, step: list[int], pos: int) -> bool:
    """Whether the segmentation with ``step`` (:meth:`Lexicon._best`) starts a word at
    ``pos`` (lone letters and digits joined, as :meth:`Lexicon._cuts` does)."""
    if pos <= 0 or pos >= len(text):
        return True
    at, single = 0, False
    while at < pos:
        stop = step[at]
        single = stop == at + 1 and _ENG.match(text[at]) is not None
        at = stop
    if at != pos:
        return False
    return not (single and step[pos] == pos + 1 and _ENG.match(text[pos]) is not None)


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
    single = {word: math.log(frequencies[word]) - log_total for word in words if len(word) == 1}
    words = [word for word in words if len(word) > 1]
    logp = array("d", (math.log(frequencies[word]) - log_total for word in words))
    pairs = bytearray(1 << (PAIR_BITS - 3))
    for word in words:
        for a, b in pairwise(word):
            for x, y in ((a, b), (a.lower(), b.lower()), (a.upper(), b.upper())):
                bit = _pair_hash(x, y)
                pairs[bit >> 3] |= 1 << (bit & 7)
    return Lexicon(CharwiseDoubleArrayAhoCorasick(words), logp, -log_total, bytes(pairs), single)


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


def forget() -> None:
    """Drop the judged stretches (a benchmark's rounds should not see earlier rounds)."""
    if lexicon.cache_info().currsize:
        lexicon()._judged.clear()


def cuts_a_word(text: str, start: int, end: int, reach: int) -> bool:
    """Whether ``text[start:end]`` begins or ends inside a word of the text around it.

    Only ``reach`` characters either side are segmented (a word is short), and
    only when a dictionary word can cross an edge of the span at all.
    """
    lex = lexicon()
    if not lex.may_cut(text, start, end):
        return False
    low = max(0, start - reach)
    return lex.cuts_a_word(text[low : end + reach], start - low, end - low)


def cuts_term(text: str, start: int, end: int, reach: int) -> bool:
    """Whether the listed term at ``text[start:end]`` begins or ends inside a longer
    ordinary word of the text around it (大麻 in 大麻烦, 你他妈 in 你他妈妈), the term
    itself counting as a dictionary word (so 吸大麻 keeps it whole).

    Only when a dictionary word can cross an edge at all (a bit-set test on the
    two characters either side of it) are ``reach`` characters either side
    segmented.
    """
    lex = lexicon()
    if not lex.may_cut(text, start, end):
        return False
    low = max(0, start - reach)
    return lex.cuts_term(text[low : end + reach], start - low, end - low)
