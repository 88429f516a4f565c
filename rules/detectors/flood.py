"""Flood detector: the same text from one member N times in a row (policy 004).

Texts are compared after dropping spaces, punctuation and symbols, so 「在吗」,
「在吗？」 and 「在 吗」 count as the same. Windows live in memory, bounded: the
least recently active members are evicted first.
"""

from __future__ import annotations

import unicodedata
from collections import OrderedDict
from typing import ClassVar

from rules.config import FloodSettings
from rules.detectors.base import Detector
from rules.model import ChatEvent, Finding


def flood_key(text: str) -> str:
    """Text reduced to letters, digits and CJK: what counts as 'the same text'."""
    kept = "".join(c for c in text.casefold() if unicodedata.category(c)[0] in "LN")
    return kept or text.strip()


class FloodDetector(Detector[FloodSettings]):
    name: ClassVar[str] = "flood"
    section: ClassVar[str] = "flood"

    def __init__(self, max_members: int = 50_000) -> None:
        self.max_members = max_members
        self._runs: OrderedDict[tuple[str, str], tuple[str, int]] = OrderedDict()

    def check(self, event: ChatEvent, settings: FloodSettings) -> list[Finding]:
        key = flood_key(event.text)
        if not key:
            return []
        who = (event.group_id, event.member.id)
        last, count = self._runs.pop(who, ("", 0))
        count = count + 1 if key == last else 1
        self._runs[who] = (key, count)
        if len(self._runs) > self.max_members:
            self._runs.popitem(last=False)
        if count < settings.repeat:
            return []
        return [Finding(self.name, "flood", event.text, 0, len(event.text), detail=f"x{count}")]

    def __len__(self) -> int:
        return len(self._runs)
