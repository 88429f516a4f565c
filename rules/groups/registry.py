"""The group registry (备案): who owns each group, who answers for it, what it is for.

000 §7 and 003 §8 ask that every work group be registered: name, owner,
admins, responsible person, purpose and the registration date. Entries come
from the config (``[registry."qq:123"]``, loaded at start, and they win over
command edits) or from the commands layer through :class:`RegistryService`.
:meth:`RegistryService.unregistered` names the groups the bot is in that have
no entry; the daily digest lists them.

Platform-free: the store is any object with the four methods of
:class:`RegistryStore` (``rules.storage.registry`` implements them); the
entry itself is a shared record (``rules.core.records``).
"""

from __future__ import annotations

import dataclasses
import re
import shlex
from collections.abc import Callable, Iterable, Mapping
from datetime import date, datetime
from typing import Protocol
from zoneinfo import ZoneInfo

from rules.config import RegistryEntrySettings
from rules.core.messages import Language, render
from rules.core.model import split_id, utcnow
from rules.core.records import REGISTRY_FIELDS, RegistryEntry

CONFIG_AUTHOR = "config"  # updated_by of entries written from the config file
FIELDS = REGISTRY_FIELDS

# What people may call each field in a command (``/备案 register 群主=张三``).
FIELD_ALIASES: Mapping[str, str] = {
    **{name: name for name in FIELDS},
    "date": "registered_on",
    "名称": "name",
    "群名": "name",
    "群名称": "name",
    "群主": "owner",
    "管理员": "admins",
    "负责人": "responsible",
    "用途": "purpose",
    "备案日期": "registered_on",
    "日期": "registered_on",
}
_LIST_SEPARATORS = re.compile(r"[,，、;；\s]+")


class RegistryError(ValueError):
    """A field name or value that cannot be registered; the message says which and why."""


class RegistryStore(Protocol):
    async def put_registry(self, entry: RegistryEntry) -> None: ...

    async def get_registry(self, group_id: str) -> RegistryEntry | None: ...

    async def list_registry(self) -> list[RegistryEntry]: ...

    async def delete_registry(self, group_id: str) -> bool: ...


def field_name(alias: str) -> str:
    """The field an alias names (``群主`` -> ``owner``); RegistryError if none."""
    name = FIELD_ALIASES.get(alias.strip().lower()) or FIELD_ALIASES.get(alias.strip())
    if name is None:
        known = "、".join(k for k in FIELD_ALIASES if not k.isascii())
        raise RegistryError(f"unknown field {alias!r} (use {', '.join(FIELDS)} or {known})")
    return name


def coerce(field: str, value: object) -> object:
    """A command's text value as the field's type: admins a tuple, dates a date."""
    if field == "admins":
        if isinstance(value, str):
            return tuple(part for part in _LIST_SEPARATORS.split(value) if part)
        if isinstance(value, Iterable):
            return tuple(str(v).strip() for v in value if str(v).strip())
        raise RegistryError(f"admins: expected names, got {value!r}")
    if field == "registered_on":
        if value is None or isinstance(value, date):
            return value
        try:
            return date.fromisoformat(str(value).strip())
        except ValueError:
            raise RegistryError(f"registered_on: bad date {value!r} (use YYYY-MM-DD)") from None
    return str(value).strip()


def parse_fields(text: str) -> dict[str, object]:
    """``群主=张三 管理员=李四,王五 用途="教职工 通知"`` -> {field: typed value}.

    For the commands layer; RegistryError names the first bad part.
    """
    try:
        parts = shlex.split(text)
    except ValueError as exc:
        raise RegistryError(f"cannot read {text!r}: {exc}") from None
    fields: dict[str, object] = {}
    for part in parts:
        key, sep, value = part.partition("=")
        if not sep:
            key, sep, value = part.partition("：")
        if not sep:
            key, sep, value = part.partition(":")
        if not sep or not key:
            raise RegistryError(f"expected field=value, got {part!r}")
        name = field_name(key)
        fields[name] = coerce(name, value)
    return fields


class RegistryService:
    """Set, update, read and remove registrations; find groups without one."""

    def __init__(
        self,
        store: RegistryStore,
        clock: Callable[[], datetime] = utcnow,
        timezone: str = "Asia/Shanghai",
    ) -> None:
        self.store = store
        self.clock = clock
        self.zone = ZoneInfo(timezone)

    async def get(self, group_id: str) -> RegistryEntry | None:
        return await self.store.get_registry(group_id)

    async def entries(self) -> list[RegistryEntry]:
        """Every registration, by group id."""
        return sorted(await self.store.list_registry(), key=lambda e: e.group_id)

    async def set(self, entry: RegistryEntry, by: str) -> RegistryEntry:
        """Write the whole entry (replacing any), dated today if it has no date."""
        split_id(entry.group_id)  # ValueError for an unqualified id
        stamped = dataclasses.replace(
            entry,
            admins=tuple(entry.admins),
            registered_on=entry.registered_on or self.clock().astimezone(self.zone).date(),
            updated_by=by,
            updated_at=self.clock(),
        )
        await self.store.put_registry(stamped)
        return stamped

    async def update(self, group_id: str, by: str, changes: Mapping[str, object]) -> RegistryEntry:
        """Change some fields (names or aliases, text or typed values); creates the entry."""
        current = await self.get(group_id) or RegistryEntry(group_id)
        typed = {}
        for key, value in changes.items():
            name = field_name(key)
            typed[name] = coerce(name, value)
        return await self.set(dataclasses.replace(current, **typed), by)  # type: ignore[arg-type]

    async def remove(self, group_id: str) -> bool:
        """Delete a registration; False if there was none."""
        return await self.store.delete_registry(group_id)

    async def unregistered(self, group_ids: Iterable[str]) -> list[str]:
        """Those of ``group_ids`` (e.g. Directory.list_groups) with no entry, in order."""
        known = {entry.group_id for entry in await self.store.list_registry()}
        return [g for g in dict.fromkeys(group_ids) if g not in known]

    def from_config(self, entry: RegistryEntry | None) -> bool:
        """True for an entry the config file declares (a command edit lasts until restart)."""
        return entry is not None and entry.updated_by == CONFIG_AUTHOR

    async def load_config(self, declared: Mapping[str, RegistryEntrySettings]) -> int:
        """Write the config's entries (``Config.registry``) where they differ; return how many."""
        written = 0
        for group_id, settings in declared.items():
            entry = RegistryEntry(
                group_id,
                name=settings.name,
                owner=settings.owner,
                admins=tuple(settings.admins),
                responsible=settings.responsible,
                purpose=settings.purpose,
                registered_on=settings.registered_on,
            )
            stored = await self.get(group_id)
            if stored is not None and stored.same_content(entry) and self.from_config(stored):
                continue
            await self.set(entry, CONFIG_AUTHOR)
            written += 1
        return written


def entry_text(entry: RegistryEntry, language: Language = "zh") -> str:
    """An entry as the bot shows it to an officer."""
    none = "（未填）" if language == "zh" else "(not set)"
    sep = "、" if language == "zh" else ", "
    return render(
        "registry_entry",
        language,
        group=entry.group_id,
        name=entry.name or none,
        owner=entry.owner or none,
        admins=sep.join(entry.admins) or none,
        responsible=entry.responsible or none,
        purpose=entry.purpose or none,
        date=entry.registered_on.isoformat() if entry.registered_on else none,
        by=entry.updated_by or none,
    )
