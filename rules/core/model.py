"""The core's vocabulary: what happened, what was found, what to do.

Everything here is a frozen dataclass or an enum, free of any platform type, so
the detectors, the ladder and the executor can be tested with plain values.
Ids leave the platform edges qualified by platform (``qq:123456``,
``wechat:wxid_x``); see :func:`qualify`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import IntEnum, StrEnum

# What the core keeps of text from outside, whatever an edge passes in: longer
# text is cut, so detector work, evidence and in-memory state stay bounded.
MAX_TEXT = 4000  # message text and join-request comments
MAX_NAME = 100  # group cards and nicknames (platforms allow far less)
MAX_URL = 2000  # a share card's link
MAX_TITLE = 200  # a share card's title
# Characters a database cannot store in text: NUL (PostgreSQL) and lone
# surrogates (not encodable as UTF-8); they become U+FFFD.
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


def bounded(text: str, limit: int) -> str:
    """``text`` cut to ``limit`` characters, with unstorable characters replaced."""
    text = text[:limit]
    try:
        text.encode("utf-8")  # fast check for lone surrogates
    except UnicodeEncodeError:
        return _UNSTORABLE.sub("\ufffd", text)
    return text.replace("\x00", "\ufffd") if "\x00" in text else text


def bound_fields(obj: object, **limits: int) -> None:
    """Apply :func:`bounded` to fields of a frozen dataclass (in ``__post_init__``)."""
    for name, limit in limits.items():
        value = getattr(obj, name)
        kept = bounded(value, limit)
        if kept is not value:
            object.__setattr__(obj, name, kept)


class Platform(StrEnum):
    QQ = "qq"
    WECHAT = "wechat"


# Per id on the hot path: a dict lookup instead of an enum call (which costs more).
_PLATFORMS: dict[str, Platform] = {p.value: p for p in Platform}
_PREFIXES: dict[str, str] = {p.value: f"{p.value}:" for p in Platform}


def qualify(platform: Platform | str, raw_id: str | int) -> str:
    """Return a platform-qualified id (``qq:123``); already-qualified ids pass through."""
    text = str(raw_id)
    prefix = _PREFIXES.get(platform) or f"{Platform(platform).value}:"  # (raises if unknown)
    return text if text.startswith(prefix) else prefix + text


def split_id(qualified: str) -> tuple[Platform, str]:
    """Split ``qq:123`` into ``(Platform.QQ, "123")``; raise ValueError when unqualified."""
    platform, sep, raw = qualified.partition(":")
    if not sep or not raw:
        raise ValueError(f"id {qualified!r} is not platform-qualified (expected e.g. 'qq:123')")
    return _PLATFORMS.get(platform) or Platform(platform), raw


class Role(StrEnum):
    MEMBER = "member"
    ADMIN = "admin"
    OWNER = "owner"


class EventKind(StrEnum):
    MESSAGE = "message"
    JOIN = "join"
    LEAVE = "leave"
    CARD_CHANGE = "card_change"
    JOIN_REQUEST = "join_request"
    # What a message's pictures turned out to hold, once they have been looked at (the
    # message itself went through as MESSAGE at once; see rules.images.stage).
    IMAGES = "images"


@dataclass(frozen=True, slots=True)
class Member:
    """A group member as the core sees it. ``card`` is the group card / room alias."""

    id: str
    card: str = ""
    nickname: str = ""
    role: Role = Role.MEMBER

    def __post_init__(self) -> None:
        bound_fields(self, card=MAX_NAME, nickname=MAX_NAME)


@dataclass(frozen=True, slots=True)
class SharedCard:
    """A share card, mini-program or JSON card: its link goes to the link detector."""

    url: str
    title: str = ""

    def __post_init__(self) -> None:
        bound_fields(self, url=MAX_URL, title=MAX_TITLE)


class ImageKind(StrEnum):
    IMAGE = "image"
    STICKER = "sticker"  # QQ market faces (mface), WeChat emoticons
    FLASH = "flash"  # QQ flash images


@dataclass(frozen=True, slots=True)
class ImageRef:
    """A picture in a message, as the edge found it; the bytes are fetched later.

    ``key`` names the picture stably (QQ's file name, which is the MD5 of its bytes; a
    WeChat message id; a path for ``scan``) so that a picture seen before costs
    nothing; ``source`` is where an edge's fetcher finds the bytes (a URL or a path).
    """

    key: str
    source: str = ""
    kind: ImageKind = ImageKind.IMAGE

    def __post_init__(self) -> None:
        bound_fields(self, key=MAX_URL, source=MAX_URL)


@dataclass(frozen=True, slots=True)
class ImageReport:
    """What was seen in one picture; image detectors read these (no pixels, no I/O).

    ``checked`` is False when the picture could not be looked at (``problem`` says
    why: too large, not an image, the queue was full...). ``text`` is the recognised
    text in reading order; ``codes`` the payloads of QR codes and barcodes; ``hashes``
    the perceptual hashes (pHash, dHash) of each sampled frame; ``nsfw`` a
    classifier's score in [0, 1] when that check ran.
    """

    index: int
    key: str
    checked: bool
    problem: str = ""
    sha256: str = ""
    text: str = ""
    codes: tuple[str, ...] = ()
    hashes: tuple[tuple[int, int], ...] = ()
    nsfw: float | None = None
    thumbnail: bytes = b""
    width: int = 0
    height: int = 0

    def __post_init__(self) -> None:
        bound_fields(self, text=MAX_TEXT, problem=MAX_TITLE)


@dataclass(frozen=True, slots=True)
class ChatEvent:
    """One inbound event, translated by a platform edge (or read by ``scan``).

    ``time`` is when it happened; the engine dates cases and strikes by it, so
    edges must give a sane, aware time (their receive time if the platform's is
    missing or implausible). ``text`` and ``comment`` are cut to
    :data:`MAX_TEXT` (see :func:`bounded`).
    """

    kind: EventKind
    platform: Platform
    group_id: str
    member: Member
    time: datetime
    text: str = ""
    message_id: str | None = None
    cards: tuple[SharedCard, ...] = ()
    mentions: tuple[str, ...] = ()
    reply_to: str | None = None
    bot_id: str | None = None
    comment: str = ""  # join-request comment
    # For an event without a message id (a join, a card change): its identity, the same
    # for every account that receives it, so the engine handles it once like a message.
    event_key: str | None = None
    images: tuple[ImageRef, ...] = ()  # pictures and stickers in the message
    image_reports: tuple[ImageReport, ...] = ()  # IMAGES events: what they held

    def __post_init__(self) -> None:
        if self.time.tzinfo is None:
            raise ValueError("ChatEvent.time must be timezone-aware")
        bound_fields(self, text=MAX_TEXT, comment=MAX_TEXT)


class Severity(IntEnum):
    """How serious a finding's category is; the ladder turns it into strikes."""

    LOW = 1
    MEDIUM = 2
    HIGH = 3
    CRITICAL = 4


class MatchKind(StrEnum):
    """How a finding matched: the basis of its strength."""

    DIRECT = "direct"  # the term as written (case and width aside)
    FOLDED = "folded"  # after folding: traditional characters, noise, repeated characters
    LOOKALIKE = "lookalike"  # letters from other scripts, enclosed or radical forms
    MIXED = "mixed"  # characters and pinyin syllables mixed within the term
    PINYIN = "pinyin"  # the term spelled wholly in pinyin
    HOMOPHONE = "homophone"  # other characters that sound like the term
    IMAGE = "image"  # a known bad picture, or a classifier's verdict on one


class Strength(IntEnum):
    """How much a finding can be trusted on its own; config decides what reaches the ladder."""

    WEAK = 1  # e.g. a sound-alike, a classifier's guess, a hit in prohibitive context
    MEDIUM = 2  # e.g. pinyin or mixed spelling
    STRONG = 3  # e.g. the term as written, a QR code's link, a blocklisted picture


@dataclass(frozen=True, slots=True)
class Finding:
    """Something a detector saw. ``start``/``end`` index the event's original text.

    ``match`` is safe to store and show: detectors that find personal data put
    a masked form here, never the raw value. For a finding in a picture,
    ``image`` is the picture's index in :attr:`ChatEvent.images` and
    ``start``/``end`` index the text recognised in (or decoded from) it, or are
    -1 when the finding has no text span (a known bad picture).
    """

    detector: str
    category: str | None
    match: str
    start: int
    end: int
    detail: str = ""
    how: MatchKind = MatchKind.DIRECT
    strength: Strength = Strength.STRONG
    image: int | None = None


def masked_text(text: str, findings: tuple[Finding, ...] | list[Finding]) -> str:
    """``text`` with every personal-data span replaced by its finding's masked form."""
    for finding in sorted(findings, key=lambda f: f.start, reverse=True):
        if finding.detector == "pii" and finding.image is None:
            text = text[: finding.start] + finding.match + text[finding.end :]
    return text


class ActionKind(StrEnum):
    DELETE = "delete"
    WARN = "warn"
    REMIND = "remind"
    MUTE = "mute"
    UNMUTE = "unmute"
    KICK = "kick"
    ESCALATE = "escalate"
    SET_CARD = "set_card"
    APPROVE_JOIN = "approve_join"
    REJECT_JOIN = "reject_join"
    # The whole group at once (QQ 全员禁言; no target): raids and /全员禁言.
    MUTE_ALL = "mute_all"
    UNMUTE_ALL = "unmute_all"
    # Weak evidence held for a person (rules.moderation.review): an officer task, no platform call.
    REVIEW = "review"


@dataclass(frozen=True, slots=True)
class Action:
    """One thing to do on a platform (or, for ESCALATE, to report to officers)."""

    kind: ActionKind
    group_id: str
    target_id: str
    message_id: str | None = None
    duration: timedelta | None = None
    text: str = ""
    block_rejoin: bool = False
    case_id: int | None = None


class OutcomeStatus(StrEnum):
    DONE = "done"
    FAILED = "failed"
    DRY_RUN = "dry_run"
    SKIPPED = "skipped"  # not possible here and no fallback configured
    SUBSTITUTED = "substituted"  # not possible here; fallback actions ran instead
    # Intent before effect (rules.moderation.engine): an action is recorded as PLANNED
    # before it is carried out; INTERRUPTED: still planned when the bot stopped; UNKNOWN:
    # the bot restarted before its outcome was recorded and the platform cannot tell.
    PLANNED = "planned"
    INTERRUPTED = "interrupted"
    UNKNOWN = "unknown"


@dataclass(frozen=True, slots=True)
class Outcome:
    action: Action
    status: OutcomeStatus
    detail: str = ""


@dataclass(frozen=True, slots=True)
class Strike:
    """One recorded violation count against a member, used by the ladder."""

    group_id: str
    member_id: str
    weight: int
    at: datetime
    case_id: int | None = None


@dataclass(frozen=True, slots=True)
class Decision:
    """What the engine decided for one event, and what happened when it acted."""

    findings: tuple[Finding, ...] = ()
    actions: tuple[Action, ...] = ()
    outcomes: tuple[Outcome, ...] = ()
    case_id: int | None = None
    strikes_added: int = 0
    step: int = 0
    notes: tuple[str, ...] = field(default_factory=tuple)


@dataclass(frozen=True, slots=True)
class CaseRecord:
    """A recorded decision, as read back from the store (evidence is PII-masked)."""

    id: int
    group_id: str
    member_id: str
    member_card: str
    evidence: str
    categories: tuple[str, ...]
    status: str  # open | upheld | pardoned
    created_at: datetime
    step: int = 0


class TaskKind(StrEnum):
    APPEAL = "appeal"
    REPORT = "report"
    REVIEW = "review"  # a finding too weak for the ladder, waiting for /确认 or /误判


class TaskStatus(StrEnum):
    OPEN = "open"
    UPHELD = "upheld"
    PARDONED = "pardoned"


@dataclass(frozen=True, slots=True)
class OfficerTask:
    """An appeal, a member's report or a review item waiting for (or decided by) an officer."""

    kind: TaskKind
    group_id: str
    requester_id: str
    created_at: datetime
    subject_id: str = ""
    case_id: int | None = None
    text: str = ""
    evidence: str = ""
    status: TaskStatus = TaskStatus.OPEN
    id: int | None = None
    decided_by: str | None = None


def utcnow() -> datetime:
    return datetime.now(UTC)
