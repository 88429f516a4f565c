"""Parse and format durations people type: ``30s``, ``10m``, ``2h``, ``1d``, ``1h30m``, ``10分钟``.

Shared by the config file (ladder steps, expiry) and the slash commands.
"""

from __future__ import annotations

import re
from datetime import timedelta

_UNITS: dict[str, int] = {
    "s": 1, "sec": 1, "秒": 1, "秒钟": 1,
    "m": 60, "min": 60, "分": 60, "分钟": 60,
    "h": 3600, "hr": 3600, "小时": 3600, "时": 3600, "个小时": 3600,
    "d": 86400, "day": 86400, "天": 86400, "日": 86400,
    "w": 604800, "周": 604800, "星期": 604800,
}  # fmt: skip
_PART = re.compile(
    r"(\d+)\s*(" + "|".join(sorted(map(re.escape, _UNITS), key=len, reverse=True)) + ")"
)


def parse_duration(text: str) -> timedelta:
    """Return the duration in ``text``; raise ValueError with a usable message otherwise."""
    cleaned = text.strip().lower().replace(" ", "")
    if not cleaned:
        raise ValueError("empty duration (use e.g. 30s, 10m, 2h, 1d or 10分钟)")
    seconds = 0
    pos = 0
    for part in _PART.finditer(cleaned):
        if part.start() != pos:
            break
        seconds += int(part.group(1)) * _UNITS[part.group(2)]
        pos = part.end()
    if pos != len(cleaned) or seconds <= 0:
        raise ValueError(f"bad duration {text!r} (use e.g. 30s, 10m, 2h, 1d or 10分钟)")
    return timedelta(seconds=seconds)


def format_duration(value: timedelta) -> str:
    """Compact form that :func:`parse_duration` reads back: ``1d2h``, ``10m``."""
    remaining = int(value.total_seconds())
    if remaining <= 0:
        return "0s"
    out = []
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        count, remaining = divmod(remaining, size)
        if count:
            out.append(f"{count}{unit}")
    return "".join(out)
