"""Assemble the core from a config: storage, detectors, engine, services, outbox, jobs.

The one composition root: used by the bot (``bot.py``), by ``scan`` and by
tests, so every entry point runs the same pipeline. Each part gets the
repositories it declares a protocol for (``rules.storage.Storage`` holds them):
the engine the moderation journal, the member rules the card timelines, the
word and registry services their repositories, the outbox sender the outbox,
the digest job the digest queries, the outbox and the registry. The commands
declare one store over several aggregates (:class:`CommandRepositories`).
"""

from __future__ import annotations

import gc
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy.engine import make_url

from rules.commands.service import CommandService
from rules.commands.table import HANDLERS
from rules.config import Config, DetectorSettings, RedisSettings
from rules.core.model import (
    CaseRecord,
    ChatEvent,
    Finding,
    OfficerTask,
    Outcome,
    Platform,
    Strike,
    TaskKind,
    TaskStatus,
    utcnow,
)
from rules.core.paths import PROJECT_ROOT
from rules.core.ports import AuditEntry, Gateway, SharedState
from rules.core.records import ActionTally, CaseRow, CaseStat, ReviewCase
from rules.detectors.base import Detector
from rules.detectors.custom_words import WordService
from rules.detectors.flood import ChatterDetector, FloodDetector
from rules.detectors.keyword import KeywordDetector
from rules.detectors.link import LinkDetector
from rules.detectors.nickname import NicknameDetector
from rules.detectors.pii import PiiDetector
from rules.groups.registry import RegistryService
from rules.members.compliance import Members
from rules.moderation.engine import Engine
from rules.moderation.pictures import Pictures, process_pool
from rules.moderation.recovery import Recovery
from rules.moderation.review import ReviewQueue
from rules.officers.digest_job import DigestJob
from rules.officers.outbox import OutboxSender
from rules.protection.service import Protection
from rules.shared_state.memory import MemoryState
from rules.storage import Storage
from rules.storage.database import resolve_url
from rules.text.normalize import fold

MEMORY_URL = "sqlite+aiosqlite://"


def freeze_startup_heap() -> int:
    """Exempt what start-up built (word automata, tables, modules) from garbage collection.

    Measured with ``bench.qq_e2e`` at 1,500 events/s: each full (generation 2)
    collection walked that heap for 70-120 ms, several times a minute under load,
    and stalled the event loop meanwhile; every violation arriving during one
    waited as long (the whole p99 tail). ``gc.freeze()`` moves the objects alive
    now to a permanent generation that collections skip; what the bot allocates
    later is collected as before. Call once, after start-up; returns how many
    objects were frozen.
    """
    gc.collect()
    gc.freeze()
    return gc.get_freeze_count()


def outage_spool(config: Config, url: str) -> Path | None:
    """Where writes queued during a database outage are kept (``[database] outage_spool``):
    by default beside a SQLite file, else ``data/outage-<port>.spool``; None for a
    throw-away database."""
    if config.database.outage_spool:
        path = Path(config.database.outage_spool)
        return path if path.is_absolute() else PROJECT_ROOT / path
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database in (None, "", ":memory:"):
            return None
        return Path(f"{parsed.database}.outage-spool")
    return PROJECT_ROOT / "data" / f"outage-{config.server.port}.spool"


async def open_shared_state(settings: RedisSettings) -> SharedState:
    """Redis when ``[redis] url`` is set (reachable or not), else memory."""
    if not settings.url:
        return MemoryState()
    from rules.shared_state.redis import RedisState  # loads the redis client only when used

    return await RedisState.connect(settings.url, settings.key_prefix, settings.timeout)


def build_detectors(
    config: Config, shared: SharedState | None = None
) -> list[Detector[DetectorSettings]]:
    """Every detector, configured from the global config (groups tune them per call).

    ``shared``: state shared with other bot processes (flood windows in Redis).
    """
    detectors: list[Detector[DetectorSettings]] = [
        KeywordDetector.from_settings(config.keywords),  # type: ignore[list-item]
        LinkDetector(),  # type: ignore[list-item]
        PiiDetector(),  # type: ignore[list-item]
        FloodDetector(shared=shared),  # type: ignore[list-item]
        ChatterDetector(),  # type: ignore[list-item]
        NicknameDetector.from_config(config),  # type: ignore[list-item]
    ]
    return detectors


def rule_count(detectors: Sequence[Detector[Any]]) -> int:
    """Keyword terms loaded plus one per other detector, for the start-up banner."""
    total = 0
    for detector in detectors:
        total += detector.index.size if isinstance(detector, KeywordDetector) else 1
    return total


@dataclass
class CommandRepositories:
    """The commands' store (``rules.commands.service.CommandStore``), made of repositories.

    The commands write cases and reports through the moderation journal like the
    engine, and read and decide cases, tasks, group settings, the digest's counts
    and exports; each call goes to the repository that owns it.
    """

    storage: Storage

    async def claim_message(self, group_id: str, message_id: str, at: datetime) -> bool:
        return await self.storage.journal.claim_message(group_id, message_id, at)

    async def note_member(self, event: ChatEvent) -> None:
        await self.storage.journal.note_member(event)

    async def strike_weight(self, group_id: str, member_id: str, since: datetime) -> int:
        return await self.storage.journal.strike_weight(group_id, member_id, since)

    async def add_strike(self, strike: Strike) -> None:
        await self.storage.journal.add_strike(strike)

    async def open_case(
        self,
        event: ChatEvent,
        findings: tuple[Finding, ...],
        step: int,
        at: datetime,
        strike_weight: int = 0,
    ) -> int:
        return await self.storage.journal.open_case(event, findings, step, at, strike_weight)

    async def record_outcomes(
        self, case_id: int, outcomes: tuple[Outcome, ...], at: datetime
    ) -> None:
        await self.storage.journal.record_outcomes(case_id, outcomes, at)

    async def enqueue_report(
        self,
        officer_id: str,
        text: str,
        case_id: int | None,
        at: datetime,
        due: datetime | None = None,
        held: bool = False,
    ) -> int:
        return await self.storage.journal.enqueue_report(officer_id, text, case_id, at, due, held)

    async def record_audit(self, entry: AuditEntry) -> None:
        await self.storage.journal.record_audit(entry)

    async def get_case(self, case_id: int) -> CaseRecord | None:
        return await self.storage.cases.get_case(case_id)

    async def member_cases(self, group_id: str, member_id: str, limit: int = 5) -> list[CaseRecord]:
        return await self.storage.cases.member_cases(group_id, member_id, limit)

    async def set_case_status(self, case_id: int, status: str) -> None:
        await self.storage.cases.set_case_status(case_id, status)

    async def void_strikes(self, group_id: str, member_id: str) -> int:
        return await self.storage.cases.void_strikes(group_id, member_id)

    async def add_task(self, task: OfficerTask) -> int:
        return await self.storage.tasks.add_task(task)

    async def open_tasks_for_case(self, case_id: int) -> list[OfficerTask]:
        return await self.storage.tasks.open_tasks_for_case(case_id)

    async def count_tasks(self, requester_id: str, kind: TaskKind, since: datetime) -> int:
        return await self.storage.tasks.count_tasks(requester_id, kind, since)

    async def decide_task(
        self, task_id: int, status: TaskStatus, decided_by: str, at: datetime
    ) -> None:
        await self.storage.tasks.decide_task(task_id, status, decided_by, at)

    async def close_task(
        self, task_id: int, status: TaskStatus, decided_by: str, at: datetime
    ) -> bool:
        return await self.storage.tasks.close_task(task_id, status, decided_by, at)

    async def review_case(self, case_id: int) -> ReviewCase | None:
        return await self.storage.cases.review_case(case_id)

    async def confirm_review(self, case_id: int, step: int, strike: Strike | None) -> None:
        await self.storage.cases.confirm_review(case_id, step, strike)

    async def group_overrides(self) -> dict[str, dict[str, object]]:
        return await self.storage.settings.group_overrides()

    async def save_group_overrides(
        self, group_id: str, overrides: dict[str, object], by: str, at: datetime
    ) -> None:
        await self.storage.settings.save_group_overrides(group_id, overrides, by, at)

    async def case_stats(
        self, group_ids: Collection[str], since: datetime, until: datetime
    ) -> list[CaseStat]:
        return await self.storage.digest.case_stats(group_ids, since, until)

    async def action_tallies(
        self, group_ids: Collection[str], since: datetime, until: datetime
    ) -> list[ActionTally]:
        return await self.storage.digest.action_tallies(group_ids, since, until)

    async def case_rows(
        self, since: datetime, group: str | None = None, tz: str = "Asia/Shanghai"
    ) -> list[CaseRow]:
        return await self.storage.exports.case_rows(since, group, tz)


@dataclass
class Runtime:
    config: Config
    storage: Storage  # the database and its repositories
    engine: Engine
    gateways: dict[Platform, Gateway] = field(default_factory=dict)
    words: WordService | None = None  # per-group custom words (the commands use it)
    commands: CommandService | None = None  # slash commands; platforms register an Edge
    registry: RegistryService | None = None  # group registrations (备案), config entries loaded
    # Claims, leases and flood windows shared with other bot processes (Redis),
    # or kept in this process. Scheduled jobs take a lease before they run.
    shared: SharedState = field(default_factory=MemoryState)
    # Bans across groups, clean-up, raids, probation, card history (not offline).
    protection: Protection | None = None
    # Pictures and stickers: looked at after a message's text, judged like it.
    pictures: Pictures | None = None

    @classmethod
    async def start(
        cls,
        config: Config,
        db_url: str | None = None,
        clock: Callable[[], datetime] = utcnow,
        dry_run: bool = False,
        share: bool = False,
        offline: bool = False,
    ) -> Runtime:
        """Open the storage (migrating it) and build the engine; ``dry_run`` forces dry run.

        ``share``: use ``[redis]`` to share state with other bot processes (the
        running bot does; offline tools such as ``scan`` keep theirs to themselves).
        ``offline``: nobody waits on a platform (``scan``): the journal's writes are
        batched into large transactions instead of committed one decision at a time.
        """
        url = resolve_url(db_url or config.database.url, PROJECT_ROOT)
        shared = await open_shared_state(config.redis) if share else MemoryState()
        storage = await Storage.open(
            url,
            answer_within=config.database.timeout,
            shared=shared,
            offline=offline,
            normalize=fold,
            spool=outage_spool(config, url) if share else None,
        )
        detectors = build_detectors(config, shared)
        pictures = Pictures.build(
            config,
            [d for d in detectors if d.section in ("keywords", "links", "pii")],
            store=storage.pictures,
            evidence=storage.pictures,
            executor=None if offline else process_pool(config.policy().images.workers),
        )
        await pictures.blocklist.load()
        detectors.extend(pictures.detectors)
        nickname = next(d for d in detectors if isinstance(d, NicknameDetector))
        members = Members(storage.compliance, nickname)
        journal = storage.journal
        gateways: dict[Platform, Gateway] = {}  # platforms register theirs as they start
        protection = None
        if not offline:  # it acts across live groups; scan has none
            protection = Protection(
                config,
                journal,
                storage.bans,
                storage.card_history,
                storage.raids,
                gateways,
                shared=shared,
                nickname=nickname,
                clock=clock,
            )
        engine = Engine(
            config,
            detectors,
            journal,
            clock=clock,
            dry_run=dry_run,
            members=members,
            protection=protection,
            reviews=ReviewQueue(storage.tasks, journal, clock=clock),
        )
        words = None
        for detector in engine.detectors:
            if isinstance(detector, KeywordDetector):
                words = WordService(detector, storage.words, clock=clock)
                await words.load()
        registry = RegistryService(storage.registry, clock=clock, timezone=config.digest.timezone)
        await registry.load_config(config.registry)
        commands = CommandService(
            engine, CommandRepositories(storage), words, registry=registry, handlers=HANDLERS
        )
        commands.image_blocklist = pictures.blocklist
        await commands.load_settings()
        if protection is not None:
            commands.protection = protection
            await protection.recover()  # raids a restart interrupted are lifted when due
        return cls(
            config=config,
            storage=storage,
            engine=engine,
            gateways=gateways,
            words=words,
            commands=commands,
            registry=registry,
            shared=shared,
            protection=protection,
            pictures=pictures,
        )

    def recovery(self) -> Recovery:
        """Settles the cases a stop or a crash interrupted (``rules.moderation.recovery``)."""
        engine = self.engine
        return Recovery(
            self.config,
            self.storage.unsettled,
            self.storage.journal,
            self.gateways,
            self.shared,
            engine.handler,
            in_flight=lambda: engine.in_flight_cases,
            clock=engine.clock,
        )

    def outbox(self) -> OutboxSender:
        """Delivers the officers' reports through the registered gateways."""
        return OutboxSender(self.storage.outbox, self.gateways, clock=self.engine.clock)

    def digest(self) -> DigestJob:
        """The daily digest job over the registered gateways (``DigestJob.run``)."""
        storage = self.storage
        return DigestJob(
            self.config, storage.digest, storage.outbox, storage.registry, self.gateways
        )

    async def close(self) -> None:
        if self.pictures is not None:
            await self.pictures.close()
        if self.protection is not None:
            await self.protection.close()
        await self.storage.close()
        await self.shared.close()
