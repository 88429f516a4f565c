"""/设置 and /试运行 (config, dryrun): per-group overrides set by command, validated like
the config file.

A key is dotted (``flood.repeat``, ``moderation.language``); a value is read as
TOML (``4``, ``true``, ``"10m"``, ``["a", "b"]``) and otherwise as text, with
comma-separated text accepted for list settings. Overrides are layered over
the config file's ``[groups."<id>"]`` table, saved in the store and re-applied
at start. Who may oversee the group is for officers alone to change.
"""

from __future__ import annotations

import json
import re
import tomllib
import typing
from typing import Any

from pydantic import BaseModel

from rules.commands.parse import LIST, switch
from rules.commands.service import Call, CommandError
from rules.commands.spec import Level
from rules.config import ConfigError, Policy, merge_tables

# Settings a group's own admins must not change: who oversees the group, and who
# is exempt from moderation.
OFFICER_ONLY = ("escalation", "moderation.exempt_ids", "moderation.exempt_roles")
_LIST_SPLIT = re.compile(r"[,，、]\s*")
_GROUP_PREFIX = re.compile(r'^groups\."[^"]*"\.')


def split_key(key: str) -> tuple[str, ...]:
    return tuple(part for part in key.strip().lower().split(".") if part)


def _field_annotation(path: tuple[str, ...]) -> Any:
    """The declared type of a dotted policy key, or None when there is no such field."""
    model: Any = Policy
    annotation: Any = None
    for part in path:
        fields = getattr(model, "model_fields", None)
        if fields is None:  # inside a dict-valued setting (e.g. ladder.severity.<category>)
            return typing.get_args(annotation)[-1] if typing.get_args(annotation) else None
        field = fields.get(part)
        if field is None:
            return None
        annotation = model = field.annotation
    return annotation


def parse_value(text: str, annotation: Any) -> Any:
    """A typed value: TOML when it parses, else text (a list of texts for list settings)."""
    try:
        return tomllib.loads(f"v = {text}")["v"]
    except tomllib.TOMLDecodeError:
        pass
    if typing.get_origin(annotation) is list:
        return [part for part in _LIST_SPLIT.split(text.strip()) if part]
    return text.strip()


def _nested(path: tuple[str, ...], value: Any) -> dict[str, Any]:
    table: dict[str, Any] = {path[-1]: value}
    for part in reversed(path[:-1]):
        table = {part: table}
    return table


def _flatten(table: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for key, value in table.items():
        if isinstance(value, dict) and value:
            flat.update(_flatten(value, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = value
    return flat


def _shown(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, default=str)


def _effective(call: Call, path: tuple[str, ...], key: str) -> Any:
    """The value a group runs with for a dotted key."""
    value: Any = call.policy.model_dump(mode="json")
    for part in path:
        if not isinstance(value, dict) or part not in value:
            raise call.fail("cmd_config_unknown", setting=key)
        value = value[part]
    return value


def _prune(table: dict[str, Any]) -> dict[str, Any]:
    """The table without sub-tables left empty by a removal."""
    pruned = {}
    for key, value in table.items():
        if isinstance(value, dict):
            value = _prune(value)
            if not value:
                continue
        pruned[key] = value
    return pruned


def _check_allowed(call: Call, key: str) -> None:
    if call.level < Level.OFFICER and any(
        key == k or key.startswith(k + ".") for k in OFFICER_ONLY
    ):
        raise CommandError(call.say("cmd_restricted_key", setting=key), refused=True)


async def store_override(
    call: Call, group_id: str, path: tuple[str, ...], value: Any, remove: bool = False
) -> None:
    """Apply one override (or remove it) to the running config, then save the group's set."""
    current = call.config.runtime_overrides(group_id)
    if remove:
        table = current
        for part in path[:-1]:
            table = table.get(part, {})
        table.pop(path[-1], None)
        updated = _prune(current)
    else:
        updated = merge_tables(current, _nested(path, value))
    call.config.set_runtime_overrides(group_id, updated)  # raises ConfigError
    await call.store.save_group_overrides(group_id, updated, call.request.caller.id, call.now)
    call.notes.append(f"{'.'.join(path)} {'unset' if remove else '= ' + _shown(value)}")


def show(call: Call, group_id: str, key: str | None) -> str:
    file_overrides = _flatten(call.config.groups.get(group_id, {}))
    command_overrides = _flatten(call.config.runtime_overrides(group_id))
    if key is None:
        lines = [
            call.say(
                "cmd_config_value",
                setting=k,
                value=_shown(v),
                source=call.say(
                    "cmd_config_from_command" if k in command_overrides else "cmd_config_from_file"
                ),
            )
            for k, v in sorted({**file_overrides, **command_overrides}.items())
        ]
        return "\n".join(lines) or call.say("cmd_config_none")
    path = split_key(key)
    value = _effective(call, path, key)
    dotted = ".".join(path)
    source = (
        "cmd_config_from_command"
        if dotted in command_overrides
        else "cmd_config_from_file"
        if dotted in file_overrides
        else None
    )
    return call.say(
        "cmd_config_value",
        setting=dotted,
        value=_shown(value),
        source=call.say(source) if source else "",
    )


async def set_value(call: Call, group_id: str, key: str, text: str) -> str:
    path = split_key(key)
    dotted = ".".join(path)
    annotation = _field_annotation(path) if path else None
    if annotation is None or (isinstance(annotation, type) and issubclass(annotation, BaseModel)):
        raise call.fail("cmd_config_unknown", setting=key)
    _check_allowed(call, dotted)
    value = parse_value(text, annotation)
    try:
        await store_override(call, group_id, path, value)
    except ConfigError as exc:
        problem = _GROUP_PREFIX.sub("", exc.problems[0])
        raise call.fail("cmd_config_invalid", problem=problem) from None
    return call.say("cmd_config_set", setting=dotted, value=_shown(_effective(call, path, key)))


async def unset_value(call: Call, group_id: str, key: str) -> str:
    path = split_key(key)
    dotted = ".".join(path)
    if not path or _field_annotation(path) is None:
        raise call.fail("cmd_config_unknown", setting=key)
    _check_allowed(call, dotted)
    overridden = _flatten(call.config.runtime_overrides(group_id))
    if not any(k == dotted or k.startswith(dotted + ".") for k in overridden):
        raise call.fail("cmd_config_not_set", setting=dotted)  # (global-only keys never are)
    await store_override(call, group_id, path, None, remove=True)
    return call.say("cmd_config_unset", setting=dotted)


async def config(call: Call) -> str:
    group_id = call.require_group()
    if not call.args:
        raise call.usage_error()
    verb, rest = call.args[0].lower(), call.args[1:]
    if verb in LIST:
        return show(call, group_id, rest[0] if rest else None)
    if verb in {"set", "设置", "设"} and len(rest) >= 2:
        return await set_value(call, group_id, rest[0], " ".join(rest[1:]))
    if verb in {"unset", "reset", "恢复", "重置"} and len(rest) == 1:
        return await unset_value(call, group_id, rest[0])
    raise call.usage_error()


async def dryrun(call: Call) -> str:
    group_id = call.require_group()
    value = switch(call.args[0]) if call.args else None
    if value is None:
        raise call.usage_error()
    try:
        await store_override(call, group_id, ("moderation", "dry_run"), value)
    except ConfigError as exc:  # pragma: no cover - a bool is always valid here
        raise call.fail("cmd_config_invalid", problem=exc.problems[0]) from None
    return call.say("cmd_dryrun_on" if value else "cmd_dryrun_off")
