"""Per-group policy: what the bot does about what it finds, and the :class:`Policy` that
gathers every section a group can override.

``[moderation]``, ``[ladder]``, ``[fallbacks]``, ``[escalation]``, ``[join]``,
``[groupcheck]``, ``[digest]``, ``[protection]``, ``[review]`` and the detector sections
(``detector_sections``).
A group's policy is the global one with its ``[groups."<id>"]`` overrides merged
over it (``overrides``); the keys in :data:`GLOBAL_ONLY` sit in per-group
sections but only make sense globally.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Literal

from pydantic import BeforeValidator, Field, PlainSerializer, model_validator

from rules.config.detector_sections import (
    FloodSettings,
    KeywordSettings,
    LinkSettings,
    NicknameSettings,
    PiiSettings,
)
from rules.config.fields import (
    Duration,
    QualifiedId,
    Section,
    SeverityName,
    TimeOfDay,
    TimeZoneName,
)
from rules.config.image_sections import ImageSettings
from rules.config.protection_sections import ProtectionSettings
from rules.config.review_sections import ReviewSettings
from rules.core.durations import format_duration, parse_duration
from rules.core.model import ActionKind, Severity


class ModerationSettings(Section):
    dry_run: bool = Field(False, description="Decide and record, but do not act.")
    language: Literal["zh", "en"] = Field("zh", description="Language the bot speaks.")
    exempt_roles: list[Literal["owner", "admin", "member"]] = Field(
        default=["owner", "admin"],
        description="Roles never acted against.",
    )
    exempt_ids: list[QualifiedId] = Field(
        default_factory=list, description="Platform-qualified member ids never acted against."
    )


class LadderStep(Section):
    kind: Literal[ActionKind.WARN, ActionKind.MUTE, ActionKind.KICK]
    duration: timedelta | None = None


def _parse_step(value: object) -> object:
    if not isinstance(value, str):
        return value
    word, _, rest = value.strip().partition(" ")
    if word not in {"warn", "mute", "kick"}:
        raise ValueError(f"unknown step {value!r} (use 'warn', 'mute 10m' or 'kick')")
    if word == "mute":
        if not rest.strip():
            raise ValueError(f"step {value!r} needs a duration, e.g. 'mute 10m'")
        return {"kind": ActionKind.MUTE, "duration": parse_duration(rest)}
    if rest.strip():
        raise ValueError(f"step {value!r} takes no argument")
    return {"kind": ActionKind(word)}


def _format_step(step: LadderStep) -> str:
    if step.duration is not None:
        return f"{step.kind.value} {format_duration(step.duration)}"
    return step.kind.value


Step = Annotated[
    LadderStep, BeforeValidator(_parse_step), PlainSerializer(_format_step, return_type=str)
]


class LadderSettings(Section):
    steps: list[Step] = Field(
        default_factory=lambda: ["warn", "mute 10m", "mute 1d", "kick"],  # type: ignore[arg-type]
        min_length=1,
        description="What the Nth active strike does.",
    )
    expire_after: Duration = Field(
        default_factory=lambda: timedelta(days=30),
        description="Strikes older than this are forgotten.",
    )
    delete_message: bool = Field(True, description="Delete the offending message at every step.")
    block_rejoin: bool = Field(False, description="A kick also blocks re-joining (QQ).")
    escalate_from_step: int = Field(4, ge=1, description="Report to officers from this step.")
    escalate_severity: SeverityName = Field(
        Severity.HIGH, description="Report at once when a finding is this severe."
    )
    weights: dict[Literal["low", "medium", "high"], int] = Field(
        default={"low": 1, "medium": 1, "high": 2},
        description="Strikes one violation adds, by severity; critical jumps to the last step.",
    )
    default_severity: SeverityName = Field(
        Severity.MEDIUM, description="Severity of a category missing from [ladder.severity]."
    )
    severity: dict[str, SeverityName] = Field(
        default_factory=lambda: {
            "politics": Severity.CRITICAL,
            "ethnic": Severity.CRITICAL,
            "violence": Severity.HIGH,
            "cult": Severity.HIGH,
            "porn": Severity.HIGH,
            "gambling": Severity.HIGH,
            "drugs": Severity.HIGH,
            "rumor": Severity.MEDIUM,
            "insult": Severity.MEDIUM,
            "ads": Severity.MEDIUM,
            "solicit": Severity.LOW,
            "link": Severity.LOW,
            "pii": Severity.MEDIUM,
            "flood": Severity.LOW,
        },
        description="Severity by category.",
    )

    def severity_of(self, category: str | None) -> Severity:
        if category is None:
            return self.default_severity
        return self.severity.get(category, self.default_severity)


FallbackKind = Literal["delete", "warn", "remind", "mute", "kick", "escalate", "set_card"]


class FallbackSettings(Section):
    """What to do instead when a platform (or the bot's role) cannot do an action."""

    delete: list[FallbackKind] = Field(default_factory=list)
    mute: list[FallbackKind] = Field(default=["warn", "escalate"])
    kick: list[FallbackKind] = Field(default=["escalate"])
    set_card: list[FallbackKind] = Field(default=["remind"])

    def for_kind(self, kind: ActionKind) -> list[ActionKind]:
        names: list[str] = getattr(self, kind.value, [])
        return [ActionKind(n) for n in names]

    @model_validator(mode="after")
    def _no_self_fallback(self) -> FallbackSettings:
        for name in ("delete", "mute", "kick", "set_card"):
            if name in getattr(self, name):
                raise ValueError(f"{name}: an action cannot fall back to itself")
        return self


class EscalationSettings(Section):
    officers: list[QualifiedId] = Field(
        default_factory=list, description="Platform-qualified ids of officers to report to."
    )
    batch_window: Duration = Field(
        default_factory=lambda: timedelta(seconds=20),
        description="Hold new reports this long so a burst reaches an officer as one message.",
    )
    immediate_from: SeverityName = Field(
        Severity.LOW,
        description="Report at once from this severity; less severe escalations wait for the "
        "next daily digest (when [digest] is enabled for the group).",
    )


class JoinSettings(Section):
    enabled: bool = Field(False, description="Screen QQ join requests.")
    approve: Literal["roster", "format", "roster_or_format"] = Field(
        "roster_or_format", description="What a request comment must show to be approved."
    )
    otherwise: Literal["reject", "ignore"] = Field(
        "ignore", description="Reject other requests, or leave them for a human."
    )
    notify: list[QualifiedId] = Field(
        default_factory=list, description="Told of every decision, besides the officers."
    )


class GroupCheckSettings(Section):
    enabled: bool = Field(True, description="Check group size and name in the audit.")
    max_members: int = Field(150, ge=1, description="Report groups with more members.")
    units: list[str] = Field(
        default_factory=list, description="Unit short names a group name must start with."
    )


class DigestSettings(Section):
    enabled: bool = Field(True, description="Include this group in the officers' daily digest.")
    time: TimeOfDay = Field(
        "08:00", description="When the digest is sent, local time (global only)."
    )
    timezone: TimeZoneName = Field(
        "Asia/Shanghai", description="Time zone of the digest time and dates (global only)."
    )
    idle_days: int = Field(
        30, ge=0, description="Report a group with no activity for this many days (0 = off)."
    )
    chart: bool = Field(
        True, description="Add a chart of violations per day (7 days) where images can be sent."
    )
    send_when_quiet: bool = Field(
        True, description="Send the digest even when there is nothing to report (global only)."
    )

    def hour_minute(self) -> tuple[int, int]:
        hour, minute = self.time.split(":")
        return int(hour), int(minute)


class Policy(Section):
    """Everything that can differ between groups."""

    moderation: ModerationSettings = Field(default_factory=ModerationSettings)
    ladder: LadderSettings = Field(default_factory=LadderSettings)
    fallbacks: FallbackSettings = Field(default_factory=FallbackSettings)
    escalation: EscalationSettings = Field(default_factory=EscalationSettings)
    keywords: KeywordSettings = Field(default_factory=KeywordSettings)
    links: LinkSettings = Field(default_factory=LinkSettings)
    pii: PiiSettings = Field(default_factory=PiiSettings)
    flood: FloodSettings = Field(default_factory=FloodSettings)
    nickname: NicknameSettings = Field(default_factory=NicknameSettings)
    join: JoinSettings = Field(default_factory=JoinSettings)
    groupcheck: GroupCheckSettings = Field(default_factory=GroupCheckSettings)
    digest: DigestSettings = Field(default_factory=DigestSettings)
    images: ImageSettings = Field(default_factory=ImageSettings)
    protection: ProtectionSettings = Field(default_factory=ProtectionSettings)
    review: ReviewSettings = Field(default_factory=ReviewSettings)


# Keys that only make sense globally even though their section is per-group.
GLOBAL_ONLY = frozenset(
    {
        ("keywords", "files"),
        ("nickname", "audit_every"),
        ("digest", "time"),
        ("digest", "timezone"),
        ("digest", "chart"),
        ("digest", "send_when_quiet"),
        ("images", "blocklist"),
        ("images", "workers"),
        ("images", "max_pending"),
        ("images", "fetch_private"),
        ("protection", "recent_per_member"),
        ("protection", "recent_max"),
    }
)
