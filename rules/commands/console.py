"""/后台 (console): a one-time sign-in link to the officers' web console, by private message.

Owners and admins are plain members in a private message (the platform reports
roles per group), so the command is open to everyone and the console decides:
``CommandService.console_links`` issues a link for a person who oversees at
least one group by the commands' own rule, and returns None for anyone else.
The link is the reply; it is never written to the audit log (the command is).
"""

from __future__ import annotations

from datetime import timedelta

from rules.commands.service import Call, CommandError
from rules.core.messages import Language


def _valid_for(lifetime: timedelta, lang: Language) -> str:
    """``5 分钟`` / ``5 minute(s)``: how long a link lasts, rounded to what people read."""
    seconds = max(int(lifetime.total_seconds()), 1)
    if seconds >= 60:
        minutes = round(seconds / 60)
        return f"{minutes} 分钟" if lang == "zh" else f"{minutes} minute(s)"
    return f"{seconds} 秒" if lang == "zh" else f"{seconds} second(s)"


async def console_link(call: Call) -> str:
    issue = call.service.console_links
    if issue is None:
        raise call.fail("cmd_console_off")
    issued = await issue(call.request.caller.id, "command")
    if issued is None:
        raise CommandError(call.say("cmd_console_none"), refused=True)
    url, expires = issued
    call.notes.append("link issued")
    return call.say("cmd_console_link", url=url, valid=_valid_for(expires - call.now, call.lang))
