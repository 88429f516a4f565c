"""/备案 and /群列表 (register, groups): a group's registration, and the groups an officer
oversees that have none.

Registrations live in the :class:`~rules.groups.registry.RegistryService`;
entries declared in the config file are shown as such.
"""

from __future__ import annotations

from rules.commands.access import caller_level
from rules.commands.parse import DELETE, LIST
from rules.commands.service import Call, CommandError
from rules.commands.spec import Level
from rules.groups.registry import RegistryError, entry_text, parse_fields


async def register(call: Call) -> str:
    group_id = call.require_group()
    registry = call.service.registry
    if registry is None:
        raise call.usage_error()
    verb = call.args[0].lower() if call.args else "show"
    if verb in LIST:
        entry = await registry.get(group_id)
        return entry_text(entry, call.lang) if entry else call.say("cmd_register_none")
    if verb in DELETE:
        if call.level < Level.OFFICER:
            raise CommandError(call.say("cmd_refused", name=call.name), refused=True)
        await registry.remove(group_id)
        return call.say("cmd_register_removed")
    if verb not in {"set", "设置", "登记"} or len(call.args) < 2:
        raise call.usage_error()
    try:
        changes = parse_fields(" ".join(call.args[1:]))
        current = await registry.get(group_id)
        if not (current and current.name) and "name" not in changes:
            changes["name"] = (await call.require_edge().directory.group_info(group_id)).name
        entry = await registry.update(group_id, call.request.caller.id, changes)
    except RegistryError as exc:
        raise call.fail("cmd_register_bad", problem=str(exc)) from None
    lines = [call.say("cmd_register_done"), entry_text(entry, call.lang)]
    if current is not None and registry.from_config(current):
        lines.append(call.say("cmd_register_config"))
    call.notes.append("registered: " + ", ".join(sorted(changes)))
    return "\n".join(lines)


async def groups(call: Call) -> str:
    """The groups the bot is in that the caller oversees, and which are not registered."""
    registry = call.service.registry
    if registry is None:
        raise call.usage_error()
    caller = call.request.caller
    visible: list[str] = []
    lines: list[str] = []
    for platform, edge in call.service.edges.items():
        try:
            listed = await edge.directory.list_groups()
        except Exception:
            lines.append(call.say("cmd_groups_unreachable", platform=platform.value))
            continue
        visible += [
            g for g in listed if caller_level(call.config, caller, g, False) >= Level.OFFICER
        ]
    missing = await registry.unregistered(visible)
    lines.insert(
        0,
        call.say(
            "cmd_groups",
            total=len(visible),
            registered=len(visible) - len(missing),
            count=len(missing),
            colon="：" if missing and call.lang == "zh" else (": " if missing else ""),
            groups="、".join(missing),
        ),
    )
    return "\n".join(lines)
