"""Keyword detector: banned terms by category, seen through evasion, with evidence strength.

Word lists are plain files, one term per line, ``#`` comments; the category is
the file name without extension (``data/keywords/gambling.txt`` -> gambling);
a file named ``allow.txt`` holds allow-listed terms. Terms and messages are
folded and sounded the same way (:mod:`rules.text.normalize`) and matched in
one automaton walk (:mod:`rules.detectors.keyword_index`); every hit is
reported with its span in the *original* text, how it matched (``how``) and
how far it can be trusted (``strength``):

============ ============================================ ========
how          what                                         strength
============ ============================================ ========
direct       the term as written (case and width aside)   strong
folded       traditional characters, inserted noise,      strong
             repeated characters, Chinese numerals
lookalike    letters of other scripts in a Latin word,    strong
             enclosed, emoji, radical and number forms
mixed        characters and pinyin syllables mixed, some  medium
             character as itself (赌chang, 色qing)
pinyin       the term spelled wholly in pinyin (dubo)     medium
homophone    other characters that sound alike (堵博), or weak
             pinyin mixed with such characters only
============ ============================================ ========

A pinyin or mixed spelling that an ordinary word spells as well (duchang: 赌场
or 独唱; 大ma: 大麻 or 大码) is *ambiguous* and weak; a hit with prohibitive or
educational words near it (``[keywords] context_words``: 禁毒, 谨防, 严禁 ...
within ``context_reach`` characters) is weak too. The detail says why. Weak
evidence goes to the officers' review queue, not to the ladder (the engine's
routing, per group).

Rules that drop a match altogether:

* A term with a repeated character needs the repeat: 妈妈 folds to 妈 (runs
  collapse), but a lone 妈 is not 妈妈.
* Latin edges match whole words only (``av`` is not in ``have``, ``K粉`` is not
  in ``PK粉丝``), judged on the original text; short Latin terms may not span
  a space. Pinyin glued to Chinese text is a whole word (duchang开业).
* A direct hit that begins or ends inside a longer ordinary word of its
  sentence (大麻 in 大麻烦) is no hit: the text around it is segmented with
  jieba's dictionary, the term counting as a word itself, so 吸大麻 keeps it
  whole (:func:`rules.text.segment.cuts_term`, only when a dictionary word can
  cross an edge of the hit at all).
* A homophone is dropped when its text is an ordinary word (病毒 sounds like
  冰毒), when a two-character homophone shares no character with the term
  (any two characters sound like some term), and when it begins or ends inside
  a word of the text around it (打麻|将 for 大麻, 福建人 for 贱人). Tone
  agreement was measured and is not used: the best-known substitutions differ
  in tone (草 for 操, 吗 for 妈, 几 for 鸡). A mixed spelling whose characters
  are those of an ordinary word (独chang) is that word.
* Letters of another script count as look-alikes only inside a word that
  mixes scripts (UTS #39's mixed-script test): рorn is a hit, a whole Russian
  word that happens to look like a Latin term is not.
* Allow-listed terms (``[keywords] allow``, ``allow.txt`` and custom allow
  words, global or per group) suppress every hit they overlap, unless the
  allow term lies strictly inside the hit (allowing 你 does not clear 操你妈).
* A shipped politics term that folds to digits only (六四 -> 64) needs a
  date-like word near it (年, 月, 日, 事件, 天安门, 八九...: ``DATE_CONTEXT``): a
  score of 73:64 or a 64-bit driver is no political date. Custom words and
  other categories are taken as given.
* ``[keywords] pinyin = false`` keeps direct, folded and look-alike hits only.

Per-group custom words live in a second, small index (``overlay``) that
:class:`rules.detectors.custom_words.WordService` rebuilds off the hot path and swaps in with
one assignment; the big shipped lists are never rebuilt for a custom word.
"""

from __future__ import annotations

import glob
from collections.abc import Iterable
from functools import lru_cache
from pathlib import Path
from typing import ClassVar

from daachorse import CharwiseDoubleArrayAhoCorasick

from rules.config import KeywordSettings
from rules.core.model import ChatEvent, Finding, MatchKind, Strength
from rules.core.paths import CACHE_DIR, PROJECT_ROOT
from rules.detectors.base import Detector, new_finding
from rules.detectors.keyword_evidence import direct_kind, mixed_verdict, runs_met
from rules.detectors.keyword_index import (
    ALLOW,
    MIXED,
    TERM,
    FindIter,
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
WORD_REACH = 5  # the same for a direct hit (a word crossing its edge is short)

# Words that make a number a date (for shipped terms that fold to digits only).
DATE_CONTEXT = (  # noqa: SIM905 (one line of words reads better)
    "年 月 日 号 事件 运动 学潮 风波 天安门 纪念 悼念 屠杀 镇压 惨案 周年 八九 89 1989"
).split()
DATE_REACH = 6
DATE_GUARDED = frozenset({"politics"})  # categories whose number terms are dates

_prepare = normalize.prepare
_expand = normalize.expand
_dropped_span = normalize.dropped_span
_DIRECT = MatchKind.DIRECT
_FOLDED = MatchKind.FOLDED
_HOMOPHONE = MatchKind.HOMOPHONE
_MIXED = MatchKind.MIXED
_PINYIN = MatchKind.PINYIN
_STRONG, _MEDIUM, _WEAK = Strength.STRONG, Strength.MEDIUM, Strength.WEAK
_SUFFIX = {
    MatchKind.HOMOPHONE: " (sounds alike)",
    MatchKind.MIXED: " (mixed pinyin)",
    MatchKind.PINYIN: " (pinyin)",
}


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


@lru_cache(maxsize=256)
def _context_index(words: tuple[str, ...]) -> tuple[CharwiseDoubleArrayAhoCorasick, list[str]]:
    folded = list(dict.fromkeys(f for w in words if (f := normalize.prefold(w))))
    return CharwiseDoubleArrayAhoCorasick(folded or ["\0"]), folded


_EMPTY = TermIndex(())


def _boundary_ok(text: str, start: int, end: int, key: Key) -> bool:
    """Whole-word rule for keys that begin or end with a letter or digit."""
    if key.left and start > 0:
        before = normalize.char_fold(text[start - 1])
        if before and _same_class(before[-1], key.left):
            return False
    if key.right and end < len(text):
        after = normalize.char_fold(text[end])
        if after and _same_class(after[0], key.right):
            return False
    if key.left == "a" and key.right == "a" and key.length <= SHORT_LATIN:
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


# A hit that passed the checks needing no original span: folded positions, key,
# the terms it stands for, how, strength and a note for the detail ("" for none).
_Hit = tuple[int, int, Key, tuple[Term, ...], MatchKind, Strength, str]


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
        forms = _prepare(text)
        _, _, _, folded, sound, runs = forms
        found = index.automaton.matches(sound)
        single = _single_finder(index, folded, runs)
        if not found and single is None and not overlay.size:
            return []
        hits: list[_Hit] = []
        pinyin = settings.pinyin
        if found or single is not None:
            _hits(forms, pinyin, index, found, single, hits)
        if overlay.size:
            extra = overlay.automaton.matches(sound)
            single = _single_finder(overlay, folded, runs)
            if extra or single is not None:
                _hits(forms, pinyin, overlay, extra, single, hits)
        if not hits:
            return []
        return _findings(forms, settings, event.group_id, hits)


_Forms = normalize.Forms


def _single_finder(index: TermIndex, folded: str, runs: normalize.Runs) -> FindIter | None:
    """How to find the one-character terms in ``folded``, if it has any: all of them when
    it has runs of a repeated character, else only those that need no repeat."""
    if runs:
        search, find = index.single_search, index.single_find
    else:
        search, find = index.lone_search, index.lone_find
    return find if search is not None and search(folded) is not None else None


def _hits(
    forms: _Forms,
    pinyin: bool,
    index: TermIndex,
    found: list[tuple[int, int, int]],
    single: FindIter | None,
    hits: list[_Hit],
) -> None:
    """Append the matches that pass the checks needing no original span (folded positions).

    The checks: the repeats a term needs (妈妈), pinyin switched off, a
    homophone that is the term itself or an ordinary word, a mixed spelling
    that is an ordinary word's.
    """
    folded = forms[3]
    automaton = index.automaton
    made = automaton.made
    for a, b, number in found:
        key = made.get(number) or automaton.key(number)
        kind = key.kind
        if kind == TERM:
            seen = folded[a:b]
            form = key.forms.get(seen)
            if form is not None:
                if form.runs:
                    terms = runs_met(form, _pre_piece(forms, a, b))
                    if terms:
                        hits.append((a, b, key, terms, _DIRECT, _STRONG, ""))
                else:
                    hits.append((a, b, key, form.terms, _DIRECT, _STRONG, ""))
            elif (
                key.sounds
                and pinyin
                and seen not in key.ordinary
                and (b - a >= MIN_PURE_HOMOPHONE or _shares_a_character(seen, key.folded))
            ):
                # not the term itself sounded, nor an ordinary word; any two characters
                # sound like some term: two must share a character with it (堵博)
                hits.append((a, b, key, key.terms, _HOMOPHONE, _WEAK, ""))
        elif not pinyin:
            continue
        elif kind == MIXED:
            verdict = mixed_verdict(key, folded[a:b])
            if verdict is not None:
                how, strength, note = verdict
                hits.append((a, b, key, key.terms, how, strength, note))
        elif key.ambiguous:  # PINYIN
            hits.append((a, b, key, key.terms, _PINYIN, _WEAK, _ambiguous(key)))
        else:
            hits.append((a, b, key, key.terms, _PINYIN, _MEDIUM, ""))
    if single is not None:  # (found by check(): see _single_finder)
        for m in single(folded):
            key = index.single[m.group()]
            form = key.forms[m.group()]
            a = m.start()
            terms = runs_met(form, _pre_piece(forms, a, a + 1)) if form.runs else form.terms
            if terms:
                hits.append((a, a + 1, key, terms, _DIRECT, _STRONG, ""))


def _pre_piece(forms: _Forms, a: int, b: int) -> str:
    """``pre`` at folded characters ``a..b`` (whole runs)."""
    runs = forms[5]
    if not runs:
        return forms[2][a:b]
    return forms[2][_expand(runs, a) : _expand(runs, b - 1, True) + 1]


def _ambiguous(key: Key) -> str:
    words = sorted({w for base, _ in key.variants for w in base.ordinary})
    return "ambiguous: also " + "/".join(words[:3])


def _shares_a_character(pair: str, folded: tuple[str, ...]) -> bool:
    first, second = pair[0], pair[1]
    for word in folded:  # noqa: SIM110 (on the hot path a generator costs more)
        if first in word or second in word:
            return True
    return False


def _findings(
    forms: _Forms, settings: KeywordSettings, group_id: str, hits: list[_Hit]
) -> list[Finding]:
    """Findings for hits: mapped to the original text, whole words, word boundaries,
    scopes, allow terms, context."""
    text, mark, pre, folded, sound, runs = forms
    # Positions in pre are positions in the original when nothing was dropped or
    # expanded; when characters were only dropped, dropped_span maps them (no object).
    aligned = None
    dropped = False
    if len(mark) != len(text):
        aligned = normalize.Alignment(text, pre, folded, mark)
    elif len(pre) != len(mark):
        dropped = True
    scopes = ("", "*", group_id)
    blocks: dict[tuple[int, int, str], tuple[Strength, MatchKind, str, int, int]] = {}
    allows: list[tuple[int, int]] = []
    n = len(sound)
    for a, b, key, terms, how, strength, note in hits:
        first, stop = (_expand(runs, a), _expand(runs, b - 1, True) + 1) if runs else (a, b)
        if dropped:
            span = _dropped_span(mark, first, stop)
            if span is None:  # noise everywhere: map it once
                aligned = normalize.Alignment(text, pre, folded, mark)
                dropped = False
                span = aligned.pre_span(first, stop)
            start, end = span
        elif aligned is not None:
            start, end = aligned.pre_span(first, stop)
        else:
            start, end = first, stop
        if key.left or key.right:
            if (key.left and a and _same_class(sound[a - 1], key.left)) or (
                key.right and b < n and _same_class(sound[b], key.right)
            ):
                if not _boundary_ok(text, start, end, key):
                    if aligned is None:
                        aligned = normalize.Alignment(text, pre, folded, mark)
                    span = _whole_word_within(text, pre, aligned, first, stop, key)
                    if span is None:
                        continue
                    start, end = span
            elif (
                key.left == "a"
                and key.right == "a"
                and key.length <= SHORT_LATIN
                and any(c.isspace() for c in text[start:end])
            ):
                continue
        if how is _DIRECT:
            if terms[0].category == ALLOW and all(t.category == ALLOW for t in terms):
                allows.extend((start, end) for t in terms if t.scope in scopes)
                continue
            piece = pre[first:stop]
            if text[start:end] != piece:
                kind = direct_kind(text, start, end, piece)
                if kind is None:
                    continue  # a whole word of another script, not a look-alike
                how = kind
            if how is _DIRECT and stop - first != b - a and not key.forms[folded[a:b]].runs:
                how = _FOLDED  # repeated characters (网网赌赌)
            if (
                end - start == stop - first
                and not key.left
                and not key.right
                and _cuts_term(text, start, end)
            ):
                continue  # inside a longer ordinary word: 大麻烦, 他妈的 for 妈的
        elif how is _HOMOPHONE and segment.cuts_a_word(text, start, end, CONTEXT):
            continue  # part of an ordinary word around it: 打麻|将, 有|男朋友, 福建人
        suffix = _SUFFIX.get(how, "")
        undated = key.right == "0" and key.left == "0" and not _dated(text, start, end)
        for term, category, scope in terms:
            if scope not in scopes or (
                undated and category in DATE_GUARDED and not scope and folded[a:b].isdigit()
            ):
                continue
            if category == ALLOW:
                allows.append((start, end))
                continue
            spot = (start, end, category)
            held = blocks.get(spot)
            if held is None or held[0] < strength:
                detail = f"{term}{suffix}; {note}" if note else term + suffix
                blocks[spot] = (strength, how, detail, first, stop)
    if not blocks:
        return []
    if settings.allow:
        for key, a, b in _allow_index(tuple(settings.allow)).find(folded):
            first, stop = (_expand(runs, a), _expand(runs, b - 1, True) + 1) if runs else (a, b)
            if aligned is None:
                aligned = normalize.Alignment(text, pre, folded, mark)
            start, end = aligned.pre_span(first, stop)
            if _boundary_ok(text, start, end, key):
                allows.append((start, end))
    context = _context(pre, settings.context_words) if settings.context_words else None
    reach = settings.context_reach
    findings = []
    for (start, end, category), (strength, how, detail, first, stop) in (
        sorted(blocks.items()) if len(blocks) > 1 else blocks.items()
    ):
        if allows and _suppressed(allows, start, end):
            continue
        if context:
            word = _near(context, first, stop, reach)
            if word:
                strength = _WEAK
                detail += f"; prohibitive or educational context: {word}"
        findings.append(
            new_finding(
                KeywordDetector.name, category, text[start:end], start, end, detail, how, strength
            )
        )
    return findings


def _dated(text: str, start: int, end: int) -> bool:
    """Whether a date-like word stands within ``DATE_REACH`` characters of ``text[start:end]``."""
    before = text[max(0, start - DATE_REACH) : start]
    after = text[end : end + DATE_REACH]
    return any(word in before or word in after for word in DATE_CONTEXT)


def _cuts_term(text: str, start: int, end: int) -> bool:
    """:func:`rules.text.segment.cuts_term`, after its cheap test inlined."""
    lexicon = segment.lexicon()
    if lexicon.may_cut(text, start, end):
        low = max(0, start - WORD_REACH)
        return lexicon.cuts_term(text[low : end + WORD_REACH], start - low, end - low)
    return False


_last_context: tuple[list[str], CharwiseDoubleArrayAhoCorasick, list[str]] | None = None


def _context(pre: str, words: list[str]) -> list[tuple[int, int, str]]:
    """Context words in a message's ``pre`` text: (start, end, word)."""
    global _last_context  # one tuple, replaced whole
    last = _last_context
    if last is None or last[0] is not words:  # settings are long-lived: one automaton each
        automaton, folded = _context_index(tuple(words))
        last = _last_context = (words, automaton, folded)
    folded = last[2]
    return [(a, b, folded[i]) for a, b, i in last[1].find_overlapping(pre)]


def _near(context: list[tuple[int, int, str]], first: int, stop: int, reach: int) -> str:
    """A context word within ``reach`` characters of ``pre[first:stop]`` (not inside it)."""
    for a, b, word in context:
        if first <= a and b <= stop:
            continue  # part of the hit itself
        if b > first - reach and a < stop + reach:
            return word
    return ""


def _suppressed(allows: list[tuple[int, int]], start: int, end: int) -> bool:
    """An allow span clears a hit it overlaps, unless it lies strictly inside the hit."""
    for a_start, a_end in allows:
        if a_end <= start or end <= a_start:
            continue
        inside = start <= a_start and a_end <= end
        if not inside or (a_end - a_start) >= (end - start):
            return True
    return False
