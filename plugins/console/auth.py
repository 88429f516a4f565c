"""Sign-in: one-time links that become sessions, and who a session may see.

A link is made for one person (``/后台`` by private message, or
``bot.py console-link qq:10001``): a random token, valid ``link_lifetime``
(5 minutes), usable once. Redeeming it opens a session whose random cookie
value lasts ``session_lifetime``. Links and sessions live behind
:class:`AuthStore` (the database by default, so several bot processes share
them; a Redis store would fit the same interface).

What a session may see is decided on every request from the config and the
platform's roles, the same rule the commands use
(:func:`rules.commands.caller_level`): superusers and global officers
see every group, an officer of some groups those groups, a group's owner or
admin that group. A config change applies at once; nothing is cached in the
session but the person's id.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from plugins.console.security import csrf_token, new_token, token_hash
from rules.commands import caller_level
from rules.commands.spec import Level
from rules.config import Config, ConsoleSettings
from rules.core.model import Member, Role
from rules.storage.console_queries import ConsoleQueries, SessionRecord


class AuthStore(Protocol):
    """Where links and sessions are kept (hashes of the tokens only)."""

    async def add_link(
        self, token_hash: str, person_id: str, issued_by: str, at: datetime, expires_at: datetime
    ) -> None: ...

    async def redeem_link(self, token_hash: str, at: datetime, address: str) -> str | None: ...

    async def add_session(
        self, token_hash: str, person_id: str, at: datetime, expires_at: datetime, address: str
    ) -> None: ...

    async def get_session(self, token_hash: str, at: datetime) -> SessionRecord | None: ...

    async def end_session(self, token_hash: str) -> None: ...

    async def purge(self, at: datetime) -> int: ...


@dataclass(frozen=True, slots=True)
class Viewer:
    """A signed-in person and the groups they may see (``groups`` None: all of them)."""

    person_id: str
    token: str  # the session cookie's value (secret; the CSRF token derives from it)
    groups: frozenset[str] | None
    levels: dict[str, Level]  # per group, where not everything is visible
    expires_at: datetime

    @property
    def csrf(self) -> str:
        return csrf_token(self.token)

    @property
    def sees_everything(self) -> bool:
        return self.groups is None

    def may_see(self, group_id: str) -> bool:
        return self.groups is None or group_id in self.groups

    def level(self, group_id: str) -> Level:
        if self.groups is None:
            return Level.OFFICER
        return self.levels.get(group_id, Level.MEMBER)


@dataclass(frozen=True, slots=True)
class Scope:
    groups: frozenset[str] | None
    levels: dict[str, Level]

    @property
    def empty(self) -> bool:
        return self.groups is not None and not self.groups


async def scope_of(config: Config, queries: ConsoleQueries, person_id: str) -> Scope:
    """The groups ``person_id`` oversees, by the commands' own rule.

    Candidates are the groups with their own config, the groups the store
    knows and the groups where the platform reported the person's role.
    """
    if person_id in config.commands.superusers or person_id in config.escalation.officers:
        return Scope(None, {})
    roles = await queries.member_roles(person_id)
    candidates = set(config.groups) | set(roles)
    candidates |= {g.id for g in await queries.known_groups()}
    levels: dict[str, Level] = {}
    for group_id in candidates:
        try:
            role = Role(roles.get(group_id, "member"))
        except ValueError:
            role = Role.MEMBER
        level = caller_level(config, Member(person_id, role=role), group_id, in_that_group=True)
        if level >= Level.MANAGER:
            levels[group_id] = level
    return Scope(frozenset(levels), levels)


class ConsoleAuth:
    """Issues and redeems sign-in links; opens, finds and ends sessions."""

    def __init__(
        self,
        store: AuthStore,
        settings: ConsoleSettings,
        base_url: str,
        clock: Callable[[], datetime],
    ) -> None:
        self.store = store
        self.settings = settings
        self.base_url = base_url.rstrip("/")
        self.clock = clock

    async def issue_link(self, person_id: str, issued_by: str) -> tuple[str, datetime]:
        """A new one-time sign-in URL for ``person_id`` and when it expires."""
        token = new_token()
        now = self.clock()
        expires = now + self.settings.link_lifetime
        await self.store.add_link(token_hash(token), person_id, issued_by, now, expires)
        return f"{self.base_url}/console/login?t={token}", expires

    async def redeem(self, token: str, address: str) -> tuple[str, str, datetime] | None:
        """Use a link: (person, new session token, session expiry), or None if unusable."""
        now = self.clock()
        person = await self.store.redeem_link(token_hash(token), now, address)
        if person is None:
            return None
        session = new_token()
        expires = now + self.settings.session_lifetime
        await self.store.add_session(token_hash(session), person, now, expires, address)
        return person, session, expires

    async def session(self, token: str) -> SessionRecord | None:
        return await self.store.get_session(token_hash(token), self.clock())

    async def end(self, token: str) -> None:
        await self.store.end_session(token_hash(token))
