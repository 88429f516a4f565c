"""The Detector interface: a name, a settings section, one ``check`` method.

Detectors are synchronous, do no I/O and keep only in-memory state, so they are
fast and table-testable. They never act: they return findings, the ladder
decides and the executor acts.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import ClassVar, Generic, TypeVar

from rules.config import DetectorSettings
from rules.model import ChatEvent, EventKind, Finding

S = TypeVar("S", bound=DetectorSettings)


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

    @abstractmethod
    def check(self, event: ChatEvent, settings: S) -> list[Finding]:
        """Findings for this event under these settings (empty when clean)."""
