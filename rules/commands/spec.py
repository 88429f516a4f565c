"""Every command's names (Chinese and English), who may use it, where, and how it is written.

A command is matched by either name, with ``/`` or the full-width ``／`` before
it (Chinese input methods type the latter). Usage lines and summaries live in
``rules.core.messages`` (``usage_<key>``, ``summary_<key>``). What each command
does is in ``rules.commands.table``.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum, StrEnum

from rules.core.messages import Language, render

PREFIXES = ("/", "／")


class Level(IntEnum):
    """Who a caller is for one group; a command needs at least its level."""

    MEMBER = 0
    MANAGER = 1  # the group's owner or an admin (in the group)
    OFFICER = 2  # an officer overseeing the group, or a superuser


class Where(StrEnum):
    GROUP = "group"  # only inside a group
    PRIVATE = "private"  # only by private message
    ANYWHERE = "anywhere"  # in a group, or by private message naming the group


@dataclass(frozen=True, slots=True)
class CommandSpec:
    key: str
    zh: str
    en: str
    level: Level
    where: Where = Where.ANYWHERE
    # By private message the first argument names the group (unless the command
    # is about a case, whose group is the case's).
    group_arg: bool = True


COMMANDS: tuple[CommandSpec, ...] = (
    CommandSpec("help", "帮助", "help", Level.MEMBER, group_arg=False),
    CommandSpec("warn", "警告", "warn", Level.MANAGER),
    CommandSpec("mute", "禁言", "mute", Level.MANAGER),
    CommandSpec("unmute", "解禁", "unmute", Level.MANAGER),
    CommandSpec("kick", "踢出", "kick", Level.MANAGER),
    CommandSpec("pardon", "赦免", "pardon", Level.MANAGER),
    CommandSpec("uphold", "维持", "uphold", Level.MANAGER, group_arg=False),
    # the review queue: cases held on weak evidence (rules/commands/review.py)
    CommandSpec("confirm", "确认", "confirm", Level.MANAGER, group_arg=False),
    CommandSpec("falsepositive", "误判", "falsepositive", Level.MANAGER, group_arg=False),
    CommandSpec("strikes", "记录", "strikes", Level.MANAGER),
    CommandSpec("audit", "检查名片", "audit", Level.MANAGER),
    CommandSpec("words", "敏感词", "words", Level.MANAGER),
    CommandSpec("allow", "白名单", "allow", Level.MANAGER),
    # known bad pictures, as a reply to one (rules/commands/pictures.py)
    CommandSpec("blockimage", "拉黑图片", "blockimage", Level.MANAGER, Where.GROUP, False),
    CommandSpec("unblockimage", "解除拉黑图片", "unblockimage", Level.MANAGER, Where.GROUP, False),
    CommandSpec("config", "设置", "config", Level.MANAGER),
    CommandSpec("dryrun", "试运行", "dryrun", Level.MANAGER),
    CommandSpec("stats", "统计", "stats", Level.MANAGER),
    CommandSpec("register", "备案", "register", Level.MANAGER),
    CommandSpec("groups", "群列表", "groups", Level.OFFICER, group_arg=False),
    CommandSpec("export", "导出", "export", Level.OFFICER, Where.PRIVATE, group_arg=False),
    CommandSpec("report", "举报", "report", Level.MEMBER, Where.GROUP, group_arg=False),
    CommandSpec("appeal", "申诉", "appeal", Level.MEMBER, Where.PRIVATE, group_arg=False),
    # across groups (rules/commands/protection.py)
    CommandSpec("bans", "封禁列表", "bans", Level.OFFICER, group_arg=False),
    CommandSpec("ban", "封禁", "ban", Level.OFFICER),
    CommandSpec("unban", "解封", "unban", Level.OFFICER, group_arg=False),
    CommandSpec("muteall", "全员禁言", "muteall", Level.MANAGER),
    CommandSpec("cardhistory", "名片记录", "cardhistory", Level.MANAGER),
    # the web console decides who gets a link (owners and admins are members here)
    CommandSpec("console", "后台", "console", Level.MEMBER, Where.PRIVATE, group_arg=False),
)

_BY_NAME = {name: spec for spec in COMMANDS for name in (spec.zh, spec.en)}


def lookup(name: str) -> CommandSpec | None:
    """The command called ``name`` (either language, any case), or None."""
    return _BY_NAME.get(name.lower()) or _BY_NAME.get(name)


def name_in(spec: CommandSpec, language: str) -> str:
    return spec.zh if language == "zh" else spec.en


def usage_text(spec: CommandSpec, lang: Language, private: bool) -> str:
    """What follows the command's name (by private message, the group id comes first)."""
    usage = render(f"usage_{spec.key}", lang)
    if private and spec.group_arg:
        usage = render("group_arg", lang) + " " + usage
        usage = usage.replace(render("member_arg", lang), render("member_arg_private", lang))
    return usage.strip()


def usage_line(spec: CommandSpec, lang: Language, private: bool) -> str:
    """``用法：/禁言 @成员 时长 [理由]``: the command's name and its usage."""
    usage = usage_text(spec, lang, private)
    return render("cmd_usage", lang, name=name_in(spec, lang), usage=usage).rstrip()
