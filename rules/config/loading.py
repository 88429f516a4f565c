"""Reading the config: which file, TOML parsing, validation into a :class:`Config`.

Every problem becomes a line of one :class:`ConfigError` (``bot.py`` prints them
and exits 2); the file's group overrides are checked at load time, so a bad
override stops the bot like any other error.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from rules.config.document import Config
from rules.config.errors import ConfigError, describe
from rules.core.paths import PROJECT_ROOT

EXAMPLE_CONFIG = PROJECT_ROOT / "config.example.toml"
DEFAULT_CONFIG = PROJECT_ROOT / "config.toml"


def parse_config(data: Mapping[str, Any], source: str = "<config>") -> Config:
    """Validate a parsed TOML document; raise ConfigError naming every bad key."""
    try:
        config = Config.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(source, [describe(e, "", Config) for e in exc.errors()]) from None
    problems = config.group_problems()
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
