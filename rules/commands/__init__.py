"""Slash commands for group owners, admins, officers and members.

- ``service``: the entry point (:class:`CommandService`: parse, authorise, run,
  audit) and what a handler gets (:class:`Call`);
- ``request``: what a platform edge hands in (:class:`CommandRequest`,
  :class:`Quoted`, :class:`Edge`);
- ``spec``: every command's names, level, where it may be typed, usage line;
- ``parse``: reading a command line and the values typed in it;
- ``access``: a caller's level for a group; typed group and member ids;
- ``targets``: naming a member (by @, id or card);
- ``table``: which handler runs each command, given to the service by the
  composition root (``rules.runtime``);
- one module per command area: ``help``, ``actions`` (warn, mute, unmute, kick,
  pardon, uphold, strikes), ``words`` (敏感词, 白名单), ``settings`` (设置,
  试运行), ``registration`` (备案, 群列表), ``oversight`` (统计, 导出, 检查名片),
  ``member_requests`` (举报, 申诉).
"""

from rules.commands.access import caller_level
from rules.commands.request import CommandRequest, Edge, Quoted
from rules.commands.service import Call, CommandError, CommandService, CommandStore

__all__ = [
    "Call",
    "CommandError",
    "CommandRequest",
    "CommandService",
    "CommandStore",
    "Edge",
    "Quoted",
    "caller_level",
]
