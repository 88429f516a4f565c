"""Configuration: one TOML file validated by pydantic.

The file has global sections (``server``, ``onebot``, ``database``, ``wechat``)
and policy sections (``moderation``, ``ladder``, ``fallbacks``, ``escalation``
and one per detector). Any policy section can be overridden for one group under
``[groups."qq:123456"]``; overrides are deep-merged over the global policy and
validated at load time, so a bad override stops the bot like any other error.

Errors are collected into :class:`ConfigError`, whose lines name the key
(``groups."qq:1".flood.repeat: ...``); ``bot.py`` prints them and exits 2.
"""

from __future__ import annotations

import copy
import difflib
import ipaddress
import re
import tomllib
from collections.abc import Mapping
from datetime import date, timedelta
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    PrivateAttr,
    ValidationError,
    field_validator,
    model_validator,
)
from sqlalchemy import make_url
from sqlalchemy.exc import ArgumentError

from rules.core.durations import format_duration, parse_duration
from rules.core.model import ActionKind, Platform, Severity, split_id
from rules.core.paths import PROJECT_ROOT
from rules.text.cardformat import parse_format

EXAMPLE_CONFIG = PROJECT_ROOT / "config.example.toml"
DEFAULT_CONFIG = PROJECT_ROOT / "config.toml"


class ConfigError(Exception):
    """A config file that cannot be used; ``problems`` are one line per bad key."""

    def __init__(self, source: str, problems: list[str]) -> None:
        self.source = source
        self.problems = problems
        super().__init__(f"{source}: " + "; ".join(problems))

    def __str__(self) -> str:
        lines = "\n".join(f"  - {p}" for p in self.problems)
        return f"invalid config {self.source}:\n{lines}"


def _to_duration(value: object) -> object:
    if isinstance(value, str):
        return parse_duration(value)
    return value


Duration = Annotated[
    timedelta,
    BeforeValidator(_to_duration),
    PlainSerializer(format_duration, return_type=str),
]


def _to_severity(value: object) -> object:
    if isinstance(value, str):
        try:
            return Severity[value.upper()]
        except KeyError:
            raise ValueError(
                f"unknown severity {value!r} (use low, medium, high or critical)"
            ) from None
    return value


SeverityName = Annotated[
    Severity,
    BeforeValidator(_to_severity),
    PlainSerializer(lambda s: s.name.lower(), return_type=str),
]


def _check_qualified(value: str) -> str:
    split_id(value)  # raises ValueError naming the id
    return value


QualifiedId = Annotated[str, AfterValidator(_check_qualified)]


class Section(BaseModel):
    """Base of every config section: unknown keys are errors, values are validated."""

    model_config = ConfigDict(extra="forbid", validate_default=True, frozen=True)


# ---------------------------------------------------------------- global sections


def _ip_address(value: object) -> object:
    """An IP address as the server binds it ("localhost" is 127.0.0.1; no other names)."""
    if value == "localhost":
        return "127.0.0.1"
    if isinstance(value, str):
        try:
            ipaddress.ip_address(value)
        except ValueError:
            raise ValueError(
                "use an IP address: 127.0.0.1 (this machine only) or 0.0.0.0 (all interfaces)"
            ) from None
    return value


class ServerSettings(Section):
    host: Annotated[str, BeforeValidator(_ip_address)] = Field(
        "127.0.0.1", description="Address the bot listens on for OneBot."
    )
    port: int = Field(8080, ge=1, le=65535, description="Port the bot listens on.")
    stats_interval: Duration = Field(
        default_factory=lambda: timedelta(minutes=10),
        description="Log one line of counts (events, cases, failed actions, skipped notices) "
        "this often; 0: only at shutdown.",
    )

    @property
    def loopback_only(self) -> bool:
        return ipaddress.ip_address(self.host).is_loopback


class OneBotSettings(Section):
    access_token: str = Field(
        "", description="Token NapCat/Lagrange must send; required unless host is loopback."
    )


class DatabaseSettings(Section):
    url: str = Field(
        "sqlite+aiosqlite:///data/groupguard.db",
        description="SQLAlchemy async URL; relative SQLite paths are under the project root.",
    )
    timeout: Duration = Field(
        default_factory=lambda: timedelta(seconds=10),
        description="A database call unanswered this long counts as an outage (writes queue).",
    )

    @field_validator("url")
    @classmethod
    def _async_driver(cls, value: str) -> str:
        scheme = value.split("://", 1)[0]
        if scheme not in {"sqlite+aiosqlite", "postgresql+asyncpg"}:
            raise ValueError(
                f"unsupported database URL scheme {scheme!r} "
                "(use sqlite+aiosqlite:///path or postgresql+asyncpg://user@host/db)"
            )
        try:
            make_url(value)
        except (ValueError, ArgumentError):  # the messages may quote the URL: not shown
            raise ValueError("not a valid database URL (check the host and port)") from None
        return value


class CommandSettings(Section):
    superusers: list[QualifiedId] = Field(
        default_factory=list,
        description="Ids that may run every command in every group (besides owners/admins).",
    )
    report_limit: int = Field(
        3, ge=1, description="Reports (/report, /举报) one member may make per report_window."
    )
    report_window: Duration = Field(
        default_factory=lambda: timedelta(minutes=10), description="Window of report_limit."
    )
    appeal_limit: int = Field(
        3, ge=1, description="Appeals (/appeal, /申诉) one member may make per day."
    )


class RedisSettings(Section):
    url: str = Field(
        "",
        description="Redis URL for state several bot processes share; empty: this process alone.",
    )
    key_prefix: str = Field(
        "groupguard:", description="Prefix of every key, so deployments can share one Redis."
    )
    timeout: Duration = Field(
        default_factory=lambda: timedelta(seconds=1),
        description="A Redis call unanswered this long means Redis is unreachable (local state).",
    )

    @field_validator("url")
    @classmethod
    def _redis_scheme(cls, value: str) -> str:
        scheme = value.split("://", 1)[0]
        if value and scheme not in {"redis", "rediss", "unix"}:
            raise ValueError(f"unsupported Redis URL scheme {scheme!r} (use redis://host:6379/0)")
        return value


class WechatSettings(Section):
    enabled: bool = Field(False, description="Connect to a Wechaty puppet service.")
    endpoint: str = Field("", description="Puppet service gateway host:port.")
    token: str = Field("", description="Puppet service token.")
    connect_timeout: Duration = Field(
        default_factory=lambda: timedelta(seconds=5),
        description="Give up a connection attempt to the endpoint after this long.",
    )
    rpc_timeout: Duration = Field(
        default_factory=lambda: timedelta(seconds=10),
        description="Deadline of every call to the puppet service (Start, sends, RoomDel...).",
    )
    ding_interval: Duration = Field(
        default_factory=lambda: timedelta(seconds=30),
        description="How often the liveness check (ding -> dong) runs.",
    )
    ding_timeout: Duration = Field(
        default_factory=lambda: timedelta(seconds=10),
        description="A ding unanswered this long means the server hung: reconnect.",
    )
    backoff_initial: Duration = Field(
        default_factory=lambda: timedelta(seconds=1),
        description="First wait before reconnecting; doubles per failed attempt.",
    )
    backoff_max: Duration = Field(
        default_factory=lambda: timedelta(minutes=5),
        description="Longest wait between reconnection attempts.",
    )
    send_interval_room: Duration = Field(
        default_factory=lambda: timedelta(seconds=2),
        description="Minimum gap between two outgoing actions in one room.",
    )
    send_interval: Duration = Field(
        default_factory=lambda: timedelta(seconds=1),
        description="Minimum gap between any two outgoing actions of the account.",
    )

    @model_validator(mode="after")
    def _endpoint_when_enabled(self) -> WechatSettings:
        if self.enabled and not self.endpoint:
            raise ValueError("endpoint: required when wechat is enabled (host:port)")
        return self


# ---------------------------------------------------------------- policy sections


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


class DetectorSettings(Section):
    """Base of every detector's section: each can be switched off per group."""

    enabled: bool = Field(True, description="Run this detector.")


class KeywordSettings(DetectorSettings):
    files: list[str] = Field(
        default_factory=lambda: ["data/keywords/*.txt"],
        description="Word-list files or globs; category = file name without extension.",
    )
    allow: list[str] = Field(default_factory=list, description="Allow-listed terms.")
    pinyin: bool = Field(
        True, description="Also match homophones and pinyin spellings of Chinese terms."
    )


class LinkSettings(DetectorSettings):
    allow_domains: list[str] = Field(
        default_factory=list, description="Domains whose links are allowed (subdomains too)."
    )
    bare_domains: bool = Field(True, description="Also flag domains written without http://.")
    ips: bool = Field(True, description="Also flag bare IPv4 addresses.")
    cards: bool = Field(True, description="Also flag share cards and mini-programs.")


class PiiSettings(DetectorSettings):
    id_cards: bool = Field(True, description="Mainland ID-card numbers (checksum-validated).")
    phones: bool = Field(True, description="Mainland mobile numbers, also spaced or in numerals.")
    bank_cards: bool = Field(True, description="Bank-card numbers (Luhn-validated).")
    emails: bool = Field(True, description="E-mail addresses.")


def _check_hhmm_range(value: str) -> str:
    match = re.fullmatch(r"(\d{1,2}):(\d{2})-(\d{1,2}):(\d{2})", value.strip())
    if not match or int(match[1]) > 23 or int(match[3]) > 24 or int(match[2]) > 59:
        raise ValueError(f"bad time range {value!r} (use e.g. '08:30-12:00')")
    if (int(match[1]), int(match[2])) >= (int(match[3]), int(match[4])):
        raise ValueError(f"time range {value!r} ends before it starts")
    return value.strip()


def _check_timezone(value: str) -> str:
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone {value!r} (use e.g. 'Asia/Shanghai')") from None
    return value


class FloodSettings(DetectorSettings):
    repeat: int = Field(3, ge=2, description="Same text this many times in a row is flooding.")
    exempt_admins: bool = Field(True, description="Do not count owners' and admins' messages.")
    rate_limit: int = Field(
        10, ge=0, description="This many messages from one member within rate_window (0 = off)."
    )
    rate_window: Duration = Field(
        default_factory=lambda: timedelta(seconds=10), description="Window of the rate limit."
    )
    chatter_limit: int = Field(
        0, ge=0, description="Group messages within chatter_window in work hours (0 = off)."
    )
    chatter_window: Duration = Field(
        default_factory=lambda: timedelta(minutes=10),
        description="Window of the chatter alert; also the time between two alerts.",
    )
    work_hours: list[Annotated[str, AfterValidator(_check_hhmm_range)]] = Field(
        default=["08:30-12:00", "14:00-17:30"], description="Working hours, local time."
    )
    work_days: list[Annotated[int, Field(ge=1, le=7)]] = Field(
        default=[1, 2, 3, 4, 5], description="Working days, 1 = Monday."
    )
    timezone: Annotated[str, AfterValidator(_check_timezone)] = Field(
        "Asia/Shanghai", description="Time zone of work_hours."
    )


def _check_card_formats(value: str | list[str]) -> str | list[str]:
    for text in [value] if isinstance(value, str) else value:
        parse_format(text)  # raises ValueError naming the format and the problem
    if isinstance(value, list) and not value:
        raise ValueError("give at least one format")
    return value


CardFormats = Annotated[str | list[str], AfterValidator(_check_card_formats)]
DEFAULT_SUBJECTS = (  # noqa: SIM905 (one line of words reads better)
    "语文 数学 英语 物理 化学 生物 历史 地理 政治 道法 道德与法治 科学 音乐 美术 体育 "
    "信息 信息技术 劳动 心理 书法 通用技术 日语 综合实践"
).split()
DEFAULT_RELATIONS = (  # noqa: SIM905
    "爸爸 妈妈 爷爷 奶奶 外公 外婆 姥姥 姥爷 父亲 母亲 哥哥 姐姐 叔叔 阿姨 舅舅 姑姑 家长"
).split()


class NicknameSettings(DetectorSettings):
    enabled: bool = Field(False, description="Check group cards against the format.")
    format: CardFormats = Field("{name}+{dept}", description="Accepted card format(s).")
    separators: list[Annotated[str, Field(min_length=1, max_length=1)]] = Field(
        default=["+", "-", "_", " "], min_length=1, description="What '+' in a format stands for."
    )
    departments: list[str] = Field(default_factory=list, description="Known departments.")
    subjects: list[str] = Field(
        default_factory=lambda: list(DEFAULT_SUBJECTS),
        description="Known subjects for {subject}.",
    )
    relations: list[str] = Field(
        default_factory=lambda: list(DEFAULT_RELATIONS),
        description="Accepted relations for {relation}.",
    )
    check_names: bool = Field(True, description="Names must look like real Chinese names.")
    roster: str = Field("", description="Roster CSV (name, department, role, qq, wechat, status).")
    set_card: bool = Field(False, description="Set a wrong card from the roster where possible.")
    flag_unlisted: bool = Field(True, description="Flag accounts the roster does not list.")
    remind_every: Duration = Field(
        default_factory=lambda: timedelta(days=1), description="At most one reminder per period."
    )
    grace: Duration = Field(
        default_factory=lambda: timedelta(days=3), description="Time to fix a card before action."
    )
    action: Literal["kick", "escalate", "none"] = Field(
        "kick", description="What happens when the grace period is over."
    )
    report: bool = Field(True, description="Report the action to the officers.")
    audit_every: Duration = Field(
        default_factory=lambda: timedelta(days=1), description="Full member audit interval."
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


def _check_hhmm(value: str) -> str:
    match = re.fullmatch(r"(\d{1,2}):(\d{2})", value.strip())
    if not match or int(match[1]) > 23 or int(match[2]) > 59:
        raise ValueError(f"bad time of day {value!r} (use e.g. '08:00')")
    return f"{int(match[1]):02d}:{match[2]}"


class DigestSettings(Section):
    enabled: bool = Field(True, description="Include this group in the officers' daily digest.")
    time: Annotated[str, AfterValidator(_check_hhmm)] = Field(
        "08:00", description="When the digest is sent, local time (global only)."
    )
    timezone: Annotated[str, AfterValidator(_check_timezone)] = Field(
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


# Keys that only make sense globally even though their section is per-group.
_GLOBAL_ONLY = {
    ("keywords", "files"),
    ("nickname", "audit_every"),
    ("digest", "time"),
    ("digest", "timezone"),
    ("digest", "chart"),
    ("digest", "send_when_quiet"),
}


class RegistryEntrySettings(Section):
    """One group's registration (备案) declared in the config: ``[registry."qq:123"]``."""

    name: str = Field("", description="Group name as registered.")
    owner: str = Field("", description="Group owner (群主).")
    admins: list[str] = Field(default_factory=list, description="Group admins (管理员).")
    responsible: str = Field("", description="Responsible person (负责人).")
    purpose: str = Field("", description="What the group is for (用途).")
    registered_on: date | None = Field(None, description="Registration date, YYYY-MM-DD.")


class Config(Policy):
    server: ServerSettings = Field(default_factory=ServerSettings)
    onebot: OneBotSettings = Field(default_factory=OneBotSettings)
    database: DatabaseSettings = Field(default_factory=DatabaseSettings)
    redis: RedisSettings = Field(default_factory=RedisSettings)
    wechat: WechatSettings = Field(default_factory=WechatSettings)
    commands: CommandSettings = Field(default_factory=CommandSettings)
    groups: dict[str, dict[str, Any]] = Field(
        default_factory=dict, description="Per-group policy overrides."
    )
    registry: dict[QualifiedId, RegistryEntrySettings] = Field(
        default_factory=dict, description="Group registrations (备案) declared in the config."
    )
    _policies: dict[str, Policy] = PrivateAttr(default_factory=dict)
    # Overrides set at runtime by command (/config set), layered over ``groups``.
    _runtime: dict[str, dict[str, Any]] = PrivateAttr(default_factory=dict)

    @model_validator(mode="after")
    def _token_required_off_loopback(self) -> Config:
        if not self.onebot.access_token.strip() and not self.server.loopback_only:
            raise ValueError(
                "onebot.access_token: must be set when server.host "
                f"({self.server.host}) is not a loopback address"
            )
        return self

    def policy(self) -> Policy:
        """The global policy (this config without its global-only sections)."""
        return Policy.model_validate(self.model_dump(include=set(Policy.model_fields)))

    def policy_for(self, group_id: str) -> Policy:
        """The policy for one group: global policy, the file's and then the commands' overrides."""
        # Called for every message: read the private storage directly, because
        # ``self._policies`` goes through pydantic's slow ``__getattr__``.
        private = self.__pydantic_private__
        assert private is not None
        policies: dict[str, Policy] = private["_policies"]
        policy = policies.get(group_id)
        if policy is None:
            override = _merge(self.groups.get(group_id, {}), self._runtime.get(group_id, {}))
            policy = policies[group_id] = _merge_policy(self.policy(), override)
        return policy

    def runtime_overrides(self, group_id: str) -> dict[str, Any]:
        """The overrides set by command for one group (a copy)."""
        return copy.deepcopy(self._runtime.get(group_id, {}))

    def set_runtime_overrides(self, group_id: str, overrides: Mapping[str, Any]) -> None:
        """Replace a group's command-set overrides; raise ConfigError naming bad keys.

        Validated exactly like a ``[groups."<id>"]`` table of the config file.
        """
        combined = _merge(self.groups.get(group_id, {}), overrides)
        problems = _override_problems(self.policy(), group_id, combined)
        if problems:
            raise ConfigError(f"groups.{group_id}", problems)
        self._runtime[group_id] = copy.deepcopy(dict(overrides))
        self._policies.pop(group_id, None)


def merge_tables(base: Mapping[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    """``override`` deep-merged into ``base`` (nested tables merged, other values replaced)."""
    return _merge(dict(base), override)


def _merge(base: dict[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in override.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), dict):
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def _merge_policy(base: Policy, override: Mapping[str, Any]) -> Policy:
    return Policy.model_validate(_merge(base.model_dump(), override))


_KEYED_MESSAGE = re.compile(r"^([a-z_][a-z_.]*): (.*)$", re.S)
# Keys whose values are secret (or hold one): errors name them, never show the value.
SECRET_KEYS = frozenset({"onebot.access_token", "wechat.token", "database.url"})


def _describe(error: Mapping[str, Any], prefix: str, model: type[BaseModel]) -> str:
    loc = ".".join(str(p) for p in error["loc"] if not str(p).startswith("function-"))
    key = f"{prefix}{loc}" if loc else prefix.rstrip(".") or "(top level)"
    if error["type"] == "extra_forbidden":
        hint = _suggest(error["loc"], model)
        return f"{key}: unknown key{hint}"
    message = str(error["msg"]).removeprefix("Value error, ")
    keyed = _KEYED_MESSAGE.match(message)
    if keyed:  # a model validator naming the key inside its section: "endpoint: ..."
        return f"{prefix}{loc + '.' if loc else ''}{keyed[1]}: {keyed[2]}"
    got = error.get("input")
    shown = (
        ""
        if loc in SECRET_KEYS or isinstance(got, dict | list) or got is None or repr(got) in message
        else f" (got {got!r})"
    )
    return f"{key}: {message}{shown}"


def _suggest(loc: tuple[Any, ...], model: type[BaseModel]) -> str:
    """' (did you mean 'repeat'?)' for a misspelled key, from the model's fields."""
    current: Any = model
    for part in loc[:-1]:
        field = getattr(current, "model_fields", {}).get(part)
        if field is None:
            return ""
        current = field.annotation
    names = list(getattr(current, "model_fields", {}))
    close = difflib.get_close_matches(str(loc[-1]), names, n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _override_problems(base: Policy, group_id: str, override: Mapping[str, Any]) -> list[str]:
    """What is wrong with one group's override table (empty when it is valid)."""
    prefix = f'groups."{group_id}".'
    try:
        platform, _ = split_id(group_id)
        Platform(platform)
    except ValueError as exc:
        return [f'groups."{group_id}": {exc}']
    problems: list[str] = []
    for section, key in _GLOBAL_ONLY:
        section_override = override.get(section, {})
        if isinstance(section_override, Mapping) and key in section_override:
            problems.append(f"{prefix}{section}.{key}: can only be set globally")
    unknown = set(override) - set(Policy.model_fields)
    for name in sorted(unknown):
        where = "a global-only section" if name in Config.model_fields else "unknown key"
        problems.append(f"{prefix}{name}: {where} (groups override policy sections only)")
    if problems:
        return problems
    try:
        _merge_policy(base, override)
    except ValidationError as exc:
        problems.extend(_describe(e, prefix, Policy) for e in exc.errors())
    return problems


def _group_problems(config: Config) -> list[str]:
    base = config.policy()
    problems: list[str] = []
    for group_id, override in config.groups.items():
        problems.extend(_override_problems(base, group_id, override))
    return problems


def parse_config(data: Mapping[str, Any], source: str = "<config>") -> Config:
    """Validate a parsed TOML document; raise ConfigError naming every bad key."""
    try:
        config = Config.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(source, [_describe(e, "", Config) for e in exc.errors()]) from None
    problems = _group_problems(config)
    if problems:
        raise ConfigError(source, problems)
    return config


def load_config(path: Path | None = None) -> tuple[Config, Path]:
    """Load ``path``, else ``config.toml``, else the example config's defaults."""
    if path is None:
        path = DEFAULT_CONFIG if DEFAULT_CONFIG.exists() else EXAMPLE_CONFIG
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(str(path), [f"cannot read file: {exc.strerror}"]) from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(str(path), [f"not valid TOML: {exc}"]) from None
    return parse_config(data, str(path)), path
