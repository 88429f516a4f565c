"""Value types and validators the config sections share.

``Section`` is the base of every table (unknown keys are errors, values are
validated, sections are frozen). The annotated types read what people write in
TOML (``"10m"``, ``"high"``, ``"qq:123"``, ``"08:30-12:00"``) and write it back
the same way when a section is dumped (``/config show``).
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Annotated

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, PlainSerializer

from rules.core.durations import format_duration, parse_duration
from rules.core.model import Severity, split_id


class Section(BaseModel):
    """Base of every config section: unknown keys are errors, values are validated."""

    model_config = ConfigDict(extra="forbid", validate_default=True, frozen=True)


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


def check_hhmm(value: str) -> str:
    """A time of day, ``"8:00"`` -> ``"08:00"``."""
    match = re.fullmatch(r"(\d{1,2}):(\d{2})", value.strip())
    if not match or int(match[1]) > 23 or int(match[2]) > 59:
        raise ValueError(f"bad time of day {value!r} (use e.g. '08:00')")
    return f"{int(match[1]):02d}:{match[2]}"


def check_hhmm_range(value: str) -> str:
    """A span of one day, ``"08:30-12:00"`` (may end at 24:00)."""
    match = re.fullmatch(r"(\d{1,2}):(\d{2})-(\d{1,2}):(\d{2})", value.strip())
    if not match or int(match[1]) > 23 or int(match[3]) > 24 or int(match[2]) > 59:
        raise ValueError(f"bad time range {value!r} (use e.g. '08:30-12:00')")
    if (int(match[1]), int(match[2])) >= (int(match[3]), int(match[4])):
        raise ValueError(f"time range {value!r} ends before it starts")
    return value.strip()


def check_timezone(value: str) -> str:
    """An IANA time zone name the system knows."""
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone {value!r} (use e.g. 'Asia/Shanghai')") from None
    return value


TimeOfDay = Annotated[str, AfterValidator(check_hhmm)]
TimeRange = Annotated[str, AfterValidator(check_hhmm_range)]
TimeZoneName = Annotated[str, AfterValidator(check_timezone)]
