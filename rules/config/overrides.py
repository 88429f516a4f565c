"""Per-group overrides: merging a ``[groups."<id>"]`` table over the global policy,
and what is wrong with one.

The same rules apply to the config file's tables and to the overrides officers
set by command (``/config set``, held by :class:`rules.config.document.Config`):
only policy sections, no global-only keys, values valid for their section.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any

from pydantic import ValidationError

from rules.config.errors import describe
from rules.config.policy import GLOBAL_ONLY, Policy
from rules.core.model import Platform, split_id


def merge_tables(base: Mapping[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    """``override`` deep-merged into ``base`` (nested tables merged, other values replaced)."""
    return merge(dict(base), override)


def merge(base: dict[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    """:func:`merge_tables` for a ``base`` the caller owns (copied at the top level only)."""
    merged = dict(base)
    for key, value in override.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), dict):
            merged[key] = merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def merge_policy(base: Policy, override: Mapping[str, Any]) -> Policy:
    """``base`` with ``override`` merged over it, validated."""
    return Policy.model_validate(merge(base.model_dump(), override))


def override_problems(
    base: Policy,
    group_id: str,
    override: Mapping[str, Any],
    global_sections: Collection[str],
) -> list[str]:
    """What is wrong with one group's override table (empty when it is valid).

    ``global_sections``: the config's sections that are not policy (named as such
    when a group tries to override one).
    """
    prefix = f'groups."{group_id}".'
    try:
        platform, _ = split_id(group_id)
        Platform(platform)
    except ValueError as exc:
        return [f'groups."{group_id}": {exc}']
    problems: list[str] = []
    for section, key in GLOBAL_ONLY:
        section_override = override.get(section, {})
        if isinstance(section_override, Mapping) and key in section_override:
            problems.append(f"{prefix}{section}.{key}: can only be set globally")
    unknown = set(override) - set(Policy.model_fields)
    for name in sorted(unknown):
        where = "a global-only section" if name in global_sections else "unknown key"
        problems.append(f"{prefix}{name}: {where} (groups override policy sections only)")
    if problems:
        return problems
    try:
        merge_policy(base, override)
    except ValidationError as exc:
        problems.extend(describe(e, prefix, Policy) for e in exc.errors())
    return problems
