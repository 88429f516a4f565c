"""Nickname detector: the member's group card must follow the group's format (实名制).

Runs on messages, joins and card changes (and on the scheduled audit, which
presents each member as a card change). Format problems come from
:class:`rules.detectors.nickname.cards.CardRules`; with a roster (``[nickname] roster``) the card
must also name a real, current person, and the account must be theirs.

Findings do not feed the strike ladder: a wrong card earns a reminder, a grace
period and then the configured action (:mod:`rules.members.compliance`). A finding's
``match`` is the card; ``start``/``end`` are 0 because the card is not part of
the message text.
"""

from __future__ import annotations

from functools import lru_cache
from typing import ClassVar

from rules.config import Config, ConfigError, NicknameSettings
from rules.core.model import ChatEvent, EventKind, Finding, Member
from rules.core.paths import PROJECT_ROOT
from rules.detectors.base import Detector
from rules.detectors.nickname.cards import CardRules, Problem, clean
from rules.detectors.nickname.roster import Person, Roster, RosterBook, RosterError


class NicknameDetector(Detector[NicknameSettings]):
    name: ClassVar[str] = "nickname"
    section: ClassVar[str] = "nickname"
    kinds: ClassVar[frozenset[EventKind]] = frozenset(
        {EventKind.MESSAGE, EventKind.JOIN, EventKind.CARD_CHANGE}
    )
    feeds_ladder: ClassVar[bool] = False

    def __init__(self, rosters: RosterBook | None = None) -> None:
        self.rosters = rosters if rosters is not None else RosterBook(PROJECT_ROOT)
        self._rules: dict[int, tuple[NicknameSettings, CardRules]] = {}

    @classmethod
    def from_config(cls, config: Config) -> NicknameDetector:
        """Load every roster the config names (global and per group) up front."""
        book = RosterBook(PROJECT_ROOT)
        names = {config.nickname.roster}
        names.update(config.policy_for(g).nickname.roster for g in config.groups)
        try:
            book.load(sorted(n for n in names if n))
        except RosterError as exc:
            raise ConfigError("nickname.roster", [str(exc)]) from None
        return cls(book)

    def rules_for(self, settings: NicknameSettings) -> CardRules:
        """The compiled rules for these settings (policies are cached, so ids are stable)."""
        entry = self._rules.get(id(settings))
        if entry is None or entry[0] is not settings:
            entry = (settings, CardRules(settings))
            self._rules[id(settings)] = entry
        return entry[1]

    def roster_for(self, settings: NicknameSettings) -> Roster | None:
        return self.rosters.get(settings.roster) if settings.roster else None

    def problems(self, member: Member, settings: NicknameSettings) -> tuple[Problem, ...]:
        """Everything wrong with this member's card (format first, then roster)."""
        rules = self.rules_for(settings)
        roster = self.roster_for(settings)
        found = rules.problems(member.card)
        if roster is None:
            return found
        return found + roster_problems(member, rules, roster, settings)

    def check(self, event: ChatEvent, settings: NicknameSettings) -> list[Finding]:
        problems = self.problems(event.member, settings)
        if not problems:  # the usual case: no list to build
            return []
        card = event.member.card
        return [Finding(self.name, p.category, card, 0, 0, detail=_text(p)) for p in problems]

    def expected_card(self, member: Member, settings: NicknameSettings) -> str | None:
        """The card the roster says this member should have, when it is unambiguous."""
        roster = self.roster_for(settings)
        person = roster.person_for(member.id) if roster else None
        if person is None or person.left:
            return None
        return card_for(person, self.rules_for(settings))


@lru_cache(maxsize=4096)
def _text(problem: Problem) -> str:
    """A problem in words (the same card is checked on every message its member sends)."""
    return problem.text("zh")


def _person_name(reading: dict[str, str]) -> str:
    return reading.get("name") or reading.get("child") or ""


def roster_problems(
    member: Member, rules: CardRules, roster: Roster, settings: NicknameSettings
) -> tuple[Problem, ...]:
    """Roster checks: the account's person, or the person the card names."""
    person = roster.person_for(member.id)
    if person is not None and person.left:
        return (Problem("roster_left_id", value=person.name, category="roster"),)
    readings = [r for r in rules.valid_readings(member.card) if _person_name(r)]
    if not readings:
        return ()  # the format problem is reported; nothing to look up
    names = [_person_name(r) for r in readings]
    if person is not None:
        mine = [r for r in readings if _person_name(r) == clean(person.name)]
        if not mine:
            extra = (("expected", person.name),)
            return (Problem("roster_name_mismatch", None, names[0], extra, "roster"),)
        dept = clean(person.department)
        if dept and all("dept" in r and r["dept"] != dept for r in mine):
            extra = (("expected", person.department),)
            return (Problem("roster_dept_mismatch", "dept", mine[0]["dept"], extra, "roster"),)
        return ()
    people = [p for n in names for p in roster.named(n)]
    current = [p for p in people if not p.left]
    if not people:
        return (Problem("roster_unknown_name", value=names[0], category="roster"),)
    if not current:
        return (Problem("roster_left_name", value=names[0], category="roster"),)
    platform = member.id.partition(":")[0]
    if settings.flag_unlisted and all(p.has_platform(platform) for p in current):
        return (Problem("roster_unlisted_id", value=names[0], category="roster"),)
    return ()


def card_for(person: Person, rules: CardRules) -> str | None:
    """``person``'s card in the first format it can fill (name and department only)."""
    values = {"name": person.name, "dept": person.department}
    for fmt in rules.formats:
        if not set(fmt.fields) <= {"name", "dept"} or not all(values[f] for f in fmt.fields):
            continue
        parts = []
        for token in fmt.tokens:
            if token.kind == "field":
                parts.append(values[token.value])
            elif token.kind == "sep":
                parts.append(rules.separators[0])
            else:
                parts.append(token.value)
        card = "".join(parts)
        if not rules.problems(card):
            return card
    return None
