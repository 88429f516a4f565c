"""Phone and bank-card numbers however they are written, with spans in the original.

Spammers and careless members write a mobile number as 一三八 一二三四 五六七八,
壹叁捌…, 幺三八…, ①③⑧…, mixed with digits, or with spaces, dashes and dots
between the digits (138 - 1234 - 5678), and a bank card in groups
(6222 0212 3456 7890 123). :func:`find_numbers` reads every digit form as its
digit, lets up to ``MAX_GAP`` separator characters stand between two digits,
and reports the runs that can be a mobile number (eleven digits, ``1`` then
3-9; optionally after 86) or a bank card (15 to 19 digits starting with 3, 4,
5, 6 or 9). Checks that need the number itself (Luhn, the mobile prefix
table) are the caller's: the digits are returned as an ASCII string.

A run that is neither as a whole is tried group by group (the groups are what
the separators split), so ``138 1234 5678 2024年`` still gives the phone. A
group is never split (twelve digits in a row are no phone number), and digits
come one by one or in groups of two or more, not mixed (1 3 5 7 9 11 13 15 is
a list, not the phone 135 7911 1315). Ordinary Chinese numbers do not make
digit strings this long: 三月一日, 一二三四五 in a list, 二〇二四年, 一五一十 are
far short of eleven digits; 十, 百, 千, 万, 两 and list punctuation (、，) are
neither digits nor separators, so they end a run.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from typing import Final

__all__ = [
    "CARD",
    "DIGITS",
    "MAX_GAP",
    "MOBILE",
    "NumberRun",
    "find_numbers",
    "is_card_like",
    "is_mobile",
    "may_have_number",
]

MOBILE: Final = "mobile"
CARD: Final = "card"
MAX_GAP: Final = 3  # separator characters allowed between two digits ("138 - 1234")
CARD_LENGTHS: Final = range(15, 20)
CARD_FIRST: Final = frozenset("34569")  # Amex/JCB, Visa, Mastercard, UnionPay (62), domestic 9


def _digits() -> dict[int, str]:
    """Every character read as a digit: ASCII and full width, Chinese numerals (plain,
    financial, traditional, 幺 for 1), circled, parenthesised, dotted, dingbat,
    superscript and subscript digits."""
    table = {ord(ch): str(value) for value, ch in enumerate("〇一二三四五六七八九")}
    table.update({ord(ch): str(value) for value, ch in enumerate("零壹贰叁肆伍陆柒捌玖")})
    table.update({ord(ch): value for ch, value in zip("貳參叄陸幺", "23361", strict=True)})
    ranges = ((0x2070, 0x20A0), (0x2460, 0x2800), (0x3220, 0x3230), (0x3280, 0x3290))
    for lo, hi in ranges:
        for code in range(lo, hi):
            value = unicodedata.numeric(chr(code), -1.0)
            if value in (0, 1, 2, 3, 4, 5, 6, 7, 8, 9):
                table[code] = str(int(value))
    table.update({0xFF10 + value: str(value) for value in range(10)})  # full width
    table.update({ord(str(value)): str(value) for value in range(10)})
    return table


DIGITS: Final[dict[int, str]] = _digits()
# Characters that may stand between two digits of one number.
_SEPARATORS: Final = (
    " \t\u3000\u00a0-‐‑‒–—―－﹣_.·・/~～*|"  # spaces, dashes, dots, slashes, stars
    "\u200b\u200c\u200d\u2060\ufeff"  # invisible characters
)
_SEP_CHAR: Final = "\x01"
_DIGIT_CLASS = "".join(re.escape(chr(code)) for code in sorted(DIGITS))
_SEP_CLASS = re.escape(_SEPARATORS)
# Eleven digits with gaps: every number reported has them (the cheap first test).
_ELEVEN = re.compile(f"[{_DIGIT_CLASS}](?:[{_SEP_CLASS}]{{0,{MAX_GAP}}}[{_DIGIT_CLASS}]){{10}}")


def _fold_list() -> tuple[str | int, ...]:
    table: list[str | int] = list(range(0x10000))
    for code, digit in DIGITS.items():
        table[code] = digit
    for ch in _SEPARATORS:
        table[ord(ch)] = _SEP_CHAR
    return tuple(table)


_SPELLED: Final = frozenset(chr(code) for code in DIGITS if code >= 0x80)
_FOLD: Final = _fold_list()  # digit forms to ASCII digits, separators to one mark
_RUN = re.compile(f"(?<![0-9])[0-9](?:{_SEP_CHAR}{{0,{MAX_GAP}}}[0-9])*")
_GROUP = re.compile("[0-9]+")


@dataclass(frozen=True, slots=True)
class NumberRun:
    """A number found in a text. ``digits`` are ASCII; ``start``/``end`` index the original."""

    digits: str  # "13812345678" (a mobile number without its 86), "6222021234567890123"
    start: int
    end: int  # end exclusive; the span covers the 86 of a mobile number written with it
    kind: str  # MOBILE or CARD
    spelled: bool  # some digit is not an ASCII one (三, 壹, ③, full width...)


def is_mobile(digits: str) -> bool:
    """Eleven digits that begin like a mainland mobile number (1, then 3-9)."""
    return len(digits) == 11 and digits[0] == "1" and digits[1] in "3456789"


def is_card_like(digits: str) -> bool:
    """15 to 19 digits starting like a payment card (the Luhn check is the caller's)."""
    return len(digits) in CARD_LENGTHS and digits[0] in CARD_FIRST


def _classify(digits: str) -> tuple[str, str] | None:
    """(kind, digits to report) for a candidate, or None."""
    if is_mobile(digits):
        return MOBILE, digits
    if len(digits) == 13 and digits.startswith("86") and is_mobile(digits[2:]):
        return MOBILE, digits[2:]
    if len(digits) == 15 and digits.startswith("0086") and is_mobile(digits[4:]):
        return MOBILE, digits[4:]
    if is_card_like(digits):
        return CARD, digits
    return None


def may_have_number(text: str) -> bool:
    """Whether ``text`` has eleven digits in any form with at most ``MAX_GAP`` separators
    between two (every number :func:`find_numbers` reports has them): a cheap first test."""
    return _ELEVEN.search(text) is not None


def find_numbers(text: str) -> list[NumberRun]:
    """Mobile and card numbers in ``text``, in order, each with its original span."""
    if _ELEVEN.search(text) is None:
        return []
    folded = text.translate(_FOLD)
    found: list[NumberRun] = []
    for run in _RUN.finditer(folded):
        groups = [(m.group(), m.start(), m.end()) for m in _GROUP.finditer(folded, *run.span())]
        total = sum(len(g[0]) for g in groups)
        if total < 11:
            continue
        found.extend(_runs(text, groups))
    return found


def _grouped_like_a_number(groups: list[tuple[str, int, int]], first: int, last: int) -> bool:
    """Digits one by one (1 3 8 1 ...) or in groups of two or more (138 1234 5678), not a
    mixture: ``1 3 5 7 9 11 13 15`` is a list of numbers, not the phone 135 7911 1315."""
    sizes = {len(groups[i][0]) == 1 for i in range(first, last + 1)}
    return len(sizes) == 1


def _runs(text: str, groups: list[tuple[str, int, int]]) -> list[NumberRun]:
    """Numbers in one run of digit groups: the whole run, else windows of whole groups,
    leftmost first, longest first."""
    found = []
    first = 0
    while first < len(groups):
        digits = ""
        windows = []
        for last in range(first, len(groups)):
            digits += groups[last][0]
            if len(digits) > 19:
                break
            windows.append((last, digits))
        for last, digits in reversed(windows):
            if not _grouped_like_a_number(groups, first, last):
                continue
            classified = _classify(digits)
            if classified is not None:
                kind, number = classified
                start, end = groups[first][1], groups[last][2]
                spelled = any(c in _SPELLED for c in text[start:end])
                found.append(NumberRun(number, start, end, kind, spelled))
                first = last + 1
                break
        else:
            first += 1
    return found
