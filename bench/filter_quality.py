"""The filter's quality figures for ``make bench-filter``: corpora and the synthetic evasion set.

* :func:`corpus_figures`: share of a corpus's messages flagged, per category,
  per match kind (``how``) and per strength, and the top triggering terms of
  each category, for the shipped default lists.
* :func:`synthetic_cases`: every default term through every evasion class
  that applies to it (inserted symbols, spaces, invisible characters,
  traditional characters, full width, repeats, number forms, look-alike
  letters and radicals, a homophone, pinyin, pinyin glued to Chinese text,
  character/pinyin mixtures, Chinese text glued to both sides, prohibitive
  context), each with the span the finding must have.
* :func:`recall_by_class`: per class, how many cases were found with that
  span and category, and at which strength.

Only plain data crosses into :mod:`bench.filter_before`, which runs the same
cases through the code of an earlier commit.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from rules.core.model import Finding
from rules.detectors.keyword_index import read_word_list
from rules.text import normalize
from rules.text.lookalike import CONFUSABLE_KIND, FOLDS, KINDS

ROOT = Path(__file__).resolve().parent.parent
KEYWORDS = ROOT / "data" / "keywords"
FIXTURES = ROOT / "data" / "corpus"
# Latin letters and their Cyrillic/Greek look-alikes, as spammers pick them.
_LATIN_LOOKALIKE = str.maketrans("aceopxyisABCEHKMOPTX", "асеорхуіѕАВСЕНКМОРТХ")
_FULL_WIDTH = {code: code + 0xFEE0 for code in range(0x21, 0x7F)}
_CIRCLED = str.maketrans("0123456789", "⓪①②③④⑤⑥⑦⑧⑨")


@dataclass(frozen=True)
class Case:
    """One synthetic evasion: the text, the span the finding must have, its category."""

    evasion: str
    text: str
    start: int
    end: int
    category: str


def default_terms() -> list[tuple[str, str]]:
    """(term, category) of every shipped list but the allow-list."""
    return [
        (term, path.stem)
        for path in sorted(KEYWORDS.glob("*.txt"))
        if path.stem != "allow"
        for term in read_word_list(path)
        if all(normalize.char_fold(c) for c in term)  # not list artefacts (六合彩*, 【...】)
    ]


def fixture_corpora() -> dict[str, list[str]]:
    """The second corpus (``data/corpus``): name -> lines."""
    return {
        path.stem: [line for line in path.read_text(encoding="utf-8").splitlines() if line]
        for path in sorted(FIXTURES.glob("*.txt"))
    }


class _Sounds:
    """Per sound mark, the most frequent character with that sound (jieba's counts)."""

    def __init__(self) -> None:
        import jieba

        freq: Counter[str] = Counter()
        with (Path(jieba.__file__).resolve().parent / "dict.txt").open(encoding="utf-8") as fh:
            for line in fh:
                word, count = line.split(" ")[:2]
                if len(word) == 1:
                    freq[word] += int(count)
        self.by_mark: dict[str, list[str]] = defaultdict(list)
        for ch, _ in freq.most_common():
            mark = normalize.SOUND.get(ord(ch))
            if mark is not None and normalize.fold(ch) == ch:
                self.by_mark[mark].append(ch)
        # A look-alike form of a CJK character (radicals, compatibility ideographs).
        self.looks: dict[str, str] = {}
        for code, target in FOLDS.items():
            if len(target) == 1 and not target.isascii() and KINDS[code] != CONFUSABLE_KIND:
                self.looks.setdefault(target, chr(code))

    def homophone(self, ch: str) -> str:
        mark = normalize.SOUND.get(ord(ch))
        for other in self.by_mark.get(mark or "", ()):
            if other != ch:
                return other
        return ""


def _variants(term: str, sounds: _Sounds, s2t: Callable[[str], str]) -> Iterable[tuple[str, str]]:
    """(evasion class, the term as written that way) for every class that applies."""
    chars = list(term)
    han = all(ord(c) in normalize.SOUND for c in normalize.fold(term))
    yield "plain", term
    if len(chars) >= 2:
        yield "symbol inserted", "@".join(chars)
        yield "space inserted", " ".join(chars)
        yield "zero-width inserted", "\u200b".join(chars)
        yield "repeated characters", "".join(c + c for c in chars)
    traditional = s2t(term)
    if traditional != term:
        yield "traditional", traditional
    if any(c.isascii() and c.isalpha() for c in term):
        yield "full width", term.translate(_FULL_WIDTH)
        looks = term.translate(_LATIN_LOOKALIKE)
        if looks != term:
            yield "look-alike letters", looks
    if any(c.isdigit() for c in term):
        yield "number forms", term.translate(_CIRCLED)
    for i, ch in enumerate(chars):
        if ch in sounds.looks:
            yield "look-alike radicals", term[:i] + sounds.looks[ch] + term[i + 1 :]
            break
    if not han or len(chars) < 2:
        return
    for i, ch in enumerate(chars):
        other = sounds.homophone(ch)
        if other:
            yield "homophone", term[:i] + other + term[i + 1 :]
            break
    marks = normalize.sound(normalize.fold(term))
    syllables = [normalize.pinyin_of(m) for m in marks]
    if len(marks) == len(chars) and all(syllables):
        spelled = "".join(syllables)
        if len(spelled) >= 4:
            yield "pinyin", spelled
            yield "pinyin glued to Chinese", spelled
        if len(chars) <= 4:
            yield "mixed", chars[0] + syllables[1] + "".join(chars[2:])


# Text around a variant: most classes in a neutral carrier (punctuation both
# sides); some glued to Chinese text, as the class says.
_CARRIERS = {
    "pinyin": ("消息：", " 。"),
    "pinyin glued to Chinese": ("快来", "开业"),
    "in a sentence": ("今天", "的事"),
    "prohibitive context": ("严禁", "，谨防上当"),
}


def synthetic_cases() -> list[Case]:
    """Every default term through every evasion class that applies to it."""
    import opencc

    s2t = opencc.OpenCC("s2t").convert
    sounds = _Sounds()
    cases = []
    for term, category in default_terms():
        variants = list(_variants(term, sounds, s2t))
        variants += [("in a sentence", term), ("prohibitive context", term)]
        for evasion, written in variants:
            before, after = _CARRIERS.get(evasion, ("消息：", "。"))
            text = before + written + after
            cases.append(Case(evasion, text, len(before), len(before) + len(written), category))
    return cases


@dataclass
class ClassRecall:
    cases: int = 0
    found: int = 0
    weak: int = 0  # found, but as weak evidence (review)

    def cell(self) -> str:
        if not self.cases:
            return "-"
        share = 100 * self.found / self.cases
        return f"{self.found}/{self.cases} ({share:.0f}%)"


def recall_by_class(
    cases: list[Case], check: Callable[[str], list[Finding]]
) -> dict[str, ClassRecall]:
    """Per evasion class: cases, found with the right span and category, found weak."""
    out: dict[str, ClassRecall] = defaultdict(ClassRecall)
    for case in cases:
        row = out[case.evasion]
        row.cases += 1
        hits = [
            f
            for f in check(case.text)
            if (f.start, f.end) == (case.start, case.end) and f.category == case.category
        ]
        if hits:
            row.found += 1
            row.weak += all(f.strength == 1 for f in hits)
    return dict(out)


@dataclass
class CorpusFigures:
    """What a detector flags in one corpus."""

    messages: int
    flagged: int
    by_category: Counter[str]  # messages flagged per category
    by_how: Counter[str]  # findings per match kind
    by_strength: Counter[str]  # findings per strength
    terms: dict[str, Counter[str]]  # category -> triggering term -> findings

    def share(self, count: int) -> str:
        return f"{100 * count / self.messages:.2f}%"


def corpus_figures(lines: list[str], check: Callable[[str], list[Finding]]) -> CorpusFigures:
    figures = CorpusFigures(len(lines), 0, Counter(), Counter(), Counter(), defaultdict(Counter))
    for text in lines:
        found = check(text)
        if not found:
            continue
        figures.flagged += 1
        for category in {str(f.category) for f in found}:
            figures.by_category[category] += 1
        for f in found:
            figures.by_how[f.how.value] += 1
            figures.by_strength[f.strength.name.lower()] += 1
            figures.terms[str(f.category)][f.detail.split(";")[0] or f.match] += 1
    return figures
