"""Config validation: every bad key is named, groups override policy, the example is complete."""

from __future__ import annotations

import tomllib
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel

from rules.config import (
    EXAMPLE_CONFIG,
    Config,
    ConfigError,
    LadderSettings,
    load_config,
    parse_config,
)
from rules.core.model import ActionKind, Severity


def problems(data: dict[str, Any]) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        parse_config(data, "test.toml")
    return caught.value.problems


def test_empty_config_gives_safe_defaults() -> None:
    config = parse_config({})
    assert config.server.host == "127.0.0.1"
    assert config.database.url.startswith("sqlite+aiosqlite:///data/")
    assert config.wechat.enabled is False
    assert config.flood.repeat == 3
    assert config.moderation.dry_run is False


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        ({"flood": {"repaet": 3}}, "flood.repaet: unknown key (did you mean 'repeat'?)"),
        ({"flood": {"repeat": "three"}}, "flood.repeat: Input should be a valid integer"),
        ({"flood": {"repeat": 1}}, "flood.repeat: Input should be greater than or equal to 2"),
        ({"sever": {"port": 1}}, "sever: unknown key (did you mean 'server'?)"),
        ({"server": {"port": 70000}}, "server.port: Input should be less than or equal to 65535"),
        ({"ladder": {"expire_after": "soon"}}, "ladder.expire_after: bad duration 'soon'"),
        ({"ladder": {"steps": ["warn", "mute"]}}, "ladder.steps.1: step 'mute' needs a duration"),
        ({"ladder": {"steps": ["ban 1d"]}}, "ladder.steps.0: unknown step 'ban 1d'"),
        ({"ladder": {"steps": []}}, "ladder.steps: List should have at least 1 item"),
        ({"ladder": {"severity": {"porn": "huge"}}}, "ladder.severity.porn: unknown severity"),
        ({"escalation": {"officers": ["10001"]}}, "escalation.officers.0: id '10001' is not"),
        ({"database": {"url": "mysql://x"}}, "database.url: unsupported database URL scheme"),
        ({"wechat": {"enabled": True}}, "wechat.endpoint: required when wechat is enabled"),
        ({"fallbacks": {"mute": ["mute"]}}, "fallbacks.mute: an action cannot fall back to itself"),
        ({"moderation": {"language": "fr"}}, "moderation.language: Input should be 'zh' or 'en'"),
        (
            {"server": {"host": "0.0.0.0"}},
            "onebot.access_token: must be set when server.host (0.0.0.0) is not a loopback",
        ),
    ],
)
def test_bad_values_name_the_key(data: dict[str, Any], expected: str) -> None:
    assert any(p.startswith(expected) for p in problems(data)), problems(data)


def test_every_problem_is_reported_at_once() -> None:
    found = problems({"flood": {"repaet": 3}, "ladder": {"expire_after": "x"}})
    assert len(found) == 2


def test_token_not_needed_on_loopback_and_accepted_elsewhere() -> None:
    assert parse_config({"server": {"host": "localhost"}}).server.loopback_only
    assert parse_config({"server": {"host": "::1"}}).server.loopback_only
    config = parse_config({"server": {"host": "0.0.0.0"}, "onebot": {"access_token": "s3cret"}})
    assert not config.server.loopback_only


def test_durations_and_steps_are_parsed() -> None:
    ladder = parse_config({"ladder": {"steps": ["warn", "mute 1h30m", "kick"]}}).ladder
    assert [s.kind for s in ladder.steps] == [ActionKind.WARN, ActionKind.MUTE, ActionKind.KICK]
    assert ladder.steps[1].duration == timedelta(hours=1, minutes=30)
    assert ladder.expire_after == timedelta(days=30)


def test_group_override_merges_over_global_policy() -> None:
    config = parse_config(
        {
            "flood": {"repeat": 5},
            "links": {"allow_domains": ["gov.cn"]},
            "groups": {"qq:1": {"flood": {"repeat": 4}}, "wechat:r@chatroom": {}},
        }
    )
    assert config.policy_for("qq:1").flood.repeat == 4
    assert config.policy_for("qq:1").links.allow_domains == ["gov.cn"]  # inherited
    assert config.policy_for("qq:2").flood.repeat == 5  # no override
    assert config.policy_for("wechat:r@chatroom").flood.repeat == 5


@pytest.mark.parametrize(
    ("groups", "expected"),
    [
        ({"qq:1": {"flood": {"repeat": "x"}}}, 'groups."qq:1".flood.repeat: Input should be'),
        ({"qq:1": {"flood": {"repaet": 3}}}, 'groups."qq:1".flood.repaet: unknown key'),
        ({"qq:1": {"server": {"port": 1}}}, 'groups."qq:1".server: a global-only section'),
        ({"qq:1": {"keywords": {"files": []}}}, 'groups."qq:1".keywords.files: can only be set'),
        ({"123": {"flood": {"repeat": 3}}}, "groups.\"123\": id '123' is not platform-qualified"),
        ({"irc:1": {}}, "groups.\"irc:1\": 'irc' is not a valid Platform"),
    ],
)
def test_bad_group_overrides_name_the_key(groups: dict[str, Any], expected: str) -> None:
    assert any(p.startswith(expected) for p in problems({"groups": groups})), problems(
        {"groups": groups}
    )


def test_severity_lookup_falls_back_to_default() -> None:
    ladder = LadderSettings.model_validate({"severity": {"x": "low"}, "default_severity": "high"})
    assert ladder.severity_of("x") is Severity.LOW
    assert ladder.severity_of("unknown") is Severity.HIGH
    assert ladder.severity_of(None) is Severity.HIGH


def test_load_config_reports_unreadable_and_invalid_toml(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read file"):
        load_config(tmp_path / "missing.toml")
    broken = tmp_path / "broken.toml"
    broken.write_text("[server\nport = 1", encoding="utf-8")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_config(broken)


def test_example_config_is_valid_and_equals_the_defaults() -> None:
    config, _ = load_config(EXAMPLE_CONFIG)
    assert config.model_dump() == Config().model_dump()


def _keys(model: type[BaseModel], prefix: str = "") -> set[str]:
    keys = set()
    for name, field in model.model_fields.items():
        annotation = field.annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            keys |= _keys(annotation, f"{prefix}{name}.")
        else:
            keys.add(f"{prefix}{name}")
    return keys


def _toml_keys(data: dict[str, Any], prefix: str = "") -> set[str]:
    keys = set()
    for name, value in data.items():
        keys.add(f"{prefix}{name}")
        if isinstance(value, dict):
            keys |= _toml_keys(value, f"{prefix}{name}.")
    return keys


def test_example_config_documents_every_key() -> None:
    documented = _toml_keys(tomllib.loads(EXAMPLE_CONFIG.read_text(encoding="utf-8")))
    missing = _keys(Config) - documented
    assert not missing, f"config.example.toml lacks: {sorted(missing)}"
