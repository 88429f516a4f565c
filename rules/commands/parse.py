"""Reading a command line: its name, its words, and the values people type in it."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import timedelta

from rules.commands.spec import PREFIXES, CommandSpec, lookup
from rules.core.durations import parse_duration

# Sub-command verbs (/敏感词 添加 ..., /备案 查看, /设置 列表 ...), in either language.
ADD = frozenset({"add", "添加", "增加", "加"})
DELETE = frozenset({"del", "delete", "remove", "rm", "删除", "删"})
LIST = frozenset({"list", "ls", "show", "列表", "查看"})
_WORDS = re.compile(r"\S+")
_CASE = re.compile(r"^(?:#|＃|案件|case)\s*(\d{1,12})$", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class Invocation:
    spec: CommandSpec
    name: str  # as typed
    args: tuple[str, ...]


def split_command(text: str) -> Invocation | None:
    """The command a message invokes, or None if it is not one of ours.

    ``"/禁言 张三 10分钟 刷屏"`` -> (mute, ("张三", "10分钟", "刷屏")). Any whitespace
    (also the full-width space) separates words.
    """
    stripped = text.strip()
    if not stripped.startswith(PREFIXES):
        return None
    words = _WORDS.findall(stripped[1:].replace("\u3000", " "))
    if not words:
        return None
    spec = lookup(words[0])
    if spec is None:
        return None
    return Invocation(spec, words[0], tuple(words[1:]))


def case_number(word: str) -> int | None:
    """``#12``, ``＃12``, ``案件12`` or ``case12`` -> 12; anything else -> None."""
    match = _CASE.match(word.strip())
    return int(match.group(1)) if match else None


def duration(word: str) -> timedelta | None:
    """A typed duration (``10m``, ``2小时``), or None when it is not one."""
    try:
        return parse_duration(word)
    except ValueError:
        return None


def switch(word: str) -> bool | None:
    """on/off in either language; None when it is neither."""
    lowered = word.strip().lower()
    if lowered in {"on", "true", "yes", "1", "开", "开启", "打开"}:
        return True
    if lowered in {"off", "false", "no", "0", "关", "关闭"}:
        return False
    return None
