"""The Detector interface: a name, a settings section, one ``check`` method.

Detectors are synchronous, do no I/O and keep only in-memory state, so they are
fast and table-testable. They never act: they return findings, the ladder
decides and the executor acts. A detector whose state other processes share
(flood windows in Redis) also has an async ``settle`` step, run right after
detection.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import ClassVar, Generic, TypeVar

from rules.config import DetectorSettings
from rules.core.model import ChatEvent, EventKind, Finding

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
