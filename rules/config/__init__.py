"""Configuration: one TOML file validated by pydantic.

The file has process sections (``server``, ``onebot``, ``database``, ``redis``,
``wechat``, ``commands``) and policy sections (``moderation``, ``ladder``,
``fallbacks``, ``escalation`` and one per detector). Any policy section can be
overridden for one group under ``[groups."qq:123456"]``; overrides are
deep-merged over the global policy and validated at load time, so a bad
override stops the bot like any other error.

Errors are collected into :class:`ConfigError`, whose lines name the key
(``groups."qq:1".flood.repeat: ...``); ``bot.py`` prints them and exits 2.

The package, by concern (``from rules.config import X`` works for each name
below):

- ``fields``: the base :class:`Section` and the value types (durations,
  severities, qualified ids, times of day, time zones);
- ``process``: process settings, the same for every group;
- ``detector_sections``: the detectors' sections;
- ``console_sections``: the ``[console]`` section (the officer web console);
- ``image_sections``: the ``[images]`` section (pictures and stickers);
- ``protection_sections``: the ``[protection]`` section (bans across groups, raids,
  probation, clean-up, card history);
- ``review_sections``: the ``[review]`` section (which evidence strength feeds the
  ladder, which waits for the officers' review queue);
- ``policy``: the other per-group sections and :class:`Policy`;
- ``overrides``: merging and checking ``[groups."<id>"]`` tables;
- ``document``: :class:`Config`, the whole file, with the overrides set by
  command at runtime and the per-group policy cache;
- ``errors``: :class:`ConfigError` and the wording of each problem;
- ``loading``: reading and validating a file (:func:`load_config`).
"""

from rules.config.console_sections import ConsoleSettings, exposure_problem
from rules.config.detector_sections import (
    DEFAULT_RELATIONS,
    DEFAULT_SUBJECTS,
    DetectorSettings,
    FloodSettings,
    KeywordSettings,
    LinkSettings,
    NicknameSettings,
    PiiSettings,
)
from rules.config.document import Config, RegistryEntrySettings
from rules.config.errors import SECRET_KEYS, ConfigError
from rules.config.fields import Duration, QualifiedId, Section, SeverityName
from rules.config.image_sections import (
    ImageHashSettings,
    ImageSettings,
    ImageTextSettings,
    NsfwSettings,
    QrCodeSettings,
)
from rules.config.loading import DEFAULT_CONFIG, EXAMPLE_CONFIG, load_config, parse_config
from rules.config.overrides import merge_tables
from rules.config.policy import (
    DigestSettings,
    EscalationSettings,
    FallbackKind,
    FallbackSettings,
    GroupCheckSettings,
    JoinSettings,
    LadderSettings,
    LadderStep,
    ModerationSettings,
    Policy,
)
from rules.config.process import (
    CommandSettings,
    DatabaseSettings,
    OneBotSettings,
    RedisSettings,
    ServerSettings,
    WechatSettings,
)
from rules.config.protection_sections import (
    ProbationSettings,
    ProtectionSettings,
    RaidSettings,
)
from rules.config.review_sections import ReviewSettings, StrengthName

__all__ = [
    "DEFAULT_CONFIG",
    "DEFAULT_RELATIONS",
    "DEFAULT_SUBJECTS",
    "EXAMPLE_CONFIG",
    "SECRET_KEYS",
    "CommandSettings",
    "Config",
    "ConfigError",
    "ConsoleSettings",
    "DatabaseSettings",
    "DetectorSettings",
    "DigestSettings",
    "Duration",
    "EscalationSettings",
    "FallbackKind",
    "FallbackSettings",
    "FloodSettings",
    "GroupCheckSettings",
    "ImageHashSettings",
    "ImageSettings",
    "ImageTextSettings",
    "JoinSettings",
    "KeywordSettings",
    "LadderSettings",
    "LadderStep",
    "LinkSettings",
    "ModerationSettings",
    "NicknameSettings",
    "NsfwSettings",
    "OneBotSettings",
    "PiiSettings",
    "Policy",
    "ProbationSettings",
    "ProtectionSettings",
    "QrCodeSettings",
    "QualifiedId",
    "RaidSettings",
    "RedisSettings",
    "RegistryEntrySettings",
    "ReviewSettings",
    "Section",
    "ServerSettings",
    "SeverityName",
    "StrengthName",
    "WechatSettings",
    "exposure_problem",
    "load_config",
    "merge_tables",
    "parse_config",
]
