"""Personal-data detector: ID cards, mobile numbers, bank cards, e-mail addresses.

Policies forbid leaking secrets and personal data. Numbers are read after a
length-preserving fold of number forms (①, ⑧, 壹, 三, full-width digits, 幺
for 1), so spans still index the original text; digits may be separated by
spaces, dashes or dots (159 9569 3815). ID cards must pass the GB 11643
checksum and bank cards the Luhn check, which keeps order numbers and dates
out. Every finding's ``match`` is a masked form (138****8000): the raw number
is never stored (``rules.core.model.masked_text`` puts the mask into evidence).

Numbers written to slip past that (一三八 一二三四 五六七八, 壹叁捌…, 貳參, up to
three separators between digits: 138 - 1234 - 5678, and bank cards in groups:
6222 0212 3456 7890 128) come from :func:`rules.text.numerals.find_numbers`,
with the same prefix and Luhn checks. A number with a digit written out (a
numeral, a circled or full-width digit) is ``how=folded``; all are strong.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import replace
from typing import ClassVar

from rules.config import PiiSettings
from rules.core.model import ChatEvent, Finding, MatchKind
from rules.detectors.base import Detector
from rules.text.numerals import CARD, MOBILE, find_numbers, may_have_number


def _how(text: str, finding: Finding) -> Finding:
    """A finding whose number has a digit written out (三, ③, full width) is ``folded``."""
    span = text[finding.start : finding.end]
    if span.isascii():
        return finding
    return replace(finding, how=MatchKind.FOLDED)


def _digit_table() -> dict[int, str]:
    table = {ord(ch): str(value) for value, ch in enumerate("〇一二三四五六七八九")}
    table.update({ord(ch): str(value) for value, ch in enumerate("零壹贰叁肆伍陆柒捌玖")})
    table[ord("幺")] = "1"
    for code in list(range(0x2070, 0x20A0)) + list(range(0x2460, 0x2800)) + [0x3007]:
        ch = chr(code)
        if unicodedata.category(ch)[0] == "N":
            value = unicodedata.numeric(ch, -1.0)
            if 0 <= value <= 9 and value == int(value):
                table[code] = str(int(value))
    for code in range(0xFF10, 0xFF1A):
        table[code] = chr(code - 0xFF10 + 0x30)
    table[0xFF38] = "X"  # full-width X in ID numbers
    table[0xFF58] = "x"
    return table


_DIGITS = _digit_table()
_SEP = r"[ \-.\u00a0\u3000]?"  # at most one separator between two digits
_RUN = re.compile(r"(?<![0-9])[0-9](?:" + _SEP + r"[0-9])*(?:" + _SEP + r"[Xx])?(?![0-9])")
# Eleven digits in a row (in any form): every number this detector reports has
# them, so a text without is not folded at all (folding costs more than this search).
_DIGIT_CLASS = "0-9" + "".join(re.escape(chr(code)) for code in sorted(_DIGITS))
_ELEVEN_DIGITS = re.compile(f"[{_DIGIT_CLASS}](?:{_SEP}[{_DIGIT_CLASS}]){{10}}")
_DIGIT_LIST = tuple(_DIGITS.get(code, code) for code in range(max(_DIGITS) + 1))
_EMAIL = re.compile(
    r"(?<![\w.+-])([\w.+-]{1,64})@([A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,})"
)
_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK = "10X98765432"


def id_card_valid(number: str) -> bool:
    """GB 11643 checksum of an 18-character ID number (17 digits + digit or X)."""
    if len(number) != 18 or not number[:17].isdigit() or number[0] == "0":
        return False
    total = sum(int(d) * w for d, w in zip(number[:17], _ID_WEIGHTS, strict=True))
    return _ID_CHECK[total % 11] == number[17].upper()


def luhn_valid(number: str) -> bool:
    """The Luhn check used by bank cards."""
    total = 0
    for i, ch in enumerate(reversed(number)):
        d = int(ch)
        if i % 2:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def mask(number: str, keep_head: int, keep_tail: int) -> str:
    """``number`` with all but its first ``keep_head`` and last ``keep_tail`` chars starred."""
    hidden = len(number) - keep_head - keep_tail
    return number[:keep_head] + "*" * max(hidden, 0) + number[len(number) - keep_tail :]


def mask_email(local: str, domain: str) -> str:
    return f"{local[:2]}***@{domain}"


def _classify(digits: str, settings: PiiSettings) -> tuple[str, str] | None:
    """(kind, masked) for a run of digits, or None when it is not personal data."""
    if settings.id_cards and len(digits) == 18 and id_card_valid(digits):
        return "ID card", mask(digits, 3, 4)
    if "x" in digits.lower():
        return None
    if settings.phones and len(digits) == 11 and digits[0] == "1" and digits[1] in "3456789":
        return "mobile", mask(digits, 3, 4)
    if (
        settings.phones
        and len(digits) == 13
        and digits.startswith("86")
        and digits[2] == "1"
        and digits[3] in "3456789"
    ):
        return "mobile", mask(digits, 5, 4)
    if settings.bank_cards and 16 <= len(digits) <= 19 and luhn_valid(digits):
        return "bank card", mask(digits, 4, 4)
    return None


class PiiDetector(Detector[PiiSettings]):
    """Finds personal data; findings carry only a masked form of it."""

    name: ClassVar[str] = "pii"
    section: ClassVar[str] = "pii"

    def check(self, event: ChatEvent, settings: PiiSettings) -> list[Finding]:
        text = event.text
        findings: list[Finding] = []
        if settings.emails and "@" in text:
            for m in _EMAIL.finditer(text):
                masked = mask_email(m.group(1), m.group(2))
                findings.append(Finding(self.name, "pii", masked, m.start(), m.end(), "e-mail"))
        if not (settings.id_cards or settings.phones or settings.bank_cards) or not (
            may_have_number(text)  # eleven digits with up to three separators: a wider test
        ):
            return [_how(text, f) for f in findings] if findings else findings
        if _ELEVEN_DIGITS.search(text):
            folded = text.translate(_DIGIT_LIST)
            for m in _RUN.finditer(folded):
                if any(f.start <= m.start() < f.end for f in findings):
                    continue  # digits of an e-mail address
                findings.extend(self._numbers(m.group(), m.start(), settings))
        if settings.phones or settings.bank_cards:
            findings = self._spread_numbers(text, findings, settings)
        if not findings:
            return findings
        return [_how(text, f) for f in findings]

    def _spread_numbers(
        self, text: str, findings: list[Finding], settings: PiiSettings
    ) -> list[Finding]:
        """``findings`` and the numbers :func:`find_numbers` reads that they missed
        (wider gaps, grouped cards, more numeral forms)."""
        added = False
        for run in find_numbers(text):
            if any(f.start < run.end and run.start < f.end for f in findings):
                continue
            if run.kind == MOBILE and settings.phones:
                found = Finding(
                    self.name, "pii", mask(run.digits, 3, 4), run.start, run.end, "mobile"
                )
            elif (
                run.kind == CARD
                and settings.bank_cards
                and 16 <= len(run.digits) <= 19
                and luhn_valid(run.digits)
            ):
                masked = mask(run.digits, 4, 4)
                found = Finding(self.name, "pii", masked, run.start, run.end, "bank card")
            else:
                continue
            findings.append(found)
            added = True
        if added:
            findings.sort(key=lambda f: f.start)
        return findings

    def _numbers(self, raw: str, offset: int, settings: PiiSettings) -> list[Finding]:
        """Findings for one run of digits; a run that is no number is tried part by part."""
        digits = "".join(c for c in raw if c.isdigit() or c in "Xx")
        if len(digits) < 11:
            return []
        found = _classify(digits, settings)
        if found is not None:
            kind, masked = found
            return [Finding(self.name, "pii", masked, offset, offset + len(raw), kind)]
        parts = [(p.start(), p.group()) for p in re.finditer(r"\S+", raw)]
        if len(parts) < 2:
            return []
        findings: list[Finding] = []
        for start, part in parts:
            findings.extend(self._numbers(part, offset + start, settings))
        return findings
