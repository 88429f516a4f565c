"""The command layer: one entry point for every platform.

A platform edge turns a message that starts with ``/`` (or ``／``) into a
:class:`CommandRequest` and calls :meth:`CommandService.handle`, which returns
the one reply to send back as plain text (or None when the message is not one
of our commands). The service decides where the command applies (the group it
was typed in, or by private message the group named first), who the caller is
for that group (:class:`Level`), refuses what the caller may not do, runs the
command, and writes every command, allowed or refused, to the audit log.

Platforms register an :class:`Edge` (their Gateway and Directory) under their
:class:`Platform`;
an officer's private message may command a group on any registered platform.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Collection
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Protocol

from rules.commands.parse import Invocation, case_number, split_command
from rules.commands.spec import COMMANDS, CommandSpec, Level, Where, name_in
from rules.config import Config, Policy
from rules.core.messages import Language, render, truncate
from rules.core.model import (
    MAX_TEXT,
    CaseRecord,
    Member,
    OfficerTask,
    Platform,
    Role,
    TaskKind,
    TaskStatus,
    bound_fields,
    qualify,
    split_id,
)
from rules.core.ports import AuditEntry, Directory, Gateway, Store

if TYPE_CHECKING:
    from rules.detectors.custom_words import WordService
    from rules.groups.registry import RegistryService
    from rules.moderation.engine import Engine
    from rules.officers.digest import ActionTally, CaseStat

log = logging.getLogger(__name__)

MAX_AUDITED_TEXT = 300


@dataclass(frozen=True, slots=True)
class CommandRequest:
    """One command as a platform edge received it.

    ``caller.role`` is the caller's role in the group the command was typed in,
    as the platform reports it (never read from card text); in a private
    message it is MEMBER. ``text`` is the message's text with @-mentions
    removed; the mentioned ids are in ``mentions``, in order.
    """

    platform: Platform
    caller: Member
    text: str
    time: datetime
    group_id: str | None = None  # None: a private message
    mentions: tuple[str, ...] = ()
    reply_to: str | None = None  # id of the message this one replies to
    quoted: Quoted | None = None  # that message, when the platform gave it
    bot_id: str | None = None

    def __post_init__(self) -> None:
        bound_fields(self, text=MAX_TEXT)  # storable in the audit log, bounded work


@dataclass(frozen=True, slots=True)
class Quoted:
    """A message quoted by a reply (for /report)."""

    sender: Member
    text: str
    message_id: str

    def __post_init__(self) -> None:
        bound_fields(self, text=MAX_TEXT)


@dataclass(frozen=True, slots=True)
class Edge:
    """What a platform gives the commands: acting on and listing a group's members."""

    gateway: Gateway
    directory: Directory


class CommandStore(Store, Protocol):
    """The store methods the commands use beyond :class:`Store` (SqlStore has them all)."""

    async def get_case(self, case_id: int) -> CaseRecord | None: ...

    async def member_cases(
        self, group_id: str, member_id: str, limit: int = 5
    ) -> list[CaseRecord]: ...

    async def set_case_status(self, case_id: int, status: str) -> None: ...

    async def void_strikes(self, group_id: str, member_id: str) -> int: ...

    async def add_task(self, task: OfficerTask) -> int: ...

    async def open_tasks_for_case(self, case_id: int) -> list[OfficerTask]: ...

    async def count_tasks(self, requester_id: str, kind: TaskKind, since: datetime) -> int: ...

    async def decide_task(
        self, task_id: int, status: TaskStatus, decided_by: str, at: datetime
    ) -> None: ...

    async def group_overrides(self) -> dict[str, dict[str, object]]: ...

    async def save_group_overrides(
        self, group_id: str, overrides: dict[str, object], by: str, at: datetime
    ) -> None: ...

    async def case_stats(
        self, group_ids: Collection[str], since: datetime, until: datetime
    ) -> list[CaseStat]: ...

    async def action_tallies(
        self, group_ids: Collection[str], since: datetime, until: datetime
    ) -> list[ActionTally]: ...


class CommandError(Exception):
    """A command that cannot run: ``text`` is the one line said to the caller."""

    def __init__(self, text: str, refused: bool = False) -> None:
        super().__init__(text)
        self.text = text
        self.refused = refused


@dataclass
class Call:
    """One command being run: where, by whom, with what; handlers read everything here."""

    service: CommandService
    request: CommandRequest
    spec: CommandSpec
    args: list[str]
    group_id: str | None
    level: Level
    edge: Edge | None
    case: CaseRecord | None = None  # when the command names a case
    notes: list[str] = field(default_factory=list)

    @property
    def config(self) -> Config:
        return self.service.config

    @property
    def policy(self) -> Policy:
        return self.config.policy_for(self.group_id) if self.group_id else self.config.policy()

    @property
    def lang(self) -> Language:
        return self.policy.moderation.language

    @property
    def store(self) -> CommandStore:
        return self.service.store

    @property
    def name(self) -> str:
        return name_in(self.spec, self.lang)

    def say(self, key: str, **fields: object) -> str:
        return render(key, self.lang, **fields)

    def fail(self, key: str, with_usage: bool = False, **fields: object) -> CommandError:
        """A CommandError saying ``key`` (and the usage line when it helps)."""
        text = self.say(key, **fields)
        if with_usage:
            text += "\n" + self.usage()
        return CommandError(text)

    def usage(self) -> str:
        return usage_line(self.spec, self.lang, private=self.request.group_id is None)

    def usage_error(self) -> CommandError:
        """The command was not written right: say how it is written."""
        return CommandError(self.usage())

    def require_edge(self) -> Edge:
        if self.edge is None or self.group_id is None:
            raise self.fail("cmd_need_group", name=self.name)
        return self.edge

    def require_group(self) -> str:
        if self.group_id is None:
            raise self.fail("cmd_need_group", name=self.name)
        return self.group_id

    @property
    def now(self) -> datetime:
        return self.request.time


Handler = Callable[[Call], Awaitable[str]]


def usage_text(spec: CommandSpec, lang: Language, private: bool) -> str:
    """What follows the command's name (by private message, the group id comes first)."""
    usage = render(f"usage_{spec.key}", lang)
    if private and spec.group_arg:
        usage = render("group_arg", lang) + " " + usage
        usage = usage.replace(render("member_arg", lang), render("member_arg_private", lang))
    return usage.strip()


def usage_line(spec: CommandSpec, lang: Language, private: bool) -> str:
    usage = usage_text(spec, lang, private)
    return render("cmd_usage", lang, name=name_in(spec, lang), usage=usage).rstrip()


def caller_level(config: Config, caller: Member, group_id: str, in_that_group: bool) -> Level:
    """What the caller may do in ``group_id``.

    Officers (global or of that group) and superusers are OFFICER everywhere;
    owners and admins are MANAGER only when the command is typed in their group
    (their role comes from the platform's event, never from card text).
    """
    policy = config.policy_for(group_id)
    if caller.id in config.commands.superusers or caller.id in policy.escalation.officers:
        return Level.OFFICER
    if in_that_group and caller.role in (Role.OWNER, Role.ADMIN):
        return Level.MANAGER
    return Level.MEMBER


def is_officer_anywhere(config: Config, member_id: str) -> bool:
    """Superuser, global officer, or officer of any group with its own override."""
    if member_id in config.commands.superusers or member_id in config.escalation.officers:
        return True
    return any(member_id in config.policy_for(g).escalation.officers for g in config.groups)


RawForms = dict[Platform, Callable[[str], bool]]
# How people type a group's or a member's bare id on each platform.
GROUP_FORMS: RawForms = {
    Platform.QQ: str.isdigit,
    Platform.WECHAT: lambda word: word.endswith("@chatroom"),
}
MEMBER_FORMS: RawForms = {
    Platform.QQ: lambda word: word.isdigit() and len(word) >= 5,
    Platform.WECHAT: lambda word: word.startswith(("wxid_", "wxid-")),
}


def typed_id(platform: Platform, word: str, forms: RawForms) -> str | None:
    """A typed id, qualified: ``qq:123`` as is, a bare id of this platform's form, else None."""
    word = word.strip()
    if ":" in word:
        try:
            split_id(word)
        except ValueError:
            return None
        return word
    looks_raw = forms.get(platform)
    return qualify(platform, word) if looks_raw is not None and looks_raw(word) else None


class CommandService:
    """Parses, authorises, runs and audits commands."""

    def __init__(
        self,
        engine: Engine,
        store: CommandStore,
        words: WordService | None = None,
        notify: Callable[[], None] = lambda: None,
        registry: RegistryService | None = None,
    ) -> None:
        self.engine = engine
        self.store = store
        self.words = words
        self.registry = registry  # group registrations (/备案, /群列表)
        self.notify = notify  # called after reports are queued (wakes the outbox)
        self.edges: dict[Platform, Edge] = {}

    @property
    def config(self) -> Config:
        return self.engine.config

    def register(self, platform: Platform, edge: Edge) -> None:
        self.edges[platform] = edge

    async def load_settings(self) -> int:
        """Apply the group overrides saved by earlier /config commands; return how many."""
        saved = await self.store.group_overrides()
        for group_id, overrides in saved.items():
            try:
                self.config.set_runtime_overrides(group_id, overrides)
            except Exception as exc:  # a config file change can make an old override invalid
                log.warning("saved settings of %s not applied: %s", group_id, exc)
        return len(saved)

    async def handle(self, request: CommandRequest) -> str | None:
        """The reply to one command, or None if the message is not a command of ours."""
        invocation = split_command(request.text)
        if invocation is None:
            return None
        from rules.commands.handlers import HANDLERS  # handlers import this module

        group_id = request.group_id
        try:
            call = await self._prepare(invocation, request)
            group_id = call.group_id
            reply = await HANDLERS[invocation.spec.key](call)
            outcome = "ok" + (f": {'; '.join(call.notes)}" if call.notes else "")
        except CommandError as exc:
            reply = exc.text
            outcome = ("refused: " if exc.refused else "error: ") + exc.text.splitlines()[0]
        except Exception as exc:  # never a traceback in the chat
            log.exception("command %r failed", request.text)
            reply = render("cmd_error", self._language(group_id))
            outcome = f"failed: {type(exc).__name__}: {exc}"
        await self._audit(request, group_id, outcome)
        return reply

    # ------------------------------------------------------------ preparation

    async def _prepare(self, invocation: Invocation, request: CommandRequest) -> Call:
        spec = invocation.spec
        args = list(invocation.args)
        in_group = request.group_id is not None
        lang = self._language(request.group_id)
        name = name_in(spec, lang)
        if spec.where is Where.GROUP and not in_group:
            raise CommandError(render("cmd_group_only", lang, name=name))
        if spec.where is Where.PRIVATE and in_group:
            raise CommandError(render("cmd_private_only", lang, name=name))

        group_id = request.group_id
        case = None
        if spec.key in {"pardon", "uphold"} and args and case_number(args[0]) is not None:
            case = await self._case(int(case_number(args[0]) or 0), request.group_id, lang)
            group_id = case.group_id
        elif not in_group and spec.group_arg:
            group_id = typed_id(request.platform, args[0], GROUP_FORMS) if args else None
            if group_id is None:
                raise CommandError(
                    render("cmd_need_group", lang, name=name) + "\n" + usage_line(spec, lang, True)
                )
            args = args[1:]

        if group_id is None:  # /help or /appeal by private message
            level = (
                Level.OFFICER
                if is_officer_anywhere(self.config, request.caller.id)
                else Level.MEMBER
            )
        else:
            level = caller_level(self.config, request.caller, group_id, in_group)
        if level < spec.level:
            key = "cmd_refused" if in_group else "cmd_refused_private"
            raise CommandError(render(key, self._language(group_id), name=name), refused=True)
        edge = None
        if group_id is not None:
            edge = self.edges.get(split_id(group_id)[0])
            # a gateway may need to find the group first (QQ after a restart: see locate)
            locate = getattr(edge.gateway, "locate", None) if edge is not None else None
            if locate is not None and not in_group:
                await locate(group_id)
        return Call(self, request, spec, args, group_id, level, edge, case)

    async def _case(self, case_id: int, group_id: str | None, lang: Language) -> CaseRecord:
        case = await self.store.get_case(case_id)
        # In a group, another group's case does not exist (no leaking across groups).
        if case is None or (group_id is not None and case.group_id != group_id):
            raise CommandError(render("cmd_unknown_case", lang, case_id=case_id))
        return case

    def _language(self, group_id: str | None) -> Language:
        policy = self.config.policy_for(group_id) if group_id else self.config.policy()
        return policy.moderation.language

    def help_lines(self, level: Level, in_group: bool, lang: Language) -> list[str]:
        """The commands a caller of ``level`` may use here, one line each."""
        lines = []
        for spec in COMMANDS:
            if spec.level > level or (spec.key == "appeal" and level > Level.MEMBER):
                continue  # officers and admins have nothing to appeal
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

    # ------------------------------------------------------------ audit log

    async def _audit(self, request: CommandRequest, group_id: str | None, outcome: str) -> None:
        entry = AuditEntry(
            actor_id=request.caller.id,
            group_id=group_id,
            command=truncate(request.text.strip(), MAX_AUDITED_TEXT),
            outcome=truncate(outcome, MAX_AUDITED_TEXT),
            at=request.time,
        )
        try:
            await self.store.record_audit(entry)
        except Exception:  # the reply still goes out; the log line keeps the record
            log.exception("audit log write failed: %s", entry)
