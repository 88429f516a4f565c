"""The daily digest job: read the day, render each officer's digest, queue it in the outbox.

:class:`DigestJob` is the scheduled job's whole body (``plugins/officer_digest``
runs it; the composition root, :mod:`rules.runtime`, builds it from the
repositories it names). It is safe to run again, late or from several
processes: the outbox's dedupe key keeps one digest per officer and day.
Ask the outbox to flush afterwards.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from rules.config import Config
from rules.core.model import Platform, split_id
from rules.core.ports import Gateway, media_sender
from rules.core.records import HeldReport, RegistryEntry
from rules.officers.chart import DigestChart, digest_chart
from rules.officers.digest import (
    Digest,
    DigestQueries,
    build_group_digests,
    common_language,
    digest_slot,
    officers_of,
    platform_groups,
)
from rules.officers.digest_text import render_digest

log = logging.getLogger(__name__)


class GroupBook(DigestQueries, Protocol):
    """The digest's queries, and remembering the groups the platforms list."""

    async def note_groups(self, names: dict[str, str], at: datetime) -> None: ...


class DigestOutbox(Protocol):
    """The outbox side of the digest (``rules.storage.outbox`` implements it)."""

    async def held_reports(self, officer_id: str) -> list[HeldReport]: ...

    async def enqueue_digest(
        self,
        officer_id: str,
        parts: Sequence[tuple[str, bytes | None]],
        held_ids: Collection[int],
        key: str,
        at: datetime,
    ) -> bool: ...

    async def release_held(self, keep: Collection[str], at: datetime) -> int: ...


class Registrations(Protocol):
    async def list_registry(self) -> list[RegistryEntry]: ...


@dataclass
class DigestJob:
    """Queues today's digest for every officer; :meth:`run` is the job."""

    config: Config
    groups: GroupBook
    outbox: DigestOutbox
    registry: Registrations
    gateways: Mapping[Platform, Gateway]

    async def run(self, now: datetime) -> int:
        """Queue today's digest for every officer (once per day); return how many were queued."""
        config, settings = self.config, self.config.digest
        until = digest_slot(now, settings)
        since = until - timedelta(days=1)
        info = await platform_groups(self.gateways.values())
        await self.groups.note_groups({g: i.name if i else "" for g, i in info.items()}, now)
        group_ids = sorted(set(info) | {a.group_id for a in await self.groups.group_activity()})
        registry = {e.group_id: e for e in await self.registry.list_registry()}
        officers = officers_of(config, group_ids)
        by_group = await build_group_digests(
            self.groups, config, group_ids, since, until, info=info, registry=registry
        )
        charts: dict[tuple[object, ...], DigestChart | None] = {}  # same groups, same chart
        queued = 0
        for officer, groups in officers.items():
            digest = Digest(
                officer_id=officer,
                since=since,
                until=until,
                timezone=settings.timezone,
                language=common_language(config, groups),
                groups=tuple(by_group[g] for g in groups),
                held=tuple(await self.outbox.held_reports(officer)),
            )
            if digest.quiet and not settings.send_when_quiet:
                continue
            chart = None
            if settings.chart and self._can_send_images(officer):
                shape = tuple((g.group_id, g.per_day) for g in digest.groups)
                if shape not in charts:  # CPU-bound (0.3-0.5 s): in a thread, off the event loop
                    charts[shape] = await asyncio.to_thread(digest_chart, digest)
                chart = charts[shape]
            parts = render_digest(digest, chart.legend if chart else None)
            messages: list[tuple[str, bytes | None]] = [(text, None) for text in parts]
            messages[-1] = (parts[-1], chart.png if chart else None)  # the legend ends the text
            key = f"digest:{officer}:{until.date().isoformat()}"
            held = [h.id for h in digest.held]
            if await self.outbox.enqueue_digest(officer, messages, held, key, now):
                queued += 1
        released = await self.outbox.release_held(officers.keys(), now)
        if released:
            log.warning(
                "digest: %d held report(s) of officers without a digest sent as reports", released
            )
        log.info("digest: queued for %d officer(s), period %s to %s", queued, since, until)
        return queued

    def _can_send_images(self, officer_id: str) -> bool:
        platform, _ = split_id(officer_id)
        return media_sender(self.gateways.get(platform)) is not None
