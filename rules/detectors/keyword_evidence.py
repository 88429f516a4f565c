"""How a keyword match was made, judged on the text: look-alikes, mixtures, repeats.

Helpers of :mod:`rules.detectors.keyword` that decide a hit's ``how`` and
``strength`` (see the table there):

* :func:`direct_kind`: a direct match (the folded text is the term's fold) is
  ``direct`` when the original differs from the fold by case and width only,
  ``lookalike`` when a character folded as a look-alike (another script's
  letter, an enclosed, emoji, radical or number form; :mod:`rules.text.lookalike`),
  else ``folded`` (traditional characters, noise, repeats, Chinese numerals).
  Another script's letters count only inside a word that mixes scripts
  (UTS #39) or glues to Chinese text (К粉, АТОМ弹): a word written wholly in
  Cyrillic and standing apart is Russian, not a disguise.
* :func:`mixed_verdict`: a match of characters and pinyin syllables (赌chang)
  is ``mixed`` when some character is the term's own, ``homophone`` when all
  are sound-alikes (three characters or more; two are too weak), and weak when
  an ordinary word has the same characters in place (大ma: 大麻 or 大码);
  when only an ordinary word has them (独chang), it is that word: no hit.
* :func:`runs_met`: a term with a repeated character (妈妈) needs the repeat.
"""

from __future__ import annotations

from itertools import groupby

from rules.core.model import MatchKind, Strength
from rules.detectors.keyword_index import Form, Key, Term
from rules.text.lookalike import COMPAT_KIND, CONFUSABLE_KIND, FOLDS, KINDS

_FULL_WIDTH = range(0xFF01, 0xFF5F)
# Full width and upper case to lower-case ASCII: what "direct" tolerates.
_WIDTH_LOWER = {code: chr(code - 0xFEE0).lower() for code in _FULL_WIDTH} | {
    code: chr(code).lower() for code in range(ord("A"), ord("Z") + 1)
}
Verdict = tuple[MatchKind, Strength, str]


def direct_kind(text: str, start: int, end: int, piece: str) -> MatchKind | None:
    """``direct``, ``lookalike`` or ``folded`` for a direct match of ``text[start:end]``,
    whose fold before repeats collapsed is ``piece``; None for a whole word of another
    script that merely looks like the term."""
    span = text[start:end]
    if span == piece:
        return MatchKind.DIRECT
    if not span.isascii():
        looks = confusable = False
        for ch in span:
            code = ord(ch)
            kind = KINDS.get(code)
            if kind is None or (kind == COMPAT_KIND and code in _FULL_WIDTH):
                continue
            looks = True
            if kind == CONFUSABLE_KIND and FOLDS[code].isascii():
                confusable = True
        if confusable and _whole_script(text, start, end):
            return None
        if looks:
            return MatchKind.LOOKALIKE
    if span.translate(_WIDTH_LOWER) == piece:
        return MatchKind.DIRECT
    return MatchKind.FOLDED


def _is_letter(ch: str) -> bool:
    """A letter of an alphabet (not a Chinese character), or a letter-like symbol (🅰)."""
    code = ord(ch)
    if ch.isalpha():
        return code < 0x2E80 or (code >= 0xFF00 and not 0xFF66 <= code <= 0xFFDC)
    target = FOLDS.get(code)
    return target is not None and target.isascii() and target.isalpha()


def _latin_script(ch: str) -> bool:
    """A Latin letter in any width or style (ASCII, full width, mathematical, é, 🅰)."""
    if ch.isascii():
        return ch.isalpha()
    code = ord(ch)
    target = FOLDS.get(code)
    return target is not None and KINDS[code] != CONFUSABLE_KIND and target.isascii()


def _whole_script(text: str, start: int, end: int) -> bool:
    """Whether the word around ``text[start:end]`` has no Latin letter at all and stands
    apart from Chinese text (a Russian word does not glue to Chinese: АТОМ弹 does)."""
    low = start
    while low > 0 and _is_letter(text[low - 1]):
        low -= 1
    high = end
    while high < len(text) and _is_letter(text[high]):
        high += 1
    if any(_latin_script(ch) or _glues(ch) for ch in text[low:high]):
        return False
    return not (low > 0 and _glues(text[low - 1])) and not (high < len(text) and _glues(text[high]))


def _glues(ch: str) -> bool:
    """A character that a disguised word glues to: Chinese, or a digit."""
    return ch.isdigit() or "\u3400" <= ch <= "\u9fff" or "\uf900" <= ch <= "\ufaff"


def mixed_verdict(key: Key, seen: str) -> Verdict | None:
    """How a MIXED key's match ``seen`` (its folded text) counts, or None for no hit."""
    han = [c for c in seen if not c.isascii()]  # the characters where the key has marks
    best: Verdict | None = None
    for base, spell in key.variants:
        marks = [i for i, spelled in enumerate(spell) if not spelled]
        if len(marks) != len(han):
            continue  # a repeat collapsed across the mixture: not this variant
        placed = list(zip(marks, han, strict=True))
        itself = any(
            form[i] == ch for form in base.folded if len(form) == len(spell) for i, ch in placed
        )
        alike = [
            word
            for word in sorted(base.ordinary)
            if len(word) == len(spell) and all(word[i] == ch for i, ch in placed)
        ]
        verdict: Verdict
        if alike:
            if not itself:
                continue  # an ordinary word half in pinyin (独chang)
            verdict = (MatchKind.MIXED, Strength.WEAK, f"ambiguous: also {alike[0]}")
        elif itself:
            verdict = (MatchKind.MIXED, Strength.MEDIUM, "")
        elif len(spell) >= 3:
            verdict = (MatchKind.HOMOPHONE, Strength.WEAK, "")
        else:
            continue  # one sound-alike character and one syllable: too weak
        if best is None or verdict[1] > best[1]:
            best = verdict
    return best


def runs_met(form: Form, seen: str) -> tuple[Term, ...]:
    """The terms of ``form`` whose repeated letters ``seen`` repeats as often.

    妈妈 folds to 妈 like every repeated word, so on its own it would match any 妈;
    it matches where the message repeats the character too (妈妈, 妈妈妈, 妈.妈).
    ``seen`` is the message's fold at the hit before runs were collapsed.
    """
    if len(seen) == len(form.folded):  # nothing repeated here
        return form.single
    have = [len(list(run)) for _, run in groupby(seen)]
    kept = []
    for term, need in zip(form.terms, form.runs, strict=True):
        want = [len(list(run)) for _, run in groupby(need)]
        if not need or all(h >= w for h, w in zip(have, want, strict=True)):
            kept.append(term)
    return tuple(kept)
