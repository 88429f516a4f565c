"""The ``[review]`` section: which evidence punishes by itself and which waits for a person.

Every finding says how it matched and how strong it is (``rules.core.model``:
``Finding.how``, ``Finding.strength``). A wrong punishment in a work group costs
more trust than a missed one, so weak evidence does not reach the ladder: it
goes to the officers' review queue (issue 19), and an officer or admin decides
it with ``/确认 #N`` (the ladder step is applied then) or ``/误判 #N`` (void,
optionally allow-listing the matched text for the group).

The defaults, and why:

- ``ladder_from = "medium"``: only weak evidence waits. Weak is where the wrong
  hits are (a sound-alike of an ordinary word such as 大码 for 大麻, a hit inside
  禁毒/谨防 context, a spelling that is also another word, a classifier's guess);
  medium is a term spelled in pinyin or half in pinyin (赌chang), which ordinary
  text almost never produces by accident. Reviewing medium too would make every
  deliberate evasion's first offence free and load the officers with them.
- ``delete_weak = false``: a weak hit is most likely an ordinary message, and
  deleting a colleague's ordinary message is itself a visible punishment (a
  recall shows in the group). It stays up until someone looks; ``/确认`` deletes it.
- ``delete_medium = true`` (matters only with ``ladder_from = "strong"``): a
  pinyin or mixed spelling is almost always meant, so it comes down at once while
  the strike waits for the officer.
- ``tell = "now"``: a held message stays up, so the person who can decide should
  know while it matters; the outbox already gathers a burst into one message
  (``[escalation] batch_window``) and the daily digest lists what is still open.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BeforeValidator, Field, PlainSerializer

from rules.config.fields import QualifiedId, Section
from rules.core.model import Strength


def _to_strength(value: object) -> object:
    if isinstance(value, str):
        try:
            return Strength[value.strip().upper()]
        except KeyError:
            raise ValueError(f"unknown strength {value!r} (use weak, medium or strong)") from None
    return value


StrengthName = Annotated[
    Strength,
    BeforeValidator(_to_strength),
    PlainSerializer(lambda s: s.name.lower(), return_type=str),
]


class ReviewSettings(Section):
    ladder_from: StrengthName = Field(
        Strength.MEDIUM,
        description="Least evidence strength that feeds the ladder by itself (weak, medium, "
        "strong); weaker findings go to the officers' review queue: no strike, no public "
        'warning until confirmed. "weak" = no review queue.',
    )
    delete_weak: bool = Field(
        False, description="Delete a message held for review on weak evidence."
    )
    delete_medium: bool = Field(
        True, description="Delete a message held for review on medium evidence."
    )
    tell: Literal["now", "digest"] = Field(
        "now",
        description='Who decides is told of each review item: "now" by private message '
        "(the group's officers and notify), \"digest\" only in the officers' daily digest "
        "(at once where the group has no digest).",
    )
    notify: list[QualifiedId] = Field(
        default_factory=list,
        description="Also told of each review item, besides the group's officers "
        "(e.g. a group admin who is not an officer).",
    )

    def feeds_ladder(self, strength: Strength) -> bool:
        """Whether a finding this strong reaches the ladder without a person."""
        return strength >= self.ladder_from

    def deletes(self, strength: Strength) -> bool:
        """Whether a message held for review on evidence this strong is still deleted."""
        return self.delete_medium if strength >= Strength.MEDIUM else self.delete_weak
