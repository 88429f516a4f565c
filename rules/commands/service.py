"""The command layer's entry point: one for every platform.

A platform edge turns a message that starts with ``/`` (or ``／``) into a
:class:`CommandRequest` and calls :meth:`CommandService.handle`, which returns
the one reply to send back as plain text (or None when the message is not one
of our commands). The service decides where the command applies (the group it
was typed in, or by private message the group named first), who the caller is
for that group (:class:`Level`), refuses what the caller may not do, runs the
command's handler with a :class:`Call`, and writes every command, allowed or
refused, to the audit log.

The handlers are given to the service (``handlers``: the table in
``rules.commands.table``, wired by the composition root); this module never
imports them, they import this one. Platforms register an :class:`Edge` (their
Gateway and Directory) under their :class:`Platform`; an officer's private
message may command a group on any registered platform.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Collection, Mapping
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Protocol

from rules.commands.access import GROUP_FORMS, caller_level, is_officer_anywhere, typed_id
from rules.commands.parse import Invocation, case_number, split_command
from rules.commands.request import CommandRequest, Edge
from rules.commands.spec import COMMANDS, CommandSpec, Level, Where, name_in, usage_line
from rules.config import Config, Policy
from rules.core.messages import Language, render, truncate
from rules.core.model import (
    CaseRecord,
    OfficerTask,
    Platform,
    Strike,
    TaskKind,
    TaskStatus,
    split_id,
)
from rules.core.ports import AuditEntry, Store

if TYPE_CHECKING:
    from rules.core.records import ActionTally, CaseStat, ReviewCase
    from rules.detectors.custom_words import WordService
    from rules.detectors.images.blocklist import BlocklistService
    from rules.groups.registry import RegistryService
    from rules.moderation.engine import Engine
    from rules.protection.service import Protection

log = logging.getLogger(__name__)

MAX_AUDITED_TEXT = 300
# The audited outcome (ok / refused / error / failed: ...) of the last command handled in
# this task, for callers that act on it (the web console runs decisions as commands).
last_outcome: ContextVar[str] = ContextVar("last_outcome", default="")
# Commands whose first argument may name a case (``#12``): the case's group is theirs.
CASE_COMMANDS = frozenset({"pardon", "uphold", "confirm", "falsepositive"})


class CommandStore(Store, Protocol):
    """The store methods the commands use beyond :class:`Store` (see ``CommandRepositories``)."""

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

    async def close_task(
        self, task_id: int, status: TaskStatus, decided_by: str, at: datetime
    ) -> bool: ...

    async def review_case(self, case_id: int) -> ReviewCase | None: ...

    async def confirm_review(self, case_id: int, step: int, strike: Strike | None) -> None: ...

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

    async def tell(self, member_id: str, text: str, case_id: int | None) -> None:
        """A private message to a member, through the durable outbox."""
        await self.store.enqueue_report(member_id, text, case_id, self.now)
        self.service.notify()

    async def tell_officers(self, group_id: str, text: str, case_id: int | None) -> int:
        """``text`` to every officer of ``group_id`` (through the outbox); how many."""
        officers = self.config.policy_for(group_id).escalation.officers
        for officer in officers:
            await self.store.enqueue_report(officer, text, case_id, self.now)
        if officers:
            self.service.notify()
        return len(officers)


Handler = Callable[[Call], Awaitable[str]]
# (person id, asked by) -> a one-time console sign-in URL and its expiry; None: no groups
ConsoleLinks = Callable[[str, str], Awaitable[tuple[str, datetime] | None]]


class CommandService:
    """Parses, authorises, runs and audits commands."""

    def __init__(
        self,
        engine: Engine,
        store: CommandStore,
        words: WordService | None = None,
        notify: Callable[[], None] = lambda: None,
        registry: RegistryService | None = None,
        *,
        handlers: Mapping[str, Handler],
    ) -> None:
        missing = sorted({spec.key for spec in COMMANDS} - set(handlers))
        if missing:
            raise ValueError(f"no handler for command(s): {', '.join(missing)}")
        self.engine = engine
        self.store = store
        self.handlers = dict(handlers)  # command key -> what it does
        self.words = words
        self.registry = registry  # group registrations (/备案, /群列表)
        self.notify = notify  # called after reports are queued (wakes the outbox)
        self.edges: dict[Platform, Edge] = {}
        self.image_blocklist: BlocklistService | None = None  # /拉黑图片, /解除拉黑图片
        self.protection: Protection | None = None  # bans, whole-group mute, card history
        self.console_links: ConsoleLinks | None = None  # set when the web console runs

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
        group_id = request.group_id
        try:
            call = await self._prepare(invocation, request)
            group_id = call.group_id
            reply = await self.handlers[invocation.spec.key](call)
            outcome = "ok" + (f": {'; '.join(call.notes)}" if call.notes else "")
        except CommandError as exc:
            reply = exc.text
            outcome = ("refused: " if exc.refused else "error: ") + exc.text.splitlines()[0]
        except Exception as exc:  # never a traceback in the chat
            log.exception("command %r failed", request.text)
            reply = render("cmd_error", self._language(group_id))
            outcome = f"failed: {type(exc).__name__}: {exc}"
        last_outcome.set(outcome)
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
        if spec.key in CASE_COMMANDS and args and case_number(args[0]) is not None:
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
