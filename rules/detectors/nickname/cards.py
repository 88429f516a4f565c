"""Judging a group card: does it follow one of the group's formats, part by part?

:class:`CardRules` is compiled once per ``[nickname]`` settings. For a card it
returns :class:`Problem` values, each naming the wrong part (部门「宣传部」不在本群
部门列表中), rendered in the group's language by :mod:`rules.core.messages`.

Names are judged by a plausible-Chinese-name check: 2–4 Han characters starting
with a known surname (``data/surnames.txt``), or an ethnic-minority name written
with a middle dot (阿依古丽·买买提). Cards are compared in simplified characters
after Unicode NFKC, so 張三＋辦公室 is judged like 张三+办公室.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field
from itertools import permutations
from pathlib import Path
from typing import TYPE_CHECKING

from rules.core.messages import Language, card_field, render
from rules.core.paths import DATA_DIR
from rules.text.cardformat import NAME_FIELDS, Budget, CardFormat, parse_format, splits

if TYPE_CHECKING:
    from rules.config import NicknameSettings

SURNAMES_FILE = DATA_DIR / "surnames.txt"
MIDDLE_DOTS = "·•・‧∙"
# Endings that mark a unit, not a person (宣传部, 人事处, 行政中心). Characters
# common at the end of given names (科, 会, 院 ...) are left out on purpose.
ORG_SUFFIXES = ("办公室", "中心", "部", "处", "室", "办", "局", "委", "厅", "系", "组", "馆")
_INVISIBLE = dict.fromkeys(map(ord, "\u200b\u200c\u200d\u2060\ufeff\u00ad"))
_HAN = re.compile(r"^[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0003134f]+$")
_LATIN = re.compile(r"[A-Za-z]")


@dataclass(frozen=True, slots=True)
class Problem:
    """One thing wrong with a card. ``category`` is ``nickname`` or ``roster``."""

    key: str
    field: str | None = None
    value: str = ""
    extra: tuple[tuple[str, str], ...] = ()
    category: str = "nickname"

    def text(self, language: Language = "zh") -> str:
        label = card_field(self.field, language) if self.field else ""
        return render(self.key, language, field=label, value=self.value, **dict(self.extra))


@dataclass(frozen=True, slots=True)
class Surnames:
    single: frozenset[str]
    compound: frozenset[str] = field(default_factory=frozenset)

    @classmethod
    def load(cls, path: Path = SURNAMES_FILE) -> Surnames:
        words: list[str] = []
        for line in path.read_text(encoding="utf-8").splitlines():
            words.extend(line.split("#", 1)[0].split())
        return cls(
            frozenset(w for w in words if len(w) == 1),
            frozenset(w for w in words if len(w) > 1),
        )

    def of(self, name: str) -> str | None:
        """The surname ``name`` starts with (longest first), or None."""
        for size in (4, 3, 2):
            if len(name) > size and name[:size] in self.compound:
                return name[:size]
        return name[0] if name[:1] in self.single else None


@functools.cache
def default_surnames() -> Surnames:
    return Surnames.load()


@functools.cache
def _t2s() -> object | None:
    try:
        import opencc

        return opencc.OpenCC("t2s")
    except Exception:  # opencc missing or broken: compare as written
        return None


def clean(card: str) -> str:
    """The card as judged: NFKC, invisible characters removed, simplified, trimmed."""
    text = unicodedata.normalize("NFKC", card).translate(_INVISIBLE).strip()
    converter = _t2s()
    if converter is not None and text:
        text = str(converter.convert(text))  # type: ignore[attr-defined]
    return text


def name_problem(value: str, field_name: str, surnames: Surnames) -> Problem | None:
    """Why ``value`` is not a plausible Chinese name, or None when it is."""
    if _LATIN.search(value):
        return Problem("card_name_not_chinese", field_name, value)
    if any(dot in value for dot in MIDDLE_DOTS):
        parts = re.split(f"[{MIDDLE_DOTS}]", value)
        total = sum(len(p) for p in parts)
        if len(parts) >= 2 and all(_HAN.match(p) for p in parts) and 2 <= total <= 20:
            return None
        return Problem("card_name_not_chinese", field_name, value)
    if not _HAN.match(value):
        return Problem("card_name_not_chinese", field_name, value)
    if len(value) >= 3 and value.endswith(ORG_SUFFIXES):
        return Problem("card_name_like_dept", field_name, value)
    surname = surnames.of(value)
    if surname is None:
        return Problem("card_name_surname", field_name, value, (("surname", value[0]),))
    if not 1 <= len(value) - len(surname) <= 3 or (len(surname) == 1 and len(value) > 4):
        return Problem("card_name_length", field_name, value)
    return None


def human_format(fmt: CardFormat, language: Language = "zh") -> str:
    """``{name}+{dept}`` as people read it: 姓名+部门."""
    parts: list[str] = []
    for token in fmt.tokens:
        if token.kind == "field":
            parts.append(card_field(token.value, language))
        elif token.kind == "sep":
            parts.append("+")
        else:
            parts.append(token.value)
    return "".join(parts)


class CardRules:
    """One group's card rules, compiled from its ``[nickname]`` settings."""

    def __init__(self, settings: NicknameSettings, surnames: Surnames | None = None) -> None:
        raw = [settings.format] if isinstance(settings.format, str) else settings.format
        self.formats = [parse_format(f) for f in raw]
        self.separators = "".join(settings.separators)
        self.surnames = surnames or default_surnames()
        self.check_names = settings.check_names
        self.vocab: dict[str, frozenset[str]] = {
            "dept": frozenset(clean(d) for d in settings.departments),
            "subject": frozenset(clean(s) for s in settings.subjects),
            "relation": frozenset(clean(r) for r in settings.relations),
        }
        self._cache: dict[str, tuple[Problem, ...]] = {}
        self._cache_size = 4096

    def formats_text(self, language: Language = "zh") -> str:
        joiner = "」或「" if language == "zh" else '" or "'
        return joiner.join(human_format(f, language) for f in self.formats)

    def field_problem(self, name: str, value: str) -> Problem | None:
        if name in NAME_FIELDS:
            if not self.check_names:
                return None
            return name_problem(value, name, self.surnames)
        known = self.vocab.get(name, frozenset())
        if known and value not in known:
            return Problem(f"card_unknown_{name}", name, value)
        return None

    def readings(
        self, card: str, budget: Budget | None = None
    ) -> list[tuple[dict[str, str], tuple[Problem, ...]]]:
        """Every way the cleaned card splits into some format, with its problems."""
        budget = budget or Budget()
        out: list[tuple[dict[str, str], tuple[Problem, ...]]] = []
        for fmt in self.formats:
            for parts in splits(card, fmt, self.separators, budget):
                found = (self.field_problem(k, v) for k, v in parts.items())
                out.append((parts, tuple(p for p in found if p is not None)))
        return out

    def valid_readings(self, card: str) -> list[dict[str, str]]:
        """The readings of ``card`` with no problem (empty when the card is wrong)."""
        return [parts for parts, problems in self.readings(clean(card)) if not problems]

    def problems(self, card: str) -> tuple[Problem, ...]:
        """What is wrong with ``card`` (empty when it follows a format)."""
        cached = self._cache.get(card)
        if cached is None:
            cached = self._diagnose(clean(card))
            if len(self._cache) >= self._cache_size:
                self._cache.pop(next(iter(self._cache)))
            self._cache[card] = cached
        return cached

    def _diagnose(self, card: str) -> tuple[Problem, ...]:
        if not card:
            return (Problem("card_empty"),)
        budget = Budget()  # one for the whole judgement: hostile cards stay cheap
        readings = self.readings(card, budget)
        if any(not problems for _, problems in readings):
            return ()
        formats = self.formats_text()
        expected = (("formats", formats),)
        if self._fits(card, (f.without_separators() for f in self.formats), budget):
            return (Problem("card_missing_separator", extra=expected),)
        if self._fits(card, (p for f in self.formats for p in _reorderings(f)), budget):
            return (Problem("card_wrong_order", extra=expected),)
        for fmt in self.formats:
            # Try dropping free-text fields first: anything fits a department
            # when no list is configured, so "张三" lacks the department, not the name.
            order = sorted(range(len(fmt.fields)), key=lambda i: not self._free(fmt.fields[i]))
            for index in order if len(fmt.fields) > 1 else ():
                if self._fits(card, [fmt.without_field(index)], budget):
                    return (Problem("card_missing_field", fmt.fields[index], extra=expected),)
        if readings:
            return min((problems for _, problems in readings), key=len)
        return (Problem("card_no_match", value=card, extra=expected),)

    def _free(self, name: str) -> bool:
        """A field any text passes (no vocabulary, no name check)."""
        if name in NAME_FIELDS:
            return not self.check_names
        return not self.vocab.get(name)

    def _fits(self, card: str, formats: Iterable[CardFormat], budget: Budget) -> bool:
        for fmt in formats:
            for parts in splits(card, fmt, self.separators, budget):
                if all(self.field_problem(k, v) is None for k, v in parts.items()):
                    return True
        return False


def _reorderings(fmt: CardFormat) -> list[CardFormat]:
    """The format with its fields in every other order (to diagnose a wrong order)."""
    names = fmt.fields
    return [fmt.with_fields(order) for order in permutations(names) if order != names]
