"""The Detector interface: a name, a settings section, one ``check`` method.

Detectors are synchronous, do no I/O and keep only in-memory state, so they are
fast and table-testable. They never act: they return findings, the ladder
decides and the executor acts. A detector whose state other processes share
(flood windows in Redis) also has an async ``settle`` step, run right after
detection.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import fields
from typing import ClassVar, Generic, TypeVar

from rules.config import DetectorSettings
from rules.core.model import ChatEvent, EventKind, Finding, MatchKind, Strength

S = TypeVar("S", bound=DetectorSettings)

_FINDING_FIELDS = (
    "detector",
    "category",
    "match",
    "start",
    "end",
    "detail",
    "how",
    "strength",
    "image",
)
if tuple(f.name for f in fields(Finding)) != _FINDING_FIELDS:  # pragma: no cover
    raise ImportError("Finding's fields changed: update new_finding")
_new = object.__new__
_set_detector, _set_category, _set_match, _set_start, _set_end = (
    getattr(Finding, name).__set__ for name in _FINDING_FIELDS[:5]
)
_set_detail, _set_how, _set_strength, _set_image = (
    getattr(Finding, name).__set__ for name in _FINDING_FIELDS[5:]
)


def new_finding(
    detector: str,
    category: str | None,
    match: str,
    start: int,
    end: int,
    detail: str,
    how: MatchKind,
    strength: Strength,
) -> Finding:
    """``Finding(detector, category, match, start, end, detail, how, strength)``, made in
    half the time (for detectors that make many).

    A frozen dataclass's ``__init__`` sets each field through ``object.__setattr__``
    (about 1.5k instructions a field); the slots' own descriptors take half that.
    """
    finding = _new(Finding)
    _set_detector(finding, detector)
    _set_category(finding, category)
    _set_match(finding, match)
    _set_start(finding, start)
    _set_end(finding, end)
    _set_detail(finding, detail)
    _set_how(finding, how)
    _set_strength(finding, strength)
    _set_image(finding, None)
    return finding


class Detector(ABC, Generic[S]):
    """Base of all detectors.

    ``section`` names this detector's settings in the policy (``[flood]`` ->
    ``"flood"``); the engine passes the group's settings to :meth:`check`.
    ``feeds_ladder`` is False for detectors whose findings call for a reminder
    (a wrong group card) rather than a strike.
    """

    name: ClassVar[str]
    section: ClassVar[str]
    kinds: ClassVar[frozenset[EventKind]] = frozenset({EventKind.MESSAGE})
    feeds_ladder: ClassVar[bool] = True
    # True for a detector whose state is shared with other processes (Redis):
    # ``check`` answers from its local view and starts the shared count, and the
    # engine awaits :meth:`settle` for the final answer.
    settles: bool = False

    @abstractmethod
    def check(self, event: ChatEvent, settings: S) -> list[Finding]:
        """Findings for this event under these settings (empty when clean)."""

    async def settle(self, event: ChatEvent, settings: S, found: list[Finding]) -> list[Finding]:
        """The final findings, given what :meth:`check` found locally (``settles`` only)."""
        return found
