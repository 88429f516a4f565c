"""The ``[protection]`` section: what the bot does across a group's borders.

An institution's groups share their members and their enemies (REQUIREMENTS §9,
issue 21). The keys, by concern:

- **clean-up**: a member removed for a violation of at least ``cleanup_from``
  has their messages of the last ``cleanup_window`` recalled (where the
  platform lets the bot recall others' messages; QQ does, WeChat does not);
- **one ban for the organisation** (``share_bans``): a member removed for a
  violation of at least ``ban_from`` is banned: removed from every other
  guarded group where the bot finds them and can act, refused when applying
  again, with the roster's accounts on the other platform (``ban_roster``).
  ``share_bans = false`` in a group's overrides keeps that group out of it;
- **raids** (``[protection.raid]``): many joins, or many new members posting
  links, pictures or the same text, within a short time;
- **probation** (``[protection.probation]``): the first messages of a member
  who has just joined are judged strictly;
- **card history**: every change of a member's group card is kept, and a card
  copying another member's or a roster person's name is reported.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Literal

from pydantic import Field

from rules.config.fields import Duration, Section, SeverityName
from rules.core.model import Severity


class RaidSettings(Section):
    enabled: bool = Field(True, description="Watch for raids.")
    joins: int = Field(
        15, ge=0, description="This many joins within window is a raid (0 = joins do not count)."
    )
    new_posts: int = Field(
        5,
        ge=0,
        description="This many new members (joined within [protection.probation] period) "
        "posting links, pictures or the same text within window is a raid (0 = off).",
    )
    window: Duration = Field(
        default_factory=lambda: timedelta(minutes=1), description="Window of the counts."
    )
    duration: Duration = Field(
        default_factory=lambda: timedelta(minutes=30),
        description="How long raid mode lasts before everything is lifted.",
    )
    mute_group: bool = Field(
        True, description="Mute the whole group while the raid lasts (QQ 全员禁言)."
    )
    refuse_joins: bool = Field(
        True,
        description="Refuse join requests from people the roster does not know while the raid "
        "lasts (where the platform has join requests: QQ).",
    )
    accounts: Literal["none", "mute", "kick"] = Field(
        "none", description="What happens to the raid's new accounts: none, mute or kick."
    )


class ProbationSettings(Section):
    enabled: bool = Field(True, description="Judge new members' first messages strictly.")
    period: Duration = Field(
        default_factory=lambda: timedelta(days=3), description="How long probation lasts."
    )
    messages: int = Field(
        10, ge=0, description="Probation covers this many first messages (0 = all in the period)."
    )
    action: Literal["delete", "kick"] = Field(
        "delete",
        description="A link, QR code, contact solicitation or forwarded card on probation: "
        "delete it (and warn), or remove the member at once.",
    )


class ProtectionSettings(Section):
    share_bans: bool = Field(
        True, description="Take part in the organisation's ban list (false: this group opts out)."
    )
    ban_from: SeverityName = Field(
        Severity.HIGH, description="A removal for a violation this severe bans the member."
    )
    ban_roster: bool = Field(
        True, description="A ban covers the person's other accounts the roster lists."
    )
    cleanup: bool = Field(True, description="Recall a removed member's recent messages.")
    cleanup_from: SeverityName = Field(
        Severity.MEDIUM, description="From which severity a removal recalls messages."
    )
    cleanup_window: Duration = Field(
        default_factory=lambda: timedelta(minutes=10),
        description="How far back messages are recalled.",
    )
    recent_per_member: int = Field(
        20, ge=1, le=1000, description="Message ids kept per member for recall (global only)."
    )
    recent_max: int = Field(
        200_000,
        ge=100,
        description="Message ids kept for recall across all groups, at most (global only).",
    )
    card_history: bool = Field(True, description="Record every change of a member's group card.")
    impersonation: bool = Field(
        True,
        description="Report a new card equal to another member's card or a roster person's name.",
    )
    raid: RaidSettings = Field(default_factory=RaidSettings)
    probation: ProbationSettings = Field(default_factory=ProbationSettings)
