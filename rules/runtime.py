"""Assemble the core from a config: store, detectors, engine, outbox.

Used by the bot (``bot.py``), by ``scan`` and by tests, so every entry point
runs the same pipeline.
"""

from __future__ import annotations

import gc
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from rules.commands.service import CommandService
from rules.commands.table import HANDLERS
from rules.config import Config, DetectorSettings, RedisSettings
from rules.core.model import Platform, utcnow
from rules.core.paths import PROJECT_ROOT
from rules.core.ports import Gateway, SharedState
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
from rules.officers.outbox import OutboxSender
from rules.shared_state.memory import MemoryState
from rules.storage.resilient import ResilientStore
from rules.storage.sql_store import resolve_url

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


def rule_count(detectors: list[Detector[DetectorSettings]]) -> int:
    """Keyword terms loaded plus one per other detector, for the start-up banner."""
    total = 0
    for detector in detectors:
        total += detector.index.size if isinstance(detector, KeywordDetector) else 1
    return total


@dataclass
class Runtime:
    config: Config
    store: ResilientStore
    engine: Engine
    gateways: dict[Platform, Gateway] = field(default_factory=dict)
    words: WordService | None = None  # per-group custom words (the commands use it)
    commands: CommandService | None = None  # slash commands; platforms register an Edge
    registry: RegistryService | None = None  # group registrations (备案), config entries loaded
    # Claims, leases and flood windows shared with other bot processes (Redis),
    # or kept in this process. Scheduled jobs take a lease before they run.
    shared: SharedState = field(default_factory=MemoryState)

    @classmethod
    async def start(
        cls,
        config: Config,
        db_url: str | None = None,
        clock: Callable[[], datetime] = utcnow,
        dry_run: bool = False,
        share: bool = False,
    ) -> Runtime:
        """Open the store (migrating it) and build the engine; ``dry_run`` forces dry run.

        ``share``: use ``[redis]`` to share state with other bot processes (the
        running bot does; offline tools such as ``scan`` keep theirs to themselves).
        """
        url = resolve_url(db_url or config.database.url, PROJECT_ROOT)
        shared = await open_shared_state(config.redis) if share else MemoryState()
        store = await ResilientStore.open(url, answer_within=config.database.timeout)
        store.shared = shared
        detectors = build_detectors(config, shared)
        nickname = next(d for d in detectors if isinstance(d, NicknameDetector))
        members = Members(store, nickname)
        engine = Engine(config, detectors, store, clock=clock, dry_run=dry_run, members=members)
        engine.delete_first = isinstance(shared, MemoryState)  # alone: see rules.moderation.engine
        words = None
        for detector in engine.detectors:
            if isinstance(detector, KeywordDetector):
                words = WordService(detector, store, clock=clock)
                await words.load()
        registry = RegistryService(store, clock=clock, timezone=config.digest.timezone)
        await registry.load_config(config.registry)
        commands = CommandService(engine, store, words, registry=registry, handlers=HANDLERS)
        await commands.load_settings()
        return cls(
            config=config,
            store=store,
            engine=engine,
            words=words,
            commands=commands,
            registry=registry,
            shared=shared,
        )

    def outbox(self) -> OutboxSender:
        return OutboxSender(self.store, self.gateways, clock=self.engine.clock)

    async def close(self) -> None:
        await self.store.close()
        await self.shared.close()
