"""The detectors' config sections: ``[keywords]``, ``[links]``, ``[pii]``, ``[flood]``,
``[nickname]``.

Each is a :class:`DetectorSettings` (it can be switched off per group); a
detector declares which of these sections it reads (``Detector.section``).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Literal

from pydantic import AfterValidator, Field

from rules.config.fields import Duration, Section, TimeRange, TimeZoneName
from rules.text.cardformat import parse_format


class DetectorSettings(Section):
    """Base of every detector's section: each can be switched off per group."""

    enabled: bool = Field(True, description="Run this detector.")


DEFAULT_CONTEXT_WORDS = (  # noqa: SIM905 (one line of words reads better)
    "禁毒 宣传 警惕 防范 严禁 不得 远离 谨防 打击 举报 反诈 防骗 拒绝 抵制 切勿 杜绝 "
    "预防 提醒 识别 禁止 严打 揭露 危害"
).split()


class KeywordSettings(DetectorSettings):
    files: list[str] = Field(
        default_factory=lambda: ["data/keywords/*.txt"],
        description="Word-list files or globs; category = file name without extension.",
    )
    allow: list[str] = Field(default_factory=list, description="Allow-listed terms.")
    pinyin: bool = Field(
        True,
        description="Also match homophones, pinyin spellings and character/pinyin mixtures.",
    )
    context_words: list[str] = Field(
        default_factory=lambda: list(DEFAULT_CONTEXT_WORDS),
        description="Words that make a nearby hit weak evidence (education, prohibition).",
    )
    context_reach: int = Field(
        12, ge=0, description="How many characters either side of a hit context words count."
    )


class LinkSettings(DetectorSettings):
    allow_domains: list[str] = Field(
        default_factory=list, description="Domains whose links are allowed (subdomains too)."
    )
    bare_domains: bool = Field(True, description="Also flag domains written without http://.")
    hidden: bool = Field(
        True, description="Also flag links written to hide (lucky8。vip, abc[.]com, abc点cn)."
    )
    ips: bool = Field(True, description="Also flag bare IPv4 addresses.")
    cards: bool = Field(True, description="Also flag share cards and mini-programs.")


class PiiSettings(DetectorSettings):
    id_cards: bool = Field(True, description="Mainland ID-card numbers (checksum-validated).")
    phones: bool = Field(True, description="Mainland mobile numbers, also spaced or in numerals.")
    bank_cards: bool = Field(True, description="Bank-card numbers (Luhn-validated).")
    emails: bool = Field(True, description="E-mail addresses.")


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
    work_hours: list[TimeRange] = Field(
        default=["08:30-12:00", "14:00-17:30"], description="Working hours, local time."
    )
    work_days: list[Annotated[int, Field(ge=1, le=7)]] = Field(
        default=[1, 2, 3, 4, 5], description="Working days, 1 = Monday."
    )
    timezone: TimeZoneName = Field("Asia/Shanghai", description="Time zone of work_hours.")


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
