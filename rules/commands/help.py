"""/帮助 (help): the commands a caller may use where they typed it, one line each."""

from __future__ import annotations

from rules.commands.service import Call
from rules.commands.spec import COMMANDS, Level, Where, usage_text
from rules.core.messages import Language, render


def help_lines(level: Level, in_group: bool, lang: Language, console: bool = False) -> list[str]:
    """The commands a caller of ``level`` may use here, one line each.

    ``console``: whether the web console runs (else /后台 is not offered).
    """
    lines = []
    for spec in COMMANDS:
        if spec.level > level or (spec.key == "appeal" and level > Level.MEMBER):
            continue  # officers and admins have nothing to appeal
        if spec.key == "console" and not console:
            continue
        if (spec.where is Where.GROUP and not in_group) or (
            spec.where is Where.PRIVATE and in_group
        ):
            continue
        usage = usage_text(spec, lang, private=not in_group)
        names = f"{spec.zh} (/{spec.en})" if lang == "zh" else spec.en
        lines.append(
            render(
                "help_line",
                lang,
                name=names,
                usage=usage,
                summary=render(f"summary_{spec.key}", lang),
            ).replace("  ", " ")
        )
    return lines


async def help_(call: Call) -> str:
    in_group = call.request.group_id is not None
    console = call.service.console_links is not None
    lines = [call.say("help_header"), *help_lines(call.level, in_group, call.lang, console)]
    if not in_group and call.level >= Level.MANAGER:
        lines.append(call.say("help_private_note"))
    return "\n".join(lines)
